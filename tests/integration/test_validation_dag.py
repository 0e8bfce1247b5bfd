"""eniscope_validation end to end with dag.test(): real PostgreSQL, real Airflow, real alert receivers.

A healthy warehouse passes every check and sends nothing. A warehouse with gaps and a negative
reading fails the run, alerts Slack (local webhook server) and email (local aiosmtpd), triggers
eniscope_historical_backfill exactly for the incomplete channel-days, and a later run with the
same gaps and no Slack connection emails again but never triggers those days a second time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.validation.checks import CHECK_NAMES
from argo_energy.warehouse.rollups import refresh_rollups
from tests.integration.test_validation_checks import KOLKATA, NY, Plant, build_warehouse, midnight

pytestmark = pytest.mark.integration

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "eniscope_validation.py"
DAG_ID = "eniscope_validation"
BACKFILL_DAG_ID = "eniscope_historical_backfill"
# A manual run's data interval ends at its logical date: this is the checks' as_of. The newest
# settled local day is then 2025-11-02, the 25-hour day New York falls back.
AS_OF = datetime(2025, 11, 4, 12, tzinfo=UTC)
SITES = {"ny": NY, "in": KOLKATA}
CHANNELS = {101: "ny", 102: "ny", 201: "in"}
BASE_URL = "https://airflow.argo.test"
# The planted channels exist in no Eniscope account: reconciliation (tests/integration/
# test_reconciliation.py, against the simulator) is off here.
NO_ENISCOPE = {"reconcile": False}


def load_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.get_dag(DAG_ID)
    for t in dag.tasks:
        t.retries = 0  # a failing task must not make dag.test() wait out a retry delay
    return dag


def plant_world(dsn: str, gaps: dict[int, list[datetime]] | None = None) -> None:
    """Complete 15-minute data for every channel from 9 local days before AS_OF up to AS_OF - 1 h,
    a success log per local day, and refreshed rollups (V009); ``gaps`` are left out."""
    gaps = gaps or {}
    with psycopg.connect(dsn) as conn:
        plant = Plant(conn)
        for org, tz in SITES.items():
            plant.site(org, tz)
        for cid, org in CHANNELS.items():
            tz = SITES[org]
            plant.channel(cid, org)
            first = AS_OF.astimezone(ZoneInfo(tz)).date() - timedelta(days=9)
            plant.readings(cid, midnight(first, tz), AS_OF - timedelta(hours=1), skip=gaps.get(cid, ()))
            plant.daily_logs(cid, org, tz, [first + timedelta(days=i) for i in range(9)])
        conn.commit()
        refresh_rollups(conn)


@pytest.fixture
def validation_env(airflow_db, energy_db_conn, webhook_receiver, smtp_receiver,
                   monkeypatch) -> Iterator[dict[str, Any]]:
    build_warehouse(energy_db_conn)
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", json.dumps(["ops@argo.test"]))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    return {"dsn": energy_db_conn, "webhook": webhook_receiver, "smtp": smtp_receiver}


def results(dsn: str, run_id: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT check_name, severity, status, failed_count, affected_channels, affected_days "
            "FROM validation_results WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def task_states(dag_run: Any) -> dict[str, str]:
    return {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
            for ti in dag_run.get_task_instances()}


def heal_runs(prefix: str) -> dict[str, dict[str, Any]]:
    """Backfill DagRuns created by the heal of one validation run (run_id prefix), with their conf."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == BACKFILL_DAG_ID).all()
        return {r.run_id: dict(r.conf or {}) for r in runs if r.run_id.startswith(prefix)}


