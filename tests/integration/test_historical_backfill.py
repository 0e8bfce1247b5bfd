"""eniscope_historical_backfill end to end with dag.test(): params, resume, force, dry run, bad params."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.ingest.status import UNSUPPORTED
from argo_energy.sitetime import local_days_range, make_windows
from tests.fixtures.ingest import (
    assert_matches_ground_truth,
    load_dag,
    site_of,
    states,
)

pytestmark = pytest.mark.integration

DAG_ID = "eniscope_historical_backfill"
NY, KOLKATA = "America/New_York", "Asia/Kolkata"
FIRST, LAST = date(2026, 3, 7), date(2026, 3, 9)  # New York springs forward on March 8 (23 hours)
SIM_NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)


def trigger(conf: dict, dag=None):
    return (dag or load_dag(DAG_ID)).test(run_conf=conf)


def test_backfill_matches_ground_truth_and_a_retrigger_resumes(make_ingest_env):
    env = make_ingest_env(SIM_NOW)
    meters = env.sim.channel_ids("meter")
    (sensor,) = env.sim.channel_ids("sensor")
    conf = {"start_date": FIRST.isoformat(), "end_date": LAST.isoformat()}

    dr = trigger(conf)

    assert str(dr.state) == "success", states(dr)
    total_windows = 0
    for channel in meters:
        zone = env.sim.timezone_of(channel)
        start, end = local_days_range(FIRST, LAST, zone)
        assert_matches_ground_truth(env, channel, start, end)
        windows = make_windows(start, end, zone)
        total_windows += len(windows)
        logged = env.sql(
            "SELECT start_time, end_time, status FROM ingestion_logs WHERE channel_id = %s ORDER BY start_time",
            (channel,),
        )
        assert logged == [(w.start, w.end, "success") for w in windows]
        if zone == KOLKATA:
            assert all((s.hour, s.minute) == (18, 30) for s, _, _ in logged), "Kolkata days start 18:30 UTC"
        if zone == NY:
            dst_start, dst_end = local_days_range(date(2026, 3, 8), date(2026, 3, 8), NY)
            (count,) = env.sql(
                'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
                (channel, dst_start, dst_end),
            )[0]
            assert count == 92, f"channel {channel}: {count} readings on the 23-hour day, expected 92"
    sites = env.sql("SELECT organization_id, sync_status FROM data_sync_status WHERE channel_id IS NULL")
    assert sorted(sites) == sorted((org, "success") for org in env.sim.site_organization_ids())
    (sensor_status,) = env.sql(
        "SELECT sync_status, error_message FROM data_sync_status WHERE channel_id = %s", (sensor,)
    )
    assert sensor_status[0] == UNSUPPORTED
    assert sensor_status[1].startswith("unsupported channel:")

    # Re-trigger without force: every window is done, so no readings are asked for at all
    # (the sensor is skipped as unsupported), and nothing new is logged.
    logs_before = env.sql("SELECT count(*) FROM ingestion_logs")
    env.sim.reset_requests()
    dr2 = trigger(conf)
    assert str(dr2.state) == "success", states(dr2)
    assert env.readings_requests() == []
    assert env.sql("SELECT count(*) FROM ingestion_logs") == logs_before

    # force=true for one channel: its windows are fetched again, found unchanged.
    channel = meters[0]
    env.sim.reset_requests()
    dr3 = trigger({**conf, "channel_ids": [channel], "force": True})
    assert str(dr3.state) == "success", states(dr3)
    zone = env.sim.timezone_of(channel)
    windows = make_windows(*local_days_range(FIRST, LAST, zone), zone)
    assert len(env.readings_requests()) == len(windows)
    assert env.sql(
        "SELECT count(*), sum(readings_inserted), sum(readings_updated) FROM ingestion_logs WHERE run_id = %s",
        (dr3.run_id,),
    ) == [(len(windows), 0, 0)]


def test_dry_run_plans_and_writes_nothing(make_ingest_env, caplog):
    env = make_ingest_env(SIM_NOW)

    dr = trigger({"start_date": FIRST.isoformat(), "end_date": LAST.isoformat(), "dry_run": True})

    found = states(dr)
    assert str(dr.state) == "success", found
    assert found["validate_params"] == ["success"]
    assert found["apply_migrations"] == ["skipped"]
    assert found["sync_readings"] == ["skipped"]
    assert found["record_sync_status"] == ["skipped"]
    assert env.tables() == [], "a dry run must not even create the schema"
    assert env.readings_requests() == []
    assert "dry run: 4 channel(s), 12 window(s), 12 to fetch, 0 already done" in caplog.text


@pytest.mark.parametrize(
    ("conf", "message", "lists_read"),
    [
        (
            {"start_date": "2026-03-09", "end_date": "2026-03-07"},
            "end_date 2026-03-07 is before start_date",
            False,
        ),
        ({"start_date": "2026-03-07", "site_ids": ["999999"]}, "unknown site id(s) 999999", True),
    ],
    ids=["end-before-start", "unknown-site"],
)
def test_bad_params_fail_the_first_task_before_any_write(
    make_ingest_env, caplog, capfd, conf, message, lists_read
):
    env = make_ingest_env(SIM_NOW)

    dr = trigger(conf)

    found = states(dr)
    assert str(dr.state) == "failed"
    assert found["validate_params"] == ["failed"]
    assert found["apply_migrations"] == ["upstream_failed"]
    assert found["sync_metadata"] == ["upstream_failed"]
    assert found["fail_run_if_any_task_failed"] == ["failed"]
    assert env.tables() == [], "nothing may be written, not even the schema"
    assert env.readings_requests() == []
    if not lists_read:
        assert env.sim.requests == [], "date problems are found before any API call"
    # The task's exception goes to the console through Airflow's structlog renderer, not to logging.
    output = caplog.text + "".join(capfd.readouterr())
    failure = [line for line in output.splitlines() if "AirflowFailException:" in line]
    assert failure, "the first task must fail with AirflowFailException (no retry)"
    assert message in failure[0], f"the task log must name the problem: {message!r}, got {failure[0]!r}"


@pytest.mark.parametrize(
    ("conf", "message", "lists_read"),
    [
        (
            {"start_date": "2026-03-07", "end_date": "2099-01-01"},
            "end_date 2099-01-01 is in the future",
            False,
        ),
        (
            {"start_date": "2026-03-01", "end_date": "2026-03-09"},
            "is 9 days, over the maximum of 5 days",
            False,
        ),
        ({"start_date": "2026-02-30"}, "start_date '2026-02-30' is not a valid date", False),
        (
            {"start_date": "2026-03-07", "end_date": "2026-03-08", "channel_ids": [4242]},
            "unknown channel id(s) 4242",
            True,
        ),
        (
            {
                "start_date": "2026-03-07",
                "end_date": "2026-03-08",
                "site_ids": ["17158"],
                "channel_ids": [59158],
            },
            "59158 (site 17159) not in the selected sites 17158",
            True,
        ),
    ],
    ids=["future", "over-maximum", "malformed", "unknown-channel", "channel-outside-sites"],
)
def test_first_task_names_each_bad_param(make_ingest_env, conf, message, lists_read):
    """The first task's callable itself (real Variable, real API lists), without a whole DAG run."""
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.ingest.tasks import validate_backfill

    env = make_ingest_env(SIM_NOW)
    env.set_variable("eniscope_backfill_max_days", "5")
    assert env.sim.world.channels[59158].timezone == KOLKATA, "ids of the simulator's seed changed"
    with pytest.raises(AirflowFailException) as info:
        validate_backfill(conf)
    assert message in str(info.value)
    assert env.tables() == []
    assert env.readings_requests() == []
    assert bool(env.sim.requests) is lists_read


def test_malformed_date_is_refused_when_triggered(make_ingest_env):
    from airflow.sdk.definitions.param import ParamValidationError

    env = make_ingest_env(SIM_NOW)
    with pytest.raises(ParamValidationError, match="'2026-02-30' is not a 'date'"):
        trigger({"start_date": "2026-02-30"})
    assert env.tables() == []
    assert env.sim.requests == []


def test_a_site_filter_backfills_only_that_site(make_ingest_env):
    env = make_ingest_env(SIM_NOW)
    kolkata = site_of(env, KOLKATA)
    dr = trigger({"start_date": "2026-03-08", "end_date": "2026-03-08", "site_ids": [kolkata]})
    assert str(dr.state) == "success", states(dr)
    channels = {row[0] for row in env.sql("SELECT DISTINCT channel_id FROM ingestion_logs")}
    assert channels == set(env.sim.channel_ids("meter", organization_id=kolkata))
    ((start, end),) = env.sql("SELECT start_time, end_time FROM ingestion_logs")
    assert (start, end) == (
        datetime(2026, 3, 7, 18, 30, tzinfo=UTC),
        datetime(2026, 3, 7, 18, 30, tzinfo=UTC) + timedelta(days=1),
    )
