"""Input checks of the warehouse writers: a clear ``ValueError`` before any SQL runs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def require_aware(value: datetime, what: str) -> None:
    """Refuse a naive datetime (the warehouse stores ``timestamptz``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")


def require_text(value: str | None, what: str) -> None:
    """Refuse a missing or blank string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def require_zone(name: str, what: str) -> None:
    """Refuse a name that is not an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{what}: unknown IANA time zone {name!r}") from exc


def check_window(start: datetime, end: datetime) -> None:
    """Refuse a naive or empty window ``[start, end)``."""
    require_aware(start, "window start")
    require_aware(end, "window end")
    if not start < end:
        raise ValueError(f"empty window: start {start.isoformat()} is not before end {end.isoformat()}")
