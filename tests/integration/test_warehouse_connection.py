"""The warehouse reaches PostgreSQL through Airflow's ``energy_db`` connection (PostgresHook, psycopg 3)."""

from __future__ import annotations

import psycopg
import pytest

from argo_energy.warehouse import apply_migrations, connect, current_version
from argo_energy.warehouse.__main__ import main
from argo_energy.warehouse.migrations import load_migrations

pytestmark = pytest.mark.integration


def test_connect_uses_the_airflow_connection(energy_db_conn: str) -> None:
    conn = connect("energy_db")
    try:
        assert isinstance(conn, psycopg.Connection), "PostgresHook on Airflow 3.3 gives psycopg 3"
        assert apply_migrations(conn) == [m.label for m in load_migrations()]
    finally:
        conn.close()
    with psycopg.connect(energy_db_conn) as direct:
        assert current_version(direct) == load_migrations()[-1].version


def test_cli_setup_then_status_by_conn_id(energy_db_conn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--conn-id", "energy_db"]) == 0
    out = capsys.readouterr().out
    assert "migrations applied: V001__contract_schema" in out
    assert "v_latest_readings=created" in out
    assert "rollups refresh: 0 meter-hour(s), 0 meter-day(s) recomputed" in out
    assert main(["status", "--conn-id", "energy_db"]) == 0
    assert f"schema version: {load_migrations()[-1].version}" in capsys.readouterr().out
