"""Benchmarks 2 and 3: a backfill through Airflow against the simulator with a request budget.

The simulator (its own process, bench/sim_process.py; real HTTP on a local port) answers every request after
``latency`` seconds and refuses with 429 (``Retry-After: 1``) any request beyond R in a 1-second
window; the hook's connection asks for ``requests_per_second = R`` with its real retry waits.
Sites of 10 meters (New York, Kolkata, London), no sensor or virtual channels, a month without a
DST change, so every channel-day is exactly one request.

2. **API budget use**: ``eniscope_historical_backfill`` run with ``dag.test()``; achieved
   requests/s during the fetch phase (first to last readings request, both batches and the gap
   between them) divided by R. Target >= 0.95. The whole run's rate is reported too.
3. **Orchestration overhead**: the same backfill as a plain Python loop calling the functions the
   tasks call (``operators.validate_backfill``, ``apply_warehouse_migrations``, ``sync_metadata``,
   ``sync_windows`` per batch, ``build_views``, ``refresh_hourly_usage``, ``record_run_status``),
   each run on a fresh database; wall time of ``dag.test()`` / wall time of the loop. Target <= 1.3.

Also measured (no target, a finding about the pool): ``--concurrent-tasks N`` readings tasks in N
processes at once, as the ``eniscope_api`` pool (4 slots) lets a scheduler run mapped batches; each
process has its own client-side budget R, so the account sees up to N x R.

Default (quick/full) sizes are in SIZES; ``--channels/--days/--rps/--latency`` override them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench import airflow_env, common
from bench.common import Ratio, say

DAG_ID = "eniscope_historical_backfill"
DAG_FILE = "eniscope_historical_backfill.py"
START = date(2026, 6, 1)  # no DST change in New York, Kolkata or London for the next 60 days

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"channels": 2, "days": 2, "rps": 20.0, "latency": 0.0, "rounds": 1},
    "quick": {"channels": 20, "days": 7, "rps": 10.0, "latency": 0.1, "rounds": 1},
    "full": {"channels": 50, "days": 30, "rps": 20.0, "latency": 0.1, "rounds": 3},
}


def backfill_conf(days: int) -> dict[str, Any]:
    return {
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=days - 1)).isoformat(),
        "site_ids": [],
        "channel_ids": [],
        "force": False,
        "dry_run": False,
    }


def run_dag_test(dag: Any, conf: dict[str, Any]) -> dict[str, Any]:
    """One ``dag.test()``; returns where its time went (task run times vs time between tasks)."""
    run = dag.test(run_conf=conf)
    tis = list(run.get_task_instances())
    if str(run.state) not in ("success", "DagRunState.SUCCESS"):
        failed = [(ti.task_id, ti.map_index, str(ti.state)) for ti in tis]
        raise RuntimeError(f"dag.test() ended {run.state}: {failed}")
    ran = [ti for ti in tis if ti.start_date and ti.end_date and str(ti.state).endswith("success")]
    durations = {f"{ti.task_id}[{ti.map_index}]": (ti.end_date - ti.start_date).total_seconds() for ti in ran}
    readings = sum(v for k, v in durations.items() if k.startswith("sync_readings["))
    return {
        "tasks_run": len(ran),
        "task_seconds_sum": sum(durations.values()),
        "readings_task_seconds": readings,
        "task_seconds": durations,
    }


def run_plain_loop(conf: dict[str, Any], run_id: str) -> None:
    """The backfill's work without Airflow's orchestration: the tasks' functions called in order."""
    from argo_energy.eniscope.hook import EniscopeHook
    from argo_energy.ingest import tasks
    from argo_energy.ingest.planning import ChannelTarget
    from argo_energy.ingest.readings import summarize, sync_windows
    from argo_energy.ingest.status import record_run_status
    from argo_energy.settings import ENERGY_CONN_ID, ENISCOPE_CONN_ID
    from argo_energy.warehouse import build_views, connect, refresh_hourly_usage

    request = tasks.validate_backfill(conf)
    tasks.apply_warehouse_migrations(ENERGY_CONN_ID)
    plan = tasks.sync_metadata_backfill(request)
    summaries = []
    for batch in plan["batches"]:
        outcomes = sync_windows(
            [ChannelTarget.from_dict(t) for t in batch["targets"]],
            make_hook=lambda: EniscopeHook(eniscope_conn_id=ENISCOPE_CONN_ID),
            make_conn=lambda: connect(ENERGY_CONN_ID),
            skip=batch["skip"],
            run_id=run_id,
            now=datetime.now(UTC),
        )
        totals = summarize(outcomes)
        if totals["failed"]:
            raise RuntimeError(f"plain loop: {totals['failed']} window(s) failed")
        summaries.append([asdict(o) for o in outcomes])
    conn = connect(ENERGY_CONN_ID)
    try:
        build_views(conn)
        refresh_hourly_usage(conn)
    finally:
        conn.close()
    record_run_status(plan, summaries)


