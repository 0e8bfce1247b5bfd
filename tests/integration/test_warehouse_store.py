"""The write API on real PostgreSQL: upsert semantics, rejects, audit rows, atomicity, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from argo_energy.models import Channel, Device, Organization, Reading, Rejected
from argo_energy.warehouse import (
    SyncStatus,
    WarehouseError,
    apply_migrations,
    completed_windows,
    log_window_failure,
    record_sync_status,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
    write_window,
)

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

START = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)  # local midnight in New York (EDT)
END = START + timedelta(days=1)
ORG = "23271"
CHANNEL = 501


def quarter_hours(start: datetime, count: int, *, energy: float = 0.25) -> list[Reading]:
    """``count`` readings from ``start``; values are multiples of 1/4, exact in single precision."""
    return [
        Reading(
            ts=start + timedelta(minutes=15 * i),
            energy_kwh=energy * (1 + i % 4),
            power_kw=energy * 4 * (1 + i % 4),
            voltage_v=230.0 + i % 2,
            power_factor=None if i % 10 == 0 else 0.75,
        )
        for i in range(count)
    ]


@pytest.fixture
def conn(warehouse_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(warehouse_dsn) as connection:
        apply_migrations(connection)
        upsert_organizations(connection, [Organization(ORG, "Wilson Center", timezone="America/New_York")])
        upsert_devices(connection, [Device(9001, "Main gateway", ORG)])
        upsert_channels(connection, [Channel(CHANNEL, "Main incomer", 9001, ORG), Channel(502, "HVAC", 9001, ORG)])
        yield connection


def stored(conn: psycopg.Connection[Any], channel_id: int = CHANNEL) -> dict[datetime, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            'SELECT *, xmin::text AS xmin FROM readings WHERE channel_id = %s ORDER BY "timestamp"', (channel_id,)
        )
        rows = {row["timestamp"]: row for row in cur.fetchall()}
    conn.rollback()
    return rows


def logs(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM ingestion_logs ORDER BY id")
        rows = cur.fetchall()
    conn.rollback()
    return rows


def write(conn: psycopg.Connection[Any], readings: list[Reading], rejected: list[Rejected] | None = None, **kw: Any):
    rejected = rejected or []
    return write_window(
        conn,
        organization_id=ORG,
        channel_id=kw.pop("channel_id", CHANNEL),
        start=kw.pop("start", START),
        end=kw.pop("end", END),
        readings=readings,
        rejected=rejected,
        fetched=kw.pop("fetched", len(readings) + len(rejected)),
        **kw,
    )


def test_first_write_inserts_every_reading_with_its_values(conn: psycopg.Connection[Any]) -> None:
    readings = quarter_hours(START, 96)
    result = write(conn, readings, run_id="manual__1")
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (96, 0, 0, 0)
    rows = stored(conn)
    assert len(rows) == 96
    for reading in readings:
        row = rows[reading.ts]
        for field in ("energy_kwh", "power_kw", "voltage_v", "current_a", "power_factor"):
            assert row[field] == getattr(reading, field), f"{reading.ts} {field}"
        assert row["updated_at"] is None, "a new reading was never revised"
    [log] = logs(conn)
    assert log["id"] == result.log_id
    assert (log["status"], log["readings_fetched"], log["readings_inserted"], log["readings_rejected"]) == (
        "success",
        96,
        96,
        0,
    )
    assert (log["readings_updated"], log["readings_unchanged"], log["run_id"]) == (0, 0, "manual__1")
    assert (log["start_time"], log["end_time"], log["organization_id"], log["channel_id"]) == (START, END, ORG, CHANNEL)


def test_unchanged_rerun_rewrites_nothing(conn: psycopg.Connection[Any]) -> None:
    readings = quarter_hours(START, 96)
    write(conn, readings)
    before = stored(conn)
    result = write(conn, readings)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 96)
    after = stored(conn)
    assert {ts: row["xmin"] for ts, row in after.items()} == {ts: row["xmin"] for ts, row in before.items()}, (
        "unchanged rows keep their row version (not rewritten)"
    )
    assert len(logs(conn)) == 2, "one ingestion_logs row per call"


def test_late_correction_wins_and_only_it_is_updated(conn: psycopg.Connection[Any]) -> None:
    readings = quarter_hours(START, 96)
    write(conn, readings)
    before = stored(conn)
    revised = list(readings)
    revised[10] = Reading(readings[10].ts, energy_kwh=7.5, power_kw=30.0, voltage_v=readings[10].voltage_v)
    # A value that disappears is a change too (NULL, never left stale).
    revised[20] = Reading(readings[20].ts, energy_kwh=readings[20].energy_kwh, power_kw=None)
    result = write(conn, revised)
    assert (result.inserted, result.updated, result.unchanged) == (0, 2, 94)
    after = stored(conn)
    assert (after[readings[10].ts]["energy_kwh"], after[readings[10].ts]["power_kw"]) == (7.5, 30.0)
    assert after[readings[20].ts]["power_kw"] is None
    changed = {ts for ts in after if after[ts]["xmin"] != before[ts]["xmin"]}
    assert changed == {readings[10].ts, readings[20].ts}
    assert all((after[ts]["updated_at"] is not None) == (ts in changed) for ts in after)
    assert after[readings[10].ts]["id"] == before[readings[10].ts]["id"], "an update keeps the row"
    assert logs(conn)[-1]["readings_updated"] == 2


def test_rejects_are_kept_with_reasons_and_not_duplicated_by_reruns(conn: psycopg.Connection[Any]) -> None:
    readings = quarter_hours(START, 94)
    rejected = [
        Rejected(Reading(START + timedelta(minutes=15 * 94), power_kw=-3.0, energy_kwh=1e300), "negative_power"),
        Rejected(
            Reading(START + timedelta(minutes=15 * 95), power_factor=1.7),
            "power_factor_out_of_range",
            "power_factor_out_of_range: power_factor=1.7",
        ),
    ]
    first = write(conn, readings, rejected, fetched=96)
    assert (first.inserted, first.rejected) == (94, 2)
    # The rerun sees a revised bad value: same reason, new detail and value, so the row is refreshed.
    revised = Rejected(
        Reading(rejected[1].reading.ts, power_factor=1.9), rejected[1].reason, "power_factor_out_of_range: power_factor=1.9"
    )
    rejected[1] = revised
    write(conn, readings, rejected, fetched=96)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM readings_rejected ORDER BY \"timestamp\"")
        rows = cur.fetchall()
    assert [(r["timestamp"], r["reason"]) for r in rows] == [(r.reading.ts, r.reason) for r in rejected]
    assert rows[0]["power_kw"] == -3.0
    assert rows[0]["energy_kwh"] == 1e300, "the absurd value is stored as received (double precision)"
    assert (rows[1]["power_factor"], rows[1]["detail"]) == (1.9, "power_factor_out_of_range: power_factor=1.9")
    assert rows[0]["detail"] is None, "an empty detail is stored as NULL"
    assert all((r["window_start"], r["window_end"], r["source"]) == (START, END, "ingestion") for r in rows)
    assert rows[0]["last_seen_at"] > rows[0]["created_at"], "the rerun refreshed the existing reject"
    assert [log["readings_rejected"] for log in logs(conn)] == [2, 2]
    assert stored(conn).keys().isdisjoint({r.reading.ts for r in rejected}), "rejects never reach readings"


def test_failing_write_leaves_nothing(conn: psycopg.Connection[Any]) -> None:
    # Fail at the very last statement (the log row), after readings and rejects went in.
    conn.execute(
        """
        CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'log table unavailable'; END $$;
        CREATE TRIGGER refuse_log BEFORE INSERT ON ingestion_logs FOR EACH ROW EXECUTE FUNCTION refuse_log();
        """
    )
    conn.commit()
    rejected = [Rejected(Reading(START, power_kw=-1.0), "negative power")]
    with pytest.raises(psycopg.errors.RaiseException, match="log table unavailable"):
        write(conn, quarter_hours(START + timedelta(minutes=15), 95), rejected)
    assert stored(conn) == {}
    assert conn.execute("SELECT count(*) FROM readings_rejected").fetchone() == (0,)
    conn.rollback()
    assert logs(conn) == []
    # The connection is usable again: the temp staging table did not survive the rollback either.
    conn.execute("DROP TRIGGER refuse_log ON ingestion_logs")
    conn.commit()
    assert write(conn, quarter_hours(START, 96)).inserted == 96


def test_unknown_channel_fails_and_is_logged_by_the_failure_call(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        write(conn, quarter_hours(START, 4), channel_id=999)
    assert logs(conn) == []
    log_window_failure(
        conn, organization_id=ORG, channel_id=999, start=START, end=END, error="x" * 20_000, fetched=4
    )
    [log] = logs(conn)
    assert (log["status"], log["readings_fetched"], log["readings_inserted"]) == ("failure", 4, 0)
    assert len(log["error_message"]) == 10_000, "very long errors are truncated, not refused"


def test_overlapping_concurrent_writers_neither_deadlock_nor_lose_rows(
    conn: psycopg.Connection[Any], warehouse_dsn: str
) -> None:
    """Two workers rewrite overlapping windows of one channel (and another channel) at the same time."""
    rounds = 8
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []
    inserted: list[int] = []
    day1 = (START, END)
    day2 = (START + timedelta(hours=12), END + timedelta(hours=12))

    def worker(window: tuple[datetime, datetime], offset: float) -> None:
        try:
            with psycopg.connect(warehouse_dsn) as own:
                barrier.wait()
                for i in range(rounds):
                    for channel in (CHANNEL, 502):
                        readings = quarter_hours(window[0], 96, energy=0.25 * (1 + (i + offset) % 3))
                        result = write(own, readings, channel_id=channel, start=window[0], end=window[1])
                        inserted.append(result.inserted)
        except BaseException as exc:  # re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(day1, 0)), threading.Thread(target=worker, args=(day2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, f"a concurrent writer failed: {errors!r}"
    assert sum(inserted) == 2 * 144, "each (channel, timestamp) inserted exactly once over all calls"
    assert len(stored(conn)) == 144
    assert len(stored(conn, 502)) == 144
    assert len(logs(conn)) == 2 * 2 * rounds


def test_writes_need_aware_times_and_consistent_input(conn: psycopg.Connection[Any]) -> None:
    naive = datetime(2024, 6, 3, 4, 0)  # the error under test
    with pytest.raises(ValueError, match="timezone-aware"):
        write(conn, [Reading(naive, energy_kwh=1.0)])
    with pytest.raises(ValueError, match="outside the window"):
        write(conn, quarter_hours(END, 1))
    with pytest.raises(ValueError, match="given twice with different values"):
        write(conn, [Reading(START, energy_kwh=1.0), Reading(START, energy_kwh=2.0)])
    with pytest.raises(ValueError, match="empty window"):
        write(conn, [], start=END, end=START)
    assert write(conn, [Reading(START, energy_kwh=1.0), Reading(START, energy_kwh=1.0)]).inserted == 1


def test_a_connection_inside_a_transaction_is_refused(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT 1")  # opens a transaction (not autocommit)
    with pytest.raises(WarehouseError, match="not idle"):
        write(conn, quarter_hours(START, 1))
    conn.rollback()


def test_dict_row_connections_work(warehouse_dsn: str, conn: psycopg.Connection[Any]) -> None:
    """Airflow's connection extra {"cursor": "dictcursor"} makes dict rows the default."""
    with psycopg.connect(warehouse_dsn, row_factory=dict_row) as dict_conn:
        assert write(dict_conn, quarter_hours(START, 8)).inserted == 8
        assert completed_windows(dict_conn, [CHANNEL], START, END) == {(CHANNEL, START, END)}


