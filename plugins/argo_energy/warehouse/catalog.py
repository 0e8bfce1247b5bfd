"""Metadata writes: organisations, devices and channels, upserted from the API's lists.

Each function runs in its own transaction and commits it (the connection must be idle). The SQL is
in ``include/sql/ingest/upsert_*.sql``; values are bound as one array per column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from argo_energy.models import DEFAULT_SITE_TIMEZONE, Channel, Device, Organization
from argo_energy.warehouse.checks import require_aware, require_text, require_zone
from argo_energy.warehouse.connection import Connection, own_transaction
from argo_energy.warehouse.sql import fetch, fetch_in, sql_text

log = logging.getLogger(__name__)

_ORGANIZATION_COLUMNS = ("organization_id", "organization_name", "address", "city", "postcode", "country", "timezone")
_DEVICE_COLUMNS = (
    "device_id", "device_name", "organization_id", "device_type", "serial_number", "firmware_version", "last_seen",
)
_CHANNEL_COLUMNS = ("channel_id", "channel_name", "device_id", "organization_id", "channel_type", "unit", "description")


@dataclass(frozen=True, slots=True)
class Upserted:
    """Rows of a metadata upsert: new, changed, and identical (left untouched)."""

    inserted: int
    updated: int
    unchanged: int


def upsert_organizations(conn: Connection, orgs: Sequence[Organization]) -> Upserted:
    """Insert or update organisations; ``updated_at`` moves only when a field changed.

    A missing time zone keeps the stored one (or the contract default for a new site): the zone
    decides the site's calendar, so an API that omits it must not reset it.
    """
    rows = _unique(orgs, lambda o: o.organization_id, "organization_id")
    for org in rows:
        require_text(org.organization_id, "organization_id")
        require_text(org.organization_name, f"organization {org.organization_id}: organization_name")
        if org.timezone is not None:
            require_zone(org.timezone, f"organization {org.organization_id}")
    if not rows:
        return Upserted(0, 0, 0)
    params = [
        *_columns(rows, _ORGANIZATION_COLUMNS),
        DEFAULT_SITE_TIMEZONE,  # the contract's default for organizations.timezone (§3.2)
    ]
    return _run_upsert(conn, "organizations", params, len(rows))


def upsert_devices(conn: Connection, devices: Sequence[Device]) -> Upserted:
    """Insert or update devices (their organisations must exist); ``updated_at`` moves only on change."""
    rows = _unique(devices, lambda d: d.device_id, "device_id")
    for device in rows:
        if device.last_seen is not None:
            require_aware(device.last_seen, f"device {device.device_id}: last_seen")
    if not rows:
        return Upserted(0, 0, 0)
    return _run_upsert(conn, "devices", _columns(rows, _DEVICE_COLUMNS), len(rows))


def upsert_channels(conn: Connection, channels: Sequence[Channel]) -> Upserted:
    """Insert or update channels (devices and organisations first); ``updated_at`` moves only on change."""
    rows = _unique(channels, lambda c: c.channel_id, "channel_id")
    for channel in rows:
        require_text(channel.channel_name, f"channel {channel.channel_id}: channel_name")
    if not rows:
        return Upserted(0, 0, 0)
    return _run_upsert(conn, "channels", _columns(rows, _CHANNEL_COLUMNS), len(rows))


@dataclass(frozen=True, slots=True)
class ChannelFields:
    """A channel's cached field discovery: the codes (None: never discovered) and their device type."""

    channel_id: int
    fields: tuple[str, ...] | None
    device_type_id: str | None


def channel_fields(conn: Connection, channel_ids: Sequence[int]) -> dict[int, ChannelFields]:
    """The cached field lists of the stored channels among ``channel_ids``."""
    if not channel_ids:
        return {}
    rows = fetch(conn, "ingest/channel_fields.sql", {"channel_ids": list(channel_ids)})
    return {
        int(cid): ChannelFields(int(cid), None if codes is None else tuple(codes), device_type)
        for cid, codes, device_type in rows
    }


def record_channel_fields(conn: Connection, discovered: Mapping[int, tuple[str, Sequence[str]]]) -> int:
    """Cache ``{channel_id: (device_type_id, codes)}`` on the channels; returns the rows updated."""
    if not discovered:
        return 0
    for channel_id, (device_type, codes) in discovered.items():
        require_text(device_type, f"channel {channel_id}: device type id")
        if not all(isinstance(code, str) and code for code in codes):
            raise ValueError(f"channel {channel_id}: field codes must be non-empty strings, got {codes!r}")
    params = [
        {"channel_id": cid, "device_type": device_type, "fields": list(codes)}
        for cid, (device_type, codes) in sorted(discovered.items())
    ]
    with own_transaction(conn) as cur:
        cur.executemany(sql_text("ingest/record_channel_fields.sql"), params)
        updated = cur.rowcount
    log.info("channels: field lists cached for %s channel(s)", len(params))
    return max(updated, 0)


def _run_upsert(conn: Connection, table: str, params: list[Any], total: int) -> Upserted:
    """Run ``include/sql/ingest/upsert_<table>.sql``; count its inserts and updates."""
    with own_transaction(conn) as cur:
        flags = [row[0] for row in fetch_in(cur, f"ingest/upsert_{table}.sql", params)]
    result = Upserted(inserted=sum(flags), updated=len(flags) - sum(flags), unchanged=total - len(flags))
    log.info(
        "%s: %s inserted, %s updated, %s unchanged", table, result.inserted, result.updated, result.unchanged
    )
    return result


_T = TypeVar("_T")


def _unique(items: Sequence[_T], key: Callable[[_T], Hashable], what: str) -> list[_T]:
    """Items with distinct keys; an exact repeat is dropped, two different rows for one key are an error."""
    seen: dict[Hashable, _T] = {}
    for item in items:
        k = key(item)
        if k in seen and seen[k] != item:
            raise ValueError(f"{what} {k!r} given twice with different fields: {seen[k]!r} vs {item!r}")
        seen[k] = item
    return list(seen.values())


def _columns(rows: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    return [[getattr(row, name) for row in rows] for name in names]
