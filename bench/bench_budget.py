"""Benchmark 7 (issue 16): one Eniscope request budget shared by readings tasks in separate processes.

The simulator runs in its own process and enforces R requests/s per account with a bucket of B
(``account_rps``/``account_burst``: 429 + Retry-After beyond it). The connection asks for
``requests_per_second = R``, ``burst = 1``, the default shared budget (``postgres``: the run's
warehouse, table of migration V008) and the hook's real retry waits. Readings tasks are
``SyncReadingsOperator.execute`` in plain processes (``bench_backfill --child-batch``: each imports
Airflow, waits at a start barrier, then runs the real window engine with its threads).

Figures: answered requests/s over the fetch phase (first to last readings request) / R, and 429s
as a share of requests, for 4 tasks at once and for 1 task alone (targets >= 0.95 and <= 1 %); the
same task alone with the per-process bucket only (``budget_backend: "process"``, no shared store) as
the control that tells the shared bucket's cost from the task's own limits (its window threads,
``readings.window_workers``);
the shared take's round trip (one ``eniscope_budget_take`` call, no wait) in ms, median and p95
(target median <= 5 ms), PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import airflow_env, common
from bench.common import REPO, Ratio, say

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"channels": 8, "days": 2, "rps": 20.0, "burst": 5.0, "latency": 0.05, "takes": 200},
    "quick": {"channels": 40, "days": 7, "rps": 20.0, "burst": 5.0, "latency": 0.1, "takes": 1000},
    "full": {"channels": 80, "days": 10, "rps": 20.0, "burst": 5.0, "latency": 0.1, "takes": 3000},
}


class AccountLimitedSimulator:
    """The benchmark simulator (``sim_process.simulator_config``) in its own process, with the
    per-account limit R/B instead of the 1-second budget; ``stop()`` reads back its requests."""

    def __init__(self, channels: int, rps: float, burst: float, latency: float) -> None:
        from eniscope_simulator import Simulator

        self.config = _config(channels, rps, burst, latency)
        self._local = Simulator(self.config)  # not started: ids and credentials only
        self._out = Path(tempfile.mkdtemp(prefix="argo-bench-budget-sim-")) / "requests.json"
        argv = [sys.executable, "-m", "bench.bench_budget", "--serve-sim", json.dumps(
            {"channels": channels, "rps": rps, "burst": burst, "latency": latency, "out": str(self._out)})]
        self._proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("http://"):
            self._proc.kill()
            raise RuntimeError(f"simulator process did not start: {line!r}")
        self.base_url = line.strip()
        self.requests: list[Any] = []

    def channel_ids(self, kind: str | None = None) -> list[int]:
        return self._local.channel_ids(kind)

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)
        data = json.loads(self._out.read_text(encoding="utf-8")) if self._out.exists() else []
        self.requests = [SimpleNamespace(**r) for r in data]


def _config(channels: int, rps: float, burst: float, latency: float) -> Any:
    from bench.sim_process import simulator_config

    config = simulator_config(channels, 0.0, latency)
    config.faults.budget_rps = None
    config.faults.account_rps = rps
    config.faults.account_burst = burst
    return config


def serve_sim(spec: str) -> int:
    """Child: serve the simulator until stdin closes, then write its requests."""
    from eniscope_simulator import Simulator

    args = json.loads(spec)
    sim = Simulator(_config(args["channels"], args["rps"], args["burst"], args["latency"]))
    print(sim.start(host="127.0.0.1", port=0), flush=True)
    sys.stdin.read()
    sim.stop()
    records = [{"at": r.at, "path": r.path, "status": r.status} for r in sim.requests]
    Path(args["out"]).write_text(json.dumps(records), encoding="utf-8")
    return 0


def traffic(records: list[Any], t0: float, t1: float, rps: float) -> dict[str, Any]:
    """Readings requests between t0 and t1: answered rate over the fetch phase, 429 share."""
    readings = sorted((r for r in records if t0 <= r.at <= t1 and "/readings/" in r.path), key=lambda r: r.at)
    answered = [r for r in readings if r.status == 200]
    limited = sum(1 for r in readings if r.status == 429)
    span = readings[-1].at - readings[0].at if len(readings) > 1 else 0.0
    answered_rps = (len(answered) - 1) / span if span > 0 else 0.0
    return {
        "requests": len(readings),
        "answered": len(answered),
        "rate_limited_429": limited,
        "share_429": limited / len(readings) if readings else 0.0,
        "fetch_phase_s": span,
        "answered_rps": answered_rps,
        "answered_rps_over_r": answered_rps / rps,
    }


def run_tasks(size: dict[str, Any], tasks: int, backend: str = "postgres") -> dict[str, Any]:
    """``tasks`` readings tasks at once (processes) against a fresh simulator and database, the
    budget in ``backend`` (``postgres``: shared; ``process``: each process paces itself only)."""
    from argo_energy.eniscope.budget import reset_budgets
    from bench.bench_backfill import backfill_conf, run_concurrent_tasks

    reset_budgets()  # this process's budget store was the previous run's database
    sim = AccountLimitedSimulator(size["channels"], size["rps"], size["burst"], size["latency"])
    try:
        run = run_concurrent_tasks(
            sim, backfill_conf(size["days"]), tasks, size["channels"], size["rps"], budget_backend=backend
        )
    finally:
        sim.stop()
    figures = traffic(sim.requests, run["t0"], run["t1"], size["rps"])
    say(
        f"[budget] {tasks} task(s), budget {backend}: {figures['requests']} readings requests, {figures['rate_limited_429']} x 429, "
        f"{figures['answered_rps']:.2f} answered/s = {figures['answered_rps_over_r']:.3f} R, "
        f"{run['windows_failed']} window(s) failed"
    )
    return {**figures, "tasks": tasks, "budget_backend": backend, "seconds": run["seconds"], "windows_ok": run["windows_ok"],
            "windows_failed": run["windows_failed"], "tasks_failed": run["tasks_failed"]}


def take_overhead(backend: Any, takes: int) -> dict[str, float]:
    """Round trip of one take that never waits (rate far above the calls), in ms."""
    account = uuid.uuid4().hex + uuid.uuid4().hex
    samples = []
    for _ in range(takes):
        started = time.perf_counter()
        backend.take(account, 1e9, 1.0, 60.0)
        samples.append((time.perf_counter() - started) * 1000.0)
    backend.close()
    samples.sort()
    return {"median_ms": statistics.median(samples), "p95_ms": samples[int(0.95 * (len(samples) - 1))],
            "max_ms": samples[-1], "n": len(samples)}


def overheads(takes: int) -> dict[str, Any]:
    from argo_energy.eniscope.budget import PostgresBackend
    from argo_energy.eniscope.budget_redis import RedisBackend

    out: dict[str, Any] = {}
    with common.fresh_database("budget_rt", migrate=False) as dsn:
        with common.connect(dsn, autocommit=True) as conn:
            conn.execute((REPO / "include/sql/migrations/V008__eniscope_request_budget.sql").read_text("utf-8"))
        out["postgres"] = take_overhead(PostgresBackend(dsn=dsn), takes)
    try:
        out["redis"] = take_overhead(RedisBackend(url="redis://127.0.0.1:6379/0"), takes)
    except Exception as exc:  # Redis is optional: say why it is missing
        out["redis"] = {"error": f"{type(exc).__name__}: {exc}"}
    for name, figures in out.items():
        if "median_ms" in figures:
            say(f"[budget] take round trip {name}: median {figures['median_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms")
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = dict(SIZES[common.mode_of(args)])
    home = Path(tempfile.mkdtemp(prefix="argo-bench-budget-home-"))
    template = airflow_env.ensure_template()
    try:
        airflow_env.prepare(home)
        if not args.verbose:
            os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"  # 3 lines per window otherwise
        from argo_energy.ingest.readings import window_workers  # after prepare(): it imports Airflow

        requests = size["channels"] * size["days"]
        threads = {"4 tasks": window_workers(size["rps"], requests // 4, 4),
                   "1 task": window_workers(size["rps"], requests, 4)}
        four = run_tasks(size, 4)
        one = run_tasks(size, 1)
        control = run_tasks(size, 1, "process")
    finally:
        airflow_env.drop_template(template)
        airflow_env.cleanup(home)
    trips = overheads(size["takes"])
    ratios = [
        Ratio("4 tasks at once: answered requests/s / R", four["answered_rps_over_r"], 0.95),
        Ratio("4 tasks at once: 429 share of requests", four["share_429"], 0.01, "<="),
        Ratio("1 task alone: answered requests/s / R", one["answered_rps_over_r"], 0.95),
        Ratio("1 task alone, per-process bucket only (control): answered requests/s / R",
              control["answered_rps_over_r"], None),
        Ratio("shared take round trip, PostgreSQL, median ms", trips["postgres"]["median_ms"], 5.0, "<="),
    ]
    if "median_ms" in trips.get("redis", {}):
        ratios.append(Ratio("shared take round trip, Redis, median ms", trips["redis"]["median_ms"], None, "<="))
    return common.finish(
        args,
        "request_budget",
        {
            "title": "One request budget for the account (readings tasks in separate processes)",
            "params": {**size, "readings_requests": requests, "simulator": "own process, per-account limit",
                       "window_threads_per_task": threads},
            "four_tasks": four,
            "one_task": one,
            "one_task_process_bucket": control,
            "take_round_trip": trips,
            "ratios": ratios,
            "table_figures": [
                f"{size['channels']} ch x {size['days']} d = {requests} readings requests, R = {size['rps']:g}/s, "
                f"simulator burst {size['burst']:g}, client burst 1, latency {size['latency'] * 1000:.0f} ms",
                f"4 tasks: {four['answered_rps']:.2f} answered/s, {four['rate_limited_429']} x 429 of "
                f"{four['requests']}; 1 task: {one['answered_rps']:.2f} answered/s, {one['rate_limited_429']} x 429; "
                f"1 task, process bucket only: {control['answered_rps']:.2f} answered/s",
                f"take round trip: PostgreSQL median {trips['postgres']['median_ms']:.2f} ms "
                f"(p95 {trips['postgres']['p95_ms']:.2f} ms)",
            ],
        },
        None,
    )


def parser() -> argparse.ArgumentParser:
    return common.arg_parser(__doc__.splitlines()[0])


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-sim":
        return serve_sim(sys.argv[2])
    return common.main_guard(run, parser())


if __name__ == "__main__":
    raise SystemExit(main())