def test_completed_windows_lists_only_successes_inside_the_range(conn: psycopg.Connection[Any]) -> None:
    write(conn, quarter_hours(START, 96), run_id="scheduled__a")
    write(conn, quarter_hours(END, 96), start=END, end=END + timedelta(days=1), run_id="scheduled__b")
    log_window_failure(conn, organization_id=ORG, channel_id=502, start=START, end=END, error="HTTP 500")
    every = completed_windows(conn, [CHANNEL, 502], START, END + timedelta(days=1))
    assert every == {(CHANNEL, START, END), (CHANNEL, END, END + timedelta(days=1))}
    assert completed_windows(conn, [CHANNEL, 502], START, END) == {(CHANNEL, START, END)}
    assert completed_windows(conn, [502], START, END + timedelta(days=1)) == set()
    assert completed_windows(conn, [CHANNEL], START, END + timedelta(days=1), run_id="scheduled__b") == {
        (CHANNEL, END, END + timedelta(days=1))
    }
    assert all(s.tzinfo == UTC and e.tzinfo == UTC for _, s, e in every)


def test_metadata_upserts_touch_updated_at_only_on_change(conn: psycopg.Connection[Any]) -> None:
    def org_row() -> dict[str, Any]:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT * FROM organizations WHERE organization_id = %s", (ORG,))
            row = cur.fetchone()
        conn.rollback()
        assert row is not None
        return row

    first = org_row()
    same = upsert_organizations(conn, [Organization(ORG, "Wilson Center", timezone="America/New_York")])
    assert (same.inserted, same.updated, same.unchanged) == (0, 0, 1)
    assert org_row()["updated_at"] == first["updated_at"]

    # No time zone from the API: the stored one stays (it decides the site's calendar).
    renamed = upsert_organizations(conn, [Organization(ORG, "Wilson Center East", city="Boston")])
    assert (renamed.inserted, renamed.updated) == (0, 1)
    row = org_row()
    assert (row["organization_name"], row["city"], row["timezone"]) == ("Wilson Center East", "Boston", "America/New_York")
    assert row["updated_at"] > first["updated_at"]

    new = upsert_organizations(conn, [Organization("77", "New site")])
    assert new.inserted == 1
    assert conn.execute("SELECT timezone FROM organizations WHERE organization_id = '77'").fetchone() == (
        "America/New_York",
    ), "a new site without a zone gets the contract default"
    conn.rollback()

    moved = upsert_channels(conn, [Channel(CHANNEL, "Main incomer", None, ORG, unit="kWh")])
    assert (moved.updated, moved.unchanged) == (1, 0)
    assert upsert_devices(conn, [Device(9001, "Main gateway", ORG)]).unchanged == 1


