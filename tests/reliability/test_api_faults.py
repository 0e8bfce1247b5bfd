"""API faults hit the real daily sync; after Airflow's task retries the warehouse equals the ground truth.

The runs are in ``tests/reliability/scenarios.py`` (one session fixture, also used by the
bad-input and secrets tests): 429 storms, 5xx bursts, read timeouts, malformed and truncated JSON,
session tokens expiring mid-run, late and then revised data, planted bad values.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import pytest

from argo_energy.ingest.screening import reason_codes
from tests.reliability.faults import MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW, TRUNCATED
from tests.reliability.helpers import (
    Figures,
    compare_rows,
    daily_range,
    expected_readings,
    invariants,
    sql,
    windows_of,
)
from tests.reliability.scenarios import (
    LOOKBACK1,
    LOOKBACK2,
    FaultyRuns,
    expected_rejections,
    removed_from_truth,
)

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.reliability.helpers", "tests.reliability.scenarios"]

# What a window's failure row must say for the fault that failed it.
FAULT_TEXT = {
    RATE_LIMITED: "rate limited (429)",
    SERVER_ERROR: "server error 503",
    MALFORMED: "not valid JSON",
    TRUNCATED: "not valid JSON",
    SLOW: "timed out",
}


def test_readings_equal_the_ground_truth_minus_the_rejected(faulty_daily_runs: FaultyRuns, figures: Figures):
    runs = faulty_daily_runs
    assert [r.state for r in runs.runs] == ["success", "success"], [(r.run_id, r.tries) for r in runs.runs]
    removed = removed_from_truth(runs)
    compared = 0
    for channel in runs.meters:
        start, end = runs.final_range(channel)
        expected = expected_readings(runs.sim, channel, start, end, removed[channel])
        assert len(expected) > 100, f"channel {channel}: the ground truth is unexpectedly small"
        compared += compare_rows(runs.dsn, channel, start, end, expected)
    others = sql(
        runs.dsn, "SELECT DISTINCT channel_id FROM readings WHERE NOT (channel_id = ANY(%s))", (runs.meters,)
    )
    assert others == [], f"readings of channels that were not synced: {others}"
    broken = invariants(runs.dsn)
    assert broken == {"readings_without_log_row": 0, "duplicate_readings": 0}, broken

    served_419 = runs.statuses[419]
    assert served_419 > 0, "no session token expired during the runs"
    injected = sum(runs.injected.values()) + served_419
    figures.record(
        "api_faults",
        description="two daily syncs (executor, real task processes) against scripted API faults",
        faults_injected=injected,
        faults_survived=injected,
        faults_by_kind={**dict(runs.injected), "token_expired_419": served_419},
        windows_failed_then_retried=sum(runs.expected_failures.values()),
        sync_readings_tries=[r.tries["sync_readings"][0].try_number for r in runs.runs],
        run_seconds=[r.seconds for r in runs.runs],
        rows_compared=compared,
        rows_lost=0,
        rows_duplicated=broken["duplicate_readings"],
        readings_without_log_row=broken["readings_without_log_row"],
    )


def test_each_rejected_reading_is_kept_with_its_reason(faulty_daily_runs: FaultyRuns, figures: Figures):
    runs = faulty_daily_runs
    rows = sql(
        runs.dsn,
        'SELECT channel_id, "timestamp", reason, energy_kwh, power_kw, power_factor, source FROM readings_rejected',
    )
    got: dict[tuple[int, datetime], set[str]] = {}
    for channel, ts, reason, *_ in rows:
        got.setdefault((channel, ts), set()).update(reason_codes(reason))
    expected = expected_rejections(runs)
    assert set(got) == set(expected), (
        f"rejected readings differ: missing {sorted(set(expected) - set(got))[:5]}, "
        f"unexpected {sorted(set(got) - set(expected))[:5]}"
    )
    wrong = {key: (got[key], codes) for key, codes in expected.items() if got[key] != codes}
    assert not wrong, f"reasons differ from the planted classes (got, expected): {wrong}"
    assert {row[6] for row in rows} == {"ingestion"}

    # The bad values are kept as received, not cleaned up.
    values = {(row[0], row[1]): row for row in rows}
    for planted in runs.sim.planted.values():
        row = values[(planted.channel_id, datetime.fromtimestamp(planted.ts, UTC))]
        if planted.kind == "pf_above_1":
            assert row[5] == pytest.approx(1.37), row
        elif planted.kind == "nan_energy":
            assert row[3] is not None, row
            assert math.isnan(row[3]), row
        elif planted.kind == "infinite_power":
            assert row[4] == math.inf, row
    figures.record("rejected_readings", rejected_readings_checked=len(expected), rows_compared=0)


def test_ingestion_logs_tell_the_story_failures_then_successes(faulty_daily_runs: FaultyRuns):
    runs = faulty_daily_runs
    logs = sql(
        runs.dsn,
        "SELECT id, run_id, channel_id, start_time, end_time, status, error_message, readings_fetched, "
        "readings_inserted, readings_updated, readings_unchanged, readings_rejected FROM ingestion_logs ORDER BY id",
    )
    run_index = {r.run_id: i for i, r in enumerate(runs.runs)}
    assert {row[1] for row in logs} == set(run_index), "every log row names its Airflow run"

    failures = Counter((run_index[r[1]], r[2], r[3]) for r in logs if r[5] == "failure")
    assert dict(failures) == runs.expected_failures, (
        "failure rows must be exactly the windows whose requests were all faulted "
        f"(got {dict(failures)}, scripted {runs.expected_failures})"
    )
    scripted = {key: list(faults) for key, faults in runs.sim.script.items()}  # leftovers: none expected
    assert not any(scripted.values()), f"scripted faults never served: {scripted}"

    for row in logs:
        if row[5] != "failure":
            continue
        run, channel, start = run_index[row[1]], row[2], row[3]
        texts = [text for text in FAULT_TEXT.values() if text in (row[6] or "")]
        assert texts, f"failure of channel {channel} {start} does not say what went wrong: {row[6]!r}"
        later = [
            r for r in logs if r[0] > row[0] and r[1] == row[1] and r[2:5] == row[2:5] and r[5] == "success"
        ]
        assert len(later) == 1, f"run {run} channel {channel} {start}: failure not followed by one success"

    for i, (run, lookback) in enumerate(zip(runs.runs, (LOOKBACK1, LOOKBACK2), strict=True)):
        for channel in runs.meters:
            zone = runs.zones[channel]
            wanted = windows_of(*daily_range(run.interval_end, lookback, zone), zone)
            got = sorted(
                (r[3], r[4]) for r in logs if r[1] == run.run_id and r[2] == channel and r[5] == "success"
            )
            assert got == wanted, f"run {i + 1} channel {channel}: success windows {got}, expected {wanted}"
    for row in logs:
        if row[5] == "success":
            fetched, inserted, updated, unchanged, rejected = row[7:12]
            assert fetched == inserted + updated + unchanged + rejected, f"counts do not add up: {row}"


def test_task_retries_absorbed_the_failed_windows(faulty_daily_runs: FaultyRuns):
    runs = faulty_daily_runs
    for run, readings_tries in zip(runs.runs, (2, 3), strict=True):
        (readings,) = run.tries["sync_readings"]
        assert (readings.state, readings.try_number) == ("success", readings_tries), (
            f"{run.run_id}: sync_readings {readings}; the scripted failures need {readings_tries} tries"
        )
        for task_id, tries in run.tries.items():
            for ti in tries:
                if task_id == "fail_run_if_any_task_failed":
                    assert ti.state == "skipped", ti
                elif task_id != "sync_readings":
                    assert (ti.state, ti.try_number) == ("success", 1), ti


def test_late_data_arrives_and_revisions_overwrite(faulty_daily_runs: FaultyRuns):
    runs = faulty_daily_runs
    assert runs.late_rows_after_run1 == 0, "run 1 stored readings the API had not published yet"
    late = sum(
        sql(
            runs.dsn,
            'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
            (channel, *runs.late_range[channel]),
        )[0][0]
        for channel in runs.meters
    )
    assert late > 0, "the late hours were not picked up by the next run"
    (total,) = sql(runs.dsn, "SELECT count(*) FROM readings")[0]
    inserted, updated = sql(
        runs.dsn,
        "SELECT sum(readings_inserted), sum(readings_updated) FROM ingestion_logs WHERE run_id = %s",
        (runs.runs[1].run_id,),
    )[0]
    assert inserted == total - runs.stored_before_run2
    assert updated > 0, "revised values did not overwrite the stored ones"
