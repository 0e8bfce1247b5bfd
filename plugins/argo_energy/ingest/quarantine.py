"""Catalog quarantine of the metadata sync: which records stay out, and what follows from it. Pure.

The hook parses the Eniscope lists record by record (``parsing.parse_each``) and keeps the records
it could not parse. Here that becomes the sync's decision:

* a record also seen healthy (a device listed by ``/meters`` and again on a channel) is not
  quarantined: the healthy copy is synced;
* a channel of a quarantined organisation or device is quarantined too (``depends_on_quarantined``):
  its rows would point at a parent the warehouse does not have;
* a site or channel an operator selected by id that is quarantined is left out with a warning,
  instead of failing every other site's sync as an unknown id.

``healthy`` are the keys seen healthy this run: the warehouse marks their old quarantine rows resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from argo_energy.models import Channel, Device, Organization, QuarantinedRecord

log = logging.getLogger(__name__)

DEPENDS = "depends_on_quarantined"

Key = tuple[str, str]  # (kind, record id)
_Id = TypeVar("_Id", str, int)


@dataclass(frozen=True)
class Settled:
    """The records to sync, the ones quarantined (one per key) and the keys seen healthy."""

    channels: list[Channel]
    devices: list[Device]
    quarantined: list[QuarantinedRecord]
    healthy: set[Key]


def _keys(organizations: Sequence[Organization], devices: Sequence[Device], channels: Sequence[Channel]) -> set[Key]:
    return (
        {("organization", o.organization_id) for o in organizations}
        | {("device", str(d.device_id)) for d in devices}
        | {("channel", str(c.channel_id)) for c in channels}
    )


def _dependent(channel: Channel, parent: str, parent_id: str) -> QuarantinedRecord:
    return QuarantinedRecord(
        kind="channel",
        record_id=str(channel.channel_id),
        reason=DEPENDS,
        detail=f"channel {channel.channel_id} ({channel.channel_name}): its {parent} {parent_id} is quarantined",
        organization_id=channel.organization_id,
    )


def settle(
    organizations: Sequence[Organization],
    all_channels: Sequence[Channel],
    channels: Sequence[Channel],
    devices: Sequence[Device],
    quarantined: Sequence[QuarantinedRecord],
) -> Settled:
    """Decide the quarantine of one metadata sync.

    ``organizations``/``all_channels``: every record the lists parsed; ``channels``/``devices``:
    the selected ones; ``quarantined``: what the hook could not parse.
    """
    good = _keys(organizations, devices, all_channels)
    unique: dict[Key, QuarantinedRecord] = {}
    for record in quarantined:
        key = (record.kind, record.record_id)
        if key in good:
            log.warning("%s %s: one copy is malformed (%s), another is healthy and is synced",
                        record.kind, record.record_id, record.detail)
        else:
            unique.setdefault(key, record)
    bad_orgs = {rid for kind, rid in unique if kind == "organization"}
    bad_devices = {rid for kind, rid in unique if kind == "device"}
    for channel in all_channels:
        if channel.organization_id in bad_orgs:
            unique.setdefault(("channel", str(channel.channel_id)),
                              _dependent(channel, "organization", str(channel.organization_id)))
        elif channel.device_id is not None and str(channel.device_id) in bad_devices:
            unique.setdefault(("channel", str(channel.channel_id)),
                              _dependent(channel, "device", str(channel.device_id)))
    out = {rid for kind, rid in unique if kind == "channel"}
    kept_channels = [c for c in channels if str(c.channel_id) not in out]
    kept_devices = [d for d in devices if d.organization_id not in bad_orgs]
    healthy = _keys(organizations, kept_devices, [c for c in all_channels if str(c.channel_id) not in out])
    if unique:
        log.warning(
            "catalog quarantine: %d record(s) left out (%s); the others sync",
            len(unique),
            ", ".join(f"{kind} {rid}" for kind, rid in sorted(unique)),
        )
    return Settled(kept_channels, kept_devices, list(unique.values()), healthy)


def usable_ids(wanted: Sequence[_Id], bad: set[str], kind: str) -> list[_Id]:
    """``wanted`` ids without the ``bad`` ones (each left out is logged)."""
    left_out = [i for i in wanted if str(i) in bad]
    if left_out:
        log.warning("selected %s(s) %s are quarantined and left out of this run",
                    kind, ", ".join(map(str, left_out)))
    return [i for i in wanted if str(i) not in bad]


def excluded_channel_ids(all_channels: Sequence[Channel], quarantined: Sequence[QuarantinedRecord]) -> set[str]:
    """Ids of channels that cannot sync: quarantined themselves, or their organisation is."""
    bad_orgs = {r.record_id for r in quarantined if r.kind == "organization"}
    return {r.record_id for r in quarantined if r.kind == "channel"} | {
        str(c.channel_id) for c in all_channels if c.organization_id in bad_orgs
    }
