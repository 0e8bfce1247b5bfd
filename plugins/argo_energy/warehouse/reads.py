"""Small reads of the ingestion: done windows, channels' last sync state, stored readings per channel.

Each runs in its own read transaction on an idle connection (``warehouse.sql.fetch``) and ends it,
so the connection is idle again for the writers. The SQL is in ``include/sql/ingest/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from argo_energy.warehouse.checks import check_window
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch


@dataclass(frozen=True, slots=True)
class ChannelSyncState:
    """The newest per-channel ``data_sync_status`` row of one channel."""

    channel_id: int
    organization_id: str
    sync_status: str
    error_message: str | None
    last_sync_timestamp: datetime


def completed_windows(
    conn: Connection,
    channel_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    run_id: str | None = None,
) -> set[tuple[int, datetime, datetime]]:
    """``(channel_id, start, end)`` (UTC) of the windows inside ``[start, end)`` with a 'success' log row.

    With ``run_id``, only rows written by that Airflow run: a retry redoes what this run has not
    written yet, without skipping what an earlier run wrote (late data must still be fetched).
    """
    check_window(start, end)
    if not channel_ids:
        return set()
    rows = fetch(
        conn,
        "ingest/completed_windows.sql",
        {"channel_ids": list(channel_ids), "start": start, "end": end, "run_id": run_id},
    )
    return {(int(c), s.astimezone(UTC), e.astimezone(UTC)) for c, s, e in rows}


def latest_channel_status(conn: Connection, channel_ids: Sequence[int]) -> list[ChannelSyncState]:
    """The newest per-channel ``data_sync_status`` row of each of ``channel_ids`` that has one."""
    if not channel_ids:
        return []
    rows = fetch(conn, "ingest/latest_channel_status.sql", {"channel_ids": list(channel_ids)})
    return [
        ChannelSyncState(int(cid), str(org), str(status), error, synced)
        for cid, org, status, error, synced in rows
    ]


def readings_facts(
    conn: Connection, ranges: Sequence[tuple[int, datetime, datetime]]
) -> dict[int, tuple[int, datetime | None]]:
    """Per ``(channel_id, start, end)``: readings stored in ``[start, end)``, and the channel's newest reading."""
    if not ranges:
        return {}
    rows = fetch(
        conn,
        "ingest/readings_facts.sql",
        {"channel_ids": [r[0] for r in ranges], "starts": [r[1] for r in ranges], "ends": [r[2] for r in ranges]},
    )
    return {int(cid): (int(count), newest) for cid, count, newest in rows}
