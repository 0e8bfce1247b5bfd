"""Incremental rollups (V009, warehouse.rollups) equal a full recomputation from readings, always.

Every test writes through the pipeline's write API (write_window: COPY for new windows, upsert for
re-fetches) or the runbook's plain SQL, refreshes, and compares both rollups with a recomputation
from readings written here in SQL independently of include/sql/rollups (GROUP BY the reading's
site-local date, not day bounds). Real PostgreSQL (local and 17).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.models import Channel, Device, Organization, Reading
from argo_energy.warehouse import (
    apply_migrations,
    build_views,
    sql_dir,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
)
from argo_energy.warehouse.rollups import (
    compare_sampled_days,
    rebuild_meter_days,
    rebuild_rollups,
    refresh_rollups,
)
from argo_energy.warehouse.store import write_window

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

Q = timedelta(minutes=15)
NY, KOLKATA = "America/New_York", "Asia/Kolkata"
SITES = {"ny": NY, "in": KOLKATA}
METERS = {11: "ny", 12: "ny", 21: "in"}

EXPECTED_HOURLY = """
SELECT channel_id, date_trunc('hour', "timestamp", 'UTC'), count(*), sum(energy_kwh::float8), avg(power_kw)
  FROM readings
 WHERE energy_kwh IS NOT NULL AND energy_kwh <> 0 AND power_kw IS NOT NULL AND power_kw <> 0
 GROUP BY 1, 2
"""
EXPECTED_DAILY = """
SELECT r.channel_id, (r."timestamp" AT TIME ZONE COALESCE(o.timezone, 'America/New_York'))::date,
       count(*), sum(r.energy_kwh::float8), avg(r.power_kw), max(r.power_kw), avg(r.voltage_v)
  FROM readings r
  JOIN channels c ON c.channel_id = r.channel_id
  JOIN organizations o ON o.organization_id = c.organization_id
 WHERE r.energy_kwh IS NOT NULL AND r.energy_kwh <> 0 AND r.power_kw IS NOT NULL AND r.power_kw <> 0
 GROUP BY 1, 2
"""
STORED_HOURLY = "SELECT meter_id, hour, reading_count, total_kwh, avg_kw FROM mv_hourly_usage"
STORED_DAILY = """
SELECT meter_id, reading_date, reading_count, total_energy_kwh, avg_power_kw, peak_power_kw, avg_voltage_v
  FROM v_readings_daily
