"""``airflow backfill create`` on eniscope_daily_sync, run by a real scheduler (slow).

A throwaway Airflow installation runs as separate processes (tests/fixtures/scheduler.py). The
backfill is created with the CLI exactly as the README shows; the test waits (bounded) until the
scheduler has finished its runs, then checks the warehouse against the simulator's ground truth.
``[scheduler] use_job_schedule = False`` keeps the scheduler from adding the DAG's own latest
scheduled run (the DAG is unpaused, which backfill runs need): only the backfill's runs execute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from argo_energy.sitetime import local_midnight, make_windows
from tests.fixtures.ingest import (
    IngestEnv,
    assert_matches_ground_truth,
    small_config,
)
from tests.fixtures.scheduler import AirflowStack, running_stack, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "eniscope_daily_sync"
SIM_NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
# --from-date/--to-date bound the runs' logical dates (= data interval starts, 02:00 UTC): 11-09,
# 11-10 and 11-11 02:00 fall in [11-09 00:00, 11-12 00:00]; their intervals end 11-10, 11-11, 11-12.
FROM_DATE, TO_DATE = "2026-11-09", "2026-11-12"
EXPECTED_ENDS = [datetime(2026, 11, d, 2, tzinfo=UTC) for d in (10, 11, 12)]
LOOKBACK = 1


@pytest.fixture
def airflow_stack(
    tmp_path: Path, make_database: Callable[[str], str], energy_db_conn: str, eniscope_backfill_sim: Any
) -> Iterator[AirflowStack]:
    with running_stack(tmp_path, make_database("af"), "backfill-test-jwt-secret-0123456789") as stack:
        yield stack


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
