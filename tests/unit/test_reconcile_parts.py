"""Pure parts of the reconciliation: Eniscope daily totals parsing (local days, DST), verdicts, and
the weekly report's comparison gate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.totals import daily_totals_params, parse_daily_totals
from argo_energy.report.figures import WeekTotal, comparison_note
from argo_energy.report.week import week_of
from argo_energy.validation.reconcile import (
    HEAL_PENDING,
    MATCH,
    MISMATCH,
    SOURCE_INCONSISTENT,
    UNRESOLVED,
    Prior,
    judge,
    needs_source_slots,
    tolerance_kwh,
)

NY = "America/New_York"
FALL_BACK = date(2026, 11, 1)  # 25 hours in New York


def midnight(day: date, tz: str) -> int:
    return int(datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).timestamp())


def payload(records: list[dict], **extra) -> dict:
    return {"channel": 7, "resolution": 86400, "units": {"ts": "Unix Time", "E": "Wh"}, "timeZone": NY,
            "records": records, **extra}


def test_params_span_local_midnights_of_first_and_day_after_last():
    params = daily_totals_params(date(2026, 10, 31), FALL_BACK, NY)
    ranges = [int(v) for k, v in params if k == "daterange[]"]
    assert ranges == [midnight(date(2026, 10, 31), NY), midnight(date(2026, 11, 2), NY)]
    assert ranges[1] - ranges[0] == 49 * 3600, "24 h + the 25-hour fall-back day"
    assert ("res", "86400") in params
    assert ("fields[]", "E") in params


def test_parse_maps_local_midnights_to_days_in_kwh_and_leaves_missing_days_none():
    records = [{"ts": midnight(date(2026, 10, 31), NY), "E": 480000.0},
               {"ts": midnight(FALL_BACK, NY), "E": 500000.0}]
    totals = parse_daily_totals(payload(records), 7, date(2026, 10, 31), date(2026, 11, 2), NY)
    assert totals == {date(2026, 10, 31): 480.0, FALL_BACK: 500.0, date(2026, 11, 2): None}


def test_parse_refuses_days_cut_at_utc_midnight():
    utc_midnight = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    with pytest.raises(EniscopeResponseError, match="not at a local midnight"):
        parse_daily_totals(payload([{"ts": utc_midnight, "E": 1.0}]), 7, FALL_BACK, FALL_BACK, NY)


def test_parse_refuses_another_resolution_a_repeated_day_and_a_null_is_none():
    day = midnight(FALL_BACK, NY)
    with pytest.raises(EniscopeResponseError, match="came back at"):
        parse_daily_totals(payload([], resolution=3600), 7, FALL_BACK, FALL_BACK, NY)
    with pytest.raises(EniscopeResponseError, match="given twice"):
        parse_daily_totals(payload([{"ts": day, "E": 1}, {"ts": day, "E": 1}]), 7, FALL_BACK, FALL_BACK, NY)
    assert parse_daily_totals(payload([{"ts": day, "E": None}]), 7, FALL_BACK, FALL_BACK, NY) == {FALL_BACK: None}


def test_tolerance_is_the_larger_of_absolute_and_relative():
    assert tolerance_kwh(1000.0, 0.001, 0.01) == pytest.approx(1.0)
    assert tolerance_kwh(2.0, 0.001, 0.01) == 0.01
    assert tolerance_kwh(None, 0.001, 0.01) == 0.01


def test_verdicts_through_the_heal():
    asked = datetime(2026, 11, 4, tzinfo=UTC)
    never = Prior()
    pending = Prior(heal_requested_at=asked)
    pulled = Prior(heal_requested_at=asked, healed_at=asked + timedelta(hours=1))
    assert judge(100.0, 100.05, 0.1, never, None) == MATCH
    assert judge(100.0, 105.0, 0.1, never, None) == MISMATCH
    assert judge(None, 105.0, 0.1, never, None) == MISMATCH, "missing is not 0"
    assert judge(100.0, 105.0, 0.1, pending, None) == HEAL_PENDING
    assert judge(100.0, 103.0, 0.1, pulled, 100.0) == SOURCE_INCONSISTENT
    assert judge(100.0, 105.0, 0.1, pulled, 105.0) == UNRESOLVED, "the source is consistent: ours is wrong"
    assert needs_source_slots(100.0, 103.0, 0.1, pulled)
    known = Prior(verdict=SOURCE_INCONSISTENT, our_kwh=100.0, source_kwh=103.0, source_slots_kwh=100.0,
                  heal_requested_at=asked, healed_at=asked)
    assert not needs_source_slots(100.0, 103.0, 0.1, known), "a known inconsistent day is not fetched again"
    assert needs_source_slots(90.0, 103.0, 0.1, known), "our number changed: judge again"


def test_comparison_needs_both_weeks_complete():
    week = week_of(date(2026, 11, 9), NY)
    full, partial = WeekTotal(week, 700.0, 0.99), WeekTotal(week.previous(), 100.0, 0.14)
    assert comparison_note(full, WeekTotal(week.previous(), 690.0, 0.96), 0.95) is None
    note = comparison_note(full, partial, 0.95)
    assert note is not None
    assert "14.0% complete" in note
    assert "95%" in note
    assert comparison_note(WeekTotal(week, 700.0, 0.5), full, 0.95).startswith("this week")
    assert comparison_note(full, WeekTotal(week.previous(), None, None), 0.95).endswith("has no data")
