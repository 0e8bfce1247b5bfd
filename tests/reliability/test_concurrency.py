"""The daily sync and a historical backfill over overlapping days, at the same time, in two processes
(tests/reliability/two_runs.py says how): no deadlock, no retry, every window both runs wrote
inserted once, every reading equal to the ground truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.helpers import (
    Figures,
    compare_rows,
    daily_range,
    expected_readings,
    invariants,
    local_days,
    small_sites,
    sql,
    windows_of,
)
from tests.reliability.two_runs import daily_and_backfill_at_once

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.reliability.helpers"]

END = datetime(2026, 11, 13, 2, tzinfo=UTC)  # daily: interval end; lookback 2 days
LOOKBACK = 2
BACKFILL_DAYS = (date(2026, 11, 9), date(2026, 11, 11))  # overlaps the daily range on two days


def deadlocks(dsn: str) -> int:
    return int(sql(dsn, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0][0])


def test_daily_sync_and_backfill_at_once_no_deadlock_no_duplicate(
    make_database: Any, airflow_db: str, tmp_path: Path, figures: Figures
):
    dsn = make_database("relconc")
    deadlocks_before = deadlocks(dsn)
    first, last = BACKFILL_DAYS
    runs = daily_and_backfill_at_once(dsn, tmp_path, small_sites(ny_meters=2, kolkata_meters=0),
                                      end=END, lookback_days=LOOKBACK, backfill_days=BACKFILL_DAYS)
    runs.assert_writes_overlapped(dsn)
    results, sims = runs.results, runs.sims
    for name, result in results.items():
        ((_, state, tries),) = result["tries"]["sync_readings"]
        assert (state, tries) == ("success", 1), f"{name} sync_readings needed a retry: {result['tries']}"
    assert deadlocks(dsn) == deadlocks_before, "PostgreSQL detected a deadlock"
    failures = sql(
        dsn, "SELECT channel_id, start_time, error_message FROM ingestion_logs WHERE status <> 'success'"
    )
    assert failures == [], failures
    run_ids = {name: result["run_id"] for name, result in results.items()}

    # Windows both runs wrote: their rows were inserted once, by whichever run came first.
    logs = sql(
        dsn,
        "SELECT channel_id, start_time, end_time, run_id, readings_inserted, readings_updated, "
        "readings_unchanged, readings_rejected FROM ingestion_logs",
    )
    by_window: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in logs:
        by_window[row[:3]].append(row)
    shared = {key: rows for key, rows in by_window.items() if {r[3] for r in rows} == set(run_ids.values())}
    sim = sims["daily"]
    both = {
        (channel, start, end)
        for channel in sim.channel_ids("meter")
        for start, end in set(
            windows_of(*daily_range(END, LOOKBACK, sim.timezone_of(channel)), sim.timezone_of(channel))
        )
        & set(windows_of(*local_days(first, last, sim.timezone_of(channel)), sim.timezone_of(channel)))
    }
    assert set(shared) == both, f"windows written by both runs {sorted(shared)}, expected {sorted(both)}"
    assert all(len(rows) == 2 for rows in shared.values()), "a window was written twice by one run"
    for (channel, start, end), rows in shared.items():
        served = len(sim.ground_truth(channel, start, end))
        inserted = sum(r[4] for r in rows)
        assert inserted == served, (
            f"channel {channel} [{start}, {end}): inserted {inserted} times for {served} readings"
        )
        assert all(r[5] == 0 for r in rows), f"identical data rewritten: {rows}"

    compared = 0
    for channel in sim.channel_ids("meter"):
        zone = sim.timezone_of(channel)
        start = min(daily_range(END, LOOKBACK, zone)[0], local_days(first, last, zone)[0])
        end = max(END, local_days(first, last, zone)[1])
        compared += compare_rows(dsn, channel, start, end, expected_readings(sim, channel, start, end, set()))
    broken = invariants(dsn)
    assert broken == {"readings_without_log_row": 0, "duplicate_readings": 0}, broken
    figures.record(
        "concurrency",
        description="daily sync + historical backfill, overlapping days, two processes at once",
        faults_injected=1,
        faults_survived=1,
        shared_windows=len(shared),
        run_seconds={name: r["seconds"] for name, r in results.items()},
        deadlocks=0,
        rows_compared=compared,
        rows_lost=0,
        rows_duplicated=broken["duplicate_readings"],
        readings_without_log_row=broken["readings_without_log_row"],
    )
