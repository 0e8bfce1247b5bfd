"""The weekly report's figures against an independent computation on known planted data.

Readings go in through the warehouse write API; the expected numbers are computed here in plain
Python from the same ``Reading`` objects (zoneinfo for the site calendars), never with the
report's SQL or its figure functions. Two New York DST weeks (spring forward on Sunday 8 March
2026, fall back on Sunday 1 November 2026) and a Kolkata week (+05:30) are covered; one meter has
a gap, zero and NULL readings. Every read goes through the report's read-only snapshot.

The planted data set and the expected-value functions are reused by the DAG and browser tests.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.models import Channel, Device, Organization, Reading
from argo_energy.report import config, figures, queries, tasks
from argo_energy.warehouse import (
    apply_migrations,
    build_views,
    refresh_hourly_usage,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
    write_window,
)

pytestmark = pytest.mark.integration

Q = timedelta(minutes=15)
NY, KOL = "America/New_York", "Asia/Kolkata"
SITES = {"ny-hq": ("Argo HQ", NY), "pune": ("Pune Plant", KOL)}


@dataclass(frozen=True)
class PlantedMeter:
    meter_id: int
    name: str
    site_id: str


METERS = {
    901: PlantedMeter(901, "Main incomer", "ny-hq"),
    902: PlantedMeter(902, "HVAC", "ny-hq"),
    903: PlantedMeter(903, "Lighting (gappy)", "ny-hq"),
    951: PlantedMeter(951, "Line 1", "pune"),
}
SPRING = date(2026, 3, 2)  # Mon; Sun 8 March 2026 02:00 EST -> 03:00 EDT: a 167-hour week
FALL = date(2026, 10, 26)  # Mon; Sun 1 November 2026 02:00 EDT -> 01:00 EST: a 169-hour week
# Meter 903 misses Wednesday 4 March 2026 08:00-18:00 local (40 intervals) in the spring week.
GAP = (datetime(2026, 3, 4, 8, tzinfo=ZoneInfo(NY)), datetime(2026, 3, 4, 18, tzinfo=ZoneInfo(NY)))
# The fall week's Sunday also runs on a Saturday-inclusive business-hours spec (Variable test).
BUSINESS_HOURS = {"default": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"},
                  "pune": {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "09:30", "end": "17:30"}}


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def week_bounds(monday: date, zone: str) -> tuple[datetime, datetime]:
    return local_midnight(monday, zone), local_midnight(monday + timedelta(days=7), zone)


def _grid(start: datetime, end: datetime) -> list[datetime]:
    out, ts = [], start
    while ts < end:
        out.append(ts)
        ts += Q
    return out


def _reading(meter_id: int, ts: datetime, i: int, zone: str, scale: int = 1) -> Reading:
    """Quarter multiples (exact in single precision), higher during the local working day."""
    local = ts.astimezone(ZoneInfo(zone))
    busy = 4 if local.weekday() < 5 and 8 <= local.hour < 18 else 0
    k = scale * (1 + meter_id % 3 + busy + i % 5)
    return Reading(ts, energy_kwh=0.25 * k, power_kw=1.0 * k + 0.5 * (i * 3 % 4), voltage_v=230.0)


def _week_readings(meter_id: int, monday: date, zone: str, scale: int = 1) -> list[Reading]:
    return [_reading(meter_id, ts, i, zone, scale) for i, ts in enumerate(_grid(*week_bounds(monday, zone)))]


def _dataset() -> dict[int, list[Reading]]:
    data: dict[int, list[Reading]] = defaultdict(list)
    for meter_id in (901, 902, 903):
        data[meter_id] += _week_readings(meter_id, SPRING - timedelta(days=7), NY, scale=2)
        data[meter_id] += _week_readings(meter_id, FALL, NY)
    for meter_id in (901, 902, 903):  # a year earlier: every meter, complete (comparable with the spring week)
        data[meter_id] += _week_readings(meter_id, SPRING - timedelta(weeks=52), NY, scale=3)
    data[901] += _week_readings(901, SPRING, NY)
    data[902] += _week_readings(902, SPRING, NY)
    gappy = []
    for i, r in enumerate(_week_readings(903, SPRING, NY)):
        if GAP[0] <= r.ts < GAP[1]:
            continue  # never received
        if i % 97 == 0:
            r = Reading(r.ts, energy_kwh=0.0, power_kw=0.0)  # a zero: not a clean reading
        elif i % 89 == 0:
            r = Reading(r.ts, energy_kwh=None, power_kw=r.power_kw)  # not measured
        gappy.append(r)
    data[903] += gappy
    data[902] += _week_readings(902, FALL - timedelta(days=7), NY)[: 96 * 3]  # previous week: 3 days only
    data[951] += _week_readings(951, SPRING, KOL)
    data[951] += _week_readings(951, SPRING - timedelta(days=7), KOL, scale=2)
    return dict(data)


DATA = _dataset()


def plant(dsn: str) -> None:
    """Create the warehouse in ``dsn`` and write ``DATA`` through the write API."""
    with psycopg.connect(dsn) as conn:
        apply_migrations(conn)
        upsert_organizations(conn, [Organization(sid, name, timezone=tz) for sid, (name, tz) in SITES.items()])
        upsert_devices(conn, [Device(91, "Gateway HQ", "ny-hq"), Device(95, "Gateway Pune", "pune")])
        upsert_channels(
            conn,
            [Channel(m.meter_id, m.name, 91 if m.site_id == "ny-hq" else 95, m.site_id, unit="kWh")
             for m in METERS.values()],
        )
        for meter_id, readings in DATA.items():
            readings = sorted(readings, key=lambda r: r.ts)
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
        refresh_hourly_usage(conn)


# --------------------------------------------------------------------------------------------------
# The independent computation
# --------------------------------------------------------------------------------------------------


def _clean(r: Reading) -> bool:
    return r.energy_kwh not in (None, 0.0) and r.power_kw not in (None, 0.0)


def _site_readings(site_id: str, monday: date) -> list[tuple[int, Reading]]:
    zone = SITES[site_id][1]
    start, end = week_bounds(monday, zone)
    return [
        (meter_id, r)
        for meter_id, readings in DATA.items()
        if METERS[meter_id].site_id == site_id
        for r in readings
        if start <= r.ts < end and _clean(r)
    ]


@dataclass
class Expected:
    total: float | None
    previous: float | None
    year_ago: float | None
    daily: dict[tuple[int, date], float]
    heatmap: dict[tuple[int, int], float]
    peak_kw: float
    peak_local: datetime
    after_hours: float
    completeness: dict[int, tuple[int, int]]
    slots: int
    shares: dict[date, float | None]  # site completeness of this, the previous and the year-ago week


def expected_for(site_id: str, monday: date, business: tuple[set[int], time, time]) -> Expected:
    zone = ZoneInfo(SITES[site_id][1])
    rows = _site_readings(site_id, monday)
    start, end = week_bounds(monday, SITES[site_id][1])
    slots = int((end - start) / Q)

    def total(m: date) -> float | None:
        found = _site_readings(site_id, m)
        return math.fsum(r.energy_kwh for _, r in found) if found else None  # type: ignore[misc]

    daily: dict[tuple[int, date], float] = defaultdict(float)
    heat: dict[tuple[int, int], float] = defaultdict(float)
    per_ts: dict[datetime, float] = defaultdict(float)
    after = 0.0
    counts: dict[int, int] = defaultdict(int)
    days, opens, closes = business
    for meter_id, r in rows:
        local = r.ts.astimezone(zone)
        daily[(meter_id, local.date())] += r.energy_kwh  # type: ignore[operator]
        heat[(local.weekday(), local.hour)] += r.energy_kwh  # type: ignore[operator]
        per_ts[r.ts] += r.power_kw  # type: ignore[operator]
        counts[meter_id] += 1
        if not (local.weekday() in days and opens <= local.time() < closes):
            after += r.energy_kwh  # type: ignore[operator]
    peak_ts = min(per_ts, key=lambda ts: (-per_ts[ts], ts))
    site_meters = [m for m in METERS.values() if m.site_id == site_id]

    def share(m: date) -> float | None:
        """Clean intervals of the site's meters over the week's intervals times its meters."""
        week_slots = int((week_bounds(m, SITES[site_id][1])[1] - week_bounds(m, SITES[site_id][1])[0]) / Q)
        return len(_site_readings(site_id, m)) / (week_slots * len(site_meters)) if site_meters else None

    return Expected(
        total=total(monday),
        previous=total(monday - timedelta(days=7)),
        year_ago=total(monday - timedelta(weeks=52)),
        daily=dict(daily),
        heatmap=dict(heat),
        peak_kw=per_ts[peak_ts],
        peak_local=peak_ts.astimezone(zone).replace(tzinfo=None),
        after_hours=after,
        completeness={m.meter_id: (counts.get(m.meter_id, 0), slots) for m in site_meters},
        slots=slots,
        shares={m: share(m) for m in (monday, monday - timedelta(days=7), monday - timedelta(weeks=52))},
    )


MON_FRI_8_18 = ({0, 1, 2, 3, 4}, time(8), time(18))
MIN_COMPARABLE = 0.95  # issue 20: weeks are compared only when both are at least 95 % complete


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_dsn(make_database: Any) -> str:
    dsn = make_database("report")
    plant(dsn)
    return dsn


@pytest.fixture
def snapshot(report_dsn: str) -> Iterator[Any]:
    # A session zone that is neither UTC nor a site's: nothing may depend on it.
    with psycopg.connect(report_dsn, options="-c TimeZone=Australia/Adelaide") as conn, \
            queries.read_only_snapshot(conn) as cur:
        yield cur


def _figures(cur: Any, site_id: str, monday: date, hours: config.BusinessHours | None = None) -> figures.WeeklyFigures:
    return tasks.compute_figures(cur, site_id, monday.isoformat(), None, hours or config.DEFAULT_BUSINESS_HOURS)


def _check_against(result: figures.WeeklyFigures, exp: Expected) -> None:
    week = result.week
    assert week.hours == exp.slots / 4
    assert result.total_kwh == pytest.approx(exp.total, rel=1e-12), "total kWh of the week"
    monday = week.monday
    assert result.current.completeness == pytest.approx(exp.shares[monday])
    comparisons = (
        ("previous week", result.previous, result.change_vs_previous_pct, exp.previous, monday - timedelta(days=7)),
        ("year ago", result.year_ago, result.change_vs_year_ago_pct, exp.year_ago, monday - timedelta(weeks=52)),
    )
    for label, other, change, kwh, other_monday in comparisons:
        assert other.week.monday == other_monday
        if kwh is None:
            assert other.kwh is None, f"{label}: no data, n/a"
            assert change is None
            assert result.comparison_note(other) is not None
            continue
        assert other.kwh == pytest.approx(kwh, rel=1e-12), f"{label} kWh"
        other_share, this_share = exp.shares[other_monday], exp.shares[monday]
        assert other.completeness == pytest.approx(other_share), f"{label} completeness"
        assert this_share is not None
        assert other_share is not None
        if min(this_share, other_share) >= MIN_COMPARABLE:
            assert result.comparison_note(other) is None, label
            assert change == pytest.approx((exp.total - kwh) / kwh * 100), f"change vs {label}"
        else:
            assert change is None, f"{label}: a week under 95 % complete is not compared"
            short = this_share if this_share < MIN_COMPARABLE else other_share  # this week is named first
            assert f"{short:.1%} complete" in (result.comparison_note(other) or ""), label
    # Daily kWh per meter: every planted meter-day, and missing days are None (never 0).
    for (meter_id, day), cell in result.daily.items():
        if (meter_id, day) in exp.daily:
            assert cell.kwh == pytest.approx(exp.daily[(meter_id, day)], rel=1e-12), f"meter {meter_id} on {day}"
        else:
            assert cell.kwh is None, f"meter {meter_id} has no reading on {day}: n/a, not 0"
    # Heatmap: 7 x 24 local cells.
    assert [len(row) for row in result.heatmap] == [24] * 7, "7 x 24 cells"
    for d in range(7):
        for h in range(24):
            value = result.heatmap[d][h]
            if (d, h) in exp.heatmap:
                assert value == pytest.approx(exp.heatmap[(d, h)], rel=1e-12), f"cell day {d} hour {h}"
            else:
                assert value is None, f"cell day {d} hour {h} has no interval: None"
    assert math.fsum(v for row in result.heatmap for v in row if v is not None) == pytest.approx(exp.total)
    assert result.peak is not None
    assert result.peak.kw == pytest.approx(exp.peak_kw, rel=1e-12)
    assert result.peak.local == exp.peak_local, "peak demand at the earliest interval with the highest sum"
    assert result.after_hours_kwh == pytest.approx(exp.after_hours, rel=1e-12)
    assert result.after_hours_share == pytest.approx(exp.after_hours / exp.total)
    got = {c.meter_id: (c.received, c.expected) for c in result.completeness}
    assert got == exp.completeness, "completeness per meter: clean intervals / intervals of the week"


def test_spring_forward_week_matches_independent_computation(snapshot: Any) -> None:
    result = _figures(snapshot, "ny-hq", SPRING)
    exp = expected_for("ny-hq", SPRING, MON_FRI_8_18)
    assert exp.slots == 668, "the planted week has 167 hours"
    _check_against(result, exp)
    # Both comparisons are made: the planted weeks before and a year earlier are complete.
    assert result.change_vs_previous_pct is not None
    assert result.change_vs_year_ago_pct is not None
    # Sunday 02:00-02:59 does not exist in New York that night.
    assert result.heatmap[6][2] is None
    assert result.week.iso_label == "2026-W10"
    assert result.year_ago.week.monday == date(2025, 3, 3)


def test_fall_back_week_matches_independent_computation(snapshot: Any) -> None:
    result = _figures(snapshot, "ny-hq", FALL)
    exp = expected_for("ny-hq", FALL, MON_FRI_8_18)
    assert exp.slots == 676, "the planted week has 169 hours"
    _check_against(result, exp)
    # The week before holds 3 of 7 days of one meter of three: n/a with the reason, not +448 %.
    assert result.change_vs_previous_pct is None
    assert result.comparison_note(result.previous) == (
        f"week 2026-W43 is only {3 * 96 / (3 * 672):.1%} complete (comparisons need 95%)")
    # The threshold is the run's (Param min_comparable_pct): at 10 % the same weeks are compared.
    lenient = tasks.compute_figures(snapshot, "ny-hq", FALL.isoformat(), None, config.DEFAULT_BUSINESS_HOURS, 0.10)
    assert lenient.comparison_note(lenient.previous) is None
    assert lenient.change_vs_previous_pct == pytest.approx(
        (exp.total - exp.previous) / exp.previous * 100)  # type: ignore[operator]
    # The repeated 01:00 hour holds eight intervals per meter (3 meters).
    ones = [r for m, r in _site_readings("ny-hq", FALL) if r.ts.astimezone(ZoneInfo(NY)).date() == date(2026, 11, 1)
            and r.ts.astimezone(ZoneInfo(NY)).hour == 1]
    assert len(ones) == 8 * 3
    assert result.heatmap[6][1] == pytest.approx(math.fsum(r.energy_kwh for r in ones))  # type: ignore[misc]


def test_half_hour_zone_with_site_business_hours(snapshot: Any) -> None:
    hours = config.business_hours_for(BUSINESS_HOURS, "pune")
    result = _figures(snapshot, "pune", SPRING, hours)
    exp = expected_for("pune", SPRING, ({0, 1, 2, 3, 4, 5}, time(9, 30), time(17, 30)))
    _check_against(result, exp)
    assert result.week.start == datetime(2026, 3, 1, 18, 30, tzinfo=UTC), "Kolkata Monday starts 18:30 UTC Sunday"


def test_gap_lowers_completeness(snapshot: Any) -> None:
    spring = {c.meter_id: c for c in _figures(snapshot, "ny-hq", SPRING).completeness}
    fall = {c.meter_id: c for c in _figures(snapshot, "ny-hq", FALL).completeness}
    assert spring[901].share == 1.0
    assert spring[902].share == 1.0
    missing = 40 + sum(1 for i in range(668) if i % 97 == 0 or i % 89 == 0)  # upper bound of what 903 lacks
    assert spring[903].expected == 668
    assert 668 - missing <= spring[903].received <= 668 - 40, "the 40-interval gap and the unclean readings"
    assert spring[903].share < spring[901].share
    assert fall[903].share == 1.0, "the same meter is complete in a week without a gap"


def _meter_share(meter_id: int, monday: date) -> float:
    """Clean intervals of one meter over the week's intervals (independent of the report)."""
    site_id = METERS[meter_id].site_id
    start, end = week_bounds(monday, SITES[site_id][1])
    return sum(1 for m, _ in _site_readings(site_id, monday) if m == meter_id) / int((end - start) / Q)


