"""Migrations on a fresh database: the contract schema (§3), re-runs, concurrent runs, tampering."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from argo_energy.warehouse import MigrationError, apply_migrations, current_version
from argo_energy.warehouse.migrations import load_migrations, migrations_dir

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

ALL_LABELS = [m.label for m in load_migrations()]

# Contract §3, transcribed from neon-database-breakdown.md: column -> (type, nullable, default part).
TS = "timestamp with time zone"
CONTRACT: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "organizations": {
        "organization_id": ("text", False, None),
        "organization_name": ("text", False, None),
        "address": ("text", True, None),
        "city": ("text", True, None),
        "postcode": ("text", True, None),
        "country": ("text", True, None),
        "timezone": ("text", True, "'America/New_York'"),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
        "updated_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
    "devices": {
        "device_id": ("integer", False, None),
        "device_name": ("text", True, None),
        "organization_id": ("text", True, None),
        "device_type": ("text", True, None),
        "serial_number": ("text", True, None),
        "firmware_version": ("text", True, None),
        "last_seen": (TS, True, None),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
        "updated_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
    "channels": {
        "channel_id": ("integer", False, None),
        "channel_name": ("text", False, None),
        "device_id": ("integer", True, None),
        "organization_id": ("text", True, None),
        "channel_type": ("text", True, None),
        "unit": ("text", True, None),
        "description": ("text", True, None),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
        "updated_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
    "readings": {
        "id": ("bigint", False, "nextval("),
        "channel_id": ("integer", False, None),
        "timestamp": (TS, False, None),
        "energy_kwh": ("real", True, None),
        "power_kw": ("real", True, None),
        "voltage_v": ("real", True, None),
        "current_a": ("real", True, None),
        "power_factor": ("real", True, None),
        "reactive_power_kvar": ("real", True, None),
        "temperature_c": ("real", True, None),
        "relative_humidity": ("real", True, None),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
    "data_sync_status": {
        "id": ("integer", False, "nextval("),
        "organization_id": ("text", False, None),
        "channel_id": ("integer", True, None),
        "last_sync_timestamp": (TS, False, None),
        "last_reading_timestamp": (TS, True, None),
        "readings_count": ("integer", True, None),
        "sync_status": ("text", True, None),
        "error_message": ("text", True, None),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
    "ingestion_logs": {
        "id": ("integer", False, "nextval("),
        "organization_id": ("text", False, None),
        "channel_id": ("integer", False, None),
        "start_time": (TS, False, None),
        "end_time": (TS, False, None),
        "readings_fetched": ("integer", False, "0"),
        "readings_inserted": ("integer", False, "0"),
        "readings_rejected": ("integer", False, "0"),
        "status": ("text", False, "'success'"),
        "error_message": ("text", True, None),
        "created_at": (TS, True, "CURRENT_TIMESTAMP"),
    },
}
PRIMARY_KEYS = {
    "organizations": ["organization_id"],
    "devices": ["device_id"],
    "channels": ["channel_id"],
    "readings": ["id"],
    "data_sync_status": ["id"],
    "ingestion_logs": ["id"],
}
FOREIGN_KEYS = {
    ("devices", "organization_id", "organizations", "organization_id"),
    ("channels", "device_id", "devices", "device_id"),
    ("channels", "organization_id", "organizations", "organization_id"),
    ("readings", "channel_id", "channels", "channel_id"),
}
# index name -> (table, unique, key columns as pg_get_indexdef prints them)
INDEXES = {
    "organizations_pkey": ("organizations", True, "(organization_id)"),
    "devices_pkey": ("devices", True, "(device_id)"),
    "channels_pkey": ("channels", True, "(channel_id)"),
    "idx_devices_org": ("devices", False, "(organization_id)"),
    "idx_channels_org": ("channels", False, "(organization_id)"),
    "idx_readings_unique": ("readings", True, '(channel_id, "timestamp")'),
    "idx_readings_channel_timestamp": ("readings", False, '(channel_id, "timestamp" DESC)'),
    "idx_readings_timestamp": ("readings", False, '("timestamp" DESC)'),
    "idx_sync_status_org": ("data_sync_status", False, "(organization_id, last_sync_timestamp DESC)"),
    "idx_ingestion_logs_time": ("ingestion_logs", False, "(organization_id, channel_id, start_time, end_time)"),
}


def test_fresh_database_gets_the_contract_schema(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        assert current_version(conn) is None, "a fresh database has no recorded version"
        assert apply_migrations(conn) == ALL_LABELS
        assert current_version(conn) == load_migrations()[-1].version
        with conn.cursor() as cur:
            for table, columns in CONTRACT.items():
                cur.execute(
                    "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s",
                    (table,),
                )
                actual = {name: (dtype, nullable == "YES", default) for name, dtype, nullable, default in cur}
                for column, (dtype, nullable, default) in columns.items():
                    assert column in actual, f"{table}.{column} missing"
                    got_type, got_nullable, got_default = actual[column]
                    assert got_type == dtype, f"{table}.{column}: type {got_type}, contract {dtype}"
                    assert got_nullable == nullable, f"{table}.{column}: nullable {got_nullable}, contract {nullable}"
                    if default is None:
                        assert got_default is None, f"{table}.{column}: unexpected default {got_default}"
                    else:
                        assert default in (got_default or ""), (
                            f"{table}.{column}: default {got_default!r}, contract {default!r}"
                        )
                cur.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                    "WHERE i.indrelid = %s::regclass AND i.indisprimary",
                    (table,),
                )
                assert [r[0] for r in cur] == PRIMARY_KEYS[table], f"{table}: primary key"
            cur.execute(
                """
                SELECT cl.relname, a.attname, rcl.relname, ra.attname
                  FROM pg_constraint c
                  JOIN pg_class cl ON cl.oid = c.conrelid
                  JOIN pg_class rcl ON rcl.oid = c.confrelid
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                  JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
                 WHERE c.contype = 'f' AND cl.relname = ANY(%s)
                """,
                (list(CONTRACT),),
            )
            assert set(cur.fetchall()) == FOREIGN_KEYS
            cur.execute(
                "SELECT indexrelid::regclass::text, indrelid::regclass::text, indisunique, "
                "pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid::regclass::text = ANY(%s)",
                (list(INDEXES),),
            )
            found = {name: (table, unique, ddl) for name, table, unique, ddl in cur}
            for name, (table, unique, keys) in INDEXES.items():
                assert name in found, f"index {name} missing"
                assert found[name][:2] == (table, unique), f"index {name}: {found[name]}"
                assert found[name][2].endswith(f"USING btree {keys}"), f"index {name}: {found[name][2]}"


def test_rerun_is_a_no_op(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        first = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1").fetchall()
        conn.commit()
        assert apply_migrations(conn) == [], "a second run applies nothing"
        again = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1").fetchall()
    assert again == first
    assert [row[1] for row in first] == [m.checksum for m in load_migrations()]


def test_two_runs_at_once_apply_each_migration_once(warehouse_dsn: str) -> None:
    barrier = threading.Barrier(2, timeout=30)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(warehouse_dsn) as conn:
                barrier.wait()
                results.append(apply_migrations(conn))
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, f"a concurrent run failed: {errors!r}"
    assert sorted(results, key=len) == [[], ALL_LABELS], f"one run applies all, the other none: {results}"
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == [m.version for m in load_migrations()]


def _copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


def test_an_edited_applied_migration_is_refused(warehouse_dsn: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn, directory)
        first = sorted(directory.glob("V*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after it was applied\n")
        with pytest.raises(MigrationError, match="never edit an applied migration"):
            apply_migrations(conn, directory)


def test_code_older_than_the_database_is_refused(warehouse_dsn: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn, directory)
        sorted(directory.glob("V*.sql"))[-1].unlink()
        with pytest.raises(MigrationError, match="older than the database"):
            apply_migrations(conn, directory)


def test_a_failing_migration_leaves_the_database_as_it_was(warehouse_dsn: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn, directory)
        version = current_version(conn)
        (directory / "V900__breaks.sql").write_text(
            "CREATE TABLE half_done (id integer);\nSELECT 1 / 0;\n", encoding="utf-8"
        )
        with pytest.raises(psycopg.errors.DivisionByZero):
            apply_migrations(conn, directory)
        assert current_version(conn) == version
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
