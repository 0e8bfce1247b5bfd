"""Hostile and broken input (issue 18): catalog quarantine end to end, the reject cap, redacted
stored errors, and the report refusing the writer connection.

Real components: ``eniscope_daily_sync`` under ``dag.test()`` against the simulator over HTTP and a
fresh PostgreSQL warehouse; the store functions on real PostgreSQL; Airflow's own secrets masker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.ingest.tasks import sync_metadata_daily
from argo_energy.models import Reading, Rejected
from argo_energy.sitetime import local_midnight
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.quarantine import check_catalog_quarantine
from argo_energy.warehouse import (
    SyncStatus,
    apply_migrations,
    log_window_failure,
    record_sync_status,
    write_window,
)
from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.airflow import postgres_conn_json
from tests.fixtures.ingest import IngestEnv, assert_matches_ground_truth, load_dag, states
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 12, 2, tzinfo=UTC)  # the 02:00 UTC schedule; one local day back: a short run
MS_TIMESTAMP = "1793700000000"  # 2026-11-03 in milliseconds: year 58808 as seconds


def _three_sites(now: datetime) -> Any:
    sites = [
        SiteConfig(name="Wilson Center", timezone="America/New_York", country="US", voltage=120.0,
                   meters=1, sensors=0, virtual=0, base_kw=20.0),
        SiteConfig(name="Bengaluru Tech Park", timezone="Asia/Kolkata", country="IN",
                   meters=1, sensors=0, virtual=0, base_kw=25.0),
        SiteConfig(name="London Office", timezone="Europe/London", country="GB",
                   meters=2, sensors=0, virtual=0, base_kw=12.0),
    ]
    return default_config(now=now, sites=sites)


@pytest.fixture
def hostile_env(airflow_db: str, energy_db_conn: str, make_simulator: Any, monkeypatch: pytest.MonkeyPatch
                ) -> IngestEnv:
    sim = make_simulator(_three_sites(END + timedelta(minutes=30)))
    set_eniscope_conn(monkeypatch, sim)
    return IngestEnv(sim=sim, dsn=energy_db_conn, monkeypatch=monkeypatch)


def _org(env: IngestEnv, timezone: str) -> Any:
    (org,) = [o for o in env.sim.world.orgs.values() if o.site is not None and o.timezone == timezone]
    return org


def test_bad_catalog_records_are_quarantined_and_the_other_sites_sync(hostile_env: IngestEnv) -> None:
    env = hostile_env
    ny, kolkata, london = (_org(env, tz) for tz in ("America/New_York", "Asia/Kolkata", "Europe/London"))
    # Typed in the portal: a Windows zone name, a name with CR/LF, a timestamp in milliseconds.
    ny.obj["timeZone"] = "Eastern Standard Time"
    kolkata.obj["organizationName"] = "Bengaluru\r\nBcc: attacker@example.com"
    broken, healthy = env.sim.channel_ids("meter", london.org_id)
    broken_device = env.sim.world.channels[broken].device_id
    env.sim.world.channels[broken].obj["dataReceivedTs"] = MS_TIMESTAMP
    for meter in env.sim.world.meters.values():
        if int(meter["deviceId"]) == broken_device:
            meter["dataReceivedTs"] = MS_TIMESTAMP
    (ny_meter,) = env.sim.channel_ids("meter", ny.org_id)
    (kolkata_meter,) = env.sim.channel_ids("meter", kolkata.org_id)

    dag = load_dag("eniscope_daily_sync")  # dag.test() drops deadline alerts (tests/fixtures/airflow.py)
    dr = dag.test(logical_date=END, run_conf={"lookback_days": 1})

    found = states(dr)
    assert found["sync_metadata"] == ["success"], f"one bad record must not stop the metadata sync: {found}"
    for channel in (kolkata_meter, healthy):
        zone = env.sim.timezone_of(channel)
        start = local_midnight(END.astimezone(ZoneInfo(zone)).date() - timedelta(days=1), zone)
        assert assert_matches_ground_truth(env, channel, start, END) > 0, f"channel {channel} not synced"
    for channel in (ny_meter, broken):
        assert env.sql("SELECT count(*) FROM readings WHERE channel_id = %s", (channel,)) == [(0,)], (
            f"channel {channel} is quarantined: no reading expected"
        )
    assert env.sql("SELECT organization_name FROM organizations WHERE organization_id = %s",
                   (str(kolkata.org_id),)) == [("Bengaluru Bcc: attacker@example.com",)]
    rows = env.sql("SELECT kind, record_id, reason FROM catalog_quarantine WHERE resolved_at IS NULL "
                   "ORDER BY kind, record_id")
    assert rows == sorted([
        ("organization", str(ny.org_id), "malformed"),
        ("device", str(broken_device), "malformed"),
        ("channel", str(ny_meter), "depends_on_quarantined"),
        ("channel", str(broken), "depends_on_quarantined"),
    ]), rows
    with psycopg.connect(env.dsn) as conn:
        result = check_catalog_quarantine(conn, ValidationConfig(), END)
    assert (result.status, result.failed_count) == ("fail", 4), result
    assert "Eastern Standard Time" in result.message

    # Fixed in the portal: the next metadata sync plans the site again and resolves its rows.
    ny.obj["timeZone"] = "America/New_York"
    plan = sync_metadata_daily(data_interval_end=END, lookback_days=1, now=END + timedelta(minutes=30))
    planned = {t["channel_id"] for batch in plan["batches"] for t in batch["targets"]}
    assert {ny_meter, kolkata_meter, healthy} <= planned, planned
    assert broken not in planned, planned
    still_open = env.sql("SELECT kind, record_id FROM catalog_quarantine WHERE resolved_at IS NULL ORDER BY 1, 2")
    assert still_open == sorted([("channel", str(broken)), ("device", str(broken_device))]), still_open


def _migrated(dsn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn)
    apply_migrations(conn)
    conn.execute("INSERT INTO organizations (organization_id, organization_name) VALUES ('1', 'Site')")
    conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id) VALUES (7, 'Meter', '1')")
    conn.commit()
    return conn


def test_a_window_of_bad_records_stores_at_most_the_cap_and_counts_the_rest(warehouse_dsn: str) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    # 5,000 distinct off-grid timestamps inside one window, every one rejected.
    bad = [Rejected(Reading(ts=start + timedelta(seconds=7 + 17 * i), energy_kwh=1.0), "off_grid", "not on the grid")
           for i in range(5000)]
    with _migrated(warehouse_dsn) as conn:
        written = write_window(conn, organization_id="1", channel_id=7, start=start, end=end, readings=[],
                               rejected=bad, fetched=len(bad), max_rejects=250)
        again = write_window(conn, organization_id="1", channel_id=7, start=start, end=end, readings=[],
                             rejected=bad, fetched=len(bad), max_rejects=250)
        stored = conn.execute("SELECT min(\"timestamp\"), max(\"timestamp\"), count(*) FROM readings_rejected").fetchone()
        logs = conn.execute("SELECT readings_rejected, rejects_not_stored FROM ingestion_logs ORDER BY id").fetchall()
    assert (written.rejected, written.rejects_not_stored) == (5000, 4750)
    assert (again.rejected, again.rejects_not_stored) == (5000, 4750)
    assert stored == (bad[0].reading.ts, bad[249].reading.ts, 250), "the rerun must refresh the same 250 rows"
    assert logs == [(5000, 4750), (5000, 4750)]


def test_stored_error_text_is_redacted(airflow_db: str, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import Connection

    secret = "s3cret-Passw0rd-from-the-connection"
    api_key = "key-7f3e9a1c55d2"
    monkeypatch.setenv("AIRFLOW_CONN_ENISCOPE_REDACT", postgres_conn_json(f"postgresql://api:{secret}@host/db"))
    assert Connection.get("eniscope_redact").password == secret  # Airflow registers it with its masker
    now = datetime(2026, 11, 2, tzinfo=UTC)
    error = f"HTTPError: 401 for https://x.example/v1/readings/7?api_key={api_key}: login api / {secret} refused"
    with _migrated(warehouse_dsn) as conn:
        log_window_failure(conn, organization_id="1", channel_id=7, start=now - timedelta(days=1), end=now,
                           error=error)
        record_sync_status(conn, [SyncStatus("1", 7, now, None, 0, "failed", error)])
        stored = [r[0] for r in conn.execute(
            "SELECT error_message FROM ingestion_logs UNION ALL SELECT error_message FROM data_sync_status"
        ).fetchall()]
    assert len(stored) == 2
    for text in stored:
        assert secret not in text, text
        assert api_key not in text, text
        assert "401 for https://x.example/v1/readings/7?api_key=***" in text, text


def test_the_report_refuses_the_writer_connection_unless_allowed(
    airflow_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from argo_energy.report.tasks import report_conn_id

    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json("postgresql://writer@127.0.0.1:9/none"))
    monkeypatch.delenv("AIRFLOW_CONN_ENERGY_DB_READONLY", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_REPORT_ALLOW_WRITER_CONN", raising=False)
    with pytest.raises(AirflowFailException, match=r"energy_db_readonly.*not defined.*report_allow_writer_conn"):
        report_conn_id()
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_ALLOW_WRITER_CONN", "maybe")
    with pytest.raises(AirflowFailException, match="must be true or false"):
        report_conn_id()
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_ALLOW_WRITER_CONN", "true")
    assert report_conn_id() == "energy_db"
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB_READONLY", postgres_conn_json("postgresql://reader@127.0.0.1:9/none"))
    assert report_conn_id() == "energy_db_readonly"
