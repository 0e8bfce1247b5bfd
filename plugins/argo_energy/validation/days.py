"""Which site-local days each channel is checked for, and how many 15-minute slots each day has. Pure.

A local day has 96 slots, 92 on the 23-hour spring-forward day and 100 on the 25-hour fall-back
day (hours x 4), always counted in the site's own zone (``organizations.timezone``), exactly as
the ingestion cuts its windows (``argo_energy.ingest.windows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argo_energy.ingest.planning import site_zone
from argo_energy.ingest.windows import local_date, local_midnight
from argo_energy.models import Organization

SLOT = timedelta(minutes=15)


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
        return int((self.end - self.start) / SLOT)


def resolve_zone(organization_id: str | None, timezone: str | None) -> tuple[str, str | None]:
    """The site's IANA zone, or ``("UTC", warning)`` when missing/unknown (the ingestion does the same)."""
    return site_zone(Organization(organization_id or "?", organization_id or "?", timezone=timezone))


def expected_slots(day: date, tz: str) -> int:
    """15-minute slots in local day ``day`` of ``tz``: 96, or 92/100 on DST change days."""
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    return int((end - start) / SLOT)


def last_settled_day(as_of: datetime, settle_hours: int, tz: str) -> date:
    """The newest local day of ``tz`` that ended at least ``settle_hours`` before ``as_of``."""
    settled_until = as_of.astimezone(UTC) - timedelta(hours=settle_hours)
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
