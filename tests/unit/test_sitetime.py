"""Windows: contiguous, half-open, cut at the site's local midnights, DST days 23/25 h."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from argo_energy.sitetime import (
    floor_to_grid,
    local_days_range,
    local_midnight,
    lookback_range,
    make_windows,
)

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_contiguous(windows, start, end):
    assert windows, "expected at least one window"
    assert windows[0].start == start, "first window must start at the range start"
    assert windows[-1].end == end, "last window must end at the range end"
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start, f"gap or overlap between {before} and {after}"
    for w in windows:
        assert w.start < w.end, f"empty or inverted window {w}"
        assert w.start.tzinfo is not None
        assert w.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),  # spring forward
        ("America/New_York", date(2026, 11, 1), 25),  # fall back
        ("America/New_York", date(2026, 3, 9), 24),
        ("Europe/London", date(2026, 3, 29), 23),
        ("Europe/London", date(2026, 10, 25), 25),
        ("Asia/Kolkata", date(2026, 3, 8), 24),  # no DST
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),  # half-hour DST shift
    ],
)
def test_one_local_day_has_its_real_length(tz, day, hours):
    start, end = local_days_range(day, day, tz)
    windows = make_windows(start, end, tz)
    assert len(windows) == 1
    assert windows[0].local_date == day
    assert (windows[0].end - windows[0].start) == timedelta(hours=hours)


def test_dst_week_cut_at_new_york_midnights():
    start, end = local_days_range(date(2026, 3, 6), date(2026, 3, 10), NY)
    windows = make_windows(start, end, NY)
    assert_contiguous(windows, start, end)
    assert [w.local_date for w in windows] == [date(2026, 3, d) for d in range(6, 11)]
    for w in windows:
        local = w.start.astimezone(NY)
        assert (local.hour, local.minute) == (0, 0), f"{w} does not start at local midnight"
    assert [(w.end - w.start) / timedelta(hours=1) for w in windows] == [24, 24, 23, 24, 24]
    # quarter-hours per day: what a DST day stores
    assert [(w.end - w.start) // timedelta(minutes=15) for w in windows] == [96, 96, 92, 96, 96]


def test_half_hour_offset_site_starts_at_its_local_midnight():
    kolkata = "Asia/Kolkata"
    windows = make_windows(utc(2026, 3, 1, 18, 30), utc(2026, 3, 3, 18, 30), kolkata)
    assert [(w.start, w.end) for w in windows] == [
        (utc(2026, 3, 1, 18, 30), utc(2026, 3, 2, 18, 30)),
        (utc(2026, 3, 2, 18, 30), utc(2026, 3, 3, 18, 30)),
    ]
    assert [w.local_date for w in windows] == [date(2026, 3, 2), date(2026, 3, 3)]


def test_range_is_clipped_at_both_ends():
    start, end = utc(2026, 3, 5, 14, 15), utc(2026, 3, 7, 2, 0)  # 09:15 EST .. 21:00 EST
    windows = make_windows(start, end, NY)
    assert_contiguous(windows, start, end)
    assert [(w.start, w.end, w.local_date) for w in windows] == [
        (start, utc(2026, 3, 6, 5), date(2026, 3, 5)),
        (utc(2026, 3, 6, 5), end, date(2026, 3, 6)),
    ]


def test_range_inside_one_day_is_one_window():
    start, end = utc(2026, 3, 5, 14), utc(2026, 3, 5, 15)
    assert [(w.start, w.end) for w in make_windows(start, end, NY)] == [(start, end)]


def test_empty_range_has_no_window_and_inverted_range_is_an_error():
    assert make_windows(utc(2026, 3, 5), utc(2026, 3, 5), NY) == []
    with pytest.raises(ValueError, match="is after end"):
        make_windows(utc(2026, 3, 6), utc(2026, 3, 5), NY)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        make_windows(datetime(2026, 3, 5), utc(2026, 3, 6), NY)


def test_non_utc_aware_inputs_give_utc_windows():
    start = datetime(2026, 3, 5, 0, 0, tzinfo=NY)
    windows = make_windows(start, start + timedelta(days=1), NY)
    assert windows[0].start == utc(2026, 3, 5, 5)
    assert windows[0].start.tzinfo is UTC


def test_midnight_skipped_by_dst_starts_the_day_at_its_first_instant():
    # America/Santiago jumps from 00:00 to 01:00 on 2026-09-06: the local day starts at 01:00 -03.
    santiago = "America/Santiago"
    assert local_midnight(date(2026, 9, 6), santiago) == utc(2026, 9, 6, 4)
    start, end = local_days_range(date(2026, 9, 5), date(2026, 9, 7), santiago)
    windows = make_windows(start, end, santiago)
    assert_contiguous(windows, start, end)
    assert [(w.end - w.start) / timedelta(hours=1) for w in windows] == [24, 23, 24]


def test_repeated_midnight_belongs_to_the_new_day():
    # America/Havana falls back from 01:00 to 00:00 on 2026-11-01: midnight happens twice, the day
    # has 25 hours and an instant in the repeated hour (second 00:30) is still November 1.
    havana = "America/Havana"
    start, end = local_days_range(date(2026, 10, 31), date(2026, 11, 2), havana)
    windows = make_windows(start, end, havana)
    assert_contiguous(windows, start, end)
    assert [(w.end - w.start) / timedelta(hours=1) for w in windows] == [24, 25, 24]
    second_half_past_midnight = utc(2026, 11, 1, 5, 30)
    later = make_windows(second_half_past_midnight, end, havana)
    assert later[0].local_date == date(2026, 11, 1)
    assert later[0].end == windows[1].end


def test_lookback_range_starts_at_local_midnight_days_before_interval_end():
    end = utc(2026, 3, 10, 2)  # 22:00 EDT on March 9
    start, stop = lookback_range(end, 7, NY)
    assert start == datetime(2026, 3, 2, tzinfo=NY).astimezone(UTC)
    assert stop == end
    windows = make_windows(start, stop, NY)
    assert len(windows) == 8  # 7 full local days + the partial day that ends at 02:00 UTC
    assert windows[-1].local_date == date(2026, 3, 9)
    with pytest.raises(ValueError, match="lookback_days"):
        lookback_range(end, -1, NY)


def test_floor_to_grid():
    assert floor_to_grid(utc(2026, 3, 5, 10, 29, 59)) == utc(2026, 3, 5, 10, 15)
    assert floor_to_grid(utc(2026, 3, 5, 10, 30)) == utc(2026, 3, 5, 10, 30)
