"""The warehouse's roles (migration V010, include/sql/roles/roles.sql) on a real PostgreSQL.

Roles are cluster-wide: every test creates its own uniquely named logins through roles.sql (names
as psql variables, passwords from the environment, as in production) and drops them at the end.
The server trusts 127.0.0.1, so connecting as a role needs no password; the passwords are still
set, and checked to be set, to exercise the path that keeps them out of psql's arguments.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from argo_energy.warehouse import apply_migrations, build_views, refresh_hourly_usage
from argo_energy.warehouse.connection import sql_dir
from argo_energy.warehouse.migrations import load_migrations

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ROLES_DIR = REPO / "include" / "sql" / "roles"
_counter = itertools.count()
VIEWS = ("v_clean_readings", "mv_hourly_usage", "v_readings_enriched", "v_readings_daily", "v_readings_monthly")
Q = timedelta(minutes=15)


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    if not found:
        pytest.fail("psql is needed to run include/sql/roles/*.sql (install postgresql-client)")
    return str(found)


def run_psql(dsn: str, script: str, variables: dict[str, str], env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    """Run a roles script like an admin does: names as -v, passwords only in the environment."""
    args = [_psql(), dsn, "-q", "-X", "-f", str(ROLES_DIR / script)]
    for name, value in variables.items():
        args += ["-v", f"{name}={value}"]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)


@dataclass(frozen=True)
class Roles:
    admin: str  # the superuser DSN of the test database
    owner: str
    writer: str
    readonly: str
    passwords: dict[str, str]

    def dsn(self, role: str) -> str:
        return make_conninfo(self.admin, user=role, password=self.passwords[role])


def _drop_roles(admin_dsn: str, roles: list[str]) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in roles:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def roles(warehouse_dsn: str) -> Iterator[Roles]:
    """Migrated warehouse, the three logins from roles.sql, then the views (built after the roles)."""
    tag = f"argo_t{os.getpid()}_{next(_counter)}"
    names = {"owner_role": f"{tag}_owner", "writer_role": f"{tag}_writer", "readonly_role": f"{tag}_ro"}
    passwords = {names["owner_role"]: "pw-owner", names["writer_role"]: "pw-writer", names["readonly_role"]: "pw-ro"}
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
    try:
        done = run_psql(warehouse_dsn, "roles.sql", names, env={
            "ARGO_OWNER_PASSWORD": "pw-owner", "ARGO_WRITER_PASSWORD": "pw-writer", "ARGO_READONLY_PASSWORD": "pw-ro",
        })
        assert done.returncode == 0, done.stderr
        with psycopg.connect(warehouse_dsn) as conn:
            build_views(conn)
        yield Roles(warehouse_dsn, names["owner_role"], names["writer_role"], names["readonly_role"], passwords)
    finally:
        _drop_roles(warehouse_dsn, list(names.values()))


def _plant_catalog(conn: psycopg.Connection) -> None:
    """One site, device and channel, upserted twice (the second is an UPDATE) as the writer would."""
    for _ in range(2):
        conn.execute(
            "INSERT INTO organizations (organization_id, organization_name, timezone) VALUES ('site-1', 'HQ',"
            " 'America/New_York') ON CONFLICT (organization_id) DO UPDATE SET organization_name = EXCLUDED.organization_name"
        )
        conn.execute(
            "INSERT INTO devices (device_id, device_name, organization_id) VALUES (7, 'Gateway', 'site-1')"
            " ON CONFLICT (device_id) DO UPDATE SET device_name = EXCLUDED.device_name"
        )
        conn.execute(
            "INSERT INTO channels (channel_id, channel_name, device_id, organization_id) VALUES (70, 'Main', 7,"
            " 'site-1') ON CONFLICT (channel_id) DO UPDATE SET channel_name = EXCLUDED.channel_name"
        )
    conn.commit()


def test_roles_sql_sets_passwords_from_the_environment(roles: Roles) -> None:
    with psycopg.connect(roles.admin) as conn:
        rows = dict(conn.execute(
            "SELECT rolname, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = ANY(%s)",
            ([roles.owner, roles.writer, roles.readonly],),
        ).fetchall())
        registered = dict(conn.execute("SELECT role_name, purpose FROM warehouse_roles").fetchall())
    assert rows == {roles.owner: True, roles.writer: True, roles.readonly: True}
    assert registered[roles.writer] == "writer"
    assert registered[roles.readonly] == "readonly"
    assert registered[roles.owner] == "owner"


def test_writer_cannot_create_a_table_or_touch_the_owner_tables(roles: Roles) -> None:
    with psycopg.connect(roles.dsn(roles.writer), autocommit=True) as conn:
        for statement in (
            "CREATE TABLE sneaky (id int)",
            "TRUNCATE readings",
            "INSERT INTO warehouse_view_grants (view_name, grantee, privilege) VALUES ('v_sites', 'PUBLIC', 'SELECT')",
            "INSERT INTO warehouse_role_privileges VALUES ('writer', 'table', 'warehouse_roles', ARRAY['INSERT'])",
            "SELECT argo_build_view('view', 'v_sneaky', 'SELECT 1 AS x')",
            "SELECT argo_apply_role_grants()",
            "DROP VIEW v_sites",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_writer_upserts_readings_and_writes_ingestion_logs(roles: Roles) -> None:
    # The statements' shapes of warehouse/store.py (COPY, INSERT ... ON CONFLICT DO UPDATE, a log row
    # with its serial id), written here so that this test does not move with the store's columns.
    start = datetime(2025, 3, 3, 5, 0, tzinfo=UTC)  # in the past: the views drop future readings
    with psycopg.connect(roles.dsn(roles.writer)) as conn:
        _plant_catalog(conn)
        with conn.cursor() as cur, cur.copy('COPY readings (channel_id, "timestamp", energy_kwh, power_kw) FROM STDIN') as copy:
            for i in range(4):
                copy.write_row((70, start + i * Q, 1.0 + i, 4.0))
        conn.execute(
            'INSERT INTO readings AS t (channel_id, "timestamp", energy_kwh, power_kw) VALUES (70, %s, 9.5, 4), (70, %s, 5, 4)'
            " ON CONFLICT (channel_id, \"timestamp\") DO UPDATE SET energy_kwh = EXCLUDED.energy_kwh,"
            " updated_at = CURRENT_TIMESTAMP WHERE t.energy_kwh IS DISTINCT FROM EXCLUDED.energy_kwh",
            (start, start + 4 * Q),
        )
        log_id = conn.execute(
            "INSERT INTO ingestion_logs (organization_id, channel_id, start_time, end_time, readings_fetched,"
            " readings_inserted, readings_updated, readings_rejected, status, run_id)"
            " VALUES ('site-1', 70, %s, %s, 5, 4, 1, 0, 'success', 'r1') RETURNING id",
            (start, start + 5 * Q),
        ).fetchone()
        conn.execute(
            "INSERT INTO data_sync_status (organization_id, last_sync_timestamp, readings_count, sync_status)"
            " VALUES ('site-1', %s, 5, 'success')", (start + 5 * Q,),
        )
        conn.commit()
        refresh_hourly_usage(conn)  # the writer refreshes the hourly aggregate (matview or rollup table)
        hourly = conn.execute("SELECT count(*) FROM mv_hourly_usage").fetchone()
    assert log_id
    assert hourly
    assert hourly[0] > 0
    with psycopg.connect(roles.admin) as conn:
        values = conn.execute('SELECT energy_kwh FROM readings WHERE channel_id = 70 ORDER BY "timestamp"').fetchall()
        logs = conn.execute("SELECT run_id, status FROM ingestion_logs").fetchall()
    assert values == [(9.5,), (2.0,), (3.0,), (4.0,), (5.0,)]
    assert logs == [("r1", "success")]


def test_readonly_reads_the_views_but_not_readings(roles: Roles) -> None:
    with psycopg.connect(roles.dsn(roles.writer)) as conn:
        _plant_catalog(conn)
    with psycopg.connect(roles.dsn(roles.readonly), autocommit=True) as conn:
        for view in VIEWS:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view))).fetchone()
        assert conn.execute("SELECT count(*) FROM v_sites").fetchone() == (1,)
        for table in ("readings", "organizations", "ingestion_logs", "schema_migrations"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table)))
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TEMP TABLE t (x int)")


def test_a_broad_grant_is_converged_away_on_rerun(roles: Roles) -> None:
    with psycopg.connect(roles.admin, autocommit=True) as conn:
        # What the old readonly_role.sql granted.
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(roles.readonly)))
        assert conn.execute("SELECT has_table_privilege(%s, 'readings', 'SELECT')", (roles.readonly,)).fetchone() == (True,)
    done = run_psql(roles.admin, "roles.sql", {
        "owner_role": roles.owner, "writer_role": roles.writer, "readonly_role": roles.readonly,
    })
    assert done.returncode == 0, done.stderr
    with psycopg.connect(roles.admin) as conn:
        checks = conn.execute(
            "SELECT has_table_privilege(%(r)s, 'readings', 'SELECT'), has_table_privilege(%(r)s, 'v_readings_daily', 'SELECT'),"
            " has_table_privilege(%(w)s, 'readings', 'INSERT'), has_table_privilege(%(w)s, 'readings', 'DELETE')",
            {"r": roles.readonly, "w": roles.writer},
        ).fetchone()
    assert checks == (False, True, True, False)


def test_readonly_has_a_statement_timeout(roles: Roles) -> None:
    with psycopg.connect(roles.dsn(roles.readonly)) as conn:
        settings = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('default_transaction_read_only')"
        ).fetchone()
    assert settings == ("1min", "on")
    # readonly_role.sql (the report login alone) with a short timeout: a long statement is cancelled.
    done = run_psql(roles.admin, "readonly_role.sql", {"role_name": roles.readonly, "readonly_timeout": "200ms"})
    assert done.returncode == 0, done.stderr
    with psycopg.connect(roles.dsn(roles.readonly)) as conn, pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(2)")


def test_public_cannot_execute_the_project_functions(roles: Roles) -> None:
    with psycopg.connect(roles.admin) as conn:
        rows = conn.execute(
            "SELECT p.oid::regprocedure::text, has_function_privilege('public', p.oid, 'EXECUTE'),"
            "       has_function_privilege(%s, p.oid, 'EXECUTE'), has_function_privilege(%s, p.oid, 'EXECUTE')"
            "  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'argo\\_%%'",
            (roles.writer, roles.readonly),
        ).fetchall()
    by_name = {name.split("(")[0]: (public, writer, ro) for name, public, writer, ro in rows}
    assert {"argo_build_view", "argo_refresh_matview", "argo_local_to_utc", "argo_apply_role_grants",
            "argo_save_view_grants"} <= set(by_name)
    assert not any(public for public, _, _ in by_name.values()), by_name
    assert by_name["argo_build_view"] == (False, False, False)
    assert by_name["argo_refresh_matview"] == (False, True, False)
    assert by_name["argo_local_to_utc"] == (False, True, True)


def test_roles_sql_stops_when_the_user_may_not_create_roles(roles: Roles) -> None:
    missing = f"{roles.owner}_new"
    done = run_psql(roles.dsn(roles.writer), "roles.sql", {
        "owner_role": missing, "writer_role": roles.writer, "readonly_role": roles.readonly,
    })
    try:
        assert done.returncode != 0
        assert f"role {missing} does not exist and {roles.writer} may not create roles" in done.stderr
    finally:
        _drop_roles(roles.admin, [missing])


# --------------------------------------------------------------------------------------------------
# V005's re-grant: a row planted in warehouse_view_grants ran as SQL; V010 treats it as data
# --------------------------------------------------------------------------------------------------

PLANT = "INSERT INTO warehouse_view_grants (view_name, grantee, privilege) VALUES ('v_probe', %s, %s)"


def _rebuild_probe(conn: psycopg.Connection, column: str) -> str:
    """(Re)build v_probe with a different column name, which forces the drop-and-create path."""
    row = conn.execute("SELECT argo_build_view('view', 'v_probe', %s)", (f"SELECT 1 AS {column}",)).fetchone()
    return str(row[0]) if row else ""


def test_v005_regrant_ran_a_planted_statement_and_v010_closes_it(warehouse_dsn: str, tmp_path: Path) -> None:
    before = tmp_path / "before_v010"
    before.mkdir()
    for migration in load_migrations():
        if migration.version < 10:
            (before / migration.path.name).write_text(migration.sql, encoding="utf-8")
    grantee = f"argo_t{os.getpid()}_{next(_counter)}_bi"
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn, before)
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(grantee)))
        try:
            assert _rebuild_probe(conn, "a") == "created"
            # The hole, on today's code: the grantee column is pasted into the GRANT.
            conn.execute(PLANT, ("PUBLIC; CREATE TABLE pwned_by_grantee ()", "SELECT"))
            assert _rebuild_probe(conn, "b") == "recreated"
            assert conn.execute("SELECT to_regclass('pwned_by_grantee') IS NOT NULL").fetchone() == (True,)

            apply_migrations(conn)  # V010 on top
            conn.execute("REVOKE ALL ON v_probe FROM PUBLIC")  # the planted statement's GRANT did run
            conn.execute(sql.SQL("GRANT SELECT ON v_probe TO {}").format(sql.Identifier(grantee)))
            conn.execute(PLANT, ("PUBLIC; CREATE TABLE pwned_again ()", "SELECT"))
            conn.execute(PLANT, ("PUBLIC", "SELECT ON v_probe TO PUBLIC; CREATE TABLE pwned_by_privilege (); --"))
            conn.execute(PLANT, ('"no such role"', "SELECT"))
            assert _rebuild_probe(conn, "c") == "recreated"
            made = conn.execute(
                "SELECT to_regclass('pwned_again') IS NULL, to_regclass('pwned_by_privilege') IS NULL,"
                "       has_table_privilege(%s, 'v_probe', 'SELECT'), has_table_privilege('public', 'v_probe', 'SELECT')",
                (grantee,),
            ).fetchone()
            left = conn.execute("SELECT count(*) FROM warehouse_view_grants").fetchone()
        finally:
            conn.execute("DROP VIEW IF EXISTS v_probe")
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(grantee)))
    # Nothing planted ran; the real grant to an existing role came back; PUBLIC got nothing.
    assert made == (True, True, True, False)
    assert left == (0,)


def test_v009_restores_saved_grants_as_data(warehouse_dsn: str, tmp_path: Path) -> None:
    """V009 swaps the mv_hourly_usage matview for a table and gives back its saved grants: a row
    planted in warehouse_view_grants is skipped, not run, while the real grant comes back."""
    from tests.integration.test_rollups import OLD_MATVIEW

    for migration in load_migrations():
        if migration.version < 9:
            (tmp_path / migration.path.name).write_text(migration.sql, encoding="utf-8")
    views = sql_dir() / "views"
    grantee = f"argo_t{os.getpid()}_{next(_counter)}_bi"
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn, tmp_path)
        for name in ("010_v_clean_readings", "030_v_sites", "040_v_meters"):
            conn.execute((views / f"{name}.sql").read_text(encoding="utf-8"))
        conn.execute("SELECT argo_build_view('materialized view', 'mv_hourly_usage', %s)", (OLD_MATVIEW,))
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(grantee)))
        try:
            conn.execute(sql.SQL("GRANT SELECT ON mv_hourly_usage TO {}").format(sql.Identifier(grantee)))
            conn.execute(
                "INSERT INTO warehouse_view_grants (view_name, grantee, privilege) VALUES "
                "('mv_hourly_usage', 'PUBLIC; CREATE TABLE pwned_v009_grantee ()', 'SELECT'), "
                "('mv_hourly_usage', 'PUBLIC', 'SELECT ON readings TO PUBLIC; CREATE TABLE pwned_v009_privilege (); --')"
            )
            assert "V009__rollups" in apply_migrations(conn)
            made = conn.execute(
                "SELECT (SELECT relkind FROM pg_class WHERE oid = 'mv_hourly_usage'::regclass),"
                "       to_regclass('pwned_v009_grantee') IS NULL, to_regclass('pwned_v009_privilege') IS NULL,"
                "       has_table_privilege(%s, 'mv_hourly_usage', 'SELECT'),"
                "       has_table_privilege('public', 'readings', 'SELECT')",
                (grantee,),
            ).fetchone()
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(grantee)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(grantee)))
    assert made == ("r", True, True, True, False)
