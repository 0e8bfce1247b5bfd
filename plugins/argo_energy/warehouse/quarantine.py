"""The catalog quarantine table: records the metadata sync left out, and when they came back healthy.

Written by the metadata sync (``ingest.tasks`` via ``ingest.quarantine.settle``), read by the
validation check ``catalog_quarantine``. SQL in ``include/sql/ingest/quarantine_*.sql``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from argo_energy.models import QuarantinedRecord
from argo_energy.warehouse.checks import require_aware
from argo_energy.warehouse.connection import Connection, own_transaction
from argo_energy.warehouse.sql import fetch_in

log = logging.getLogger(__name__)

_COLUMNS = ("kind", "record_id", "organization_id", "reason", "detail", "record")


def record_quarantine(
    conn: Connection, records: Sequence[QuarantinedRecord], healthy: Collection[tuple[str, str]], now: datetime
) -> tuple[int, int]:
    """Upsert this sync's quarantined records and resolve the open rows of records seen healthy.

    One transaction; returns (records quarantined, rows resolved). A key both quarantined and
    healthy is a caller error.
    """
    require_aware(now, "quarantine time")
    rows = list({(r.kind, r.record_id): r for r in records}.values())
    clash = {(r.kind, r.record_id) for r in rows} & set(healthy)
    if clash:
        raise ValueError(f"records both quarantined and healthy: {sorted(clash)}")
    pairs = sorted(healthy)
    with own_transaction(conn) as cur:
        new = [row[0] for row in fetch_in(cur, "ingest/quarantine_record.sql", [now, now, *[[getattr(r, c) for r in rows] for c in _COLUMNS]])]
        resolved = fetch_in(
            cur, "ingest/quarantine_resolve.sql", [now, [k for k, _ in pairs], [i for _, i in pairs]]
        )
    log.info(
        "catalog_quarantine: %d record(s) quarantined (%d new), %d resolved%s",
        len(rows), sum(new), len(resolved),
        "" if not resolved else " (" + ", ".join(f"{k} {i}" for k, i in resolved) + ")",
    )
    return len(rows), len(resolved)
