"""Site-local days of the completeness check: DST lengths, half-hour zones, settling. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest

from argo_energy.validation.days import ChannelScope, last_settled_day, plain_utc, settled_days

NY, KOLKATA = "America/New_York", "Asia/Kolkata"


def scope(tz: str, first_seen: datetime | None = None) -> ChannelScope:
    return ChannelScope(1, "site", tz, first_seen, None)


def hours_of(day: date, tz: str) -> float:
    """Independent: wall-clock midnights through zoneinfo, difference in hours."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        (NY, date(2025, 3, 9), 92),   # spring forward: 23 h
        (NY, date(2025, 11, 2), 100),  # fall back: 25 h
        (NY, date(2025, 6, 1), 96),
        (KOLKATA, date(2025, 3, 9), 96),  # no DST
        ("Australia/Lord_Howe", date(2025, 4, 6), 98),  # 30-minute DST shift: 24.5 h
    ],
)
def test_expected_slots_follow_the_local_day_length(tz, day, expected):
    as_of = datetime.combine(day + timedelta(days=3), time(12), tzinfo=UTC)
    days = {d.local_date: d for d in settled_days(scope(tz), as_of, days=5, settle_hours=24)}
    assert days[day].expected_slots == expected
    assert expected == hours_of(day, tz) * 4


def test_kolkata_day_bounds_are_local_midnights():
    (day,) = settled_days(scope(KOLKATA), datetime(2025, 6, 5, 12, tzinfo=UTC), days=1, settle_hours=24)
    assert day.local_date == date(2025, 6, 3)
    assert day.start == datetime(2025, 6, 2, 18, 30, tzinfo=UTC)
    assert day.end == datetime(2025, 6, 3, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "settle", "expected"),
    [
        # New York day 2025-06-02 ends 2025-06-03 04:00 UTC (EDT).
        (datetime(2025, 6, 4, 4, 0, tzinfo=UTC), 24, date(2025, 6, 2)),  # exactly settled
        (datetime(2025, 6, 4, 3, 59, tzinfo=UTC), 24, date(2025, 6, 1)),  # one minute short
        (datetime(2025, 6, 3, 4, 0, tzinfo=UTC), 0, date(2025, 6, 2)),
    ],
)
def test_last_settled_day(as_of, settle, expected):
    assert last_settled_day(as_of, settle, NY) == expected


def test_no_day_before_the_first_data_is_checked():
    first_seen = datetime(2025, 6, 2, 15, tzinfo=UTC)  # 11:00 New York
    days = settled_days(scope(NY, first_seen), datetime(2025, 6, 6, 12, tzinfo=UTC), days=7, settle_hours=24)
    assert [d.local_date for d in days] == [date(2025, 6, 2), date(2025, 6, 3), date(2025, 6, 4)]


def test_days_must_be_positive():
    with pytest.raises(ValueError, match="days must be >= 1"):
        settled_days(scope(NY), datetime(2025, 6, 6, tzinfo=UTC), days=0, settle_hours=24)


def test_plain_utc_survives_pendulum_arithmetic():
    as_of = pendulum.datetime(2025, 11, 4, 12, tz="UTC")
    converted = plain_utc(as_of)
    assert type(converted) is datetime
    assert (converted - timedelta(hours=24)).utcoffset() == timedelta(0), "stays aware after arithmetic"
    assert plain_utc(pendulum.datetime(2025, 11, 4, 7, tz="America/New_York")) == datetime(2025, 11, 4, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        plain_utc(datetime(2025, 1, 1))