def test_healthy_warehouse_passes_and_sends_nothing(validation_env):
    plant_world(validation_env["dsn"])
    dag_run = load_dag().test(logical_date=AS_OF, run_conf=NO_ENISCOPE)

    assert dag_run.data_interval_end == AS_OF
    states = task_states(dag_run)
    assert dag_run.state == "success", states
    assert states["trigger_heal"] == "skipped", "nothing to heal: the mapped trigger has no input"
    found = results(validation_env["dsn"], dag_run.run_id)
    assert set(found) == set(CHECK_NAMES)
    assert {name: row[1] for name, row in found.items() if row[1] != "pass"} == {}
    assert found["completeness"][2] == 0
    assert validation_env["webhook"].items == [], "no Slack alert when every check passes"
    assert validation_env["smtp"].items == [], "no email when every check passes"
    assert heal_runs(f"heal__{dag_run.run_id}") == {}


def test_failures_alert_and_heal_each_incomplete_day_once(validation_env, monkeypatch):
    dsn = validation_env["dsn"]
    ny_dst, ny_other, in_day = date(2025, 11, 2), date(2025, 10, 29), date(2025, 10, 31)
    gaps = {
        101: [midnight(ny_dst, NY) + timedelta(hours=9, minutes=15 * i) for i in range(6)]
        + [midnight(ny_other, NY) + timedelta(hours=13)],
        201: [midnight(in_day, KOLKATA), midnight(in_day, KOLKATA) + timedelta(minutes=15)],
    }
    plant_world(dsn, gaps)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            'UPDATE readings SET energy_kwh = -0.2 WHERE channel_id = 102 AND "timestamp" = %s',
            (midnight(date(2025, 10, 30), NY) + timedelta(hours=8),),
        )
        conn.commit()
        refresh_rollups(conn)

    first = load_dag().test(logical_date=AS_OF, run_conf=NO_ENISCOPE)

    states = task_states(first)
    assert first.state == "failed", states
    assert states["evaluate"] == "failed"
    assert all(state == "success" for task, state in states.items() if task.startswith("check_")), states
    found = results(dsn, first.run_id)
    assert found["completeness"] == ("error", "fail", 3, [101, 201], [ny_other, in_day, ny_dst])
    assert found["value_ranges"][1:] == ("fail", 1, [102], [date(2025, 10, 30)])
    passing = {n for n, row in found.items() if row[1] == "pass"}
    assert passing == set(found) - {"completeness", "value_ranges"}

    # One alert per channel for the failed run (the DAG's run alert, issue 17), naming the failed
    # verdict task and its error.
    (post,) = validation_env["webhook"].wait_for(1)
    text = post.json()["text"]
    for expected in (f"Airflow run failed: {DAG_ID}", f"Run: {first.run_id}", f"Logical date: {AS_OF.isoformat()}",
                     "Failed: 1 task instance(s)",
                     "First error: evaluate: AirflowFailException: validation failed: completeness (3 failing, "
                     "2 channels, 3 days); value_ranges (1 failing, 1 channels, 1 days)",
                     "\n  - evaluate", f"{BASE_URL}/dags/{DAG_ID}/runs/"):
        assert expected in text, f"Slack alert lacks {expected!r}:\n{text}"
    (mail,) = validation_env["smtp"].wait_for(1)
    assert mail.rcpt_tos == ["ops@argo.test"]
    assert mail.subject.startswith(f"[Airflow] Airflow run failed: {DAG_ID}"), mail.subject
    assert "completeness (3 failing" in mail.html()

    # Self-heal: one backfill run per contiguous day range, exactly those channels, force on.
    runs = heal_runs(f"heal__{first.run_id}")
    expected_confs = [
        {"start_date": d.isoformat(), "end_date": d.isoformat(), "channel_ids": [cid], "force": True,
         "dry_run": False}
        for d, cid in sorted([(ny_other, 101), (in_day, 201), (ny_dst, 101)])
    ]
    assert [runs[k] for k in sorted(runs)] == expected_confs
    with psycopg.connect(dsn) as conn:
        healed = conn.execute(
            "SELECT channel_id, local_date, status, expected_slots, received_slots "
            "FROM validation_heal_requests ORDER BY local_date, channel_id"
        ).fetchall()
    assert healed == [(101, ny_other, "triggered", 96, 95), (201, in_day, "triggered", 96, 94),
                      (101, ny_dst, "triggered", 100, 94)]

    # Six hours later the days are still incomplete (the backfill has not run): they are reported
    # again but never re-triggered; without a Slack connection only the email goes out.
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_DEFAULT")
    second = load_dag().test(logical_date=AS_OF + timedelta(hours=6), run_conf=NO_ENISCOPE)

    assert second.state == "failed"
    assert task_states(second)["evaluate"] == "failed", "the alert channel missing must not change the verdict"
    assert heal_runs(f"heal__{second.run_id}") == {}, "a healed channel-day is never triggered twice"
    # (runs of this test's two validation runs only: the metadata DB is shared by the session)
    assert len(heal_runs(f"heal__{first.run_id}")) == 3
    assert results(dsn, second.run_id)["completeness"][1:3] == ("fail", 3)
    with psycopg.connect(dsn) as conn:
        (details,) = conn.execute(
            "SELECT details FROM validation_results WHERE run_id = %s AND check_name = 'completeness'",
            (second.run_id,),
        ).fetchone()
    assert all(f["healed"] and f["healed"].startswith("triggered by heal__") for f in details), details
    assert len(validation_env["smtp"].wait_for(2)) == 2, "email still sent without Slack"
    assert len(validation_env["webhook"].items) == 1, "no Slack POST without its connection"


