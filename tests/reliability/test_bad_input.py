"""Bad input: every bad value class is rejected and counted, bad params and a broken connection fail
at once with a clear message, before any write and without pointless retries."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from argo_energy.ingest.screening import reason_codes
from tests.fixtures.airflow import postgres_conn_json
from tests.fixtures.simulator import SIM_NOW, sim_conn_json
from tests.reliability.faults import ADDITIONS, ALTERATIONS
from tests.reliability.helpers import (
    BACKFILL,
    DAILY,
    ExecutionApi,
    Figures,
    epoch,
    expected_readings,
    pipeline_env,
    run_dag,
    sim_config,
    small_sites,
    sql,
    table_names,
    task_log_files,
    task_tries,
    truth_negatives,
)
from tests.reliability.scenarios import FaultyRuns, removed_from_truth

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.reliability.helpers", "tests.reliability.scenarios"]

# --------------------------------------------------------------------------------------------
# bad values (from the session's faulty runs)


def test_every_planted_bad_value_class_is_rejected_and_counted(
    faulty_daily_runs: FaultyRuns, figures: Figures
):
    runs = faulty_daily_runs
    kinds = Counter(p.kind for p in runs.sim.planted.values())
    assert set(kinds) == set(ALTERATIONS) | set(ADDITIONS), f"not every class was served: {kinds}"
    negatives = sum(len(truth_negatives(runs.sim, c, *runs.final_range(c))) for c in runs.meters)
    assert negatives > 0, "the simulator's negative buckets did not occur: raise negative_rate"

    stored_codes: Counter[str] = Counter()
    for (reason,) in sql(runs.dsn, "SELECT reason FROM readings_rejected"):
        stored_codes.update(reason_codes(reason))
    wanted = {code for planted in runs.sim.planted.values() for code in planted.codes}
    assert wanted <= set(stored_codes), f"classes without a rejected row: {wanted - set(stored_codes)}"

    # Counted: each window's success row counts exactly the bad records of what the API served it.
    checked = 0
    for run, served in zip(runs.runs, runs.served, strict=True):
        rows = sql(
            runs.dsn,
            "SELECT channel_id, start_time, end_time, readings_fetched, readings_rejected FROM ingestion_logs "
            "WHERE run_id = %s AND status = 'success'",
            (run.run_id,),
        )
        assert len(rows) == len(served), (
            f"{run.run_id}: {len(rows)} success rows for {len(served)} windows served"
        )
        for channel, start, end, fetched, rejected in rows:
            records, bad = served[(channel, epoch(start), epoch(end))]
            assert (fetched, rejected) == (records, bad), (
                f"{run.run_id} channel {channel} [{start}, {end}): logged fetched/rejected "
                f"{(fetched, rejected)}, served {records} records of which {bad} bad"
            )
            checked += bad
    assert checked > 0
    figures.record(
        "bad_values",
        classes=sorted(set(kinds) | {"negative_in_data"}),
        planted=sum(kinds.values()),
        negative_buckets_in_data=negatives,
        bad_records_counted=checked,
        rows_compared=0,
    )


def test_missing_values_stay_null_never_zero(faulty_daily_runs: FaultyRuns):
    runs = faulty_daily_runs
    removed = removed_from_truth(runs)
    nulls_expected = nulls_stored = 0
    for channel in runs.meters:
        start, end = runs.final_range(channel)
        truth = expected_readings(runs.sim, channel, start, end, removed[channel])
        # voltage_v, power_factor, reactive_power_kvar are nulled by the simulator's null faults
        nulled = {ts for ts, row in truth.items() if row[2] is None}
        nulls_expected += len(nulled)
        rows = sql(
            runs.dsn,
            'SELECT "timestamp", voltage_v, power_factor, reactive_power_kvar FROM readings '
            'WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s AND voltage_v IS NULL',
            (channel, start, end),
        )
        assert {row[0] for row in rows} == nulled, (
            f"channel {channel}: NULL voltages differ from the missing ones"
        )
        assert all(row[2] is None and row[3] is None for row in rows), rows[:3]
        nulls_stored += len(rows)
    assert nulls_expected > 0, "the simulator's null faults did not occur"
    (zeros,) = sql(runs.dsn, "SELECT count(*) FROM readings WHERE voltage_v = 0 OR power_factor = 0")[0]
    assert zeros == 0, "a missing value was stored as 0"


def test_a_reading_rejected_again_is_kept_once_per_reason(faulty_daily_runs: FaultyRuns):
    rows = sql(faulty_daily_runs.dsn, 'SELECT channel_id, "timestamp", reason FROM readings_rejected')
    per_code = Counter((channel, ts, code) for channel, ts, reason in rows for code in reason_codes(reason))
    repeated = {key: n for key, n in per_code.items() if n > 1}
    assert not repeated, (
        f"{len(repeated)} rejected reading(s) stored more than once for one reason: {repeated}"
    )


# --------------------------------------------------------------------------------------------
# bad params


@pytest.fixture(scope="module")
def untouched_warehouse(make_database: Any) -> str:
    """One empty warehouse for the tests that must not write: each checks it is still empty."""
    return make_database("relbad")


@pytest.fixture
def quiet_env(airflow_db: str, untouched_warehouse: str, make_simulator: Any) -> Any:
    """The empty warehouse and a small simulator; connections point at them."""
    sim = make_simulator(sim_config(SIM_NOW, small_sites(ny_meters=1, kolkata_meters=0)))
    assert table_names(untouched_warehouse) == [], "an earlier test wrote to the untouched warehouse"
    with pipeline_env(sim, untouched_warehouse) as mp:
        yield sim, untouched_warehouse, mp


def assert_views_skipped(tries: dict[str, Any]) -> None:
    """Without a plan the gate (a short-circuit: 'success', once) skips every view task."""
    assert [(ti.state, ti.try_number) for ti in tries["views_gate"]] == [("success", 1)], tries["views_gate"]
    views = [ti.state for task, tis in tries.items() if task.startswith("build_") for ti in tis]
    assert len(views) > 1, tries
    assert set(views) == {"skipped"}, views


def readings_requests(sim: Any) -> list[Any]:
    return [r for r in sim.requests if "/readings/" in r.path]


def test_bad_backfill_params_fail_before_any_write(
    quiet_env: Any, execution_api: ExecutionApi, figures: Figures
):
    sim, dsn, _ = quiet_env
    conf = {"start_date": "2026-11-10", "end_date": "2026-11-01"}
    dag_run = run_dag(BACKFILL, None, conf, api=execution_api)

    tries = task_tries(dag_run)
    assert str(dag_run.state) == "failed"
    (validate,) = tries["validate_params"]
    assert (validate.state, validate.try_number) == ("failed", 1)
    writers = ["apply_migrations", "sync_metadata", "sync_readings", "refresh_mv_hourly_usage"]
    ran = [ti for task in writers for ti in tries.get(task, []) if ti.try_number > 0]
    assert ran == [], f"tasks that write ran after bad params: {ran}"
    # The ALL_DONE tasks find no plan: the gate skips the views, the status task writes nothing.
    assert_views_skipped(tries)
    assert [ti.state for ti in tries["record_sync_status"]] == ["success"]
    assert table_names(dsn) == [], "the warehouse was written to (even migrated) despite bad params"
    assert sim.requests == [], "bad dates must fail before any request"
    (log_file,) = [p for p in task_log_files(dag_run.run_id) if "task_id=validate_params" in str(p)]
    assert "end_date 2026-11-01 is before start_date 2026-11-10" in log_file.read_text()
    figures.record("bad_params_dag_run", faults_injected=1, faults_survived=1, rows_compared=0)


def test_bad_params_are_refused_by_the_form_schema(quiet_env: Any):
    sim, dsn, _ = quiet_env
    from airflow.sdk.exceptions import ParamValidationError

    for dag_id, conf in (
        (BACKFILL, {"start_date": "2026-02-30"}),
        (BACKFILL, {"start_date": "2026-11-01", "force": "maybe"}),
        (DAILY, {"lookback_days": -1}),
    ):
        with pytest.raises(ParamValidationError):
            run_dag(dag_id, None if dag_id == BACKFILL else SIM_NOW, conf)
    assert table_names(dsn) == []
    assert sim.requests == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "2026-02-30"}, "start_date '2026-02-30' is not a valid date"),
        ({"start_date": "2026-11-10", "end_date": "2026-11-01"}, "is before start_date"),
        ({"start_date": (date.today() + timedelta(days=3)).isoformat()}, "is in the future"),
        ({"start_date": "2024-01-01", "end_date": "2025-12-31"}, "over the maximum of 366 days"),
        ({"start_date": "2026-11-01", "force": "maybe"}, "force must be true or false"),
        ({"start_date": "2026-11-01", "site_ids": ["999999"]}, "unknown site id(s) 999999"),
        ({"start_date": "2026-11-01", "channel_ids": [1]}, "unknown channel id(s) 1"),
    ],
)
def test_each_bad_backfill_param_fails_with_a_clear_message(
    quiet_env: Any, params: dict[str, Any], message: str
):
    sim, dsn, _ = quiet_env
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.ingest import tasks

    with pytest.raises(AirflowFailException) as failed:
        tasks.validate_backfill(params, now=datetime.now(UTC))
    assert message in str(failed.value)
    assert table_names(dsn) == []
    assert readings_requests(sim) == []


# --------------------------------------------------------------------------------------------
# a broken eniscope_default


@pytest.mark.parametrize("fault", ["wrong_password", "url_not_the_api"])
def test_broken_connection_fails_the_run_at_once_with_a_clear_message(
    quiet_env: Any, execution_api: ExecutionApi, figures: Figures, make_database: Any, fault: str
):
    """A real DAG run: ``sync_metadata`` fails on try 1 of 3, after one request, and says why."""
    sim, _, mp = quiet_env
    # apply_migrations runs before the first request: a warehouse of its own
    mp.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json(make_database(f"rel_{fault}")))
    conn = json.loads(sim_conn_json(sim))
    if fault == "wrong_password":
        conn["password"] = "wrong-password-9d1e"
        message = "the email (login) or password is likely wrong"
    else:
        conn["host"] = f"{sim.base_url}/not-the-api"
        message = "every Eniscope Core API has this endpoint, so connection 'eniscope_default' points at something else"
    requests_sent = 1
    mp.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", json.dumps(conn))
    dag_run = run_dag(DAILY, SIM_NOW - timedelta(hours=10), {"lookback_days": 1}, api=execution_api)

    tries = task_tries(dag_run)
    assert str(dag_run.state) == "failed"
    (metadata,) = tries["sync_metadata"]
    assert (metadata.state, metadata.try_number) == ("failed", 1), (
        f"a broken connection must fail once (the task allows 2 retries): {metadata}"
    )
    assert [ti.state for ti in tries["sync_readings"]] in (["upstream_failed"], []), tries["sync_readings"]
    assert len(sim.requests) == requests_sent, [(r.path, r.status) for r in sim.requests]
    (log_file,) = [p for p in task_log_files(dag_run.run_id) if "task_id=sync_metadata" in str(p)]
    text = log_file.read_text()
    assert message in text, f"the task log does not say what is wrong:\n{text[-2000:]}"
    assert conn["password"] not in text, "the password is in the task log"
    assert_views_skipped(tries)
    figures.record(f"broken_connection_{fault}", faults_injected=1, faults_survived=1, rows_compared=0)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"api_key": ""}, "has no API key: set extra 'api_key'"),
        ({"login": ""}, "needs login (account email) and password"),
        ({"api_key": "not-the-key-41c2"}, "the API key (extra 'api_key') is likely invalid"),
        ({"password": "wrong-password-9d1e"}, "the email (login) or password is likely wrong"),
    ],
    ids=["no-api-key", "no-login", "wrong-api-key", "wrong-password"],
)
def test_broken_credentials_are_terminal_failures(quiet_env: Any, broken: dict[str, str], message: str):
    """``AirflowFailException``: Airflow fails the task without using its retries."""
    sim, _, mp = quiet_env
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.ingest import tasks

    mp.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", sim_conn_json(sim, **broken))
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        tasks.sync_metadata_daily(data_interval_end=SIM_NOW, lookback_days=1)
    assert len(sim.requests) <= 2, "credentials were retried"


BAD_URLS = {
    "space in host": "not a url",
    "unsupported scheme": "ftp://127.0.0.1:1",
    "no host": "http://",
}


@pytest.mark.parametrize("host", list(BAD_URLS.values()), ids=list(BAD_URLS))
def test_malformed_url_fails_at_once_with_a_clear_message(quiet_env: Any, host: str, figures: Figures):
    sim, _, mp = quiet_env
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.eniscope.hook import EniscopeHook

    conn = json.loads(sim_conn_json(sim))
    conn["host"] = host
    mp.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", json.dumps(conn))
    hook = EniscopeHook()
    with pytest.raises(Exception) as failed:  # noqa: PT011 - the type is what is under test
        hook.list_organizations()
    assert isinstance(failed.value, AirflowFailException), (
        f"{type(failed.value).__name__} is retried by Airflow: {failed.value}"
    )
    assert "eniscope_default" in str(failed.value)
    assert hook.request_count <= 1, f"{hook.request_count} attempts for a URL that cannot work"
    assert sim.requests == [], "a malformed URL reached the API"
    figures.record(f"broken_connection_url {host!r}", faults_injected=1, faults_survived=1, rows_compared=0)


def test_url_of_something_else_fails_at_once(quiet_env: Any, figures: Figures):
    sim, _, mp = quiet_env
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.ingest import tasks

    conn = json.loads(sim_conn_json(sim))
    conn["host"] = f"{sim.base_url}/not-the-api"  # a server answering 404 to every Eniscope path
    mp.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", json.dumps(conn))
    with pytest.raises(Exception) as failed:  # noqa: PT011 - the type is what is under test
        tasks.sync_metadata_daily(data_interval_end=SIM_NOW, lookback_days=1)
    assert isinstance(failed.value, AirflowFailException), (
        f"{type(failed.value).__name__} is retried by Airflow: {failed.value}"
    )
    assert "points at something else" in str(failed.value), failed.value
    assert len(sim.requests) == 1, f"{len(sim.requests)} requests to a host that is not the API"
    figures.record("broken_connection_url not the API", faults_injected=1, faults_survived=1, rows_compared=0)
