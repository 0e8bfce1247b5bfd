"""Building the views: idempotent and lock-free when unchanged, definition-hash rebuilds, refresh, plans."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from argo_energy.warehouse import WarehouseError, apply_migrations, build_views, refresh_hourly_usage, sql_dir
from argo_energy.warehouse.views import VIEW_FILES, view_name
from tests.fixtures.seed_legacy import SEED_VIEWS_SQL

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]
log = logging.getLogger(__name__)

VIEW_NAMES = [view_name(path) for path in VIEW_FILES]


@pytest.fixture
def built(warehouse_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A migrated database with a little data and the views built."""
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        conn.execute(
            """
            INSERT INTO organizations (organization_id, organization_name) VALUES ('s1', 'Site 1');
            INSERT INTO channels (channel_id, channel_name, organization_id) VALUES (1, 'Meter 1', 's1');
            INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw)
            SELECT 1, ts, 0.25, 1.0
              FROM generate_series(timestamptz '2024-06-01 00:00Z', timestamptz '2024-06-01 23:45Z',
                                   interval '15 minutes') AS ts;
            """
        )
        conn.commit()
        assert set(build_views(conn).values()) == {"created"}
        refresh_hourly_usage(conn)  # the rollups under mv_hourly_usage and v_readings_daily (V009)
        yield conn


def _registry(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, Any]]:
    rows = conn.execute("SELECT view_name, definition_hash, built_at FROM warehouse_view_definitions").fetchall()
    conn.rollback()
    return {name: (digest, built_at) for name, digest, built_at in rows}


def _tamper(conn: psycopg.Connection[Any], name: str) -> None:
    """Make the recorded hash differ, as if the file's definition had changed."""
    conn.execute("UPDATE warehouse_view_definitions SET definition_hash = 'old' WHERE view_name = %s", (name,))
    conn.commit()


def test_view_files_are_the_directory_in_dependency_order() -> None:
    on_disk = sorted(p.relative_to(sql_dir()).as_posix() for p in (sql_dir() / "views").glob("*.sql"))
    assert list(VIEW_FILES) == on_disk
    assert VIEW_NAMES[:2] == ["v_clean_readings", "v_sites"], "mv_hourly_usage is a table since V009"


def test_second_build_does_nothing(built: psycopg.Connection[Any]) -> None:
    before = _registry(built)
    assert build_views(built) == dict.fromkeys(VIEW_NAMES, "unchanged")
    assert _registry(built) == before, "nothing rebuilt, nothing re-recorded"


