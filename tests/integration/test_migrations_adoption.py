"""Adopting a database built by the seed's scripts: every row kept, naive times read as New York time."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from argo_energy.warehouse import apply_migrations, build_views, current_version
from argo_energy.warehouse.migrations import load_migrations
from tests.fixtures.seed_legacy import build_seed_database

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

NEW_YORK = ZoneInfo("America/New_York")
TABLES_AND_KEYS = {
    "organizations": "organization_id",
    "devices": "device_id",
    "channels": "channel_id",
    "readings": "id",
    "data_sync_status": "id",
    "ingestion_logs": "id",
}


def new_york_instant(naive: datetime) -> datetime:
    """A New York wall-clock time as an instant, by PostgreSQL's rule for the DST edges.

    Ambiguous (the repeated hour): standard time, the later instant. Nonexistent (the skipped
    hour): the offset in force before the change. Computed with zoneinfo, independently of SQL.
    """
    first = naive.replace(tzinfo=NEW_YORK, fold=0)
    second = naive.replace(tzinfo=NEW_YORK, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    exists = first.astimezone(UTC).astimezone(NEW_YORK).replace(tzinfo=None) == naive
    return (second if exists else first).astimezone(UTC)


def _rows(conn: psycopg.Connection[Any], table: str, key: str) -> dict[Any, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT * FROM {table}")  # noqa: S608 - constant table names of this test
        return {row[key]: row for row in cur.fetchall()}


def _snapshot(dsn: str) -> dict[str, dict[Any, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        snap = {table: _rows(conn, table, key) for table, key in TABLES_AND_KEYS.items()}
        snap["playing_with_neon"] = _rows(conn, "playing_with_neon", "id")
        snap["neon_auth.users_sync"] = _rows(conn, "neon_auth.users_sync", "id")
    return snap


def _as_real(value: float | None) -> float | None:
    return None if value is None else struct.unpack("f", struct.pack("f", value))[0]


def _expected(value: Any) -> Any:
    return new_york_instant(value) if isinstance(value, datetime) and value.tzinfo is None else value


def test_seed_database_is_adopted_with_every_row_kept(warehouse_dsn: str) -> None:
    build_seed_database(warehouse_dsn)
    before = _snapshot(warehouse_dsn)
    readings_before = before["readings"]
    assert len(readings_before) == 3 * 96 + 3 * 96 + 96, "seed fixture: readings of channels 201, 202, 301"

    # The readings at nonexistent New York times whose instant another reading of the channel has.
    instants = {(r["channel_id"], new_york_instant(r["timestamp"])): i for i, r in readings_before.items()}
    colliding = {
        i
        for i, r in readings_before.items()
        if new_york_instant(r["timestamp"]).astimezone(NEW_YORK).replace(tzinfo=None) != r["timestamp"]
        and instants[(r["channel_id"], new_york_instant(r["timestamp"]))] != i
    }
    assert len(colliding) == 4, "channel 201 has 02:00-02:45 on 2024-03-10 and 03:00-03:45 as well"

    with psycopg.connect(warehouse_dsn) as conn:
        assert apply_migrations(conn) == [m.label for m in load_migrations()]
        assert apply_migrations(conn) == [], "adoption is recorded: a rerun does nothing"
    after = _snapshot(warehouse_dsn)

    for table in TABLES_AND_KEYS:
        rows_before, rows_after = before[table], after[table]
        expected_keys = set(rows_before) - (colliding if table == "readings" else set())
        assert set(rows_after) == expected_keys, f"{table}: rows before/after differ"
        for key in expected_keys:
            for column, value in rows_before[key].items():
                assert rows_after[key][column] == _expected(value), (
                    f"{table}[{key}].{column}: {rows_after[key][column]!r}, expected {_expected(value)!r} "
                    f"(from {value!r})"
                )

    with psycopg.connect(warehouse_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM readings_rejected WHERE source = 'adoption'")
        moved = cur.fetchall()
    assert len(moved) == len(colliding), "every colliding reading is kept in readings_rejected"
    for row in moved:
        legacy_id = int(row["reason"].split("legacy reading id ")[1].split(" ")[0])
        original = readings_before[legacy_id]
        assert legacy_id in colliding
        assert row["channel_id"] == original["channel_id"]
        assert row["timestamp"] == new_york_instant(original["timestamp"])
        for column in ("energy_kwh", "power_kw", "voltage_v", "current_a", "power_factor"):
            # readings_rejected keeps the exact single-precision value in double precision.
            assert row[column] == _as_real(original[column]), f"moved reading {legacy_id}.{column}"
        assert "does not exist in America/New_York" in row["reason"]

    # Untouched: the legacy table and the other schema (its naive column stays naive).
    assert after["playing_with_neon"] == before["playing_with_neon"]
    assert after["neon_auth.users_sync"] == before["neon_auth.users_sync"]
    with psycopg.connect(warehouse_dsn) as conn:
        types = dict(
            conn.execute(
                "SELECT table_schema || '.' || table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE data_type LIKE 'timestamp%%' "
                "AND table_schema IN ('public', 'neon_auth')"
            ).fetchall()
        )
    assert types.pop("neon_auth.users_sync.created_at") == "timestamp without time zone"
    assert set(types.values()) == {"timestamp with time zone"}, f"naive columns left: {types}"


def test_adopted_database_gets_the_managed_views(warehouse_dsn: str) -> None:
    build_seed_database(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        legacy_latest = conn.execute("SELECT pg_get_viewdef('v_latest_readings')").fetchone()
        assert legacy_latest is not None
        assert "DISTINCT ON" in legacy_latest[0], "the seed's view is the DISTINCT ON form"
        conn.commit()
        apply_migrations(conn)
        actions = build_views(conn)
        assert set(actions.values()) == {"created"}, f"the seed's views were released by V003: {actions}"
        latest = conn.execute("SELECT pg_get_viewdef('v_latest_readings')").fetchone()
        assert latest is not None
        assert "DISTINCT" not in latest[0], "the managed view has no DISTINCT ON"
        assert "LATERAL" in latest[0], "the managed view probes each meter with LATERAL"
        # Channel 202's fall-back day: the seed kept one reading per naive wall-clock time, so the
        # site-local day 2024-11-03 (100 quarter-hours long) has 96 of them.
        day = conn.execute(
            "SELECT reading_count, expected_readings FROM v_readings_daily "
            "WHERE meter_id = 202 AND reading_date = date '2024-11-03'"
        ).fetchone()
    assert day == (96, 100)


def test_seed_database_already_on_timestamptz_is_adopted(warehouse_dsn: str) -> None:
    """The production branch ran the seed's §5.2 migration long ago: only its views and ingestion_logs change."""
    build_seed_database(warehouse_dsn, already_timestamptz=True)
    before = _snapshot(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        build_views(conn)
        assert conn.execute("SELECT count(*) FROM readings_rejected").fetchone() == (0,)
    after = _snapshot(warehouse_dsn)
    for table in TABLES_AND_KEYS:
        for key, row in before[table].items():
            for column, value in row.items():
                assert after[table][key][column] == _expected(value), f"{table}[{key}].{column}"


def test_unknown_dependent_of_a_seed_view_stops_adoption_unchanged(warehouse_dsn: str) -> None:
    build_seed_database(warehouse_dsn)
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("CREATE VIEW analyst_dashboard AS SELECT meter_id, power_kw FROM v_latest_readings")
    with psycopg.connect(warehouse_dsn) as conn:
        with pytest.raises(psycopg.errors.DependentObjectsStillExist, match="analyst_dashboard"):
            apply_migrations(conn)
        assert current_version(conn) is None, "nothing recorded"
        column_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'readings' AND column_name = 'timestamp'"
        ).fetchone()
    assert column_type == ("timestamp without time zone",), "the failed adoption changed nothing"