def test_metadata_input_errors_are_clear(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Olympus'"):
        upsert_organizations(conn, [Organization(ORG, "x", timezone="Mars/Olympus")])
    with pytest.raises(ValueError, match="given twice with different fields"):
        upsert_channels(conn, [Channel(1, "a"), Channel(1, "b")])
    with pytest.raises(ValueError, match="channel_name"):
        upsert_channels(conn, [Channel(1, " ")])


def test_sync_status_rows_are_appended(conn: psycopg.Connection[Any]) -> None:
    now = datetime(2024, 6, 4, 2, 10, tzinfo=UTC)
    record_sync_status(
        conn,
        [
            SyncStatus(ORG, None, now, END - timedelta(minutes=15), 192, "partial", "channel 502: HTTP 500"),
            SyncStatus(ORG, CHANNEL, now, END - timedelta(minutes=15), 96, "success", None),
        ],
    )
    rows = conn.execute(
        "SELECT organization_id, channel_id, last_sync_timestamp, readings_count, sync_status, error_message "
        "FROM data_sync_status ORDER BY id"
    ).fetchall()
    conn.rollback()
    assert rows == [
        (ORG, None, now, 192, "partial", "channel 502: HTTP 500"),
        (ORG, CHANNEL, now, 96, "success", None),
    ]
    with pytest.raises(ValueError, match="sync_status must be one of"):
        record_sync_status(conn, [SyncStatus(ORG, None, now, None, None, "ok")])


def test_a_window_written_in_parts_counts_each_reading_once(conn: psycopg.Connection[Any]) -> None:
    """An empty window takes the COPY path, a partly written one the upsert; same rows and counts."""
    day = quarter_hours(START, 96)
    yesterday = quarter_hours(START - timedelta(days=1), 96)
    first = write(conn, yesterday, start=START - timedelta(days=1), end=START)  # the day before: no effect
    assert (first.inserted, first.updated, first.unchanged) == (96, 0, 0)
    morning = write(conn, day[:40], fetched=40)  # empty window: COPY
    assert (morning.inserted, morning.updated, morning.unchanged) == (40, 0, 0)
    revised = [*day[:10], Reading(day[10].ts, energy_kwh=9.75, power_kw=39.0), *day[11:]]
    full = write(conn, revised, fetched=96)  # partly written: upsert
    assert (full.inserted, full.updated, full.unchanged) == (56, 1, 39)
    rows = stored(conn)
    assert len(rows) == 192
    assert (rows[day[10].ts]["energy_kwh"], rows[day[10].ts]["power_kw"]) == (9.75, 39.0)
    assert [(log["readings_inserted"], log["readings_updated"], log["readings_unchanged"]) for log in logs(conn)] == [
        (96, 0, 0), (40, 0, 0), (56, 1, 39)
    ]
    assert all(row["updated_at"] is None for ts, row in rows.items() if ts != day[10].ts)


def test_an_empty_window_is_logged_without_readings(conn: psycopg.Connection[Any]) -> None:
    result = write(conn, [], fetched=0)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 0)
    assert stored(conn) == {}
    assert [(log["readings_fetched"], log["status"]) for log in logs(conn)] == [(0, "success")]
