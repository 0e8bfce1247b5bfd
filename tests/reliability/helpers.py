"""Shared machinery of the reliability suite (no tests here).

* ``execution_api``: a session-wide ``airflow api-server --apps execution``, so that
  ``dag.test(use_executor=True)`` runs every task the way production does: the LocalExecutor
  forks a supervisor, the supervisor forks the task process, the task process writes its log file
  under ``$AIRFLOW_HOME/logs`` and reports its state through the Execution API. A killed task
  process is therefore seen by Airflow exactly as in production (``UP_FOR_RETRY``), and task
  retries are decided by the scheduler's own dependency checks inside ``dag.test()``.
* ``pipeline_env``: points ``eniscope_default`` / ``energy_db`` at a simulator and a warehouse.
* ``run_dag``: one real DAG run (retry delays zeroed, retry counts kept as the DAG declares them).
* Ground truth: the simulator's records converted to warehouse units *here* (not by the code
  under test), compared row by row with the ``readings`` table.
* ``Figures``: what the suite injected and checked, written to ``$ARGO_TEST_ARTIFACTS/reliability.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from devtools.airflow_env import airflow_env, postgres_connection, secrets_env
from devtools.localpg import free_port
from eniscope_simulator import SimulatorConfig, SiteConfig, default_config
from tests.fixtures.ingest import READING_COLUMNS, load_dag, small_config
from tests.fixtures.simulator import sim_conn_json

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAILY, BACKFILL = "eniscope_daily_sync", "eniscope_historical_backfill"
GRID = timedelta(minutes=15)
# Raw API field -> (warehouse column, factor): the documented units (API.md §4), independent of
# argo_energy.eniscope.parsing so that a unit bug there cannot hide behind the comparison.
RAW_TO_COLUMN = {
    "E": ("energy_kwh", 1e-3),
    "P": ("power_kw", 1e-3),
    "V": ("voltage_v", 1.0),
    "I": ("current_a", 1.0),
    "PF": ("power_factor", 1.0),
    "Q": ("reactive_power_kvar", 1e-3),
    "T": ("temperature_c", 1.0),
    "RH": ("relative_humidity", 1.0),
    # Power quality (issue 19): VA -> kVA, Wh -> kWh and W -> kW per phase; Hz, %, A, V, PF and cost as served.
    "S": ("apparent_power_kva", 1e-3),
    "F": ("frequency_hz", 1.0),
    "D": ("current_thd_pct", 1.0),
    "In": ("neutral_current_a", 1.0),
    "cost": ("cost", 1.0),
    **{f"E{n}": (f"energy_kwh_l{n}", 1e-3) for n in (1, 2, 3)},
    **{f"P{n}": (f"power_kw_l{n}", 1e-3) for n in (1, 2, 3)},
    **{f"V{n}": (f"voltage_v_l{n}", 1.0) for n in (1, 2, 3)},
    **{f"I{n}": (f"current_a_l{n}", 1.0) for n in (1, 2, 3)},
    **{f"PF{n}": (f"power_factor_l{n}", 1.0) for n in (1, 2, 3)},
}
JWT_SECRET = "reliability-suite-execution-api-jwt-secret-0123456789abcdef0123456789abcdef"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    """Poll ``condition`` until truthy (bounded); raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)  # polling interval of a bounded wait, not a synchronisation sleep


# --------------------------------------------------------------------------------------------
# Airflow: Execution API server, environment, DAG runs


@dataclass
class ExecutionApi:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    startup_seconds: float