def child_batch(batch_file: Path) -> int:
    """Child process: wait for the start signal, run SyncReadingsOperator.execute on one batch."""
    airflow_env.prepare(Path(os.environ["ARGO_BENCH_HOME"]))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = os.environ.get("ARGO_BENCH_LOG_LEVEL", "WARNING")
    from argo_energy.ingest.operators import SyncReadingsOperator

    batch = json.loads(batch_file.read_text(encoding="utf-8"))
    operator = SyncReadingsOperator(task_id="sync_readings", batch=batch)
    batch_file.with_suffix(".ready").touch()
    go = batch_file.parent / "go"
    deadline = time.monotonic() + 300
    while not go.exists():  # start barrier: every child has imported Airflow before any starts
        if time.monotonic() > deadline:
            raise RuntimeError("no start signal within 300 s")
        time.sleep(0.01)

    started = time.perf_counter()
    error = None
    try:
        totals = operator.execute(airflow_env.task_context("bench_concurrent"))
    except Exception as exc:  # a failed window fails the task: report it, it is the finding
        totals, error = {}, f"{type(exc).__name__}: {exc}"[:500]
    result = {"seconds": time.perf_counter() - started, "totals": totals, "error": error}
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


def run_concurrent_tasks(
    sim: Any, conf: dict[str, Any], tasks: int, channels: int, rps: float, **eniscope_extra: Any
) -> dict[str, Any]:
    """``tasks`` readings tasks in as many processes at once on one fresh database (``eniscope_extra``:
    more connection extras, e.g. ``budget_backend``)."""
    import tempfile

    from argo_energy.ingest.tasks import apply_warehouse_migrations, sync_metadata_backfill, validate_backfill
    from argo_energy.settings import ENERGY_CONN_ID

    work = Path(tempfile.mkdtemp(prefix="argo-bench-concurrent-"))
    try:
        with common.fresh_database("concurrent", migrate=False) as dsn:
            airflow_env.set_connections(dsn, sim, requests_per_second=rps, **eniscope_extra)
            request = validate_backfill(conf)
            apply_warehouse_migrations(ENERGY_CONN_ID)
            plan = sync_metadata_backfill(request, batch_size=-(-channels // tasks))
            procs = []
            for i, batch in enumerate(plan["batches"]):
                batch_file = work / f"batch{i}.json"
                batch_file.write_text(json.dumps(batch), encoding="utf-8")
                home = work / f"home{i}"
                home.mkdir()
                env = {**os.environ, "ARGO_BENCH_HOME": str(home)}
                argv = [sys.executable, "-m", "bench.bench_backfill", "--child-batch", str(batch_file)]
                procs.append(subprocess.Popen(argv, cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True))
            deadline = time.monotonic() + 300
            while not all((work / f"batch{i}.ready").exists() for i in range(len(procs))):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("a concurrent readings child did not get ready")
                time.sleep(0.01)
            t0 = time.time()
            (work / "go").touch()
            outputs = [p.communicate()[0] for p in procs]
            t1 = time.time()
            children = []
            for p, output in zip(procs, outputs, strict=True):
                line = next((x for x in output.splitlines() if x.startswith("BENCH_RESULT ")), None)
                if p.returncode != 0 or line is None:
                    raise RuntimeError(f"concurrent child failed (exit {p.returncode}):\n{output[-3000:]}")
                children.append(json.loads(line.removeprefix("BENCH_RESULT ")))
            import psycopg

            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'success'), count(*) FILTER (WHERE status <> 'success') "
                    "FROM ingestion_logs"
                ).fetchone()
            windows_ok, windows_failed = (int(row[0]), int(row[1])) if row else (0, 0)
    finally:
        airflow_env.cleanup(work)
    return {
        "tasks": len(children),
        "t0": t0,
        "t1": t1,
        "seconds": t1 - t0,
        "children": children,
        "windows_ok": windows_ok,
        "windows_failed": windows_failed,
        "tasks_failed": sum(1 for c in children if c["error"]),
    }


