"""The report's pure figure functions on small hand-made rows (``argo_energy.report.figures``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.report import figures
from argo_energy.report.config import DEFAULT_BUSINESS_HOURS
from argo_energy.report.queries import DailyRow, IntervalRow, Meter, Site, ValidationDay
from argo_energy.report.week import week_of

NY = "America/New_York"
FALL = week_of(date(2026, 10, 26), NY)  # Sunday 1 November falls back: 01:00 happens twice
SPRING = week_of(date(2026, 3, 2), NY)  # Sunday 8 March springs forward: no 02:00
SITE = Site("s1", "Site One", NY, (Meter(1, "A"), Meter(2, "B"), Meter(3, "C")))


def _interval(utc: datetime, local: datetime, kwh: float | None, kw: float | None) -> IntervalRow:
    return IntervalRow(ts=utc, local=local, kwh=kwh, kw=kw, meters=1)


def test_change_pct() -> None:
    assert figures.change_pct(110.0, 100.0) == pytest.approx(10.0)
    assert figures.change_pct(90.0, 100.0) == pytest.approx(-10.0)
    assert figures.change_pct(None, 100.0) is None
    assert figures.change_pct(5.0, None) is None, "no data in the other week: not available"
    assert figures.change_pct(5.0, 0.0) is None, "no percentage against zero"


def test_heatmap_sums_the_repeated_hour_and_leaves_missing_hours_none() -> None:
    sunday = date(2026, 11, 1)
    first_one = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    second_one = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST
    local_one = datetime(2026, 11, 1, 1, 0)
    rows = [
        _interval(first_one, local_one, 1.0, 4.0),
        _interval(second_one, local_one, 2.0, 8.0),
        _interval(datetime(2026, 10, 26, 4, 0, tzinfo=UTC), datetime(2026, 10, 26, 0, 0), 0.5, 2.0),
        _interval(datetime(2026, 10, 26, 4, 15, tzinfo=UTC), datetime(2026, 10, 26, 0, 15), None, 2.0),
    ]
    grid = figures.heatmap(rows, FALL)
    assert [len(r) for r in grid] == [24] * 7
    assert grid[sunday.weekday()][1] == 3.0, "both 01:00 hours of the fall-back night"
    assert grid[0][0] == 0.5
    assert sum(v is not None for row in grid for v in row) == 2, "every other cell has no data: None, not 0"


def test_heatmap_ignores_rows_outside_the_week() -> None:
    outside = _interval(datetime(2026, 11, 2, 5, 0, tzinfo=UTC), datetime(2026, 11, 2, 0, 0), 9.0, 1.0)
    assert all(v is None for row in figures.heatmap([outside], FALL) for v in row)


def test_peak_demand_takes_the_earliest_of_equal_maxima() -> None:
    t0 = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    rows = [
        _interval(t0, datetime(2026, 3, 3, 10, 0), 1.0, 7.0),
        _interval(t0 + timedelta(minutes=15), datetime(2026, 3, 3, 10, 15), 1.0, 9.5),
        _interval(t0 + timedelta(minutes=30), datetime(2026, 3, 3, 10, 30), 1.0, 9.5),
        _interval(t0 + timedelta(minutes=45), datetime(2026, 3, 3, 10, 45), 1.0, None),
    ]
    peak = figures.peak_demand(rows)
    assert peak == figures.Peak(kw=9.5, at=t0 + timedelta(minutes=15), local=datetime(2026, 3, 3, 10, 15))
    assert figures.peak_demand([]) is None


def test_business_hours_split_by_local_interval_start() -> None:
    rows = [
        _interval(datetime(2026, 3, 2, 12, 45, tzinfo=UTC), datetime(2026, 3, 2, 7, 45), 1.0, 1.0),  # before 08:00
        _interval(datetime(2026, 3, 2, 13, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0), 2.0, 1.0),  # in
        _interval(datetime(2026, 3, 2, 22, 45, tzinfo=UTC), datetime(2026, 3, 2, 17, 45), 4.0, 1.0),  # in
        _interval(datetime(2026, 3, 2, 23, 0, tzinfo=UTC), datetime(2026, 3, 2, 18, 0), 8.0, 1.0),  # out
        _interval(datetime(2026, 3, 7, 17, 0, tzinfo=UTC), datetime(2026, 3, 7, 12, 0), 16.0, 1.0),  # Saturday
    ]
    assert figures.split_business_hours(rows, DEFAULT_BUSINESS_HOURS) == (6.0, 25.0)
    assert figures.split_business_hours([], DEFAULT_BUSINESS_HOURS) == (None, None)


def test_week_total_and_completeness_cap_each_day() -> None:
    rows = [
        DailyRow(1, date(2026, 3, 2), 10.0, 2.0, 96),
        DailyRow(1, date(2026, 3, 8), 5.0, 2.0, 120),  # off-grid duplicates: capped at the day's 92
        DailyRow(2, date(2026, 3, 3), 1.5, 1.0, 48),
        DailyRow(9, date(2026, 3, 3), 100.0, 1.0, 96),  # another site's meter
    ]
    total = figures.week_total(SPRING, rows, [1, 2, 3])
    assert total.kwh == 16.5
    assert total.completeness == pytest.approx((96 + 92 + 48) / (3 * 668))
    empty = figures.week_total(SPRING, [], [1, 2, 3])
    assert empty.kwh is None, "no reading: missing, not 0"
    assert empty.completeness == 0.0


def test_daily_cells_keep_missing_days_as_none() -> None:
    cells = figures.daily_cells(SPRING, SITE, [DailyRow(1, date(2026, 3, 2), 10.0, 2.0, 96)])
    assert len(cells) == 3 * 7
    assert cells[(1, date(2026, 3, 2))] == figures.DailyCell(10.0, 2.0, 96, 96)
    assert cells[(2, date(2026, 3, 8))] == figures.DailyCell(None, None, 0, 92)


def test_meter_changes_rank_by_absolute_change_and_need_both_weeks() -> None:
    now = [DailyRow(1, date(2026, 3, 2), 10.0, None, 96), DailyRow(2, date(2026, 3, 2), 50.0, None, 96),
           DailyRow(3, date(2026, 3, 2), 7.0, None, 96)]
    before = [DailyRow(1, date(2026, 2, 23), 30.0, None, 96), DailyRow(2, date(2026, 2, 23), 45.0, None, 96)]
    changes = figures.meter_changes(SITE, now, before)
    assert [(c.meter_id, c.change_kwh) for c in changes] == [(1, -20.0), (2, 5.0)], "meter 3 has no previous week"
    assert changes[0].change_pct == pytest.approx(-66.6666666)
    assert figures.meter_changes(SITE, now, before, top=1) == changes[:1]


def test_validation_text() -> None:
    checked = datetime(2026, 3, 9, tzinfo=UTC)
    days = [ValidationDay(d, "r1", checked, ()) for d in SPRING.days[:3]]
    days[2] = ValidationDay(SPRING.days[2], "r1", checked, ((2, 96, 50), (3, None, None)))
    result = figures.meter_completeness(SITE, SPRING, [], days)
    text = {c.meter_id: c.validation for c in result}
    assert text[1] == "no day flagged (3 of 7 day(s) checked)"
    assert text[2] == "1 day(s) flagged incomplete: Wed 04 Mar (50/96) (3 of 7 day(s) checked)"
    assert text[3].startswith("1 day(s) flagged incomplete: Wed 04 Mar (?/?)")
    unchecked = figures.meter_completeness(SITE, SPRING, [], [ValidationDay(SPRING.monday, None, None, ())])
    assert {c.validation for c in unchecked} == {"not checked by validation"}
    assert {c.validation for c in figures.meter_completeness(SITE, SPRING, [], None)} == {
        "validation results not available"
    }


def test_compute_with_no_data_at_all() -> None:
    result = figures.compute(
        site=SITE, week=SPRING, business_hours=DEFAULT_BUSINESS_HOURS, daily=[], previous_daily=[],
        year_ago_daily=[], intervals=[],
    )
    assert result.total_kwh is None
    assert result.change_vs_previous_pct is None
    assert result.peak is None
    assert result.after_hours_share is None
    assert all(v is None for row in result.heatmap for v in row)
    assert all(c.share == 0.0 for c in result.completeness)
    assert result.meter_changes == ()