def _meter_kwh(meter_id: int, monday: date) -> float:
    site_id = METERS[meter_id].site_id
    return math.fsum(r.energy_kwh for m, r in _site_readings(site_id, monday) if m == meter_id)  # type: ignore[misc]


def test_largest_changes_rank_meters_by_absolute_change(snapshot: Any) -> None:
    # Spring week: 901 and 902 are complete in both weeks; 903 misses a 40-interval gap and unclean
    # readings (under 95 %), so it is not ranked.
    before = SPRING - timedelta(days=7)
    comparable = {m for m in (901, 902, 903)
                  if min(_meter_share(m, SPRING), _meter_share(m, before)) >= MIN_COMPARABLE}
    assert comparable == {901, 902}, "the planted data: 903 is the incomplete meter"
    spring = _figures(snapshot, "ny-hq", SPRING)
    assert {c.meter_id for c in spring.meter_changes} == comparable
    changes = [abs(c.change_kwh or 0) for c in spring.meter_changes]
    assert changes == sorted(changes, reverse=True)
    for c in spring.meter_changes:
        this, prev = _meter_kwh(c.meter_id, SPRING), _meter_kwh(c.meter_id, before)
        assert (c.kwh, c.previous_kwh) == (pytest.approx(this, rel=1e-12), pytest.approx(prev, rel=1e-12))
        assert c.change_kwh == pytest.approx(this - prev)
        assert c.change_pct == pytest.approx((this - prev) / prev * 100)
    # Fall week: the week before has 901 and 903 none and 902 only three days (43 %): no meter ranked.
    assert _meter_share(902, FALL - timedelta(days=7)) == pytest.approx(3 / 7)
    assert _figures(snapshot, "ny-hq", FALL).meter_changes == ()


