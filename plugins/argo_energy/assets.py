"""The Airflow Assets the pipeline publishes, and the extra of their events.

The ingestion DAGs (daily sync, historical backfill) publish an event on ``READINGS`` when a run
wrote readings (inserted or updated) and on ``HOURLY_USAGE`` when, in addition, the hourly rollup
was refreshed after them. Each event's extra says what changed::

    {"sites": ["23271", ...], "local_days": ["2026-11-09", "2026-11-15"],   # first and last
     "channels": 3, "inserted": 2016, "updated": 0, "windows": 21, "failed_windows": 0}

A run that changed nothing publishes nothing. Other teams subscribe with ``schedule=READINGS``
(or ``AssetOrTimeSchedule``), see docs/OPERATIONS.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

from argo_energy.ingest.planning import ChannelTarget
from argo_energy.sitetime import local_date

GROUP = "argo_energy"
READINGS = Asset(name="argo_energy.readings", uri="argo-energy://warehouse/readings", group=GROUP)
HOURLY_USAGE = Asset(name="argo_energy.hourly_usage", uri="argo-energy://warehouse/mv_hourly_usage", group=GROUP)


def change_extra(plan: Mapping[str, Any] | None, summaries: Iterable[Any] | None) -> dict[str, Any]:
    """The event extra of a run from its plan (targets with site and range) and batch summaries. Pure.

    ``summaries``: what ``xcom_pull(task_ids=[readings task], key="summary")`` returns, one list of
    channel outcomes (dicts) per batch, ``None`` for a batch that pushed nothing.
    """
    outcomes = [o for batch in (summaries or []) if batch for o in batch]
    changed = [o for o in outcomes if (o.get("inserted") or 0) + (o.get("updated") or 0) > 0]
    targets = {int(t["channel_id"]): t for b in (plan or {}).get("batches", []) for t in b.get("targets", [])}
    days = sorted(day for o in changed for day in _local_days(targets.get(int(o["channel_id"]))))
    return {
        "sites": sorted({str(o["organization_id"]) for o in changed}),
        "local_days": [days[0], days[-1]] if days else [],
        "channels": len(changed),
        "inserted": sum(o.get("inserted") or 0 for o in outcomes),
        "updated": sum(o.get("updated") or 0 for o in outcomes),
        "windows": sum(o.get("ok") or 0 for o in outcomes),
        "failed_windows": sum(o.get("failed") or 0 for o in outcomes),
    }


def _local_days(target: Mapping[str, Any] | None) -> list[str]:
    """First and last site-local day of a planned target's range (its end is exclusive)."""
    if not target:
        return []
    t = ChannelTarget.from_dict(target)
    last = t.end - timedelta(microseconds=1)
    return [local_date(t.start, t.timezone).isoformat(), local_date(last, t.timezone).isoformat()]
