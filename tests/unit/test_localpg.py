from __future__ import annotations

import psycopg

from devtools.localpg import PgServer, replace_dbname


def test_replace_dbname_keeps_credentials_and_query():
    dsn = "postgresql://u:p@h:5433/postgres?sslmode=disable"
    assert replace_dbname(dsn, "x") == "postgresql://u:p@h:5433/x?sslmode=disable"


def test_fresh_database_is_empty_and_dropped(pg_server: PgServer):
    dsn = pg_server.create_database("argo_localpg_selftest")
    with psycopg.connect(dsn) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0, "a new database must start empty"
    pg_server.drop_database("argo_localpg_selftest")
    with psycopg.connect(pg_server.admin_dsn) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'argo_localpg_selftest'").fetchone()
    assert left[0] == 0, "drop_database must remove the database"
