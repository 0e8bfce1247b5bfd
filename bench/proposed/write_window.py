"""PROPOSAL (benchmark 1), not used by the pipeline: ``store.write_window`` in fewer round trips.

Same transaction and same semantics as ``argo_energy.warehouse.store.write_window`` for what the
benchmark exercises (no rejected readings): the per-channel advisory lock, ``INSERT ... ON CONFLICT
(channel_id, timestamp) DO UPDATE ... WHERE (values) IS DISTINCT FROM (new values)`` with the
inserted/updated counts, and the ``ingestion_logs`` row, in one transaction.

What changes: the readings travel as nine arrays bound to one ``INSERT ... SELECT FROM unnest(...)``
instead of ``CREATE TEMP TABLE IF NOT EXISTS`` + ``SET LOCAL`` + ``COPY`` into the temp table +
``INSERT ... SELECT`` from it, and the three statements (lock, upsert, log row) are sent in one
psycopg pipeline. Per window that is one network round trip and no temp-table truncation at commit
(``ON COMMIT DELETE ROWS``) instead of six round trips (here: lock + upsert-and-log in one sync, then COMMIT). For a one-day window (96 readings) the
statement count, not the row count, is what costs (benchmark 1: ``upsert_day_async`` vs
``copy_day_async``). Validation of the inputs is the store's and is not repeated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from argo_energy.models import READING_FIELDS, Reading
from argo_energy.warehouse.connection import LOCK_CHANNEL_WRITE

_COLUMNS = ", ".join(READING_FIELDS)
# One statement: the upsert, its counts and the log row (data-modifying CTEs always run).
UPSERT_AND_LOG = f"""
WITH up AS (
    INSERT INTO readings AS t (channel_id, "timestamp", {_COLUMNS})
    SELECT %(channel_id)s, s.ts, {", ".join("s." + n for n in READING_FIELDS)}
      FROM unnest(%(ts)s::timestamptz[], {", ".join(f"%({n})s::real[]" for n in READING_FIELDS)})
           AS s (ts, {_COLUMNS})
     ORDER BY s.ts
    ON CONFLICT (channel_id, "timestamp") DO UPDATE
       SET {", ".join(f"{n} = EXCLUDED.{n}" for n in READING_FIELDS)},
           updated_at = CURRENT_TIMESTAMP
     WHERE ({", ".join("t." + n for n in READING_FIELDS)})
           IS DISTINCT FROM ({", ".join("EXCLUDED." + n for n in READING_FIELDS)})
    RETURNING (t.xmax = 0) AS inserted
), c AS (
    SELECT count(*) FILTER (WHERE inserted) AS ins, count(*) FILTER (WHERE NOT inserted) AS upd FROM up
)
INSERT INTO ingestion_logs
    (organization_id, channel_id, start_time, end_time, readings_fetched, readings_inserted,
     readings_rejected, readings_updated, readings_unchanged, status, error_message, run_id)
SELECT %(organization_id)s, %(channel_id)s, %(start)s, %(end)s, %(fetched)s, c.ins, 0, c.upd,
       %(fetched)s - c.ins - c.upd, 'success', NULL, %(run_id)s
  FROM c
RETURNING readings_inserted, readings_updated, readings_unchanged
"""


def write_window_unnest(
    conn: psycopg.Connection[Any],
    *,
    organization_id: str,
    channel_id: int,
    start: datetime,
    end: datetime,
    readings: Sequence[Reading],
    run_id: str | None = None,
) -> tuple[int, int, int]:
    """(inserted, updated, unchanged) of one window, as counted by the upsert and logged."""
    rows = sorted(readings, key=lambda r: r.ts)
    params: dict[str, Any] = {
        "organization_id": organization_id,
        "channel_id": channel_id,
        "start": start,
        "end": end,
        "fetched": len(rows),
        "run_id": run_id,
        "ts": [r.ts for r in rows],
    }
    for i, name in enumerate(READING_FIELDS):
        params[name] = [r.values()[i] for r in rows]
    with conn.pipeline(), conn.transaction(), conn.cursor() as lock, conn.cursor() as cur:
        lock.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CHANNEL_WRITE, channel_id))
        cur.execute(UPSERT_AND_LOG, params)
        row = cur.fetchone()  # the one sync: lock and upsert travel together; COMMIT follows
    if row is None:
        raise RuntimeError(f"channel {channel_id}: the upsert returned no log row")
    return int(row[0]), int(row[1]), int(row[2])