def _check_database(dsn: str, channels: int, days: int) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        readings = conn.execute("SELECT count(*) FROM readings").fetchone()
        windows = conn.execute("SELECT count(*) FROM ingestion_logs WHERE status = 'success'").fetchone()
        failures = conn.execute("SELECT count(*) FROM ingestion_logs WHERE status <> 'success'").fetchone()
    found = {
        "readings": int(readings[0]) if readings else 0,
        "windows_ok": int(windows[0]) if windows else 0,
        "windows_failed": int(failures[0]) if failures else 0,
    }
    if found["windows_ok"] != channels * days or found["windows_failed"]:
        raise RuntimeError(f"expected {channels * days} successful windows and no failure, found {found}")
    return found


IDLE_GAP_S = 1.5  # longer than a Retry-After pause (1 s) plus latency: nobody was asking the API


def _requests_between(sim: Any, t0: float, t1: float) -> dict[str, Any]:
    """Counts and the fetch-phase rate of the requests the simulator received in [t0, t1].

    ``idle_gaps_s`` sums the pauses between consecutive readings requests longer than IDLE_GAP_S:
    in dag.test() that is the hand-over from one mapped readings task to the next.
    """
    records = [r for r in sim.requests if t0 <= r.at <= t1]
    readings = [r for r in records if "/readings/" in r.path]
    ok = [r for r in readings if r.status == 200]
    limited = [r for r in records if r.status == 429]
    times = sorted(r.at for r in readings)
    phase = (times[-1] - times[0]) if len(times) > 1 else 0.0
    gaps = [b - a for a, b in pairwise(times)]
    idle = sum(g for g in gaps if g > IDLE_GAP_S)
    busy = phase - idle
    return {
        "requests": len(records),
        "readings_requests": len(readings),
        "discovery_requests": sum(1 for r in records if "/fields/" in r.path),
        "readings_ok": len(ok),
        "rate_limited_429": len(limited),
        "fetch_phase_s": phase,
        # n requests span n - 1 intervals
        "fetch_phase_rps": (len(readings) - 1) / phase if phase > 0 else 0.0,
        "idle_gaps_s": idle,
        "idle_gaps": sum(1 for g in gaps if g > IDLE_GAP_S),
        "largest_gap_s": max(gaps, default=0.0),
        "rps_while_fetching": (len(readings) - 1 - sum(1 for g in gaps if g > IDLE_GAP_S)) / busy if busy > 0 else 0.0,
    }


def _measure(
    sim: Any, channels: int, days: int, rps: float, rounds: int, which: set[str], concurrent_tasks: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float], dict[str, Any] | None]:
    """Warm-up, then ``rounds`` alternating rounds of dag.test and the plain loop, then the concurrent tasks."""
    results: dict[str, list[dict[str, Any]]] = {"dag_test": [], "plain_loop": []}
    cold: dict[str, float] = {}
    dag = airflow_env.load_dag(DAG_ID, DAG_FILE)
    conf = backfill_conf(days)
    kinds = ["dag_test", "plain_loop"] if "orchestration" in which else ["dag_test"]
    # Warm-up, timed apart: the first dag.test() of a process starts the in-process execution
    # API and serializes the DAG for the first time; the first loop imports the providers.
    warm = {**backfill_conf(1), "channel_ids": [sim.channel_ids("meter")[0]]}
    for kind in kinds:
        with common.fresh_database(f"warm_{kind}", migrate=False) as dsn:
            airflow_env.set_connections(dsn, sim, requests_per_second=rps)
            cold[kind] = common.timed(
                lambda k=kind: run_dag_test(dag, warm) if k == "dag_test" else run_plain_loop(warm, "bench_warm")
            )[0]
        say(f"  warm-up {kind}: {cold[kind]:.1f} s (1 channel x 1 day, not in the medians)")
    for r in range(rounds):
        order = kinds if r % 2 == 0 else kinds[::-1]
        for kind in order:
            with common.fresh_database(kind, migrate=False) as dsn:
                airflow_env.set_connections(dsn, sim, requests_per_second=rps)
                t0 = time.time()
                started = time.perf_counter()
                detail: dict[str, Any] = {}
                if kind == "dag_test":
                    detail = run_dag_test(dag, conf)
                else:
                    run_plain_loop(conf, run_id=f"bench_plain_{r}")
                seconds = time.perf_counter() - started
                t1 = time.time()
                stored = _check_database(dsn, channels, days)
            results[kind].append({"round": r + 1, "t0": t0, "t1": t1, "seconds": seconds, **stored, **detail})
            say(f"  round {r + 1} {kind:10s} {seconds:7.1f} s")
    concurrent = None
    if concurrent_tasks > 1 and "api_budget" in which:
        concurrent = run_concurrent_tasks(sim, conf, concurrent_tasks, channels, rps)
    return results, cold, concurrent


