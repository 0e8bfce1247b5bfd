"""Field discovery of the metadata task: which codes each channel's device reports, asked once.

A channel's list is fetched with ``GET /fields/{deviceTypeId}`` (one request per device type, not
per channel or window: every channel of a type shares the answer) and cached on the channel with
the device type it was discovered for (``channels.reading_fields``, ``fields_device_type``). It is
asked again only when the channel's device type changes or it was never discovered. The requests go
through the hook's transport, under the account's request budget; at most ``MAX_DISCOVERY_REQUESTS``
per run (the rest wait for the next run and are read with the default fields meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from argo_energy.eniscope.errors import EniscopeAuthError, EniscopeConfigError, EniscopeError
from argo_energy.eniscope.fields import request_fields
from argo_energy.models import Channel
from argo_energy.warehouse.catalog import ChannelFields, channel_fields, record_channel_fields
from argo_energy.warehouse.connection import Connection

if TYPE_CHECKING:
    from argo_energy.eniscope.hook import EniscopeHook

log = logging.getLogger(__name__)

MAX_DISCOVERY_REQUESTS = 20  # device types asked per run; an account has a handful


def stale_by_type(channels: Sequence[Channel], cached: Mapping[int, ChannelFields]) -> dict[str, list[int]]:
    """``{device type id: [channel ids]}`` of the channels whose cached list is missing or of another type."""
    todo: dict[str, list[int]] = {}
    for channel in channels:
        if channel.device_type_id is None:
            continue  # nothing to ask for: such a channel is read with the default fields
        entry = cached.get(channel.channel_id)
        if entry is None or entry.fields is None or entry.device_type_id != channel.device_type_id:
            todo.setdefault(channel.device_type_id, []).append(channel.channel_id)
    return todo


def discover_fields(
    hook: EniscopeHook, conn: Connection, channels: Sequence[Channel], *, max_requests: int = MAX_DISCOVERY_REQUESTS
) -> dict[str, int]:
    """Discover and cache the field lists that are missing or stale; returns counts for the log and XCom.

    A device type whose discovery fails (other than bad credentials or configuration, which stop
    the task) is logged and asked again next run; its channels keep their cached list or the defaults.
    """
    todo = stale_by_type(channels, channel_fields(conn, [c.channel_id for c in channels]))
    asked = sorted(todo)[:max_requests]
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    failed = 0
    for device_type in asked:
        try:
            codes = hook.get_fields(device_type)
        except (EniscopeAuthError, EniscopeConfigError):
            raise
        except (EniscopeError, ValueError) as exc:
            failed += 1
            log.warning("field discovery of device type %s failed (asked again next run): %s", device_type, exc)
            continue
        found.update({cid: (device_type, codes) for cid in todo[device_type]})
    record_channel_fields(conn, found)
    counts = {
        "device_types": len(asked),
        "failed": failed,
        "deferred": len(todo) - len(asked),
        "channels": len(found),
    }
    log.info(
        "field discovery: %d request(s) for %d device type(s) (%d failed, %d deferred), %d channel(s) cached",
        len(asked), len(asked), failed, counts["deferred"], len(found),
    )
    return counts


def fields_to_request(conn: Connection, channel_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """``fields[]`` of each channel's readings request, from its cached list (defaults when none)."""
    cached = channel_fields(conn, channel_ids)
    return {cid: request_fields(cached[cid].fields if cid in cached else None) for cid in channel_ids}