def test_previous_week_completeness_is_reported(snapshot: Any) -> None:
    result = _figures(snapshot, "ny-hq", FALL)
    # 902 has 3 of 7 days, 901 and 903 nothing: (3 * 96) / (3 * 672) intervals.
    assert result.previous.completeness == pytest.approx(3 * 96 / (3 * 672))


def test_the_snapshot_refuses_writes(report_dsn: str) -> None:
    with psycopg.connect(report_dsn) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), queries.read_only_snapshot(conn) as cur:
            cur.execute("UPDATE organizations SET organization_name = 'x'")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), queries.read_only_snapshot(conn) as cur:
            cur.execute("CREATE TEMP TABLE report_scratch (x int)")
        with queries.read_only_snapshot(conn) as cur:
            cur.execute("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')")
            assert cur.fetchone() == ("repeatable read", "on")


def test_validation_results_flag_incomplete_days(make_database: Any) -> None:
    """Results written by the validation DAG's own store functions are read back per meter and day."""
    from argo_energy.validation.results import CheckResult
    from argo_energy.validation.store import RunInfo, ensure_schema, record_result

    dsn = make_database("report_val")
    plant(dsn)
    monday, wed = local_midnight(SPRING, NY), date(2026, 3, 4)
    wed_start, wed_end = local_midnight(wed, NY), local_midnight(wed + timedelta(days=1), NY)

    def finding(channel_id: int, received: int) -> dict[str, Any]:
        return {"channel_id": channel_id, "local_date": wed, "site": "ny-hq", "expected": 96,
                "received": received, "missing": 96 - received}

    def completeness(findings: list[dict[str, Any]], start: datetime, end: datetime) -> CheckResult:
        return CheckResult("completeness", "error", "fail", "incomplete days", checked_count=10,
                           failed_count=len(findings), findings=tuple(findings), window_start=start, window_end=end)

    with psycopg.connect(dsn) as conn:
        ensure_schema(conn)
        as_of = datetime(2026, 3, 9, tzinfo=UTC)
        # An older run flagged Wednesday worse; the newest run covering Mon-Wed is what counts.
        record_result(conn, RunInfo("eniscope_validation", "run-old", as_of),
                      completeness([finding(903, 10)], wed_start, wed_end))
        record_result(conn, RunInfo("eniscope_validation", "run-new", as_of),
                      completeness([finding(903, 56), finding(777, 1)], monday, wed_end))
        record_result(conn, RunInfo("eniscope_validation", "run-new", as_of),
                      CheckResult("duplicates", "error", "fail", "dups", findings=(finding(901, 1),),
                                  window_start=monday, window_end=wed_end))
    with psycopg.connect(dsn) as conn, queries.read_only_snapshot(conn) as cur:
        result = _figures(cur, "ny-hq", SPRING)
    text = {c.meter_id: c.validation for c in result.completeness}
    assert text[903].startswith("1 day(s) flagged incomplete: Wed 04 Mar (56/96)"), text[903]
    assert "3 of 7 day(s) checked" in text[903], "Mon-Wed are inside the newest run's window"
    assert text[901].startswith("no day flagged"), f"only completeness results count: {text[901]}"
    assert result.validation_checked