def _add_traffic(sim: Any, results: dict[str, list[dict[str, Any]]], concurrent: dict[str, Any] | None, rps: float) -> None:
    """Each run's requests as the simulator logged them (between its start and end), printed."""
    for kind, runs in results.items():
        for run_ in runs:
            traffic = _requests_between(sim, run_["t0"], run_["t1"])
            run_.update(traffic)
            say(
                f"  round {run_['round']} {kind:10s} {traffic['requests']} requests "
                f"({traffic['rate_limited_429']} x 429), fetch phase {traffic['fetch_phase_s']:.1f} s at "
                f"{traffic['fetch_phase_rps']:.2f} requests/s = {traffic['fetch_phase_rps'] / rps:.3f} R; "
                f"{traffic['idle_gaps']} idle gap(s) {traffic['idle_gaps_s']:.1f} s, "
                f"{traffic['rps_while_fetching'] / rps:.3f} R while fetching"
            )
    if concurrent:
        traffic = _requests_between(sim, concurrent["t0"], concurrent["t1"])
        ok_rps = (traffic["readings_ok"] - 1) / traffic["fetch_phase_s"] if traffic["fetch_phase_s"] else 0.0
        concurrent.update(traffic, fetch_phase_ok_rps=ok_rps)
        say(
            f"  {concurrent['tasks']} concurrent readings tasks: {concurrent['seconds']:.1f} s, "
            f"{concurrent['readings_requests']} readings requests ({concurrent['rate_limited_429']} x 429), "
            f"{ok_rps:.2f} answered requests/s = {ok_rps / rps:.3f} R; "
            f"windows ok {concurrent['windows_ok']}, failed {concurrent['windows_failed']}; "
            f"tasks failed {concurrent['tasks_failed']}"
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    size = dict(SIZES[mode])
    for key in ("channels", "days", "rps", "latency"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    rounds = args.repeat or size["rounds"]
    channels, days, rps, latency = size["channels"], size["days"], size["rps"], size["latency"]
    which = set(args.which)
    say(
        f"[backfill] {channels} channels x {days} days = {channels * days} readings requests, budget R = {rps:g} "
        f"requests/s, latency {latency * 1000:.0f} ms, {rounds} round(s), mode {mode}, measuring {sorted(which)}"
    )
    template_dir = airflow_env.ensure_template()  # the concurrent-task children copy it
    home = airflow_env.prepare()
    if not args.verbose:
        # Both methods log through Airflow's logging; WARNING keeps 1,500 windows x 3 lines off the screen.
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from bench.sim_process import SimulatorProcess

    # In its own process: an in-process server would compete with the client for the GIL.
    sim = SimulatorProcess(channels, rps, latency)
    try:
        results, cold, concurrent = _measure(sim, channels, days, rps, rounds, which, args.concurrent_tasks)
    finally:
        sim.stop()  # its request log is read below
        airflow_env.cleanup(home)
        airflow_env.drop_template(template_dir)

    _add_traffic(sim, results, concurrent, rps)

    def median(kind: str, key: str) -> float:
        return common.med([x[key] for x in results[kind]])

    params = {
        "channels": channels,
        "days": days,
        "readings_requests": channels * days,
        "budget_rps": rps,
        "latency_s": latency,
        "rounds": rounds,
        "simulator": "own process",
    }
    out: dict[str, Any] = {}
    if "api_budget" in which:
        rate = median("dag_test", "fetch_phase_rps")
        whole = common.med([x["requests"] / x["seconds"] for x in results["dag_test"]])
        out["api_budget"] = common.finish(
            args,
            "api_budget",
            {
                "title": "API budget use through Airflow (dag.test)",
                "params": params,
                "runs": results["dag_test"],
                "concurrent_tasks": concurrent,
                "ratios": [
                    Ratio("fetch-phase requests/s / R", rate / rps, 0.95),
                    # issue 19: every field in the same request, discovery once per device type
                    Ratio("answered readings requests per channel-day", median("dag_test", "readings_ok")
                          / (channels * days), 1.0, op="<="),
                    Ratio("whole-run requests/s / R", whole / rps, None),
                    Ratio(
                        "requests/s while a readings task fetches / R",
                        median("dag_test", "rps_while_fetching") / rps,
                        None,
                    ),
                    *(
                        [
                            Ratio(
                                f"{concurrent['tasks']} concurrent tasks: answered requests/s / R",
                                concurrent["fetch_phase_ok_rps"] / rps,
                                None,
                            )
                        ]
                        if concurrent
                        else []
                    ),
                ],
                "table_figures": [
                    f"{channels} ch x {days} d = {channels * days} requests, R = {rps:g}/s, "
                    f"latency {latency * 1000:.0f} ms",
                    f"fetch phase {median('dag_test', 'fetch_phase_s'):.1f} s at {rate:.2f} requests/s, of which "
                    f"{median('dag_test', 'idle_gaps_s'):.1f} s idle between readings tasks",
                    f"whole run {median('dag_test', 'seconds'):.1f} s; "
                    f"429s {int(median('dag_test', 'rate_limited_429'))}",
                    *(
                        [
                            f"{concurrent['tasks']} readings tasks at once: {concurrent['rate_limited_429']} x 429 "
                            f"of {concurrent['readings_requests']} requests, {concurrent['windows_failed']} window(s) "
                            f"failed, {concurrent['tasks_failed']} task(s) failed"
                        ]
                        if concurrent
                        else []
                    ),
                ],
            },
            None,
        )
    if "orchestration" in which:
        # Paired: the two runs of a round are adjacent (order alternating between rounds).
        ratio = common.paired_ratio(
            [x["seconds"] for x in results["dag_test"]], [x["seconds"] for x in results["plain_loop"]]
        )
        tasks = int(median("dag_test", "tasks_run"))
        outside = median("dag_test", "seconds") - median("dag_test", "task_seconds_sum")
        per_task = (median("dag_test", "seconds") - median("plain_loop", "seconds")) / max(tasks, 1)
        out["orchestration"] = common.finish(
            args,
            "orchestration",
            {
                "title": "Orchestration overhead (dag.test vs plain loop)",
                "params": params,
                "runs": results,
                "warm_up_seconds": cold,
                "tasks_run": tasks,
                "seconds_outside_tasks": outside,
                "overhead_per_task_seconds": per_task,
                "ratios": [Ratio("dag.test / plain loop (wall time)", ratio, 1.3, "<=")],
                "table_figures": [
                    f"same backfill ({channels * days} requests, R = {rps:g}/s)",
                    f"dag.test {median('dag_test', 'seconds'):.1f} s vs loop {median('plain_loop', 'seconds'):.1f} s",
                    f"overhead {median('dag_test', 'seconds') - median('plain_loop', 'seconds'):.1f} s over "
                    f"{tasks} tasks ({per_task:.2f} s/task; {outside:.1f} s between tasks)",
                    f"first dag.test of a process {cold.get('dag_test', 0):.1f} s (1 ch x 1 d, not in median)",
                ],
            },
            None,
        )
    return out


def parser() -> argparse.ArgumentParser:
    p = common.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=None)
    p.add_argument("--days", type=int, default=None)
    p.add_argument("--rps", type=float, default=None, help="budget R: simulator limit and hook rate")
    p.add_argument("--latency", type=float, default=None, help="simulator latency per request, seconds")
    p.add_argument(
        "--which",
        nargs="+",
        choices=("api_budget", "orchestration"),
        default=["api_budget", "orchestration"],
        help="which of the two benchmarks to measure and write",
    )
    p.add_argument(
        "--concurrent-tasks",
        type=int,
        default=2,
        help="also run this many readings tasks at once in separate processes (1 = skip)",
    )
    p.add_argument("--child-batch", type=Path, help=argparse.SUPPRESS)
    return p


def main() -> int:
    args = parser().parse_args()
    if args.child_batch:
        return child_batch(args.child_batch)
    return common.main_guard(run, parser())


if __name__ == "__main__":
    raise SystemExit(main())
