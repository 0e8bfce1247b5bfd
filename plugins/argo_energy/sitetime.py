"""Site time: the 15-minute slot, site zones, local days and fetch windows. Pure, no I/O.

The one place that says what a site's day is (used by ingestion, validation, report and views' tests).

One window is one site-local calendar day (23, 24 or 25 hours around DST changes), clipped to the
ends of the range. Windows are contiguous, non-overlapping, half-open ``[start, end)`` and cover
the range exactly. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argo_energy.models import DEFAULT_SITE_TIMEZONE, Window

# The metering slot: Eniscope gateways report every 15 minutes; every grid in the project is this one.
SLOT = timedelta(minutes=15)
SLOT_SECONDS = int(SLOT.total_seconds())


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


@cache
def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def is_iana_zone(name: str) -> bool:
    """Whether ``name`` is a time zone of the IANA database (``Eastern Standard Time`` is not)."""
    return _zone_exists(name)


def resolve_zone(timezone: str | None) -> tuple[str, str | None]:
    """The zone a site's day is cut in, and the problem if it is not the site's own.

    The site's own zone; ``DEFAULT_SITE_TIMEZONE`` (the contract default) when it has none, as the
    warehouse and the views do; UTC when the name is not an IANA zone.
    """
    if not timezone:
        return DEFAULT_SITE_TIMEZONE, None
    if not _zone_exists(timezone):
        return "UTC", f"unknown time zone {timezone!r}; its days are cut at UTC midnight"
    return timezone, None


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def local_midnight(day: date, tz: str | ZoneInfo) -> datetime:
    """The first instant of local calendar day ``day`` in ``tz``, as aware UTC.

    Where a DST jump skips midnight itself (e.g. America/Santiago), ``fold=0`` resolves 00:00 with
    the offset in force before the jump, which is the first instant that exists on that day.
    """
    return datetime.combine(day, time(0), tzinfo=_zone(tz)).astimezone(UTC)


def local_date(instant: datetime, tz: str | ZoneInfo) -> date:
    """The site-local calendar date of an aware instant."""
    _require_aware("instant", instant)
    return instant.astimezone(_zone(tz)).date()


def floor_to_grid(instant: datetime, grid: timedelta = SLOT) -> datetime:
    """Round an aware instant down to the UTC epoch grid (15 minutes by default)."""
    _require_aware("instant", instant)
    utc = instant.astimezone(UTC)
    step = int(grid.total_seconds())
    epoch = int(utc.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


def make_windows(start: datetime, end: datetime, tz: str | ZoneInfo) -> list[Window]:
    """Cut ``[start, end)`` into site-local days of ``tz``; ``start == end`` gives no window.

    Raises ``ValueError`` for naive datetimes, an unknown zone or ``start > end``.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    zone = _zone(tz)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start > end:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    windows: list[Window] = []
    day = local_date(start, zone)
    # A fall-back that crossed midnight (00:30 -> 23:30) would make an instant read as the previous
    # date after the new day began; never start with a day that has already ended.
    while local_midnight(day + timedelta(days=1), zone) <= start:
        day += timedelta(days=1)
    cursor = start
    while cursor < end:
        next_midnight = local_midnight(day + timedelta(days=1), zone)
        window_end = min(next_midnight, end)
        windows.append(Window(start=cursor, end=window_end, local_date=day))
        cursor = window_end
        day += timedelta(days=1)
    return windows


def local_days_range(first: date, last: date, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """``[midnight of first, midnight after last)`` in ``tz``: local days ``first..last`` inclusive."""
    if last < first:
        raise ValueError(f"last day {last} is before first day {first}")
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def lookback_range(
    interval_end: datetime, lookback_days: int, tz: str | ZoneInfo
) -> tuple[datetime, datetime]:
    """The daily sync's range: from the start of the site-local day ``lookback_days`` days before
    ``interval_end`` up to ``interval_end``."""
    _require_aware("interval_end", interval_end)
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    first = local_date(interval_end, tz) - timedelta(days=lookback_days)
    return local_midnight(first, tz), interval_end.astimezone(UTC)
