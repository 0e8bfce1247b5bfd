"""Every layered view's numbers against an independent computation in Python on known data.

The data goes in through the write API; the expected values are computed here from the same
``Reading`` objects with zoneinfo (site calendars) and plain arithmetic. The views are queried from
a session whose TimeZone is neither UTC nor any site's, so nothing may depend on the session.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from argo_energy.models import Channel, Device, Organization, Reading
from argo_energy.warehouse import (
    apply_migrations,
    build_views,
    refresh_hourly_usage,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
    write_window,
)

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

SESSION_TZ = "-c TimeZone=Pacific/Auckland"
Q = timedelta(minutes=15)


@dataclass(frozen=True)
class Meter:
    meter_id: int
    name: str
    site_id: str
    zone: str  # the zone the site calendar uses (contract default when the site has none)


SITES = {
    "ny": ("Wilson Center", "America/New_York"),
    "in": ("Pune Plant", "Asia/Kolkata"),
    "nz": ("No Zone Site", None),  # organizations.timezone NULL: the views use America/New_York
    "cu": ("Havana Office", "America/Havana"),  # DST changes at midnight (fall back repeats 00:00-00:59)
}
METERS = {
    601: Meter(601, "Main incomer", "ny", "America/New_York"),
    602: Meter(602, "Spare (never read)", "ny", "America/New_York"),
    603: Meter(603, "Gappy meter", "ny", "America/New_York"),
    701: Meter(701, "Line 1", "in", "Asia/Kolkata"),
    801: Meter(801, "Boiler", "nz", "America/New_York"),
    901: Meter(901, "Havana main", "cu", "America/Havana"),
}


def _grid(start: datetime, end: datetime) -> list[datetime]:
    out, ts = [], start
    while ts < end:
        out.append(ts)
        ts += Q
    return out


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _values(i: int) -> dict[str, float | None]:
    """Quarter multiples: exact in single precision, so sums compare exactly."""
    return {
        "energy_kwh": 0.25 * (1 + i % 4),
        "power_kw": 1.0 * (1 + i % 4),
        "voltage_v": 230.0 + i % 3,
        "power_factor": None if i % 5 == 0 else 0.5 + 0.25 * (i % 2),
    }


def _dataset() -> dict[int, list[Reading]]:
    data: dict[int, list[Reading]] = {}
    ny, kol = "America/New_York", "Asia/Kolkata"
    # 601: the spring-forward days and the fall-back days in full, plus the evening of 29 Feb
    # (local) whose UTC instants are already in March.
    stamps = (
        _grid(datetime(2024, 3, 1, 3, 0, tzinfo=UTC), datetime(2024, 3, 1, 6, 0, tzinfo=UTC))
        + _grid(_local_midnight(date(2024, 3, 9), ny), _local_midnight(date(2024, 3, 12), ny))
        + _grid(_local_midnight(date(2024, 11, 2), ny), _local_midnight(date(2024, 11, 5), ny))
    )
    data[601] = [Reading(ts, **_values(i)) for i, ts in enumerate(stamps)]
    # 603: NULL and zero values (not clean), and its newest readings are not clean either.
    readings = []
    for i, ts in enumerate(_grid(_local_midnight(date(2024, 6, 3), ny), _local_midnight(date(2024, 6, 4), ny))):
        values = _values(i)
        if i % 7 == 0:
            values["energy_kwh"] = None
        elif i % 7 == 1:
            values["energy_kwh"] = 0.0
        elif i % 7 == 2:
            values["power_kw"] = 0.0
        elif i % 7 == 3:
            values["power_kw"] = None
        if i >= 90:
            values["power_kw"] = 0.0
        readings.append(Reading(ts, **values))
    data[603] = readings
    # 701: two Kolkata days (+05:30): local midnight is 18:30 UTC the day before.
    stamps = _grid(_local_midnight(date(2024, 6, 1), kol), _local_midnight(date(2024, 6, 3), kol))
    data[701] = [Reading(ts, **_values(i)) for i, ts in enumerate(stamps)]
    # 801: a site without a zone, around New York midnight.
    stamps = _grid(datetime(2024, 6, 5, 2, 0, tzinfo=UTC), datetime(2024, 6, 5, 6, 0, tzinfo=UTC))
    data[801] = [Reading(ts, **_values(i)) for i, ts in enumerate(stamps)]
    # 901: Havana's midnight DST changes: 10 March 2024 has no 00:00-00:59 (day of 92 quarter-hours),
    # 3 November 2024 has it twice (100), and November 2026 starts on such a day (1 November).
    hav = "America/Havana"
    stamps = (
        _grid(_local_midnight(date(2024, 3, 9), hav), _local_midnight(date(2024, 3, 11), hav))
        + _grid(_local_midnight(date(2024, 11, 2), hav), _local_midnight(date(2024, 11, 5), hav))
        + _grid(_local_midnight(date(2026, 10, 31), hav), _local_midnight(date(2026, 11, 2), hav))
    )
    data[901] = [Reading(ts, **_values(i)) for i, ts in enumerate(stamps)]
    return data


DATA = _dataset()


def _is_clean(r: Reading) -> bool:
    return r.energy_kwh not in (None, 0.0) and r.power_kw not in (None, 0.0)


def _clean() -> list[tuple[Meter, Reading]]:
    return [(METERS[m], r) for m, rs in DATA.items() for r in rs if _is_clean(r)]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


@pytest.fixture(scope="module")
def views_dsn(tier_database: Any) -> str:
    dsn = tier_database("views")
    with psycopg.connect(dsn) as conn:
        apply_migrations(conn)
        upsert_organizations(conn, [Organization(sid, name, timezone=tz) for sid, (name, tz) in SITES.items()])
        conn.execute("UPDATE organizations SET timezone = NULL WHERE organization_id = 'nz'")
        conn.commit()
        upsert_devices(conn, [Device(1, "Gateway NY", "ny"), Device(2, "Gateway IN", "in")])
        upsert_channels(
            conn,
            [
                Channel(m.meter_id, m.name, {"ny": 1, "in": 2}.get(m.site_id), m.site_id, unit="kWh")
                for m in METERS.values()
            ],
        )
        for meter_id, readings in DATA.items():
            write_window(
                conn,
                organization_id=METERS[meter_id].site_id,
                channel_id=meter_id,
                start=readings[0].ts,
                end=readings[-1].ts + Q,
                readings=readings,
                rejected=[],
                fetched=len(readings),
            )
        build_views(conn)
    # Refresh from a +05:30 session: mv_hourly_usage.hour must still be UTC hours.
    with psycopg.connect(dsn, options="-c TimeZone=Asia/Kolkata") as conn:
        refresh_hourly_usage(conn)
    return dsn


@pytest.fixture
def query(views_dsn: str) -> Iterator[Any]:
    with psycopg.connect(views_dsn, options=SESSION_TZ, row_factory=dict_row) as conn:

        def run(sql: str) -> list[dict[str, Any]]:
            return conn.execute(sql).fetchall()

        yield run


def test_clean_readings_exclude_null_and_zero(query: Any) -> None:
    rows = query('SELECT channel_id, "timestamp", energy_kwh, power_kw FROM v_clean_readings')
    expected = {(m.meter_id, r.ts): (r.energy_kwh, r.power_kw) for m, r in _clean()}
    assert {(r["channel_id"], r["timestamp"]): (r["energy_kwh"], r["power_kw"]) for r in rows} == expected
    total_603 = len(DATA[603])
    clean_603 = sum(1 for m, _ in _clean() if m.meter_id == 603)
    assert 0 < clean_603 < total_603, "the gappy meter has both clean and excluded readings"


def test_daily_follows_the_site_calendar(query: Any) -> None:
    groups: dict[tuple[int, date], list[Reading]] = defaultdict(list)
    for meter, r in _clean():
        groups[(meter.meter_id, r.ts.astimezone(ZoneInfo(meter.zone)).date())].append(r)
    rows = {(r["meter_id"], r["reading_date"]): r for r in query("SELECT * FROM v_readings_daily")}
    assert set(rows) == set(groups), "one row per meter and local day with clean readings"
    for (meter_id, day), readings in groups.items():
        row, meter = rows[(meter_id, day)], METERS[meter_id]
        start, end = _local_midnight(day, meter.zone), _local_midnight(day + timedelta(days=1), meter.zone)
        assert row["total_energy_kwh"] == sum(r.energy_kwh for r in readings)  # type: ignore[misc]
        assert row["avg_power_kw"] == pytest.approx(_mean([r.power_kw for r in readings]))
        assert row["peak_power_kw"] == max(r.power_kw for r in readings)  # type: ignore[type-var]
        assert row["avg_voltage_v"] == pytest.approx(_mean([r.voltage_v for r in readings]))
        assert row["avg_power_factor"] == pytest.approx(_mean([r.power_factor for r in readings]))
        assert row["reading_count"] == len(readings)
        assert (row["meter_name"], row["site_id"], row["site_timezone"]) == (meter.name, meter.site_id, meter.zone)
        assert (row["day_start"], row["day_end"]) == (start, end)
        assert row["expected_readings"] == (end - start) / Q

    # Known facts, independent of any computation: the DST days of New York, Kolkata's midnight.
    assert (rows[(601, date(2024, 3, 10))]["reading_count"], rows[(601, date(2024, 3, 10))]["expected_readings"]) == (92, 92)
    assert (rows[(601, date(2024, 11, 3))]["reading_count"], rows[(601, date(2024, 11, 3))]["expected_readings"]) == (100, 100)
    assert rows[(601, date(2024, 3, 11))]["expected_readings"] == 96
    assert rows[(701, date(2024, 6, 2))]["day_start"] == datetime(2024, 6, 1, 18, 30, tzinfo=UTC)
    assert rows[(701, date(2024, 6, 2))]["reading_count"] == 96
    assert (801, date(2024, 6, 4)) in rows, "a site without a zone uses New York days (02:00Z is 22:00 EDT)"
    # Havana: local midnight of 3 Nov 2024 happens twice (04:00Z in CDT, 05:00Z in CST); the day
    # starts at the first one. 10 March 2024 starts at 01:00 CDT (05:00Z): there is no 00:00.
    havana_fall, havana_spring = rows[(901, date(2024, 11, 3))], rows[(901, date(2024, 3, 10))]
    assert (havana_fall["day_start"], havana_fall["reading_count"], havana_fall["expected_readings"]) == (
        datetime(2024, 11, 3, 4, tzinfo=UTC), 100, 100
    )
    assert (havana_spring["day_start"], havana_spring["reading_count"], havana_spring["expected_readings"]) == (
        datetime(2024, 3, 10, 5, tzinfo=UTC), 92, 92
    )


def test_monthly_follows_the_site_calendar(query: Any) -> None:
    groups: dict[tuple[int, date], list[Reading]] = defaultdict(list)
    for meter, r in _clean():
        local = r.ts.astimezone(ZoneInfo(meter.zone))
        groups[(meter.meter_id, date(local.year, local.month, 1))].append(r)
    rows = {(r["meter_id"], r["reading_month"]): r for r in query("SELECT * FROM v_readings_monthly")}
    assert set(rows) == set(groups)
    for (meter_id, month), readings in groups.items():
        row, zone = rows[(meter_id, month)], METERS[meter_id].zone
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        start, end = _local_midnight(month, zone), _local_midnight(following, zone)
        assert row["total_energy_kwh"] == sum(r.energy_kwh for r in readings)  # type: ignore[misc]
        assert row["avg_power_kw"] == pytest.approx(_mean([r.power_kw for r in readings]))
        assert row["peak_power_kw"] == max(r.power_kw for r in readings)  # type: ignore[type-var]
        assert row["reading_count"] == len(readings)
        assert (row["month_start"], row["month_end"], row["expected_readings"]) == (start, end, (end - start) / Q)
    # 2024-03-01 03:00-04:45 UTC is still 29 February in New York.
    assert rows[(601, date(2024, 2, 1))]["reading_count"] == 8
    assert rows[(601, date(2024, 3, 1))]["expected_readings"] == 31 * 96 - 4
    # Havana's November 2026 starts on its fall-back day: at 04:00Z, the first of two midnights.
    assert rows[(901, date(2026, 11, 1))]["month_start"] == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert rows[(901, date(2026, 10, 1))]["month_end"] == datetime(2026, 11, 1, 4, tzinfo=UTC)


def test_hourly_is_per_utc_hour(query: Any) -> None:
    groups: dict[tuple[int, datetime], list[Reading]] = defaultdict(list)
    for meter, r in _clean():
        groups[(meter.meter_id, r.ts.replace(minute=0))].append(r)
    mv = {(r["meter_id"], r["hour"]): r for r in query("SELECT * FROM mv_hourly_usage")}
    hourly = {(r["meter_id"], r["hour"]): r for r in query("SELECT * FROM v_readings_hourly")}
    assert set(mv) == set(groups)
    assert set(hourly) == set(groups)
    for key, readings in groups.items():
        meter = METERS[key[0]]
        for row in (mv[key], hourly[key]):
            assert row["total_kwh"] == sum(r.energy_kwh for r in readings)  # type: ignore[misc]
            assert row["avg_kw"] == pytest.approx(_mean([r.power_kw for r in readings]))
            assert row["reading_count"] == len(readings)
        assert hourly[key]["local_hour"] == key[1].astimezone(ZoneInfo(meter.zone)).replace(tzinfo=None)
        assert (hourly[key]["meter_name"], hourly[key]["site_id"]) == (meter.name, meter.site_id)
    # Kolkata's first local quarter-hours (18:30, 18:45 UTC) share the UTC hour 18:00, local 23:30.
    first = hourly[(701, datetime(2024, 5, 31, 18, 0, tzinfo=UTC))]
    assert (first["reading_count"], first["local_hour"]) == (2, datetime(2024, 5, 31, 23, 30))


def test_latest_reading_per_meter(query: Any) -> None:
    latest: dict[int, Reading] = {}
    for meter, r in _clean():
        if meter.meter_id not in latest or r.ts > latest[meter.meter_id].ts:
            latest[meter.meter_id] = r
    rows = {r["meter_id"]: r for r in query("SELECT * FROM v_latest_readings")}
    assert set(rows) == set(latest), "meters without clean readings (602) have no latest reading"
    for meter_id, r in latest.items():
        row = rows[meter_id]
        assert row["timestamp"] == r.ts
        assert (row["energy_kwh"], row["power_kw"], row["voltage_v"], row["power_factor"]) == (
            r.energy_kwh,
            r.power_kw,
            r.voltage_v,
            r.power_factor,
        )
        assert row["local_timestamp"] == r.ts.astimezone(ZoneInfo(METERS[meter_id].zone)).replace(tzinfo=None)
    assert rows[603]["timestamp"] < DATA[603][-1].ts, "603's newest readings are not clean: an older one is latest"


def test_enriched_meters_and_sites(query: Any) -> None:
    enriched = query("SELECT * FROM v_readings_enriched")
    assert len(enriched) == len(_clean())
    for row in enriched:
        meter = METERS[row["meter_id"]]
        assert (row["meter_name"], row["site_id"], row["site_name"]) == (meter.name, meter.site_id, SITES[meter.site_id][0])
        assert row["local_timestamp"] == row["timestamp"].astimezone(ZoneInfo(meter.zone)).replace(tzinfo=None)
    assert {r["device_name"] for r in enriched if r["site_id"] == "nz"} == {None}, "no device: LEFT JOIN"

    meters = {r["meter_id"]: r for r in query("SELECT * FROM v_meters")}
    assert set(meters) == set(METERS), "every meter, with or without readings"
    assert meters[602]["device_name"] == "Gateway NY"
    assert meters[801]["site_timezone"] == "America/New_York"
    sites = {r["site_id"]: r for r in query("SELECT * FROM v_sites")}
    assert {k: (v["site_name"], v["timezone"]) for k, v in sites.items()} == SITES
