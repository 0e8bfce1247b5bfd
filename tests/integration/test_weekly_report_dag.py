"""``eniscope_weekly_report`` end to end with ``dag.test()``: real PostgreSQL, SMTP and webhook servers.

- Under a login made by ``include/sql/roles/readonly_role.sql`` (run with psql, as the README says)
  behind ``energy_db_readonly``, while ``energy_db`` points at a server that does not exist: the
  run can only succeed by reading through the role that cannot write.
- With only ``energy_db`` (and no SMTP or Slack connection): read-only transactions, delivery
  skipped with a log line, files still written.
The CSV and the headline figures are checked against the independent computation of
``test_weekly_report_figures``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.fixtures import receivers
from tests.fixtures.airflow import postgres_conn_json
from tests.integration.test_weekly_report_figures import FALL, MON_FRI_8_18, plant
from tests.integration.test_weekly_report_figures import expected_for as independent

pytestmark = pytest.mark.integration

# Fixtures of tests/fixtures/receivers.py (the alerts' local SMTP and webhook servers).
smtp_receiver = receivers.smtp_receiver
webhook_receiver = receivers.webhook_receiver

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "eniscope_weekly_report"
ROLE_SCRIPT = REPO / "include" / "sql" / "roles" / "readonly_role.sql"
# dag.test(logical_date=X) runs as a manual run at X: CronDataIntervalTimetable gives it the last
# complete interval, [Tue 27 Oct, Tue 3 Nov 2026 08:00 UTC); its end decides the week:
# Mon 26 Oct - Sun 1 Nov 2026 (New York falls back on that Sunday).
RUN_AFTER = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
WEEK_LABEL = "2026-W44"
RO_PASSWORD = "report-ro-test"  # throwaway role of a throwaway database


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    if not found:
        pytest.fail("psql is needed to run include/sql/roles/readonly_role.sql (install postgresql-client)")
    return str(found)


@pytest.fixture
def no_plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """dag.test() loads the plugins folder; ours is a package, not Airflow plugins: skip that scan."""
    from airflow import plugins_manager, settings

    empty = tmp_path / "no-plugins"
    empty.mkdir()
    monkeypatch.setattr(settings, "PLUGINS_FOLDER", str(empty))
    plugins_manager._get_plugins.cache_clear()
    yield
    plugins_manager._get_plugins.cache_clear()


@pytest.fixture
def planted(warehouse_dsn: str) -> str:
    plant(warehouse_dsn)
    return warehouse_dsn


@pytest.fixture
def readonly_role(planted: str) -> Iterator[str]:
    """A login created by readonly_role.sql in the planted database; yields its DSN. Dropped after."""
    role = f"argo_report_ro_{os.getpid()}"
    subprocess.run(
        [_psql(), planted, "-q", "-v", f"role_name={role}", "-v", f"role_password={RO_PASSWORD}",
         "-f", str(ROLE_SCRIPT)],
        check=True, capture_output=True, text=True,
    )
    parts = urlsplit(planted)
    dsn = f"postgresql://{role}:{RO_PASSWORD}@{parts.hostname}:{parts.port or 5432}{parts.path}"
    try:
        yield dsn
    finally:
        with psycopg.connect(planted, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def report_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "reports"
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_BASE_PATH", f"file://{base}")
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_EMAILS", json.dumps(
        {"ny-hq": ["energy@hq.test", "facilities@hq.test"], "default": ["reports@argo.test"]}
    ))
    monkeypatch.delenv("AIRFLOW_VAR_ENISCOPE_SITES", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_REPORT_BUSINESS_HOURS", raising=False)
    for name in ("ENERGY_DB_READONLY", "SMTP_DEFAULT", "SLACK_DEFAULT"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    return base


def _run_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert not bag.import_errors, bag.import_errors
    dr = bag.get_dag(DAG_ID).test(logical_date=RUN_AFTER)
    assert dr.data_interval_end == RUN_AFTER, (dr.data_interval_start, dr.data_interval_end)
    return dr


def _states(dr: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in dr.get_task_instances()}


def _xcoms(dr: Any, task_id: str) -> dict[int, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID, XComModel.run_id == dr.run_id,
                XComModel.task_id == task_id, XComModel.key == "return_value",
            )
        ).all()
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def _check_csv(path: Path) -> None:
    exp = independent("ny-hq", FALL, MON_FRI_8_18)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == 7 * 3, "one row per meter and local day"
    for row in rows:
        key = (int(row["meter_id"]), datetime.fromisoformat(row["local_date"]).date())
        if key in exp.daily:
            assert float(row["energy_kwh"]) == pytest.approx(exp.daily[key], rel=1e-9), key
        else:
            assert row["energy_kwh"] == "", f"{key}: missing is empty, not 0"
        assert row["week"] == WEEK_LABEL
    sunday = [r for r in rows if r["local_date"] == "2026-11-01"]
    assert {r["expected_readings"] for r in sunday} == {"100"}, "the fall-back Sunday has 100 intervals"


def test_dag_reads_through_the_readonly_role_and_delivers(
    airflow_db: str, readonly_role: str, report_env: Path, smtp_receiver: Any, webhook_receiver: Any,
    monkeypatch: pytest.MonkeyPatch, no_plugin_dir: None,
) -> None:
    # energy_db points at nothing: only energy_db_readonly can make this run succeed.
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json("postgresql://nobody@127.0.0.1:9/none"))
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB_READONLY", postgres_conn_json(readonly_role))
    with psycopg.connect(readonly_role) as conn:
        writable = conn.execute(
            "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
            " AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')"
            "      OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))"
        ).fetchone()
        assert writable == (0,), "the report role can write no table"

    dr = _run_dag()

    states = _states(dr)
    assert set(states.values()) == {"success"}, states
    assert str(dr.state) == "success"
    assert sorted(k for k in states if k[0] == "build_report") == [("build_report", 0), ("build_report", 1)]

    built = _xcoms(dr, "build_report")
    by_site = {b["headline"]["site_id"]: b for b in built.values()}
    assert set(by_site) == {"ny-hq", "pune"}, "every site with meters"
    exp = independent("ny-hq", FALL, MON_FRI_8_18)
    ny = by_site["ny-hq"]["headline"]
    assert ny["week"] == WEEK_LABEL
    assert ny["total_kwh"] == pytest.approx(exp.total, rel=1e-12)
    assert ny["peak_kw"] == pytest.approx(exp.peak_kw, rel=1e-12)
    assert datetime.fromisoformat(ny["peak_local"]) == exp.peak_local
    assert ny["after_hours_share"] == pytest.approx(exp.after_hours / exp.total)
    assert by_site["pune"]["headline"]["total_kwh"] is None, "pune has no reading that week: n/a"

    html_path = report_env / "ny-hq" / f"energy-report_ny-hq_{WEEK_LABEL}.html"
    csv_path = report_env / "ny-hq" / f"energy-report_ny-hq_{WEEK_LABEL}.csv"
    assert by_site["ny-hq"]["html_url"] == f"file://{html_path}"
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    _check_csv(csv_path)
    assert (report_env / "pune" / f"energy-report_pune_{WEEK_LABEL}.csv").exists()

    mails = smtp_receiver.wait_for(2)
    assert len(mails) == 2, "one email per site"
    by_rcpt = {tuple(sorted(m.rcpt_tos)): m for m in mails}
    assert set(by_rcpt) == {("energy@hq.test", "facilities@hq.test"), ("reports@argo.test",)}
    mail = by_rcpt[("energy@hq.test", "facilities@hq.test")]
    assert mail.subject == f"Weekly energy report: Argo HQ (ny-hq), week {WEEK_LABEL}"
    attachments = {part.get_filename(): part.get_content() for part in mail.message.iter_attachments()}
    assert set(attachments) == {html_path.name, csv_path.name}, "HTML and CSV attached"
    html_attached = attachments[html_path.name]
    html_attached = html_attached.decode("utf-8") if isinstance(html_attached, bytes) else html_attached
    assert html_attached == html_path.read_text(encoding="utf-8")
    csv_attached = attachments[csv_path.name]
    csv_attached = csv_attached.decode("utf-8") if isinstance(csv_attached, bytes) else csv_attached
    assert csv_attached.replace("\r\n", "\n") == csv_path.read_text(encoding="utf-8")
    assert f"{exp.total:,.1f} kWh" in mail.html()

    posts = webhook_receiver.wait_for(2)
    assert len(posts) == 2, "one Slack message per site"
    texts = {p.json()["text"].splitlines()[0]: p.json()["text"] for p in posts}
    ny_text = next(t for head, t in texts.items() if "Argo HQ" in head)
    assert f"{exp.total:,.1f} kWh" in ny_text
    assert f"{exp.peak_kw:,.1f} kW" in ny_text


def test_dag_works_with_energy_db_only_and_skips_missing_channels(
    airflow_db: str, planted: str, report_env: Path, monkeypatch: pytest.MonkeyPatch, no_plugin_dir: None,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json(planted))
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_ALLOW_WRITER_CONN", "true")  # no energy_db_readonly: allowed here
    monkeypatch.setenv("AIRFLOW_VAR_ENISCOPE_SITES", json.dumps(["ny-hq"]))
    with psycopg.connect(planted) as conn:
        before = conn.execute("SELECT count(*), max(updated_at) FROM readings").fetchone()

    dr = _run_dag()

    states = _states(dr)
    assert set(states.values()) == {"success"}, states
    assert sorted(states) == [("build_report", 0), ("email_report", 0), ("select_sites", -1), ("slack_report", 0)]
    assert _xcoms(dr, "email_report") == {0: {"sent": False, "reason": "no connection smtp_default"}}
    assert _xcoms(dr, "slack_report") == {0: {"sent": False, "reason": "no connection slack_default"}}
    _check_csv(report_env / "ny-hq" / f"energy-report_ny-hq_{WEEK_LABEL}.csv")
    assert not (report_env / "pune").exists(), "Variable eniscope_sites selects ny-hq only"
    with psycopg.connect(planted) as conn:
        assert conn.execute("SELECT count(*), max(updated_at) FROM readings").fetchone() == before


def test_dag_file_is_wiring_only(airflow_db: str) -> None:
    """Parsing the file reads no Variable or Connection and gives the documented schedule and tags."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronDataIntervalTimetable

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key not in env:
                mp.delenv(key)
        bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(DAG_ID)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 8 * * 2"
    assert str(dag.timetable.timezone) == "UTC"
    assert set(dag.tags) == {"eniscope", "report"}
    assert dag.default_args["owner"] == "data-platform"
    assert dag.max_active_runs == 1
    assert dag.catchup is False
