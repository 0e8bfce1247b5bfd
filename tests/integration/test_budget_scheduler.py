"""The daily sync overtakes a long historical backfill in the real scheduler (issue 16, slow).

"A daily sync triggered while a long backfill runs finishes its fetch after at most one backfill
batch." The stack of tests/fixtures/scheduler.py (dag-processor, scheduler with LocalExecutor,
execution API server, PostgreSQL metadata DB, the pool of ``include/pools.json``: 4 slots) runs
the two ingestion DAGs against a simulator that limits the account to ``RPS`` requests/s (429
beyond it), and the connection asks for the same rate from the shared budget (warehouse, V008):
every batch's time is set by the budget, not by the machine.

The backfill has ``CHANNELS`` meters (three batches of 25) over ``DAYS`` days, so a batch is
~``25 x DAYS`` requests: at most ``BACKFILL_MAX_ACTIVE_READINGS`` (2) of them run, the third waits
at priority 1. Once its first batch runs, a daily sync is triggered (one window per meter: three
batches at priority 100). Then the metadata DB's task instances must show:

* the historical batches never held more than the cap of pool slots at once, and did reach it;
* no historical batch was queued while a daily task of the pool waited for a slot (priority);
* every daily task of the pool was queued no later than the end of the backfill batches that were
  running when it became ready (plus the scheduler's reaction time): at most one batch's wait;
* every readings batch succeeds at its first try, every window is written, and the simulator
  answered (nearly) no 429. (The views and the refresh after the readings are other tests' subject:
  the stack stops once the readings are done.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from argo_energy.ingest.dag_tasks import BACKFILL_MAX_ACTIVE_READINGS, READINGS_TASK, RECENT_READINGS_TASK
from argo_energy.settings import BACKFILL_DAG_ID, DAILY_SYNC_DAG_ID, ENISCOPE_POOL
from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.ingest import REPO
from tests.fixtures.scheduler import AirflowStack, running_stack, wait_for
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIM_NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
RPS = 5.0  # the account's limit in the simulator and the budget's R in the connection
CHANNELS = 75  # three readings batches of 25 (planning.DEFAULT_BATCH_SIZE) in each DAG
BATCHES = 3
# Backfill 2026-11-01..10: a batch is 25 x 10 = 250 requests, >= 100 s at R/2 each: long enough that
# the daily sync (CLI trigger, apply_migrations, sync_metadata: ~70 s on a loaded machine) gets its
# readings ready while the first two batches still run.
DAYS = 10
BACKFILL_CONF = {"start_date": "2026-11-01", "end_date": "2026-11-10"}
# Logical date 11-15 02:00 -> data interval end 11-16 02:00; lookback 0: one (partial) local day per meter.
DAILY_LOGICAL_DATE = "2026-11-15T02:00:00+00:00"
DAILY_CONF = {"lookback_days": 0}
# Between a slot freeing (the task's end_date) and the next task's queued_dttm: one or two scheduler
# loops on a loaded 2-core machine; a second backfill batch would cost >= 40 s more.
SCHEDULER_REACTION = timedelta(seconds=15)
POOL_SLOTS = json.loads((REPO / "include" / "pools.json").read_text(encoding="utf-8"))[ENISCOPE_POOL]["slots"]
POOL_TASKS_SQL = """
SELECT ti.dag_id, ti.task_id, ti.map_index, ti.state, ti.try_number,
       ti.scheduled_dttm, ti.queued_dttm, ti.start_date, ti.end_date
  FROM task_instance ti JOIN dag_run dr USING (dag_id, run_id)
 WHERE ti.pool = %s AND dr.run_type = 'manual'