@pytest.fixture(scope="session")
def execution_api(airflow_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutionApi]:
    """``airflow api-server --apps execution`` on a free port, sharing the session's metadata DB."""
    home = Path(airflow_db)
    log_dir = home / "reliability"
    log_dir.mkdir(exist_ok=True)
    log_path = log_dir / "api-server.log"
    port = free_port()
    env = airflow_env(home, api_auth__jwt_secret=JWT_SECRET)
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [AIRFLOW, "api-server", "--apps", "execution", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/execution/"
    started = time.monotonic()

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"api-server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        import requests

        try:
            return requests.get(f"{url}health", timeout=5).status_code == 200
        except requests.RequestException:
            return False  # not listening yet, or still starting its workers

    try:
        wait_until(healthy, timeout=240, what="the Execution API server", poll=0.5)
        yield ExecutionApi(url, log_path, process, round(time.monotonic() - started, 1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)


@contextlib.contextmanager
def pipeline_env(
    sim: Any,
    dsn: str,
    variables: Mapping[str, str] | None = None,
    eniscope_conn: str | None = None,
    **conn_extra: Any,
) -> Iterator[pytest.MonkeyPatch]:
    """``eniscope_default`` -> ``sim`` (conn extras on top of the test defaults, or the JSON
    ``eniscope_conn`` as given), ``energy_db`` -> ``dsn``."""
    with pytest.MonkeyPatch.context() as mp:
        connections = {
            "eniscope_default": eniscope_conn or sim_conn_json(sim, **conn_extra),
            "energy_db": postgres_connection(dsn),
        }
        for name, value in secrets_env(connections, variables).items():
            mp.setenv(name, value)
        yield mp


def zero_retry_delays(dag: Any) -> Any:
    """Keep every task's retry count but retry at once (the DAG's delays are minutes)."""
    for task in dag.tasks:
        task.retry_delay = timedelta(0)
        task.retry_exponential_backoff = 0
    return dag


def run_dag(
    dag_id: str,
    logical_date: datetime | None,
    conf: Mapping[str, Any] | None = None,
    *,
    api: ExecutionApi | None = None,
    tune: Callable[[Any], None] | None = None,
) -> Any:
    """One real run of ``dag_id`` with ``dag.test()``; with ``api``, every task in its own process."""
    dag = zero_retry_delays(load_dag(dag_id))
    if tune is not None:
        tune(dag)
    if api is None:
        return dag.test(logical_date=logical_date, run_conf=dict(conf or {}))
    from airflow.callbacks.database_callback_sink import DatabaseCallbackSink
    from airflow.executors.base_executor import BaseExecutor

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", api.url)
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
        # What the scheduler gives its executors (SchedulerJobRunner._execute). dag.test() gives
        # none, and a task process killed by a signal is only noticed through the executor's event
        # ("killed externally"), whose handling sends the task's failure callback to this sink.
        mp.setattr(BaseExecutor, "callback_sink", DatabaseCallbackSink())
        return dag.test(logical_date=logical_date, run_conf=dict(conf or {}), use_executor=True)


@dataclass(frozen=True)
class TaskTry:
    task_id: str
    map_index: int
    state: str
    try_number: int


def task_tries(dag_run: Any) -> dict[str, list[TaskTry]]:
    """``{task_id: [TaskTry per map index]}`` of a finished run."""
    found: dict[str, list[TaskTry]] = {}
    for ti in sorted(dag_run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        found.setdefault(ti.task_id, []).append(
            TaskTry(ti.task_id, ti.map_index, str(ti.state), ti.try_number)
        )
    return found


def metadata_db_path() -> Path:
    """The session's SQLite metadata database file."""
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not url.startswith("sqlite:///"):
        raise RuntimeError(f"the reliability suite expects a SQLite metadata DB, got {url!r}")
    return Path(url.removeprefix("sqlite:///"))


def task_log_files(run_id: str | None = None) -> list[Path]:
    """Task log files under ``$AIRFLOW_HOME/logs`` (of one run, or all)."""
    root = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    files = [p for p in root.rglob("*") if p.is_file()]
    if run_id is not None:
        files = [p for p in files if f"run_id={run_id}" in str(p)]
    return sorted(files)


# --------------------------------------------------------------------------------------------
# Simulator configuration and time


def small_sites(ny_meters: int = 2, kolkata_meters: int = 1) -> list[SiteConfig]:
    """The ingestion tests' New York (DST zone) and Kolkata (+05:30) sites, meters only (short runs)."""
    new_york, kolkata = small_config(datetime(2026, 11, 16, tzinfo=UTC)).sites
    sites = [dataclasses.replace(new_york, meters=ny_meters, sensors=0, virtual=0)]
    if kolkata_meters:
        sites.append(dataclasses.replace(kolkata, meters=kolkata_meters, sensors=0, virtual=0))
    return sites


def sim_config(now: datetime, sites: list[SiteConfig], **overrides: Any) -> SimulatorConfig:
    return default_config(now=now, sites=sites, **overrides)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def daily_range(interval_end: datetime, lookback_days: int, zone: str) -> tuple[datetime, datetime]:
    """What the daily sync must cover (DAG docstring): site-local days back to the interval end."""
    first = interval_end.astimezone(ZoneInfo(zone)).date() - timedelta(days=lookback_days)
    return local_midnight(first, zone), interval_end


def local_days(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """``[midnight of first, midnight after last)`` in ``zone`` (backfill semantics)."""
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def windows_of(start: datetime, end: datetime, zone: str) -> list[tuple[datetime, datetime]]:
    """Site-local days of ``[start, end)`` (computed here, not by argo_energy.sitetime)."""
    out, cursor = [], start
    day = start.astimezone(ZoneInfo(zone)).date()
    while cursor < end:
        upper = min(local_midnight(day + timedelta(days=1), zone), end)
        out.append((cursor, upper))
        cursor, day = upper, day + timedelta(days=1)
    return out


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --------------------------------------------------------------------------------------------
# Warehouse: SQL, ground truth, invariants


def sql(dsn: str, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def table_names(dsn: str) -> list[str]:
    return [r[0] for r in sql(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


def to_row(record: Mapping[str, Any]) -> tuple[float | None, ...]:
    """A raw API record as the readings columns (``READING_COLUMNS`` order), converted here."""
    values: dict[str, float | None] = dict.fromkeys(READING_COLUMNS)
    for code, (column, factor) in RAW_TO_COLUMN.items():
        raw = record.get(code)
        values[column] = None if raw is None else float(raw) * factor
    return tuple(values[c] for c in READING_COLUMNS)


def truth_records(sim: Any, channel_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The simulator's records with every field the meter reports (what the pipeline asks for)."""
    reported = sim.fields_of(channel_id)
    return sim.ground_truth(channel_id, start, end, fields=reported if "E" in reported else None)


def expected_readings(
    sim: Any, channel_id: int, start: datetime, end: datetime, rejected: set[datetime]
) -> dict[datetime, tuple[float | None, ...]]:
    """Ground truth of ``[start, end)`` at 15 minutes, minus the readings that must be rejected."""
    out = {}
    for record in truth_records(sim, channel_id, start, end):
        ts = datetime.fromtimestamp(record["ts"], UTC)
        if ts not in rejected:
            out[ts] = to_row(record)
    return out


def truth_negatives(sim: Any, channel_id: int, start: datetime, end: datetime) -> dict[datetime, set[str]]:
    """Timestamps the simulator's own data faults made negative, with the codes they must get."""
    found: dict[datetime, set[str]] = {}
    for record in sim.ground_truth(channel_id, start, end):
        codes = set()
        if record.get("P") is not None and record["P"] < 0:
            codes.add("negative_power")
        if record.get("E") is not None and record["E"] < 0:
            codes.add("negative_energy")
        if codes:
            found[datetime.fromtimestamp(record["ts"], UTC)] = codes
    return found


def stored(dsn: str, channel_id: int, start: datetime, end: datetime) -> dict[datetime, tuple[Any, ...]]:
    query = psycopg.sql.SQL(
        'SELECT "timestamp", {} FROM readings WHERE channel_id = %s AND "timestamp" >= %s '
        'AND "timestamp" < %s ORDER BY "timestamp"'
    ).format(psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in READING_COLUMNS))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query, (channel_id, start, end)).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def compare_rows(
    dsn: str, channel_id: int, start: datetime, end: datetime, expected: Mapping[datetime, tuple[Any, ...]]
) -> int:
    """Assert the stored readings of ``[start, end)`` equal ``expected`` row by row; return the count."""
    got = stored(dsn, channel_id, start, end)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing, (
        f"channel {channel_id}: {len(missing)} reading(s) of the ground truth lost, first {missing[:3]}"
    )
    assert not extra, (
        f"channel {channel_id}: {len(extra)} reading(s) stored that should not be, first {extra[:3]}"
    )
    differ = [
        (ts.isoformat(), column, value, truth)
        for ts, want in expected.items()
        for column, value, truth in zip(READING_COLUMNS, got[ts], want, strict=True)
        if not same_value(value, truth)
    ]
    assert not differ, (
        f"channel {channel_id}: {len(differ)} value(s) differ from the ground truth "
        f"(timestamp, column, stored, truth), first {differ[:5]}"
    )
    return len(expected)


def same_value(stored_value: float | None, truth: float | None) -> bool:
    """NULL only for a missing value; numbers equal to float4 precision (readings columns are real)."""
    if truth is None or stored_value is None:
        return truth is None and stored_value is None
    return math.isclose(stored_value, truth, rel_tol=1e-6, abs_tol=1e-6)


ORPHAN_READINGS = """
SELECT count(*) FROM readings r
 WHERE NOT EXISTS (
       SELECT 1 FROM ingestion_logs l
        WHERE l.status = 'success' AND l.channel_id = r.channel_id
          AND r."timestamp" >= l.start_time AND r."timestamp" < l.end_time)
"""
DUPLICATE_READINGS = 'SELECT count(*) - count(DISTINCT (channel_id, "timestamp")) FROM readings'


def invariants(dsn: str) -> dict[str, int]:
    """Counts that must be 0: readings without the success log row of their window, duplicates."""
    return {
        "readings_without_log_row": sql(dsn, ORPHAN_READINGS)[0][0],
        "duplicate_readings": sql(dsn, DUPLICATE_READINGS)[0][0],
    }


# --------------------------------------------------------------------------------------------
# Database-side probes and faults


def waiting_writers(dsn: str, blocker_pid: int) -> list[tuple[int, int | None, str]]:
    """``(pid, client_port, query)`` of backends of ``dsn``'s database blocked by ``blocker_pid``."""
    return [
        (int(pid), port, query)
        for pid, port, query in sql(
            dsn,
            "SELECT pid, client_port, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))",
            (blocker_pid,),
        )
    ]


@dataclass
class RowBlocker:
    """An open transaction holding an uncommitted reading of (channel, ts).

    The warehouse writes a window's rows in timestamp order (COPY or staged upsert); when it reaches
    ``ts`` it waits for this transaction: it has then written every earlier row of the window,
    uncommitted.
    """

    dsn: str
    channel_id: int
    ts: datetime
    conn: psycopg.Connection[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.conn = psycopg.connect(self.dsn)
        self.conn.execute(
            'INSERT INTO readings (channel_id, "timestamp") VALUES (%s, %s)', (self.channel_id, self.ts)
        )

    @property
    def pid(self) -> int:
        return int(self.conn.info.backend_pid)

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def process_of_client_port(port: int) -> Any:
    """The descendant of this test process that owns the TCP connection from local ``port``."""
    import psutil

    for proc in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in proc.net_connections(kind="tcp")):
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


# --------------------------------------------------------------------------------------------
# Figures


class Figures:
    """Per-scenario figures; every ``record`` rewrites ``$ARGO_TEST_ARTIFACTS/reliability.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.scenarios: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def record(self, scenario: str, **figures: Any) -> None:
        with self._lock:
            self.scenarios[scenario] = figures
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.document(), indent=2, sort_keys=True, default=str) + "\n")

    def document(self) -> dict[str, Any]:
        totals = {
            key: sum(int(s.get(key, 0)) for s in self.scenarios.values())
            for key in (
                "faults_injected",
                "faults_survived",
                "rows_compared",
                "rows_lost",
                "rows_duplicated",
                "rejected_readings_checked",
            )
        }
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "totals": totals,
            "scenarios": self.scenarios,
        }


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures(Path(os.environ["ARGO_TEST_ARTIFACTS"]) / "reliability.json")
