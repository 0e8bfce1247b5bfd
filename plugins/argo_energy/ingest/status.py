"""The sync-status roll-up: per channel and per site, from the readings tasks' outcomes.

A channel that answered 500 "Invalid Parameter" (sensor or virtual channel) gets a per-channel
``data_sync_status`` row whose ``sync_status`` is ``'unsupported'`` and whose ``error_message``
starts ``"unsupported channel:"``; the site's own row is not degraded by it. Later runs skip the
channel for ``UNSUPPORTED_RECHECK`` (then ask once again, in case it was reconfigured); a backfill
with ``force`` asks at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from argo_energy.ingest.planning import ChannelTarget
from argo_energy.ingest.readings import ChannelOutcome
from argo_energy.settings import ENERGY_CONN_ID
from argo_energy.warehouse import (
    SyncStatus,
    connect,
    latest_channel_status,
    readings_facts,
    record_sync_status,
)
from argo_energy.warehouse.connection import Connection

log = logging.getLogger(__name__)

# Marks a per-channel data_sync_status row of an unsupported channel (later runs look for it).
UNSUPPORTED_PREFIX = "unsupported channel:"
UNSUPPORTED = "unsupported"  # its sync_status (what the validation DAG reads)
UNSUPPORTED_RECHECK = timedelta(days=7)

Facts = Mapping[int, tuple[int, datetime | None]]  # channel id -> (readings in range, newest reading)


def recently_unsupported(conn: Connection, channel_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """Channels whose newest per-channel ``data_sync_status`` row marks them unsupported, within the
    recheck period: ``{channel_id: organization_id}``."""
    return {
        state.channel_id: state.organization_id
        for state in latest_channel_status(conn, channel_ids)
        if (state.sync_status == UNSUPPORTED or (state.error_message or "").startswith(UNSUPPORTED_PREFIX))
        and state.last_sync_timestamp > now - UNSUPPORTED_RECHECK
    }


def outcomes_from_xcom(summaries: Iterable[Any]) -> dict[int, ChannelOutcome]:
    """The readings tasks' ``summary`` XComs (one list of outcome dicts per batch) by channel id."""
    found: dict[int, ChannelOutcome] = {}
    for summary in summaries or ():
        for item in summary or ():
            outcome = ChannelOutcome(**item)
            found[outcome.channel_id] = outcome
    return found


def channel_status(outcome: ChannelOutcome | None) -> tuple[str, str | None]:
    """``(sync_status, error_message)`` of one channel in one run."""
    if outcome is None:
        return "failed", "no result: the readings task did not report on this channel"
    if outcome.unsupported:
        return UNSUPPORTED, f"{UNSUPPORTED_PREFIX} {outcome.error}"
    if outcome.failed == 0 and outcome.error is None:
        return "success", None
    good = outcome.ok + outcome.skipped_done
    return ("partial" if good else "failed"), (
        f"{outcome.failed} of {outcome.windows} window(s) failed: {outcome.error}"
    )


def site_status(
    channel_rows: Sequence[tuple[int, str, str | None]], unsupported: Sequence[int]
) -> tuple[str, str | None]:
    """A site's status over its supported channels; unsupported ones are named, not counted."""
    supported = [row for row in channel_rows if row[0] not in unsupported]
    problems = [f"channel {cid}: {err}" for cid, status, err in supported if status != "success"]
    notes = []
    if unsupported:
        notes.append(
            f"{len(unsupported)} unsupported channel(s) not synced: {', '.join(map(str, sorted(unsupported)))}"
        )
    if not supported:
        status = "failed" if unsupported else "success"
    elif not problems:
        status = "success"
    elif all(status == "failed" for _, status, _ in supported):
        status = "failed"
    else:
        status = "partial"
    if problems:
        notes.insert(
            0, f"{len(problems)} of {len(supported)} channel(s) not fully synced; " + "; ".join(problems)
        )
    return status, ("; ".join(notes) or None)


def site_rows(
    org: str,
    targets: Sequence[ChannelTarget],
    outcomes: Mapping[int, ChannelOutcome],
    facts: Facts,
    previously_unsupported: Sequence[int],
    now: datetime,
) -> list[SyncStatus]:
    """One site's rows: one per channel of ``targets`` (the site's), then the site's own (last)."""
    rows: list[SyncStatus] = []
    channel_rows = []
    unsupported = []
    for target in targets:
        outcome = outcomes.get(target.channel_id)
        status, error = channel_status(outcome)
        if outcome is not None and outcome.unsupported:
            unsupported.append(target.channel_id)
        count, newest = facts.get(target.channel_id, (0, None))
        channel_rows.append((target.channel_id, status, error))
        rows.append(SyncStatus(org, target.channel_id, now, newest, count, status, error))
    status, error = site_status(channel_rows, [*unsupported, *previously_unsupported])
    counted = [facts.get(t.channel_id, (0, None)) for t in targets if t.channel_id not in unsupported]
    newest_all = [n for _, n in counted if n is not None]
    rows.append(
        SyncStatus(org, None, now, max(newest_all, default=None), sum(c for c, _ in counted), status, error)
    )
    return rows


def record_run_status(
    plan: Mapping[str, Any] | None,
    summaries: Iterable[Any] | None,
    *,
    energy_conn_id: str = ENERGY_CONN_ID,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write this run's ``data_sync_status`` rows: one per site and one per channel synced or probed.

    ``readings_count`` is the number of readings stored for the channel (or site) within the run's
    range; ``last_reading_timestamp`` the newest reading stored for it at all.
    """
    if not plan:
        log.warning("no plan (the metadata task did not succeed): no data_sync_status rows to write")
        return {"sites": 0, "channels": 0}
    now = now or datetime.now(UTC)
    outcomes = outcomes_from_xcom(summaries or ())
    targets = [ChannelTarget.from_dict(t) for batch in plan.get("batches", []) for t in batch["targets"]]
    rows: list[SyncStatus] = []
    statuses: dict[str, str] = {}
    conn = connect(energy_conn_id)
    try:
        facts = readings_facts(conn, [(t.channel_id, t.start, t.end) for t in targets])
        for site in plan.get("sites", []):
            org = site["organization_id"]
            previously = [u["channel_id"] for u in plan.get("unsupported", []) if u["organization_id"] == org]
            site_targets = [t for t in targets if t.organization_id == org]
            added = site_rows(org, site_targets, outcomes, facts, previously, now)
            rows.extend(added)
            statuses[org] = added[-1].sync_status
        record_sync_status(conn, rows)
    finally:
        conn.close()
    log.info(
        "data_sync_status: %d site row(s) %s, %d channel row(s)",
        len(statuses),
        statuses,
        len(rows) - len(statuses),
    )
    return {"sites": statuses, "channels": len(rows) - len(statuses)}
