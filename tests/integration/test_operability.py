"""Operable every night (issue 17), with real Airflow runs (dag.test), the simulator over HTTP and PostgreSQL.

* A daily sync run WITHOUT a logical date, three of four channels dripping (one byte a second):
  each dripping window is cut by the hook's wall-clock deadline and becomes a ``failure`` row, the
  run ends within its bounds, the healthy channel equals the simulator's truth, and the three
  failed batches produce exactly ONE Slack post and ONE email, naming the three batches and the
  first error. The run publishes an Asset event for the readings it wrote.
* Warehouse sessions carry the statement and lock timeouts of their kind.
"""

from __future__ import annotations

import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from argo_energy.ingest import tasks as ingest_tasks
from argo_energy.sitetime import SLOT, local_date, local_midnight
from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.ingest import assert_matches_ground_truth, load_dag, no_retries, states
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = pytest.mark.integration

DAG_ID = "eniscope_daily_sync"
ZONE = "Europe/Berlin"
DEADLINE_S = 3  # the hook's wall-clock deadline per request
RUN_BOUND_S = 240  # the whole run, generous for a loaded 2-core machine; a hang would never end


@pytest.fixture
def dripping_world(airflow_db, energy_db_conn, make_simulator, monkeypatch, webhook_receiver, smtp_receiver):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 15)
    site = SiteConfig(name="Drip Works", timezone=ZONE, country="DE", meters=4, sensors=0, virtual=0, base_kw=10.0)
    sim = make_simulator(default_config(now=now, sites=[site]))
    meters = sorted(sim.channel_ids("meter"))
    sim.faults.drip_targets = meters[:3]
    sim.faults.drip_seconds = 1.0
    sim.faults.stall_cap_seconds = 20.0
    set_eniscope_conn(monkeypatch, sim, request_deadline=DEADLINE_S, max_retries=0)
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", '["ops@argo.test"]')
    # One channel per batch: the three dripping channels are three failed mapped batches.
    monkeypatch.setitem(ingest_tasks.sync_metadata_daily.__kwdefaults__, "batch_size", 1)
    return sim, meters, energy_db_conn, webhook_receiver, smtp_receiver


def test_run_without_logical_date_bounded_one_alert_for_three_failed_batches(dripping_world):
    sim, meters, dsn, slack, mail = dripping_world
    dag = no_retries(load_dag(DAG_ID))

    started = time.monotonic()
    dr = dag.test(logical_date=None, run_conf={"lookback_days": 0})
    elapsed = time.monotonic() - started

    assert dr.logical_date is None, "the run must have no logical date"
    assert elapsed < RUN_BOUND_S, f"the run took {elapsed:.0f}s: a dripping channel was not bounded"
    found = states(dr)
    assert sorted(found["sync_readings"]) == ["failed", "failed", "failed", "success"], found
    assert found["sync_metadata"] == ["success"], "a run without a logical date must plan from run_after"
    assert found["refresh_mv_hourly_usage"] == ["success"], found
    assert found["publish_readings"] == ["success"], "the healthy channel's readings publish an Asset event"

    run_after = dr.run_after
    start = local_midnight(local_date(run_after, ZONE), ZONE)
    with psycopg.connect(dsn) as conn:
        failures = conn.execute(
            "SELECT channel_id, count(*) FROM ingestion_logs WHERE status = 'failure' GROUP BY channel_id"
        ).fetchall()
        recorded = conn.execute(
            "SELECT task_id, map_index, error FROM pipeline_task_failures WHERE run_id = %s ORDER BY map_index",
            (dr.run_id,),
        ).fetchall()
    assert {cid for cid, _ in failures} == set(meters[:3]), f"failure rows {failures}, dripping {meters[:3]}"
    assert [r[0] for r in recorded] == ["sync_readings"] * 3, recorded
    # The healthy channel: every slot up to the last completed one equals the simulator's truth.
    end = run_after.replace(second=0, microsecond=0) - timedelta(minutes=run_after.minute % 15) - SLOT
    if end > start:
        assert_matches_ground_truth(_env(sim, dsn), meters[3], start, end)

    posts = slack.wait_for(2, timeout=3)  # bounded: proves no second message is on its way
    mails = mail.wait_for(2, timeout=3)
    assert len(posts) == 1, f"expected one Slack post for the failed run, got {len(posts)}"
    assert len(mails) == 1, f"expected one email for the failed run, got {len(mails)}"
    text = posts[0].json()["text"]
    assert f"Airflow run failed: {DAG_ID}" in text, text
    assert text.count("  - sync_readings[") == 3, f"the three failed batches must be listed:\n{text}"
    assert "First error: sync_readings[" in text, text
    assert mails[0].rcpt_tos == ["ops@argo.test"]
    assert mails[0].subject.startswith(f"[Airflow] Airflow run failed: {DAG_ID}"), mails[0].subject


def _env(sim, dsn):
    from tests.fixtures.ingest import IngestEnv

    return IngestEnv(sim=sim, dsn=dsn, monkeypatch=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "statement", "lock"), [("write", "5min", "1min"), ("check", "10min", "30s")])
