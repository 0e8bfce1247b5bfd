"""eniscope_daily_sync end to end with dag.test(): simulator over HTTP, real PostgreSQL, real Airflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from argo_energy.ingest.status import UNSUPPORTED
from argo_energy.sitetime import local_midnight, make_windows
from tests.fixtures.ingest import (
    assert_matches_ground_truth,
    load_dag,
    no_retries,
    site_of,
    states,
)

pytestmark = pytest.mark.integration

DAG_ID = "eniscope_daily_sync"
NY, KOLKATA = "America/New_York", "Asia/Kolkata"
# Interval end 2026-11-03 02:00 UTC (21:00 EST on Nov 2); lookback 2 days: NY from Oct 31 local
# midnight, so the range holds Nov 1, the 25-hour day when New York falls back.
END = datetime(2026, 11, 3, 2, tzinfo=UTC)


def meter_range(timezone: str, end: datetime, lookback: int) -> tuple[datetime, datetime]:
    local_day = end.astimezone(ZoneInfo(timezone)).date() - timedelta(days=lookback)
    return local_midnight(local_day, timezone), end


def run_daily(env, end: datetime, lookback: int = 2, dag=None):
    dag = dag or load_dag(DAG_ID)
    return dag.test(logical_date=end, run_conf={"lookback_days": lookback})


def test_daily_sync_matches_ground_truth_and_a_rerun_is_idempotent(make_ingest_env):
    env = make_ingest_env(END + timedelta(minutes=30))
    meters = env.sim.channel_ids("meter")
    (sensor,) = env.sim.channel_ids("sensor")

    dr = run_daily(env, END)

    found = states(dr)
    assert str(dr.state) == "success", f"run state {dr.state}: {found}"
    assert found["fail_run_if_any_task_failed"] == ["skipped"]
    labels = [ti.rendered_map_index for ti in dr.get_task_instances() if ti.task_id == "sync_readings"]
    assert all(str(ch) in " ".join(labels) for ch in [*meters, sensor]), (
        f"mapped tasks not named by channel: {labels}"
    )

    expected_counts = {}
    for channel in meters:
        start, end = meter_range(env.sim.timezone_of(channel), END, 2)
        expected_counts[channel] = assert_matches_ground_truth(env, channel, start, end)
    assert all(count > 0 for count in expected_counts.values())

    # One success log row per channel and site-local day, counts equal to what the API served.
    logs = env.sql(
        "SELECT channel_id, start_time, end_time, status, readings_fetched, readings_inserted, "
        "readings_rejected, error_message FROM ingestion_logs ORDER BY channel_id, start_time"
    )
    assert {row[3] for row in logs} == {"success"}, f"unexpected statuses: {logs}"
    assert sensor not in {row[0] for row in logs}, "the unsupported sensor must not get ingestion rows"
    for channel in meters:
        zone = env.sim.timezone_of(channel)
        windows = make_windows(*meter_range(zone, END, 2), zone)
        rows = [r for r in logs if r[0] == channel]
        assert [(r[1], r[2]) for r in rows] == [(w.start, w.end) for w in windows]
        for row in rows:
            served = len(env.sim.ground_truth(channel, row[1], row[2]))
            assert (row[4], row[5], row[6]) == (served, served, 0), f"counts of {row}"
            local_start = row[1].astimezone(ZoneInfo(zone))
            assert local_start.time() == time(0) or row[1] == windows[0].start, f"{row} not at local midnight"

    # DST: New York's Nov 1 has 25 hours = 100 quarter-hours per channel.
    ny_meters = [c for c in meters if env.sim.timezone_of(c) == NY]
    nov1 = (
        local_midnight(datetime(2026, 11, 1).date(), NY),
        local_midnight(datetime(2026, 11, 2).date(), NY),
    )
    for channel in ny_meters:
        (count,) = env.sql(
            'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
            (channel, *nov1),
        )[0]
        assert count == 100, f"channel {channel}: {count} readings on the 25-hour day, expected 100"

    # Kolkata (+05:30): every window starts at local midnight = 18:30 UTC.
    (kolkata_meter,) = [c for c in meters if env.sim.timezone_of(c) == KOLKATA]
    starts = [r[1] for r in logs if r[0] == kolkata_meter]
    assert len(starts) == 3
    assert all((s.hour, s.minute) == (18, 30) for s in starts), starts

    # data_sync_status: one row per channel and one per site; the sensor is marked unsupported.
    status = {
        (org, ch): (status, count, newest, error)
        for org, ch, status, count, newest, error in env.sql(
            "SELECT organization_id, channel_id, sync_status, readings_count, last_reading_timestamp, "
            "error_message FROM data_sync_status"
        )
    }
    for channel in meters:
        org = str(env.sim.world.channels[channel].org_id)
        sync, count, newest, error = status[(org, channel)]
        start, end = meter_range(env.sim.timezone_of(channel), END, 2)
        truth = env.sim.ground_truth_readings(channel, start, end)
        assert (sync, count, newest, error) == ("success", len(truth), truth[-1].ts, None)
    ny_org = site_of(env, NY)
    sync, _, _, error = status[(ny_org, sensor)]
    assert sync == UNSUPPORTED
    assert error.startswith("unsupported channel:"), error
    for org in env.sim.site_organization_ids():
        sync, count, _, _ = status[(org, None)]
        site_meters = [c for c in meters if str(env.sim.world.channels[c].org_id) == org]
        assert (sync, count) == ("success", sum(expected_counts[c] for c in site_meters))
    assert f"{sensor}" in status[(ny_org, None)][3]

    # Views built and the materialized view refreshed with this run's data.
    (clean, hourly) = env.sql(
        "SELECT (SELECT count(*) FROM v_clean_readings), (SELECT sum(reading_count) FROM mv_hourly_usage)"
    )[0]
    assert clean > 0
    assert hourly == clean

    # Rerun of the same interval: nothing duplicated, nothing rewritten, the sensor not asked again.
    before = env.sql('SELECT count(*), count(DISTINCT (channel_id, "timestamp")) FROM readings')[0]
    env.sim.reset_requests()
    dr2 = run_daily(env, END)
    assert str(dr2.state) == "success", states(dr2)
    after = env.sql('SELECT count(*), count(DISTINCT (channel_id, "timestamp")) FROM readings')[0]
    assert after == before
    assert after[0] == after[1] == sum(expected_counts.values())
    rerun_logs = env.sql(
        "SELECT sum(readings_fetched), sum(readings_inserted), sum(readings_updated), sum(readings_unchanged) "
        "FROM ingestion_logs WHERE run_id = %s",
        (dr2.run_id,),
    )[0]
    assert rerun_logs == (after[0], 0, 0, after[0])
    assert not [r for r in env.sim.requests if r.path.rstrip("/").endswith(f"/readings/{sensor}")]


def test_revised_late_data_is_picked_up_by_the_next_daily_run(make_ingest_env):
    end1 = datetime(2026, 11, 10, 2, tzinfo=UTC)
    env = make_ingest_env(end1 + timedelta(minutes=15))
    ny_org = site_of(env, NY)
    env.set_variable("eniscope_sites", json.dumps([ny_org]))  # only New York: also tests the Variable
    meters = env.sim.channel_ids("meter", organization_id=ny_org)
    env.sim.faults.late_hours = 6  # the last 6 hours are not available yet

    dr1 = run_daily(env, end1)
    assert str(dr1.state) == "success", states(dr1)
    late = (end1 - timedelta(hours=5, minutes=45), end1)
    for channel in meters:
        assert_matches_ground_truth(env, channel, *meter_range(NY, end1, 2))
        assert env.sql(
            'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
            (channel, *late),
        )[0] == (0,)
    other_sites = env.sql("SELECT DISTINCT organization_id FROM data_sync_status")
    assert other_sites == [(ny_org,)], "the Variable eniscope_sites limits the sync to New York"

    # A day later the late buckets are served, and the API revised recent values.
    end2 = end1 + timedelta(days=1)
    env.sim.set_now(end2 + timedelta(minutes=15))
    env.sim.faults.late_hours = 0
    env.sim.faults.revision = 3
    range2 = meter_range(NY, end2, 2)
    stored_before = env.sql(
        'SELECT count(*) FROM readings WHERE channel_id = ANY(%s) AND "timestamp" >= %s AND "timestamp" < %s',
        (meters, *range2),
    )[0][0]

    dr2 = run_daily(env, end2)
    assert str(dr2.state) == "success", states(dr2)
    served = sum(assert_matches_ground_truth(env, channel, *range2) for channel in meters)
    inserted, updated, unchanged = env.sql(
        "SELECT sum(readings_inserted), sum(readings_updated), sum(readings_unchanged) FROM ingestion_logs "
        "WHERE run_id = %s",
        (dr2.run_id,),
    )[0]
    assert inserted == served - stored_before, "the late buckets (and the new day) are inserted"
    assert updated + unchanged == stored_before
    assert updated > 0, "revised values must overwrite the stale ones"
    (revised_rows,) = env.sql(
        "SELECT count(*) FROM readings WHERE channel_id = ANY(%s) AND updated_at IS NOT NULL", (meters,)
    )[0]
    assert revised_rows == updated


def test_failed_window_is_logged_and_the_retry_fetches_only_it(make_ingest_env):
    from tests.fixtures.simulator import set_eniscope_conn

    env = make_ingest_env(END + timedelta(minutes=30))
    # One site with one meter, so that the first readings request (the one that fails) is known.
    env.set_variable("eniscope_sites", json.dumps([site_of(env, KOLKATA)]))
    set_eniscope_conn(env.monkeypatch, env.sim, max_retries=0)  # a 503 fails the window at once
    env.sim.faults.scope = "readings"
    env.sim.faults.error_next = 1
    dag = load_dag(DAG_ID)
    readings = dag.task_dict["sync_readings"]
    readings.retries = 1
    readings.retry_delay = timedelta(0)

    dr = run_daily(env, END, dag=dag)

    assert str(dr.state) == "success", states(dr)
    failures = env.sql(
        "SELECT channel_id, start_time, end_time, error_message FROM ingestion_logs WHERE status = 'failure'"
    )
    assert len(failures) == 1, failures
    channel, start, end, error = failures[0]
    assert "503" in error
    successes = env.sql(
        "SELECT count(*) FROM ingestion_logs WHERE status = 'success' AND channel_id = %s "
        "AND start_time = %s AND end_time = %s",
        (channel, start, end),
    )
    assert successes == [(1,)], "the retry wrote the failed window"
    windows = make_windows(*meter_range(KOLKATA, END, 2), KOLKATA)
    # every window once, plus the failed attempt: the retry asked for nothing already written
    assert len(env.readings_requests()) == len(windows) + 1
    assert_matches_ground_truth(env, channel, *meter_range(KOLKATA, END, 2))


def test_a_window_that_keeps_failing_fails_the_run_after_views_and_status(make_ingest_env):
    from tests.fixtures.simulator import set_eniscope_conn

    env = make_ingest_env(END + timedelta(minutes=30))
    env.set_variable("eniscope_sites", json.dumps([site_of(env, KOLKATA)]))
    set_eniscope_conn(env.monkeypatch, env.sim, max_retries=0)
    env.sim.faults.scope = "readings"
    env.sim.faults.error_next = 1

    dr = run_daily(env, END, dag=no_retries(load_dag(DAG_ID)))

    found = states(dr)
    assert str(dr.state) == "failed"
    assert found["sync_readings"] == ["failed"]
    assert found["refresh_mv_hourly_usage"] == ["success"], "the others' data still reaches the views"
    assert found["record_sync_status"] == ["success"]
    assert found["fail_run_if_any_task_failed"] == ["failed"]
    ((channel, error),) = env.sql(
        "SELECT channel_id, error_message FROM ingestion_logs WHERE status = 'failure'"
    )
    assert "503" in error
    org = str(env.sim.world.channels[channel].org_id)
    rows = dict(
        (
            (ch, status)
            for ch, status in env.sql(
                "SELECT channel_id, sync_status FROM data_sync_status WHERE organization_id = %s", (org,)
            )
        )
    )
    assert rows[channel] == "partial"
    assert rows[None] == "partial"
    # the channel's other windows were written: 3 windows, the first one failed
    ok = env.sql(
        "SELECT count(*) FROM ingestion_logs WHERE status = 'success' AND channel_id = %s", (channel,)
    )
    assert ok == [(2,)]