def test_unchanged_build_never_waits_for_a_reader(built: psycopg.Connection[Any], warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as reader:
        reader.execute("SELECT * FROM v_latest_readings").fetchall()  # holds its lock until rollback
        with psycopg.connect(warehouse_dsn, options="-c lock_timeout=500") as builder:
            assert set(build_views(builder).values()) == {"unchanged"}
            # Control: a changed definition does need the view's lock, and would wait.
            _tamper(builder, "v_latest_readings")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                build_views(builder)
        reader.rollback()


def test_hourly_usage_is_a_table_kept_by_the_refresh(built: psycopg.Connection[Any]) -> None:
    kind = built.execute("SELECT relkind FROM pg_class WHERE oid = 'mv_hourly_usage'::regclass").fetchone()
    assert kind == ("r",), "a table since V009, not a materialized view"
    assert built.execute("SELECT sum(reading_count) FROM v_readings_hourly").fetchone() == (96,)
    built.rollback()
    assert build_views(built) == dict.fromkeys(VIEW_NAMES, "unchanged")


def test_unmanaged_dependent_stops_a_rebuild_and_nothing_changes(built: psycopg.Connection[Any]) -> None:
    built.execute("CREATE VIEW my_report AS SELECT meter_id, sum(total_kwh) AS kwh FROM v_readings_hourly GROUP BY 1")
    built.commit()
    with pytest.raises(psycopg.errors.RaiseException, match="my_report depends on it"):
        built.execute("SELECT argo_build_view('view', 'v_readings_hourly', 'SELECT 1 AS meter_id, 2 AS other')")
    built.rollback()
    assert built.execute("SELECT to_regclass('my_report') IS NOT NULL").fetchone() == (True,)
    built.rollback()
    assert build_views(built) == dict.fromkeys(VIEW_NAMES, "unchanged"), "the failed build was rolled back"


def test_view_whose_columns_change_is_recreated(built: psycopg.Connection[Any]) -> None:
    # Definitions CREATE OR REPLACE cannot apply (columns renamed, both ways): dependents are dropped first.
    action = built.execute(
        "SELECT argo_build_view('view', 'v_meters', 'SELECT channel_name AS label, channel_id AS meter_id FROM channels')"
    ).fetchone()
    built.commit()
    assert action == ("recreated",)
    gone = {"v_readings_enriched", "v_readings_hourly", "v_readings_daily", "v_readings_monthly"}
    assert gone.isdisjoint(_registry(built)), "the managed dependents were dropped and deregistered"
    actions = build_views(built)
    assert actions["v_meters"] == "recreated"
    assert {actions[name] for name in gone} == {"created"}
    # The data (one UTC day) covers two New York days.
    assert built.execute("SELECT count(*) FROM v_readings_daily").fetchone() == (2,)
    built.rollback()


def test_plain_view_change_is_replaced_in_place(built: psycopg.Connection[Any]) -> None:
    oid = built.execute("SELECT 'v_sites'::regclass::oid").fetchone()
    built.rollback()
    _tamper(built, "v_sites")
    assert build_views(built)["v_sites"] == "replaced"
    assert built.execute("SELECT 'v_sites'::regclass::oid").fetchone() == oid, "same object (CREATE OR REPLACE)"
    built.rollback()


def test_refresh_recomputes_only_what_changed(built: psycopg.Connection[Any]) -> None:
    assert refresh_hourly_usage(built).markers == 0, "the fixture refreshed already"
    built.execute("""UPDATE readings SET energy_kwh = 0.5 WHERE "timestamp" = '2024-06-01 10:15Z'""")
    built.commit()
    done = refresh_hourly_usage(built)
    assert (done.hours, done.hours_written, done.days, done.days_written) == (1, 1, 1, 1)
    assert built.execute(
        "SELECT total_kwh FROM mv_hourly_usage WHERE hour = '2024-06-01 10:00Z'").fetchone() == (1.25,)
    built.rollback()


def test_build_before_migrations_says_what_to_do(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn, pytest.raises(WarehouseError, match="apply the migrations"):
        build_views(conn)


def test_each_file_runs_alone_as_a_sql_task_would(warehouse_dsn: str) -> None:
    """One transaction per file in VIEW_FILES order, as SQLExecuteQueryOperator tasks run them."""
    import jinja2

    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
    for path in VIEW_FILES:
        text = (sql_dir() / path).read_text(encoding="utf-8")
        # SQLExecuteQueryOperator renders .sql files with Jinja: the text must come through unchanged.
        assert jinja2.Template(text, keep_trailing_newline=True).render() == text, f"{path} has Jinja syntax"
        with psycopg.connect(warehouse_dsn, autocommit=True) as task_conn:
            assert task_conn.execute(text).fetchall() == [("created",)], path
    with psycopg.connect(warehouse_dsn) as conn:
        assert build_views(conn) == dict.fromkeys(VIEW_NAMES, "unchanged")
        assert refresh_hourly_usage(conn).markers == 0


def _readings_rows_read(plan: dict[str, Any]) -> int:
    """Rows the plan's scans of ``readings`` produced or filtered out (EXPLAIN ANALYZE), whatever the scan type.

    Planner-independent: PostgreSQL 15 scans the seed's DISTINCT ON view sequentially, 17 walks the
    whole index instead; both read every reading, which is what the test compares.
    """
    read = 0
    if plan.get("Relation Name") == "readings":
        loops = int(plan.get("Actual Loops", 1))
        read += (int(plan.get("Actual Rows", 0)) + int(plan.get("Rows Removed by Filter", 0))) * loops
    for child in plan.get("Plans", []):
        read += _readings_rows_read(child)
    return read


def test_latest_readings_probe_the_index_instead_of_scanning(warehouse_dsn: str) -> None:
    channels, per_channel = 50, 2000
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn)
        conn.execute("INSERT INTO organizations (organization_id, organization_name) VALUES ('s1', 'Site 1')")
        conn.execute(
            "INSERT INTO channels (channel_id, channel_name, organization_id) "
            "SELECT c, 'Meter ' || c, 's1' FROM generate_series(1, %s) AS c",
            (channels,),
        )
        conn.execute(
            """
            INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw)
            SELECT c, timestamptz '2024-01-01 00:00Z' + n * interval '15 minutes', 0.25, CASE WHEN n %% 97 = 0 OR (c = 7 AND n > 1990) THEN 0 ELSE 1 END
              FROM generate_series(1, %(channels)s) AS c, generate_series(1, %(per_channel)s) AS n;
            """,
            {"channels": channels, "per_channel": per_channel},
        )
        build_views(conn)
        conn.execute("CREATE SCHEMA seed_legacy; SET search_path = seed_legacy, public")
        conn.execute(SEED_VIEWS_SQL.read_text(encoding="utf-8"))
        conn.execute("RESET search_path; ANALYZE")

        def plan(view: str) -> dict[str, Any]:
            row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM {view}").fetchone()  # noqa: S608 - fixed names
            assert row is not None
            value = row[0]
            return (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]

        total = channels * per_channel
        managed = _readings_rows_read(plan("v_latest_readings"))
        assert managed < total // 20, f"v_latest_readings read {managed} of {total} readings"
        seed = _readings_rows_read(plan("seed_legacy.v_latest_readings"))
        assert seed >= total * 0.9, f"control: the seed's form reads every reading ({seed} of {total})"

        started = time.perf_counter()
        rows = conn.execute("SELECT * FROM v_latest_readings").fetchall()
        elapsed_ms = (time.perf_counter() - started) * 1000
        legacy = conn.execute("SELECT * FROM seed_legacy.v_latest_readings ORDER BY meter_id").fetchall()
    log.info("v_latest_readings: %s meters in %.1f ms (%s readings)", len(rows), elapsed_ms, channels * per_channel)
    assert len(rows) == channels
    assert dict((r[0], r[4]) for r in rows)[7] < dict((r[0], r[4]) for r in rows)[6], "meter 7 walks back past zeros"
    # The seed's ten columns come first, in its order, with the same values.
    assert [r[:10] for r in sorted(rows)] == [tuple(r) for r in legacy], "same answers as the seed's view"


def test_rebuilt_views_keep_their_grants(built: psycopg.Connection[Any]) -> None:
    role = f"argo_reader_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide: unique, dropped below
    built.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    built.commit()
    try:
        for view in ("mv_hourly_usage", "v_readings_hourly", "v_meters"):
            built.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(view), sql.Identifier(role)))
        built.execute("SELECT argo_build_view('view', 'v_meters', 'SELECT channel_id AS label FROM channels')")
        built.commit()
        actions = build_views(built)
        assert (actions["v_meters"], actions["v_readings_hourly"]) == ("recreated", "created")
        for view in ("mv_hourly_usage", "v_readings_hourly", "v_meters"):
            granted = built.execute("SELECT has_table_privilege(%s, %s, 'SELECT')", (role, view)).fetchone()
            assert granted == (True,), f"{role} lost SELECT on {view} when it was rebuilt"
        assert built.execute("SELECT count(*) FROM warehouse_view_grants").fetchone() == (0,), "all restored"
        built.rollback()
    finally:
        built.rollback()
        built.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        built.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        built.commit()