def test_sessions_carry_the_timeouts_of_their_kind(energy_db_conn, kind, statement, lock):
    from argo_energy.warehouse.connection import connect

    conn = connect("energy_db", kind)
    try:
        assert conn.execute("SHOW statement_timeout").fetchone() == (statement,)
        assert conn.execute("SHOW lock_timeout").fetchone() == (lock,)
    finally:
        conn.close()


def test_a_lock_wait_is_cut_by_lock_timeout(energy_db_conn, monkeypatch):
    """A session that waits on a lock gives up after lock_timeout instead of hanging."""
    from argo_energy.warehouse.connection import connect

    monkeypatch.setenv(
        "AIRFLOW_CONN_ENERGY_DB",
        _with_extra(energy_db_conn, {"timeouts": {"write": {"lock_timeout": "300ms"}}}),
    )
    with psycopg.connect(energy_db_conn) as holder:
        holder.execute("CREATE TABLE IF NOT EXISTS lock_probe (id int)")
        holder.commit()
        holder.execute("LOCK TABLE lock_probe IN ACCESS EXCLUSIVE MODE")
        conn = connect("energy_db", "write")
        try:
            started = time.monotonic()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                conn.execute("SELECT * FROM lock_probe")
            assert time.monotonic() - started < 5
        finally:
            conn.close()
        holder.rollback()


def _with_extra(dsn: str, extra: dict) -> str:
    import json

    from devtools.airflow_env import postgres_connection

    return json.dumps({**postgres_connection(dsn), "extra": extra})


REPORT = {"html_url": None, "csv_url": None,
          "headline": {"site_id": "ny-hq", "week": "2026-W45", "site_name": "Argo HQ", "total_kwh": 12.5}}


def test_report_delivery_is_once_per_site_week_unless_resend(energy_db_conn, webhook_receiver, monkeypatch):
    """A retried or cleared slack_report does not post a delivered report again; resend=True does."""
    from argo_energy.report import delivery, tasks
    from argo_energy.warehouse import apply_migrations, connect

    with closing(connect("energy_db", "migration")) as conn:
        apply_migrations(conn)
    monkeypatch.setattr(delivery.render, "slack_text", lambda headline, url: f"report {headline['site_id']}")

    first = tasks.slack_report(REPORT, run=("eniscope_weekly_report", "run-1"))
    retry = tasks.slack_report(REPORT, run=("eniscope_weekly_report", "run-1"))
    other_week = tasks.slack_report({**REPORT, "headline": {**REPORT["headline"], "week": "2026-W46"}},
                                    run=("eniscope_weekly_report", "run-1"))
    again = tasks.slack_report(REPORT, run=("eniscope_weekly_report", "run-2"), resend=True)

    assert first["sent"] is True
    assert retry == {"sent": False, "reason": "already delivered", "delivered_by": "run-1"}
    assert other_week["sent"] is True
    assert again["sent"] is True
    assert len(webhook_receiver.wait_for(4, timeout=3)) == 3, "first, other week, resend: three posts"
    with psycopg.connect(energy_db_conn) as conn:
        rows = conn.execute("SELECT iso_week, run_id, sends FROM report_deliveries ORDER BY iso_week").fetchall()
    assert rows == [("2026-W45", "run-2", 2), ("2026-W46", "run-1", 1)]


def test_report_delivery_without_bookkeeping_still_sends(webhook_receiver, monkeypatch):
    """No usable writer connection: the report goes out (with a warning) rather than never."""
    from argo_energy.report import delivery, tasks

    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", _with_extra("postgresql://nobody@127.0.0.1:9/none", {}))
    monkeypatch.setattr(delivery.render, "slack_text", lambda headline, url: "report")
    assert tasks.slack_report(REPORT, run=("d", "r"))["sent"] is True
    assert len(webhook_receiver.wait_for(1, timeout=5)) == 1


def test_deadline_callback_through_airflows_callback_runner(airflow_db, webhook_receiver, smtp_receiver, monkeypatch):
    """The DeadlineAlert's SyncCallback, as the executor's callback runner calls it: one post, one email."""
    import structlog
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    from argo_energy.dag_defaults import deadline

    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", '["ops@argo.test"]')
    alert = deadline("daily_sync", "the daily sync finished by 06:00 UTC")
    context = {"dag_run": {"dag_id": DAG_ID, "dag_run_id": "scheduled__2026-11-03T02:00:00+00:00",
                           "state": "running"},
               "deadline": {"id": "x", "deadline_time": "2026-11-03T06:00:00+00:00"}}
    ok, error = execute_callback(alert.callback.path, {**alert.callback.kwargs, "context": context},
                                 "", None, structlog.get_logger())
    assert ok, error
    posts, mails = webhook_receiver.wait_for(2, timeout=3), smtp_receiver.wait_for(2, timeout=3)
    assert len(posts) == 1, posts
    assert len(mails) == 1, mails
    text = posts[0].json()["text"]
    assert f"Airflow deadline missed: {DAG_ID}" in text
    assert "2026-11-03T06:00:00+00:00" in text
    assert "finished by 06:00 UTC" in text
