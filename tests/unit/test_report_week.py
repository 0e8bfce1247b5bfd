"""Which site-local week a report run covers (``argo_energy.report.week``)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from argo_energy.report.week import week_for_interval_end, week_of

MONDAY_RUN = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 9 March 2026, 08:00 UTC


@pytest.mark.parametrize(
    ("zone", "monday"),
    [
        ("America/New_York", date(2026, 3, 2)),  # 04:00 EDT Monday: last week ended 4 h ago
        ("Europe/London", date(2026, 3, 2)),
        ("Asia/Kolkata", date(2026, 3, 2)),  # 13:30 Monday
        ("Pacific/Auckland", date(2026, 3, 2)),  # 21:00 Monday
        ("America/Los_Angeles", date(2026, 3, 2)),  # 01:00 PDT Monday
        ("Pacific/Honolulu", date(2026, 2, 23)),  # 22:00 Sunday: this week is still running
    ],
)
def test_week_for_interval_end_is_the_last_ended_local_week(zone: str, monday: date) -> None:
    """At any time (here a Monday 08:00 UTC) only weeks that had ended: west of it, the week before."""
    week = week_for_interval_end(MONDAY_RUN, zone)
    assert week.monday == monday
    assert week.end <= MONDAY_RUN, "never a week that is still running"
    assert week.start == datetime.combine(monday, datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Honolulu", "Pacific/Pago_Pago", "Pacific/Kiritimati"])
def test_the_scheduled_tuesday_run_reports_the_same_week_everywhere(zone: str) -> None:
    """Tuesday 08:00 UTC: every zone's Sunday has ended and the 02:00 UTC daily sync has loaded it."""
    tuesday_run = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    daily_sync_loaded_until = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    week = week_for_interval_end(tuesday_run, zone)
    assert week.monday == date(2026, 3, 2)
    assert week.end <= daily_sync_loaded_until, f"{zone}: the week ends after the data the sync loaded"


def test_backfill_intervals_give_consecutive_weeks() -> None:
    ends = [MONDAY_RUN + timedelta(weeks=i) for i in range(-3, 1)]
    mondays = [week_for_interval_end(end, "America/New_York").monday for end in ends]
    assert [b - a for a, b in itertools.pairwise(mondays)] == [timedelta(days=7)] * 3


def test_dst_weeks_have_167_and_169_hours() -> None:
    spring = week_of(date(2026, 3, 2), "America/New_York")
    fall = week_of(date(2026, 10, 26), "America/New_York")
    assert spring.hours == 167
    assert fall.hours == 169
    assert [spring.expected_slots(d) for d in spring.days] == [96] * 6 + [92]
    assert [fall.expected_slots(d) for d in fall.days] == [96] * 6 + [100]
    assert week_of(date(2026, 3, 2), "Asia/Kolkata").hours == 168


def test_labels_and_comparison_weeks() -> None:
    week = week_of(date(2026, 3, 2), "America/New_York")
    assert week.iso_label == "2026-W10"
    assert week.span_label == "Mon 2 Mar – Sun 8 Mar 2026"
    assert week.previous().monday == date(2026, 2, 23)
    assert week.year_ago().monday == date(2025, 3, 3)
    assert week.year_ago().monday.weekday() == 0
    assert week_of(date(2025, 12, 29), "UTC").iso_label == "2026-W01"
    assert week_of(date(2025, 12, 29), "UTC").span_label == "Mon 29 Dec 2025 – Sun 4 Jan 2026"


def test_a_week_starts_on_a_monday() -> None:
    with pytest.raises(ValueError, match="2026-03-03 is a Tuesday"):
        week_of(date(2026, 3, 3), "UTC")


def test_naive_interval_end_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        week_for_interval_end(datetime(2026, 3, 9, 8, 0), "UTC")
