"""A window in the middle of being written loses its database connection, then its task process is
SIGKILLed; Airflow retries the task each time and the warehouse ends equal to the ground truth.

Determinism: before the run, the test holds an open transaction with an uncommitted reading of
the last quarter-hour of one window W. The warehouse upserts a window's rows in timestamp order,
so W's writer inserts every earlier row (uncommitted) and then waits for the test's transaction:
``pg_blocking_pids`` shows it waiting, which is the moment the fault is injected.

* try 1: ``pg_terminate_backend`` of W's writer (the warehouse connection is cut mid-window);
* try 2: the writer of W blocks again; the task process owning that connection (found by its
  TCP client port) gets SIGKILL. Before the blocker is released the test queues for W's channel
  advisory lock, so it sees the database after the orphaned transaction ended and before try 3
  may write W: nothing of W is there, and no reading lacks its ``ingestion_logs`` row;
* try 3 writes W and completes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.reliability.helpers import (
    DAILY,
    ExecutionApi,
    Figures,
    RowBlocker,
    compare_rows,
    daily_range,
    expected_readings,
    invariants,
    metadata_db_path,
    pipeline_env,
    process_of_client_port,
    run_dag,
    sim_config,
    small_sites,
    sql,
    task_log_files,
    task_tries,
    wait_until,
)

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.reliability.helpers"]

END = datetime(2026, 11, 13, 2, tzinfo=UTC)  # Fri; New York Thu Nov 12 21:00
LOOKBACK = 1
NY = "America/New_York"
WAIT = 240.0  # bound of every wait on the pipeline (a loaded CI machine is slow)


# The statement that writes a window's readings: COPY straight into readings (a window without
# readings, as here) or the staged upsert (WITH up AS (INSERT INTO readings ... ON CONFLICT ...)).
WRITER_STATEMENTS = ("COPY readings", "INSERT INTO readings")


@dataclass
class Observed:
    """What the fault controller saw and did (read by the tests after the run)."""

    terminated_pid: int | None = None
    terminated_query: str = ""
    killed_pid: int | None = None
    killed_parent_alive: bool = False
    killed_cmdline: str = ""
    writer_pids: list[int] = field(default_factory=list)
    window_rows_after_crash: int | None = None
    window_success_rows_after_crash: int | None = None
    invariants_after_crash: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class CrashRun:
    sim: Any
    dsn: str
    channel: int
    window: tuple[datetime, datetime]
    blocked_ts: datetime
    run_id: str
    state: str
    tries: dict[str, Any]
    observed: Observed
    meters: list[int]
    seconds: float


def _controller(dsn: str, blocker: RowBlocker, window: tuple[datetime, datetime], seen: Observed) -> None:
    from argo_energy.warehouse.connection import LOCK_CHANNEL_WRITE

    try:
        # try 1: cut the writer's database connection while it waits inside the window's transaction
        (pid, _port, query) = wait_until(
            lambda: next(iter(_writers(dsn, blocker)), None), WAIT, "the writer of the blocked window"
        )
        seen.writer_pids.append(pid)
        seen.terminated_pid, seen.terminated_query = pid, query
        sql(dsn, "SELECT pg_terminate_backend(%s)", (pid,))

        # try 2: the retry's writer blocks on the same row; SIGKILL the task process that owns it
        (pid, port, _query) = wait_until(
            lambda: next((w for w in _writers(dsn, blocker) if w[0] != seen.terminated_pid), None),
            WAIT,
            "the retry's writer of the blocked window",
        )
        seen.writer_pids.append(pid)
        proc = wait_until(lambda: process_of_client_port(port), 30, f"the process owning client port {port}")
        parent = proc.parent()
        seen.killed_pid, seen.killed_cmdline = proc.pid, " ".join(proc.cmdline())[:300]

        # Queue for the channel's write lock now, behind the orphaned transaction: whoever comes
        # later (the next try) waits behind us, so the state between the two is observable.
        lock = psycopg.connect(dsn, autocommit=True)
        got_lock = threading.Event()

        def take_lock() -> None:
            lock.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CHANNEL_WRITE, blocker.channel_id))
            got_lock.set()

        taker = threading.Thread(target=take_lock, name="advisory-lock-taker")
        taker.start()
        wait_until(
            lambda: sql(
                dsn,
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                (lock.info.backend_pid,),
            ),
            WAIT,
            "the test's advisory lock request to queue",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        seen.killed_parent_alive = parent is not None and parent.is_running()
        blocker.release()  # the orphaned transaction goes on, cannot reach its client, aborts
        if not got_lock.wait(WAIT):
            raise TimeoutError("the orphaned transaction never ended")
        taker.join()
        start, end = window
        seen.window_rows_after_crash = sql(
            dsn,
            'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
            (blocker.channel_id, start, end),
        )[0][0]
        seen.window_success_rows_after_crash = sql(
            dsn,
            "SELECT count(*) FROM ingestion_logs WHERE status = 'success' AND channel_id = %s "
            "AND start_time = %s AND end_time = %s",
            (blocker.channel_id, start, end),
        )[0][0]
        seen.invariants_after_crash = invariants(dsn)
        lock.close()  # the next try may write the window now
    except Exception as exc:  # reported by the tests; never leave the run blocked
        seen.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        blocker.release()


def _writers(dsn: str, blocker: RowBlocker) -> list[tuple[int, int | None, str]]:
    from tests.reliability.helpers import waiting_writers

    return [w for w in waiting_writers(dsn, blocker.pid) if _writes_readings(w[2])]


def _writes_readings(query: str) -> bool:
    return any(statement in query for statement in WRITER_STATEMENTS)


@pytest.fixture(scope="module")
def crash_run(airflow_db: str, make_database: Any, execution_api: ExecutionApi) -> Any:
    from argo_energy.ingest import tasks
    from eniscope_simulator import Simulator

    dsn = make_database("relcrash")
    sim = Simulator(sim_config(END + timedelta(minutes=30), small_sites(ny_meters=2, kolkata_meters=0)))
    sim.start(host="127.0.0.1", port=0)
    try:
        meters = sim.channel_ids("meter")
        channel = meters[0]
        start, _ = daily_range(END, LOOKBACK, NY)
        window = (start, start + timedelta(days=1))
        blocked_ts = window[1] - timedelta(minutes=15)
        with pipeline_env(sim, dsn):
            # The schema and the channel rows exist before the run, as after any earlier run:
            # the blocking reading needs its channel.
            tasks.apply_warehouse_migrations()
            tasks.sync_metadata_daily(data_interval_end=END, lookback_days=LOOKBACK)
            blocker = RowBlocker(dsn, channel, blocked_ts)
            seen = Observed()
            controller = threading.Thread(
                target=_controller, args=(dsn, blocker, window, seen), name="fault-controller"
            )
            controller.start()
            started = time.monotonic()
            try:
                dag_run = run_dag(DAILY, END, {"lookback_days": LOOKBACK}, api=execution_api)
            finally:
                blocker.release()
                controller.join(timeout=WAIT)
        yield CrashRun(
            sim=sim,
            dsn=dsn,
            channel=channel,
            window=window,
            blocked_ts=blocked_ts,
            run_id=dag_run.run_id,
            state=str(dag_run.state),
            tries=task_tries(dag_run),
            observed=seen,
            meters=meters,
            seconds=round(time.monotonic() - started, 1),
        )
    finally:
        sim.stop()


def try_history(run_id: str, task_id: str) -> list[tuple[int, str]]:
    """``(try_number, state)`` of the earlier tries of a task (Airflow keeps one row per try)."""
    with sqlite3.connect(f"file:{metadata_db_path()}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(
            "SELECT try_number, state FROM task_instance_history WHERE run_id = ? AND task_id = ? "
            "ORDER BY try_number",
            (run_id, task_id),
        ).fetchall()


def test_database_connection_cut_mid_window_is_retried(crash_run: CrashRun):
    seen = crash_run.observed
    assert not seen.errors, seen.errors
    assert seen.terminated_pid is not None
    assert _writes_readings(seen.terminated_query), (
        f"the connection was not cut inside the window's write: {seen.terminated_query[:200]!r}"
    )
    # Airflow keeps each try that was retried as a 'failed' history row.
    assert try_history(crash_run.run_id, "sync_readings")[:1] == [(1, "failed")]
    (first_log,) = [
        p for p in task_log_files(crash_run.run_id) if "sync_readings" in str(p) and "attempt=1" in str(p)
    ]
    assert "terminating connection due to administrator command" in first_log.read_text()


def test_sigkill_mid_window_leaves_no_half_written_window(crash_run: CrashRun):
    seen = crash_run.observed
    assert not seen.errors, seen.errors
    assert seen.killed_pid not in (None, os.getpid())
    assert seen.killed_parent_alive, "the supervisor died with the task process: Airflow could not report it"
    assert try_history(crash_run.run_id, "sync_readings")[1:2] == [(2, "failed")]
    assert seen.window_rows_after_crash == 0, (
        f"{seen.window_rows_after_crash} reading(s) of the killed window survived without their log row"
    )
    assert seen.window_success_rows_after_crash == 0
    assert seen.invariants_after_crash == {"readings_without_log_row": 0, "duplicate_readings": 0}
    (second_log,) = [
        p for p in task_log_files(crash_run.run_id) if "sync_readings" in str(p) and "attempt=2" in str(p)
    ]
    assert "signal" in second_log.read_text().lower(), "the task log does not record the kill"


def test_after_both_faults_the_warehouse_equals_the_ground_truth(crash_run: CrashRun, figures: Figures):
    run = crash_run
    assert run.state == "success", run.tries
    (readings,) = run.tries["sync_readings"]
    assert (readings.state, readings.try_number) == ("success", 3)
    assert try_history(run.run_id, "sync_readings") == [(1, "failed"), (2, "failed")]
    compared = 0
    for channel in run.meters:
        start, end = daily_range(END, LOOKBACK, NY)
        compared += compare_rows(
            run.dsn, channel, start, end, expected_readings(run.sim, channel, start, end, set())
        )
    broken = invariants(run.dsn)
    assert broken == {"readings_without_log_row": 0, "duplicate_readings": 0}, broken
    per_window = sql(
        run.dsn,
        "SELECT channel_id, start_time, count(*) FROM ingestion_logs WHERE status = 'success' GROUP BY 1, 2",
    )
    assert all(count == 1 for _, _, count in per_window), f"a window was written twice: {per_window}"
    assert len(per_window) == 2 * len(run.meters)
    figures.record(
        "crash_and_db_cut",
        description="pg_terminate_backend of a window's writer (try 1), SIGKILL of the task process (try 2)",
        faults_injected=2,
        faults_survived=2,
        sync_readings_tries=readings.try_number,
        run_seconds=run.seconds,
        rows_compared=compared,
        rows_lost=0,
        rows_duplicated=broken["duplicate_readings"],
        readings_without_log_row=broken["readings_without_log_row"],
    )
