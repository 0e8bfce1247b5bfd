"""Which site-local days each channel is checked for, and how many 15-minute slots each day has. Pure.

A local day has 96 slots, 92 on the 23-hour spring-forward day and 100 on the 25-hour fall-back
day (hours x 4), always counted in the site's own zone (``organizations.timezone``), exactly as
the ingestion cuts its windows (``argo_energy.sitetime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argo_energy.sitetime import SLOT, local_date, local_midnight


@dataclass(frozen=True, slots=True)
class ChannelScope:
    """A channel the checks look at: its site, zone and the span of its data we know of."""

    channel_id: int
    organization_id: str | None
    timezone: str
    first_seen: datetime | None  # earliest reading or ingestion window start
    newest_reading: datetime | None
    zone_warning: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelDay:
    """One channel on one site-local calendar day ``[start, end)`` (UTC instants)."""

    channel_id: int
    organization_id: str | None
    timezone: str
    local_date: date
    start: datetime
    end: datetime

    @property
    def expected_slots(self) -> int:
        """96, or 92/100 on the site's DST change days: the length of the local day / 15 min."""
        return int((self.end - self.start) / SLOT)


def plain_utc(instant: datetime) -> datetime:
    """The instant as a stdlib ``datetime`` in UTC.

    Airflow hands out pendulum ``DateTime``s; pendulum drops the tzinfo when a ``timedelta`` is
    subtracted from one that carries ``datetime.UTC`` (``astimezone(UTC) - timedelta`` comes out
    naive), so every instant entering the checks is converted once, here.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got naive {instant.isoformat()}")
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)


def last_settled_day(as_of: datetime, settle_hours: int, tz: str) -> date:
    """The newest local day of ``tz`` that ended at least ``settle_hours`` before ``as_of``."""
    settled_until = plain_utc(as_of) - timedelta(hours=settle_hours)
    return local_date(settled_until, tz) - timedelta(days=1)


def settled_days(scope: ChannelScope, as_of: datetime, days: int, settle_hours: int) -> list[ChannelDay]:
    """The channel's last ``days`` settled local days, none before the day of its first data."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    last = last_settled_day(as_of, settle_hours, scope.timezone)
    first = last - timedelta(days=days - 1)
    if scope.first_seen is not None:
        first = max(first, local_date(scope.first_seen, scope.timezone))
    out = []
    day = first
    while day <= last:
        out.append(
            ChannelDay(
                channel_id=scope.channel_id,
                organization_id=scope.organization_id,
                timezone=scope.timezone,
                local_date=day,
                start=local_midnight(day, scope.timezone),
                end=local_midnight(day + timedelta(days=1), scope.timezone),
            )
        )
        day += timedelta(days=1)
    return out
