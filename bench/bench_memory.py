"""Benchmark 6, memory: peak RSS of a backfill task for one channel over 365 days (target < 300 MB).

Each measurement runs in its own child process (Airflow imported, as in a worker), against the
simulator served by this parent process (one meter, no latency, no budget: memory, not time, is
the point) and a fresh database:

* ``task``: the child migrates the warehouse and runs ``operators.sync_metadata`` (the tasks before
  the readings), resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), then runs the real
  ``SyncReadingsOperator.execute`` for the one channel; the peak RSS (VmHWM) of that phase is the
  task's. Measured for 30 and for 365 days: a task that streams its windows peaks the same.
* ``idle``: the same child without the readings task: Airflow, providers and the hook imported,
  what every task process pays before it does anything.
* ``dag_test``: the whole ``eniscope_historical_backfill`` for that channel and 365 days in one
  ``dag.test()`` process (every task in one process), its lifetime peak.

The parent also samples each child's RSS with psutil every 20 ms as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import airflow_env, common
from bench.common import Ratio, say

NAME = "memory"
TITLE = "Peak RSS of a one-channel 365-day backfill task"
END = date(2026, 11, 19)  # last local day fetched; the simulator serves real time
SIZES = {
    # days of the long task, days of the short one, rounds
    "tiny": (5, 2, 1),
    "quick": (365, 30, 1),
    "full": (365, 30, 3),
}
LIMIT_MB = 300.0


# --------------------------------------------------------------------------------------------------
# child side


def _vm(field: str) -> float:
    """A VmXXX line of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(kind: str, days: int) -> dict[str, Any]:
    """Runs in the child process (environment and connections prepared by the parent)."""
    conf = {
        "start_date": (END - timedelta(days=days - 1)).isoformat(),
        "end_date": END.isoformat(),
        "site_ids": [],
        "channel_ids": [int(os.environ["ARGO_BENCH_CHANNEL"])],
        "force": False,
        "dry_run": False,
    }
    out: dict[str, Any] = {"kind": kind, "days": days}
    if kind == "dag_test":
        from bench.bench_backfill import DAG_FILE, DAG_ID, run_dag_test

        dag = airflow_env.load_dag(DAG_ID, DAG_FILE)
        out["detail"] = {k: v for k, v in run_dag_test(dag, conf).items() if k != "task_seconds"}
        out["peak_mb"] = _vm("VmHWM")
        out["rss_end_mb"] = _vm("VmRSS")
        return out

    from argo_energy.eniscope.hook import EniscopeHook  # noqa: F401 - what a readings task imports
    from argo_energy.ingest import tasks
    from argo_energy.ingest.operators import SyncReadingsOperator
    from argo_energy.settings import ENERGY_CONN_ID

    request = tasks.validate_backfill(conf)
    tasks.apply_warehouse_migrations(ENERGY_CONN_ID)
    plan = tasks.sync_metadata_backfill(request)
    (batch,) = plan["batches"]
    out["rss_before_mb"] = _vm("VmRSS")
    out["peak_before_mb"] = _vm("VmHWM")
    if kind == "idle":
        out["peak_mb"] = out["rss_before_mb"]
        return out
    out["peak_reset"] = _reset_peak()
    operator = SyncReadingsOperator(task_id="sync_readings", batch=batch)
    started = time.perf_counter()
    totals = operator.execute(airflow_env.task_context("bench_memory"))
    out["task_seconds"] = time.perf_counter() - started
    out["totals"] = totals
    out["peak_mb"] = _vm("VmHWM")
    out["rss_end_mb"] = _vm("VmRSS")
    if totals["ok"] != totals["windows"] or totals["failed"]:
        raise RuntimeError(f"readings task did not write every window: {totals}")
    return out


def child_main(kind: str, days: int) -> int:
    airflow_env.prepare(Path(os.environ["ARGO_BENCH_HOME"]))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = os.environ.get("ARGO_BENCH_LOG_LEVEL", "WARNING")
    result = child(kind, days)
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# --------------------------------------------------------------------------------------------------
# parent side


def _sample(pid: int, stop: threading.Event, peak: list[float]) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
            stop.wait(0.02)
    except psutil.Error:
        return


