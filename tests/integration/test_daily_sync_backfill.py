"""``airflow backfill create`` on eniscope_daily_sync, run by a real scheduler (slow).

A throwaway Airflow installation (its own PostgreSQL metadata database: with SQLite, the CLI, the
scheduler and the dag-processor writing at once hit "database is locked" on a busy machine) runs
as separate processes:
``airflow dag-processor``, ``airflow scheduler`` (LocalExecutor) and ``airflow api-server --apps
execution`` (the Execution API the LocalExecutor's task processes report to). The pool comes from
``airflow pools import include/pools.json``: the scheduler never queues a task whose pool does not
exist (``dag.test()`` does not look at pools at all). The backfill is created with the CLI exactly as
the README shows; the test waits (bounded) until the scheduler has finished its runs, then checks
the warehouse against the simulator's ground truth.

``[scheduler] use_job_schedule = False`` keeps the scheduler from adding the DAG's own latest
scheduled run (the DAG is unpaused, which backfill runs need): only the backfill's runs execute.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.sitetime import local_midnight, make_windows
from devtools.airflow_env import airflow_env
from tests.fixtures.ingest import (
    REPO,
    IngestEnv,
    assert_matches_ground_truth,
    small_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "eniscope_daily_sync"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SIM_NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
# --from-date/--to-date bound the runs' logical dates (= data interval starts, 02:00 UTC): 11-09,
# 11-10 and 11-11 02:00 fall in [11-09 00:00, 11-12 00:00]; their intervals end 11-10, 11-11, 11-12.
FROM_DATE, TO_DATE = "2026-11-09", "2026-11-12"
EXPECTED_ENDS = [datetime(2026, 11, d, 2, tzinfo=UTC) for d in (10, 11, 12)]
LOOKBACK = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, check: Callable[[], None]) -> Any:
    """Poll ``condition`` until it returns something truthy; ``check`` fails fast if a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        result = condition()
        if result:
            return result
        time.sleep(1)  # polling interval of a bounded wait, not a synchronisation sleep
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class AirflowStack:
    home: Path
    env: dict[str, str]
    metadata_dsn: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[Any] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 240) -> str:
        done = subprocess.run(
            [AIRFLOW, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        out = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop(), after the process
        self.logs.append(out)
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, *args],
            env=self.env,
            cwd=self.home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.metadata_dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def stop(self) -> None:
        # Only the process groups this fixture started (each Popen leads its own session).
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # Whatever is left, leaders or the workers they forked, must not outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for out in self.logs:
            out.close()


@pytest.fixture
def airflow_stack(
    tmp_path: Path, make_database: Callable[[str], str], energy_db_conn: str, eniscope_backfill_sim: Any
) -> Iterator[AirflowStack]:
    home = tmp_path / "airflow-home"
    home.mkdir()
    api_port = free_port()
    metadata_dsn = make_database("af")
    env = airflow_env(
        home,
        metadata_dsn=metadata_dsn,
        core__execution_api_server_url=f"http://127.0.0.1:{api_port}/execution/",
        api_auth__jwt_secret="backfill-test-jwt-secret-0123456789",
        logging__worker_log_server_port=free_port(),
        scheduler__use_job_schedule=False,
    )
    stack = AirflowStack(home=home, env=env, metadata_dsn=metadata_dsn)
    stack.cli("db", "migrate")
    assert "Uploaded 1 pool" in stack.cli("pools", "import", str(REPO / "include" / "pools.json"))
    try:
        stack.start(
            "api-server", "api-server", "--apps", "execution", "--host", "127.0.0.1", "--port", str(api_port)
        )
        stack.start("dag-processor", "dag-processor")
        stack.start("scheduler", "scheduler")
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def eniscope_backfill_sim(make_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tests.fixtures.simulator import set_eniscope_conn

    sim = make_simulator(small_config(SIM_NOW))
    set_eniscope_conn(monkeypatch, sim)  # the subprocesses inherit AIRFLOW_CONN_ENISCOPE_DEFAULT
    return sim


def test_airflow_backfill_create_fills_three_days(
    airflow_stack: AirflowStack,
    energy_db_conn: str,
    eniscope_backfill_sim: Any,
    monkeypatch: pytest.MonkeyPatch,
):
    stack, sim = airflow_stack, eniscope_backfill_sim
    wait_for(
        lambda: stack.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)),
        timeout=240,
        what=f"the dag-processor to serialize {DAG_ID}",
        check=stack.check_alive,
    )

    stack.cli(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        FROM_DATE,
        "--to-date",
        TO_DATE,
        "--dag-run-conf",
        json.dumps({"lookback_days": LOOKBACK}),
        "--max-active-runs",
        "3",  # the three runs side by side: wall time ~ one run's chain of tasks
    )

    def finished() -> list[tuple[Any, ...]]:
        runs = stack.query(
            "SELECT run_id, state, data_interval_end FROM dag_run WHERE dag_id = %s AND run_type = 'backfill' "
            "ORDER BY data_interval_end",
            (DAG_ID,),
        )
        return runs if runs and all(state in ("success", "failed") for _, state, _ in runs) else []

    runs = wait_for(
        finished, timeout=600, what="the scheduler to finish the backfill runs", check=stack.check_alive
    )
    assert [state for _, state, _ in runs] == ["success"] * 3, (
        f"runs {runs}; scheduler log:\n{stack.log_tail('scheduler')}"
    )
    ends = [end for _, _, end in runs]
    assert ends == EXPECTED_ENDS
    pools = {
        pool
        for (pool,) in stack.query(
            "SELECT DISTINCT pool FROM task_instance WHERE dag_id = %s AND task_id = 'sync_readings'",
            (DAG_ID,),
        )
    }
    assert pools == {"eniscope_api"}

    env = IngestEnv(sim=sim, dsn=energy_db_conn, monkeypatch=monkeypatch)
    meters = sim.channel_ids("meter")
    for (run_id, _, _), end in zip(runs, ends, strict=True):
        for channel in meters:
            zone = sim.timezone_of(channel)
            local_day = end.astimezone(ZoneInfo(zone)).date() - timedelta(days=LOOKBACK)
            windows = make_windows(local_midnight(local_day, zone), end, zone)
            logged = env.sql(
                "SELECT start_time, end_time, status FROM ingestion_logs WHERE run_id = %s AND channel_id = %s "
                "ORDER BY start_time",
                (run_id, channel),
            )
            assert logged == [(w.start, w.end, "success") for w in windows], f"{run_id} channel {channel}"
    for channel in meters:
        first, last = env.sql(
            "SELECT min(start_time), max(end_time) FROM ingestion_logs WHERE channel_id = %s", (channel,)
        )[0]
        assert_matches_ground_truth(env, channel, first, last)
    per_site = env.sql(
        "SELECT organization_id, count(*), min(sync_status), max(sync_status) FROM data_sync_status "
        "WHERE channel_id IS NULL GROUP BY 1"
    )
    expected = [(org, 3, "success", "success") for org in sim.site_organization_ids()]
    assert sorted(per_site) == sorted(expected), "one success row per site and run"