def test_rollups_check_finds_a_wrong_meter_day_and_rebuilds_it(validation_env):
    """The ``rollups`` check inside a real run: a meter-day of the daily rollup changed behind the
    triggers' back is a finding, and the run rebuilds it from the readings."""
    dsn = validation_env["dsn"]
    plant_world(dsn)
    day = date(2025, 10, 30)
    recompute = (
        "SELECT count(*), sum(energy_kwh::float8) FROM readings WHERE channel_id = 102 "
        "AND energy_kwh IS NOT NULL AND energy_kwh <> 0 AND power_kw IS NOT NULL AND power_kw <> 0 "
        "AND (\"timestamp\" AT TIME ZONE 'America/New_York')::date = %s"
    )
    stored = "SELECT reading_count, total_energy_kwh FROM rollup_daily_usage WHERE meter_id = 102 AND reading_date = %s"
    with psycopg.connect(dsn) as conn:
        (truth,) = conn.execute(recompute, (day,)).fetchall()
        assert truth[0] == 96, "the planted day is complete"
        conn.execute("UPDATE rollup_daily_usage SET reading_count = 7, total_energy_kwh = 0 "
                     "WHERE meter_id = 102 AND reading_date = %s", (day,))

    # Every meter-day of the lookback is sampled (3 meters x ~8 days < 500): the check cannot miss it.
    run = load_dag().test(logical_date=AS_OF, run_conf={"rollup_sample_days": 500})

    found = results(dsn, run.run_id)
    assert found["rollups"][:3] == ("warn", "fail", 1), found["rollups"]
    assert found["rollups"][3:] == ([102], [day]), "the finding names the meter and its local day"
    with psycopg.connect(dsn) as conn:
        (details,) = conn.execute(
            "SELECT details FROM validation_results WHERE run_id = %s AND check_name = 'rollups'", (run.run_id,),
        ).fetchone()
        (after,) = conn.execute(stored, (day,)).fetchall()
    assert [(f["readings_in_rollup"], f["readings_now"], f["rebuilt"]) for f in details] == [(7, 96, True)], details
    assert after[0] == truth[0], f"meter 102 on {day} rebuilt: expected {truth[0]} readings, stored {after[0]}"
    assert after[1] == pytest.approx(truth[1], rel=1e-9), f"meter 102 on {day} rebuilt: kWh {after[1]} != {truth[1]}"
    assert task_states(run)["check_rollups"] == "success", "a warn-level finding does not fail its check task"