def measure(kind: str, days: int, sim: Any, verbose: bool) -> dict[str, Any]:
    """One child process on a fresh database; its result plus the parent's sampled peak."""
    import tempfile

    with common.fresh_database(f"mem_{kind}", migrate=False) as dsn:
        home = Path(tempfile.mkdtemp(prefix="argo-bench-mem-"))
        env = {
            **os.environ,
            "ARGO_BENCH_HOME": str(home),
            "ARGO_BENCH_CHANNEL": str(sim.channel_ids("meter")[0]),
            "ARGO_BENCH_LOG_LEVEL": "INFO" if verbose else "WARNING",
            "AIRFLOW_CONN_ENERGY_DB": _conn_energy(dsn),
            "AIRFLOW_CONN_ENISCOPE_DEFAULT": _conn_eniscope(sim),
        }
        argv = [sys.executable, "-m", "bench.bench_memory", "--child", kind, "--days", str(days)]
        proc = subprocess.Popen(argv, cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
        stop, peak = threading.Event(), [0.0]
        sampler = threading.Thread(target=_sample, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        output, _ = proc.communicate()
        stop.set()
        sampler.join()
        airflow_env.cleanup(home)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed (exit {proc.returncode}); its output:\n{output[-4000:]}")
    line = next((x for x in output.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{kind} child printed no result:\n{output[-4000:]}")
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    result["sampled_peak_mb"] = peak[0]
    return result


def _conn_energy(dsn: str) -> str:
    from tests.fixtures.airflow import postgres_conn_json

    return postgres_conn_json(dsn)


def _conn_eniscope(sim: Any) -> str:
    from tests.fixtures.simulator import sim_conn_json

    # No client-side budget: memory is the point, and the simulator has no limit either.
    return sim_conn_json(sim, **{**airflow_env.REAL_EXTRA, "requests_per_second": 0})


def run(args: argparse.Namespace) -> dict[str, Any]:
    from eniscope_simulator import Simulator, SiteConfig, default_config

    mode = common.mode_of(args)
    long_days, short_days, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    say(f"[{NAME}] one channel, {long_days} and {short_days} days, {rounds} round(s), mode {mode}")
    sim = Simulator(
        default_config(sites=[SiteConfig(name="Memory site", timezone="America/New_York", meters=1, sensors=0, virtual=0)])
    )
    sim.start(host="127.0.0.1", port=0)
    template_dir = airflow_env.ensure_template()
    samples: dict[str, list[dict[str, Any]]] = {"idle": [], "task_short": [], "task_long": [], "dag_test": []}
    try:
        for r in range(rounds):
            for label, kind, days in (
                ("idle", "idle", short_days),
                ("task_short", "task", short_days),
                ("task_long", "task", long_days),
                ("dag_test", "dag_test", long_days),
            ):
                result = measure(kind, days, sim, args.verbose)
                samples[label].append(result)
                say(
                    f"  round {r + 1} {label:10s} {days:3d} days: peak {result['peak_mb']:7.1f} MB "
                    f"(sampled {result['sampled_peak_mb']:7.1f} MB)"
                    + (f", task {result['task_seconds']:.1f} s" if "task_seconds" in result else "")
                )
    finally:
        sim.stop()
        airflow_env.drop_template(template_dir)

    peak = {label: common.med([s["peak_mb"] for s in runs]) for label, runs in samples.items()}
    growth = peak["task_long"] - peak["task_short"]
    ratios = [
        Ratio(f"task peak RSS, MB ({long_days} days)", peak["task_long"], LIMIT_MB, "<="),
        Ratio(f"task peak growth {short_days} -> {long_days} days, MB", growth, None),
        Ratio("dag.test process peak RSS, MB", peak["dag_test"], None),
    ]
    payload = {
        "title": TITLE,
        "params": {"long_days": long_days, "short_days": short_days, "rounds": rounds, "limit_mb": LIMIT_MB},
        "peak_mb": peak,
        "runs": samples,
        "ratios": ratios,
        "table_figures": [
            f"readings task {long_days} d: {peak['task_long']:.0f} MB peak ({short_days} d: {peak['task_short']:.0f} MB)",
            f"idle task process {peak['idle']:.0f} MB",
            f"whole dag.test process {peak['dag_test']:.0f} MB",
        ],
    }
    return common.finish(args, NAME, payload, None)


def parser() -> argparse.ArgumentParser:
    p = common.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--child", choices=("task", "idle", "dag_test"), help=argparse.SUPPRESS)
    p.add_argument("--days", type=int, default=365, help=argparse.SUPPRESS)
    return p


def main() -> int:
    args = parser().parse_args()
    if args.child:
        return child_main(args.child, args.days)
    return common.main_guard(run, parser())


if __name__ == "__main__":
    raise SystemExit(main())