def test_without_validation_table_the_report_says_so(snapshot: Any) -> None:
    result = _figures(snapshot, "ny-hq", SPRING)
    assert all(c.validation == "validation results not available" for c in result.completeness)
    assert not result.validation_checked


@pytest.mark.parametrize(("site_id", "monday"), [("ny-hq", SPRING), ("ny-hq", FALL), ("pune", SPRING)])
def test_daily_query_gives_the_rows_of_v_readings_daily(snapshot: Any, site_id: str, monday: date) -> None:
    """report/daily.sql aggregates like v_readings_daily (only faster): the same rows for the week."""
    site = queries.load_site(snapshot, site_id)
    week = tasks.resolve_week(monday.isoformat(), None, site.timezone)
    ours = {(r.meter_id, r.local_date): (r.kwh, r.peak_kw, r.readings) for r in queries.load_daily(snapshot, site_id, week)}
    snapshot.execute(
        "SELECT meter_id, reading_date, total_energy_kwh, peak_power_kw, reading_count FROM v_readings_daily"
        " WHERE site_id = %s AND reading_date BETWEEN %s AND %s",
        (site_id, week.monday, week.sunday),
    )
    view = {(r[0], r[1]): (r[2], r[3], r[4]) for r in snapshot.fetchall()}
    assert ours == view
    assert len(ours) > 0