"""


@dataclass(frozen=True)
class PoolTask:
    dag_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    scheduled: datetime | None
    queued: datetime | None
    start: datetime | None
    end: datetime | None

    @property
    def name(self) -> str:
        return f"{self.dag_id}.{self.task_id}[{self.map_index}]"


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals ``[start, end)`` open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])  # ends sort first
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.fixture
def budget_stack(
    tmp_path: Path, make_database: Callable[[str], str], energy_db_conn: str, make_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[AirflowStack, Any]]:
    sites = [
        SiteConfig(name=f"Site {i}", timezone=zone, country=country, meters=CHANNELS // 3, sensors=0, virtual=0)
        for i, (zone, country) in enumerate([("America/New_York", "US"), ("Europe/Berlin", "DE"),
                                             ("Asia/Kolkata", "IN")])
    ]
    config = default_config(now=SIM_NOW, sites=sites)
    config.faults.account_rps = RPS
    config.faults.account_burst = 5.0  # some jitter between a booked turn and its arrival is not a 429
    sim = make_simulator(config)
    # The subprocesses inherit the connections: budget R in the warehouse (V008), as deployed.
    set_eniscope_conn(monkeypatch, sim, requests_per_second=RPS, burst=1, budget_backend="postgres")
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_id in (DAILY_SYNC_DAG_ID, BACKFILL_DAG_ID):
        (dags / f"{dag_id}.py").symlink_to(REPO / "dags" / f"{dag_id}.py")
    with running_stack(
        tmp_path,
        make_database("af16"),
        "budget-test-jwt-secret-0123456789abcdef",
        core__dags_folder=dags,
        core__parallelism=8,  # the pool, not the executor, must be what bounds the readings tasks
        core__dagbag_import_timeout=180,
    ) as stack:
        yield stack, sim


def pool_tasks(stack: AirflowStack) -> list[PoolTask]:
    return [PoolTask(*row) for row in stack.query(POOL_TASKS_SQL, (ENISCOPE_POOL,))]


def run_both(stack: AirflowStack) -> dict[str, int]:
    """Trigger the backfill, then the daily sync once a historical batch runs; wait until every
    readings batch of both is done (the views and refresh after them are not this test's subject)."""
    wanted = [DAILY_SYNC_DAG_ID, BACKFILL_DAG_ID]
    wait_for(lambda: len(stack.query("SELECT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", (wanted,)))
             == len(wanted), timeout=300, what="the dag-processor to serialize both DAGs", check=stack.check_alive)
    stack.cli("dags", "trigger", BACKFILL_DAG_ID, "--conf", json.dumps(BACKFILL_CONF))
    wait_for(lambda: stack.query(
        "SELECT 1 FROM task_instance WHERE dag_id = %s AND task_id = %s AND state = 'running'",
        (BACKFILL_DAG_ID, READINGS_TASK)), timeout=300, what="the backfill's first historical batch to run",
        check=stack.check_alive)
    stack.cli("dags", "trigger", DAILY_SYNC_DAG_ID, "--logical-date", DAILY_LOGICAL_DATE,
              "--conf", json.dumps(DAILY_CONF))

    def done() -> dict[str, int]:
        rows = stack.query(
            "SELECT dag_id, count(*) FROM task_instance WHERE task_id = %s AND map_index >= 0 "
            "AND state IN ('success', 'failed', 'up_for_retry') GROUP BY dag_id", (READINGS_TASK,))
        finished = dict(rows)
        return finished if finished == {DAILY_SYNC_DAG_ID: BATCHES, BACKFILL_DAG_ID: BATCHES} else {}

    return wait_for(done, timeout=900, what="every readings batch of both runs to finish", check=stack.check_alive)


def held(t: PoolTask) -> tuple[datetime, datetime]:
    """When ``t`` held its pool slot: from queued (a queued task counts against the pool) to its end."""
    assert t.queued is not None, f"{t.name} was never queued"
    assert t.end is not None, f"{t.name} never finished"
    return t.queued, t.end


def historical_batches(tasks: list[PoolTask]) -> list[PoolTask]:
    return [t for t in tasks if t.dag_id == BACKFILL_DAG_ID and t.task_id == READINGS_TASK]


def assert_cap(tasks: list[PoolTask]) -> None:
    historical = historical_batches(tasks)
    assert len(historical) == BATCHES, f"historical batches: {[t.name for t in historical]}"
    most = max_overlap([held(t) for t in historical])
    assert most == BACKFILL_MAX_ACTIVE_READINGS, (
        f"historical batches held at most {most} pool slot(s) at once; expected exactly the cap "
        f"{BACKFILL_MAX_ACTIVE_READINGS} (more breaks the cap, fewer means the scenario did not arise)"
    )
    everything = max_overlap([held(t) for t in tasks])
    assert everything <= POOL_SLOTS, f"{everything} tasks of the {POOL_SLOTS}-slot pool held a slot at once"


def assert_daily_first(tasks: list[PoolTask]) -> int:
    """Priority and the one-batch bound for every daily task of the pool; returns how many waited for a slot."""
    historical = historical_batches(tasks)
    daily = [t for t in tasks if t.dag_id == DAILY_SYNC_DAG_ID]
    assert {t.task_id for t in daily} == {"sync_metadata", READINGS_TASK}, [t.name for t in daily]
    contended = 0
    for d in daily:
        assert d.scheduled is not None, f"{d.name} has no scheduled_dttm"
        assert d.queued is not None, f"{d.name} was never queued"
        overtakers = [h.name for h in historical if d.scheduled < held(h)[0] < d.queued]
        assert not overtakers, f"{overtakers} were queued while {d.name} (priority over them) waited for a slot"
        # Slots held by the others while d waited (clipped to [scheduled, queued)): all of them = it had to wait.
        others = [(max(held(t)[0], d.scheduled), min(held(t)[1], d.queued)) for t in tasks if t is not d]
        contended += max_overlap([(a, b) for a, b in others if a < b]) >= POOL_SLOTS
        running = [h for h in historical if held(h)[0] <= d.scheduled < held(h)[1]]
        limit = max((held(h)[1] for h in running), default=d.scheduled) + SCHEDULER_REACTION
        assert d.queued <= limit, (
            f"{d.name} became ready at {d.scheduled:%H:%M:%S} while {[h.name for h in running]} ran and was "
            f"queued at {d.queued:%H:%M:%S}: later than the end of those batches + {SCHEDULER_REACTION.seconds}s"
        )
    return contended


def windows_written(stack: AirflowStack, energy_dsn: str) -> dict[str, int]:
    """Successful windows in ``ingestion_logs`` per DAG of this test's manual runs."""
    import psycopg

    run_dag = dict(stack.query("SELECT run_id, dag_id FROM dag_run WHERE run_type = 'manual'"))
    with psycopg.connect(energy_dsn) as conn:
        rows = conn.execute(
            "SELECT run_id, count(*) FROM ingestion_logs WHERE status = 'success' AND run_id = ANY(%s) "
            "GROUP BY run_id",
            (list(run_dag),),
        ).fetchall()
    return {run_dag[run_id]: int(n) for run_id, n in rows}


def describe(tasks: list[PoolTask]) -> str:
    def at(value: datetime | None) -> str:
        return f"{value:%H:%M:%S}" if value else "-"

    return "\n".join(
        f"  {t.name}: {t.state} try {t.try_number}, scheduled {at(t.scheduled)} queued {at(t.queued)} "
        f"start {at(t.start)} end {at(t.end)}"
        for t in sorted(tasks, key=lambda t: t.queued or SIM_NOW)
    )


@pytest.mark.timeout(1500)
def test_daily_sync_waits_for_at_most_one_backfill_batch(
    budget_stack: tuple[AirflowStack, Any], energy_db_conn: str
) -> None:
    stack, sim = budget_stack
    runs = run_both(stack)
    tasks = pool_tasks(stack)
    # Every window is weeks old: the backfill's recent path maps over no batch and is skipped.
    recent = [t for t in tasks if t.task_id == RECENT_READINGS_TASK]
    assert [t.state for t in recent] == ["skipped"], [t.name for t in recent]
    tasks = [t for t in tasks if t not in recent]
    timeline = describe(tasks)
    print(f"pool {ENISCOPE_POOL}:\n{timeline}")
    assert all(t.state == "success" and t.try_number == 1 for t in tasks), (
        f"{runs}\n{timeline}\n{stack.log_tail('scheduler')}"
    )
    assert_cap(tasks)
    contended = assert_daily_first(tasks)
    assert contended >= 1, f"no daily task waited for a slot: the scenario did not arise\n{timeline}"
    assert windows_written(stack, energy_db_conn) == {DAILY_SYNC_DAG_ID: CHANNELS, BACKFILL_DAG_ID: CHANNELS * DAYS}
    counters = sim.account_counters[sim.config.email]
    assert counters.limited <= 0.01 * counters.requests, (
        f"{counters.limited} of {counters.requests} requests answered 429: the shared budget let the "
        "scheduler's task processes exceed the account's rate"
    )