"""


def _keyed(conn: psycopg.Connection[Any], query: str) -> dict[tuple[Any, Any], tuple[Any, ...]]:
    return {(row[0], row[1]): tuple(row[2:]) for row in conn.execute(query).fetchall()}


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, int):
        return a == b
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def assert_exact(conn: psycopg.Connection[Any]) -> int:
    """Both rollups equal the recomputation (counts exactly, sums/averages to 1e-9); return days compared."""
    for expected_q, stored_q, what in ((EXPECTED_HOURLY, STORED_HOURLY, "hourly"), (EXPECTED_DAILY, STORED_DAILY, "daily")):
        expected, stored = _keyed(conn, expected_q), _keyed(conn, stored_q)
        assert set(stored) == set(expected), (
            f"{what}: keys differ: missing {sorted(set(expected) - set(stored))[:5]}, "
            f"extra {sorted(set(stored) - set(expected))[:5]}"
        )
        wrong = {k: (expected[k], stored[k]) for k in expected
                 if not all(_close(a, b) for a, b in zip(expected[k], stored[k], strict=True))}
        assert not wrong, f"{what}: rows differ from a recomputation (expected, stored): {list(wrong.items())[:3]}"
    conn.commit()
    return len(expected)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _readings(start: datetime, end: datetime, seed: int = 0) -> list[Reading]:
    out, ts, i = [], start, seed
    while ts < end:
        out.append(Reading(ts, energy_kwh=0.25 * (1 + i % 4), power_kw=1.0 + i % 5, voltage_v=230.0 + i % 3,
                           power_factor=None if i % 5 == 0 else 0.9))
        ts, i = ts + Q, i + 1
    return out


def _write(conn: psycopg.Connection[Any], meter: int, day: date, readings: list[Reading] | None = None) -> None:
    zone = SITES[METERS[meter]]
    start, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    rows = readings if readings is not None else _readings(start, end, seed=meter + day.toordinal())
    write_window(conn, organization_id=METERS[meter], channel_id=meter, start=start, end=end,
                 readings=rows, rejected=[], fetched=len(rows))


@pytest.fixture
def wh(warehouse_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        build_views(conn)
        upsert_organizations(conn, [Organization(s, f"Site {s}", timezone=z) for s, z in SITES.items()])
        upsert_devices(conn, [Device(1, "dev", "ny")])
        upsert_channels(conn, [Channel(m, f"meter {m}", 1, s) for m, s in METERS.items()])
        yield conn


def test_first_load_dst_and_half_hour_site(wh: psycopg.Connection[Any]) -> None:
    # New York's fall-back day (100 quarter-hours) and spring-forward day (92); Kolkata (+05:30).
    for day in (date(2024, 11, 2), date(2024, 11, 3), date(2024, 11, 4), date(2024, 3, 10)):
        _write(wh, 11, day)
    for day in (date(2024, 11, 2), date(2024, 11, 3)):
        _write(wh, 21, day)
    done = refresh_rollups(wh)
    assert (done.days, done.days_written) == (4 + 2 + 2, 6), "Kolkata hours at :30 straddle days: one empty day each side"
    assert assert_exact(wh) == 6
    counts = dict(wh.execute(
        "SELECT reading_date, reading_count FROM v_readings_daily WHERE meter_id = 11").fetchall())
    wh.commit()
    assert counts[date(2024, 11, 3)] == 100, "fall back: 100 quarter-hours"
    assert counts[date(2024, 3, 10)] == 92, "spring forward: 92 quarter-hours"
    again = refresh_rollups(wh)
    assert (again.markers, again.hours, again.days) == (0, 0, 0), "nothing changed: nothing recomputed"


def test_late_corrections_rejections_and_manual_delete(wh: psycopg.Connection[Any]) -> None:
    day = date(2024, 6, 3)
    _write(wh, 11, day)
    _write(wh, 12, day)
    refresh_rollups(wh)
    start, end = _midnight(day, NY), _midnight(day + timedelta(days=1), NY)
    fixed = _readings(start, end, seed=7)
    fixed[10] = Reading(fixed[10].ts, energy_kwh=9.5, power_kw=38.0, voltage_v=231.0)  # a late correction wins
    fixed[20] = Reading(fixed[20].ts, energy_kwh=None, power_kw=2.0)  # now not clean: out of the rollups
    _write(wh, 11, day, fixed)
    # A reading removed by hand (docs/OPERATIONS.md) and one moved by a migration-style UPDATE.
    wh.execute('DELETE FROM readings WHERE channel_id = 12 AND "timestamp" = %s', (start + 5 * Q,))
    wh.execute('UPDATE readings SET "timestamp" = "timestamp" + interval \'3 days\' '
               'WHERE channel_id = 12 AND "timestamp" = %s', (start + 6 * Q,))
    wh.commit()
    done = refresh_rollups(wh)
    assert done.hours_written >= 3, done
    assert done.days >= 3, done
    assert assert_exact(wh) == 3
    peak = wh.execute("SELECT peak_power_kw FROM v_readings_daily WHERE meter_id = 11").fetchone()
    assert peak == (38.0,), "the corrected reading's power is the day's peak"


def _queue(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    rows = conn.execute("SELECT channel_id, hour, hour_to FROM rollup_queue ORDER BY id").fetchall()
    conn.commit()
    return rows


def test_the_window_writer_marks_what_it_changed_once_and_other_writers_stay_marked(
    wh: psycopg.Connection[Any],
) -> None:
    """write_window appends its own marker (V015: the triggers skip the writer's transaction); a
    window that changed nothing leaves none; the setting dies with the writer's transaction, so a
    plain statement on the same connection right after it is marked by the triggers again."""
    day = date(2024, 6, 3)
    start, end = _midnight(day, NY), _midnight(day + timedelta(days=1), NY)
    first_hour, last_hour = start, end - timedelta(hours=1)

    _write(wh, 11, day)  # first load: the COPY path
    assert _queue(wh) == [(11, first_hour, last_hour)], "one marker per window, not one per statement kind"
    refresh_rollups(wh)

    _write(wh, 11, day)  # the same values again: the upsert path, nothing changed
    assert _queue(wh) == [], "an unchanged window needs no recomputation"

    fixed = _readings(start, end, seed=11 + day.toordinal())
    fixed[40] = Reading(fixed[40].ts, energy_kwh=7.0, power_kw=28.0)
    _write(wh, 11, day, fixed)  # a late correction: the upsert path, one row updated
    assert _queue(wh) == [(11, first_hour, last_hour)]

    # Not the writer: the triggers mark it (the writer's transaction-local setting is gone).
    assert wh.execute("SELECT current_setting('argo.rollup_marked', true)").fetchone() in ((None,), ("",))
    wh.execute('UPDATE readings SET power_kw = 3.0 WHERE channel_id = 11 AND "timestamp" = %s', (start + 4 * Q,))
    wh.commit()
    hour = (start + 4 * Q).replace(minute=0)
    assert _queue(wh)[-1:] == [(11, hour, hour)]
    refresh_rollups(wh)
    assert assert_exact(wh) == 1


def test_site_zone_change_and_meter_move_recompute_days(wh: psycopg.Connection[Any]) -> None:
    for day in (date(2024, 6, 3), date(2024, 6, 4)):
        _write(wh, 11, day)
    refresh_rollups(wh)
    wh.execute("UPDATE organizations SET timezone = 'Asia/Kolkata' WHERE organization_id = 'ny'")
    wh.commit()
    done = refresh_rollups(wh)
    assert done.hours == 0, "UTC hours do not depend on the zone"
    assert done.days >= 3, "every local day of the meter recomputed"
    assert assert_exact(wh) == 3, "New York days 3-4 June are three Kolkata days"
    wh.execute("UPDATE channels SET organization_id = 'ny' WHERE channel_id = 21")
    wh.execute("UPDATE organizations SET timezone = 'America/New_York' WHERE organization_id = 'ny'")
    wh.commit()
    refresh_rollups(wh)
    assert_exact(wh)


def test_truncate_and_rebuilds(wh: psycopg.Connection[Any]) -> None:
    _write(wh, 11, date(2024, 6, 3))
    refresh_rollups(wh)
    # Corrupt the rollups behind the triggers' back: only a rebuild can notice.
    wh.execute("UPDATE rollup_daily_usage SET reading_count = 1, total_energy_kwh = 0")
    wh.execute("DELETE FROM mv_hourly_usage WHERE hour < %s", (_midnight(date(2024, 6, 3), NY) + timedelta(hours=3),))
    wh.commit()
    found = compare_sampled_days(wh, as_of=_midnight(date(2024, 6, 5), NY), days=3, sample=100)
    assert [(f["channel_id"], f["local_date"]) for f in found.mismatches] == [(11, date(2024, 6, 3))]
    # 3 New York days per New York meter; the 3 x 24 h end at 09:30 in Kolkata: 4 local days there.
    assert found.sampled == 3 + 3 + 4
    rebuild_meter_days(wh, [(11, date(2024, 6, 3))])
    assert_exact(wh)
    wh.execute("DELETE FROM mv_hourly_usage")
    wh.commit()
    partial = rebuild_rollups(wh, meter_ids=[11], start=_midnight(date(2024, 6, 3), NY),
                              end=_midnight(date(2024, 6, 3), NY) + timedelta(hours=12))
    assert partial.hours == 12
    full = rebuild_rollups(wh)
    assert full.everything
    assert full.hours == 24
    assert_exact(wh)
    with pytest.raises(ValueError, match="timezone-aware"):
        rebuild_rollups(wh, start=datetime(2024, 6, 3))
    wh.execute("TRUNCATE readings CASCADE")
    wh.commit()
    assert refresh_rollups(wh).everything
    assert assert_exact(wh) == 0
    assert wh.execute("SELECT count(*) FROM mv_hourly_usage").fetchone() == (0,)


def test_concurrent_writers_and_refreshes_stay_exact(wh: psycopg.Connection[Any], warehouse_dsn: str) -> None:
    """Two writers of the same meter (a daily sync and a backfill) and a refresher, all at once."""
    days = [date(2024, 7, 1) + timedelta(days=i) for i in range(6)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        try:
            with psycopg.connect(warehouse_dsn) as conn:
                for rnd in range(3):
                    for day in days:
                        start = _midnight(day, NY)
                        _write(conn, 11, day, _readings(start, start + timedelta(days=1), seed=seed * 100 + rnd))
        except BaseException as exc:
            errors.append(exc)

    def refresher() -> None:
        try:
            with psycopg.connect(warehouse_dsn) as conn:
                while not stop.is_set():
                    refresh_rollups(conn)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
    background = threading.Thread(target=refresher)
    background.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    background.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in [*writers, background]), "a thread did not finish in time"
    refresh_rollups(wh)  # the markers the last concurrent refresh could not see yet
    assert assert_exact(wh) == len(days)


OLD_MATVIEW = """
SELECT c.channel_id                              AS meter_id,
       date_trunc('hour', c."timestamp", 'UTC')  AS hour,
       avg(c.power_kw)                           AS avg_kw,
       sum(c.energy_kwh::double precision)       AS total_kwh,
       count(*)                                  AS reading_count
  FROM v_clean_readings c
 GROUP BY c.channel_id, date_trunc('hour', c."timestamp", 'UTC')
"""


def test_adoption_of_the_managed_materialized_view_keeps_every_number(warehouse_dsn: str, tmp_path: Path) -> None:
    """A warehouse at V008 with the managed matview (and v_readings_hourly on it) migrates to V009:
    the same rows, v_readings_hourly there all along (no view build needed), then exact rollups."""
    for path in sorted((sql_dir() / "migrations").glob("V00[1-8]__*.sql")):
        shutil.copy(path, tmp_path / path.name)
    views = sql_dir() / "views"
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn, tmp_path)
        for name in ("010_v_clean_readings", "030_v_sites", "040_v_meters"):
            conn.execute((views / f"{name}.sql").read_text(encoding="utf-8"))
        conn.execute("SELECT argo_build_view('materialized view', 'mv_hourly_usage', %s, "
                     "ARRAY['CREATE UNIQUE INDEX idx_mv_hourly_usage_meter_hour ON mv_hourly_usage (meter_id, hour)'])",
                     (OLD_MATVIEW,))
        conn.execute((views / "070_v_readings_hourly.sql").read_text(encoding="utf-8"))
        conn.commit()
        upsert_organizations(conn, [Organization(s, f"Site {s}", timezone=z) for s, z in SITES.items()])
        upsert_channels(conn, [Channel(m, f"meter {m}", None, s) for m, s in METERS.items()])
        # Plain SQL: the write API may already need columns of migrations after V008.
        for meter in (11, 21):
            zone = SITES[METERS[meter]]
            conn.execute(
                'INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, voltage_v) '
                "SELECT %s, ts, 0.25 * (1 + n %% 4), 1 + n %% 5, 230 FROM generate_series(%s::timestamptz, %s, "
                "interval '15 minutes') WITH ORDINALITY AS g (ts, n) WHERE g.ts < %s",
                (meter, _midnight(date(2024, 11, 2), zone), _midnight(date(2024, 11, 4), zone),
                 _midnight(date(2024, 11, 4), zone)),
            )
        conn.execute("REFRESH MATERIALIZED VIEW mv_hourly_usage")
        conn.commit()
        before = conn.execute("SELECT * FROM v_readings_hourly ORDER BY meter_id, hour").fetchall()
        conn.commit()
        assert len(before) == 49 + 49, "New York: 24 h + 25 h (fall back); Kolkata: 48 h over 49 UTC hours"
        assert "V009__rollups" in apply_migrations(conn)
        kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = 'mv_hourly_usage'::regclass").fetchone()
        after = conn.execute("SELECT * FROM v_readings_hourly ORDER BY meter_id, hour").fetchall()
        conn.commit()
        assert kind == ("r",)
        assert after == before, "readers see the same hourly numbers, before any view build"
        actions = build_views(conn)
        assert actions["v_readings_hourly"] == "unchanged", "recreated from its recorded definition"
        assert refresh_rollups(conn).markers == 0, "built from readings by the migration"
        assert assert_exact(conn) == 2 + 2
