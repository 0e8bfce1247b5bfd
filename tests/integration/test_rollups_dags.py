"""Rollups under real DAG runs: a daily sync and a historical backfill writing the same meters at the
same time, each in its own process with ``dag.test()`` (tests/reliability/two_runs.py, shared with
tests/reliability/test_concurrency.py), both against one warehouse and simulators with the same seed
and clock. A rendezvous holds every readings request until both runs have sent one, so their window
writes overlap.

Each run refreshes the rollups after its own writes have committed, and refreshes take turns
(advisory lock) and claim every marker committed before they start: the later of the two refreshes
therefore saw every write of both runs. The rollups must equal a recomputation from readings right
after the runs, with no refresh of our own, and a further refresh must find nothing to change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from argo_energy.warehouse.rollups import refresh_rollups
from tests.integration.test_rollups import assert_exact
from tests.reliability.helpers import small_sites, sql
from tests.reliability.two_runs import daily_and_backfill_at_once

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 13, 2, tzinfo=UTC)  # the daily run's interval end; lookback 2 days
BACKFILL_DAYS = (date(2026, 11, 9), date(2026, 11, 11))  # two of its days are the daily run's too


def test_daily_sync_and_backfill_at_once_leave_exact_rollups(make_database: Any, airflow_db: str, tmp_path: Path):
    dsn = make_database("rollupsdag")
    # New York (DST zone) and Kolkata (+05:30: its UTC hours straddle local days).
    runs = daily_and_backfill_at_once(dsn, tmp_path, small_sites(ny_meters=2, kolkata_meters=1),
                                      end=END, lookback_days=2, backfill_days=BACKFILL_DAYS)
    runs.assert_writes_overlapped(dsn)
    for result in runs.results.values():
        assert [t[1] for t in result["tries"]["refresh_mv_hourly_usage"]] == ["success"], result["tries"]
    shared = sql(dsn, "SELECT count(*) FROM (SELECT channel_id, start_time FROM ingestion_logs "
                      "GROUP BY 1, 2 HAVING count(DISTINCT run_id) = 2) s")[0][0]
    assert shared > 0, "no window was written by both runs"

    with psycopg.connect(dsn) as conn:
        days = assert_exact(conn)  # no refresh of ours first: the runs' own refreshes did it
        # 3 meters x the local days 9-12 November of both runs (Kolkata's last UTC hours reach the 13th).
        assert days >= 3 * 4, f"{days} meter-days compared: expected every meter's days of both runs"
        again = refresh_rollups(conn)
    assert (again.hours_written, again.hours_removed, again.days_written, again.days_removed) == (0, 0, 0, 0), (
        f"a refresh after both runs changed rollups: {again}"
    )
