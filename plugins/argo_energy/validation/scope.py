"""Which channels and site-local days the checks look at, and the windows they read.

``load_scope`` reads ``include/sql/validation/channels.sql`` once per check and leaves out the
ignored channels, those the API cannot serve and those without any data yet (each counted in
``Scope.note``); ``build_scope`` is its pure half. The array builders turn a scope or its
channel-days into the bound parameters the check SQL joins against.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from argo_energy.sitetime import local_date, resolve_zone
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.days import ChannelDay, ChannelScope, plain_utc, settled_days
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch

log = logging.getLogger(__name__)


def data_window(as_of: datetime, days: int) -> tuple[datetime, datetime]:
    """``[as_of - days, as_of)``: the readings the row-level checks look at."""
    end = plain_utc(as_of)
    return end - timedelta(days=days), end


def local_dates_between(start: datetime, end: datetime, tz: str) -> list[date]:
    """Site-local dates touched by ``[start, end)``."""
    first, last = local_date(start, tz), local_date(end - timedelta(microseconds=1), tz)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Scope:
    """The channels the per-channel checks look at, and why the others are left out."""

    channels: tuple[ChannelScope, ...]
    zones: Mapping[int, str]  # every channel's resolved zone (also those out of scope)
    ignored: tuple[int, ...]
    unsupported: tuple[int, ...]
    never_seen: tuple[int, ...]

    def zone_arrays(self, in_scope_only: bool = True) -> dict[str, list[Any]]:
        """``zone_channels`` and ``zones``: the bound arrays the check SQL cuts local days with."""
        ids = [c.channel_id for c in self.channels] if in_scope_only else sorted(self.zones)
        return {"zone_channels": ids, "zones": [self.zones[i] for i in ids]}

    def note(self) -> str:
        """``"3 channel(s) in scope, 1 ignored"``: how a check message names its scope."""
        parts = [f"{len(self.channels)} channel(s) in scope"]
        for label, ids in (("ignored", self.ignored), ("unsupported by the API", self.unsupported),
                           ("without any data yet", self.never_seen)):
            if ids:
                parts.append(f"{len(ids)} {label}")
        return ", ".join(parts)


def build_scope(rows: Iterable[Sequence[Any]], ignored: Iterable[int]) -> Scope:
    """Rows of channels.sql -> the scope. Pure."""
    ignored_set = set(ignored)
    channels: list[ChannelScope] = []
    zones: dict[int, str] = {}
    skipped_ignored: list[int] = []
    unsupported: list[int] = []
    never_seen: list[int] = []
    for channel_id, organization_id, timezone, first_seen, newest, is_unsupported in rows:
        zone, warning = resolve_zone(timezone)
        zones[int(channel_id)] = zone
        if channel_id in ignored_set:
            skipped_ignored.append(channel_id)
        elif is_unsupported:
            unsupported.append(channel_id)
        elif first_seen is None:
            never_seen.append(channel_id)
        else:
            channels.append(ChannelScope(int(channel_id), organization_id, zone, first_seen, newest, warning))
    return Scope(tuple(channels), zones, tuple(skipped_ignored), tuple(unsupported), tuple(never_seen))


def load_scope(conn: Connection, cfg: ValidationConfig) -> Scope:
    """The scope of this run's checks; a channel whose zone is unusable is logged."""
    scope = build_scope(fetch(conn, "validation/channels.sql"), cfg.ignore_channel_ids)
    for channel in scope.channels:
        if channel.zone_warning:
            log.warning("channel %s (site %s): %s", channel.channel_id, channel.organization_id,
                        channel.zone_warning)
    log.info("scope: %s", scope.note())
    return scope


def scope_days(scope: Scope, as_of: datetime, cfg: ValidationConfig) -> list[ChannelDay]:
    """Every settled site-local day of every channel in scope (``lookback_days``, ``settle_hours``)."""
    return [
        day
        for channel in scope.channels
        for day in settled_days(channel, as_of, cfg.lookback_days, cfg.settle_hours)
    ]


def day_arrays(days: Sequence[ChannelDay]) -> dict[str, list[Any]]:
    """The bound arrays of per-channel-day SQL: row index, channel and UTC bounds of each day."""
    return {
        "idx": list(range(len(days))),
        "channel_ids": [d.channel_id for d in days],
        "starts": [d.start for d in days],
        "ends": [d.end for d in days],
    }


def days_span(days: Sequence[ChannelDay], as_of: datetime) -> tuple[str, tuple[datetime, datetime]]:
    """How the checked days read in a message, and the UTC window they cover."""
    if not days:
        return "no settled day yet", (as_of, as_of)
    first, last = min(d.local_date for d in days), max(d.local_date for d in days)
    return f"local days {first}..{last}", (min(d.start for d in days), max(d.end for d in days))
