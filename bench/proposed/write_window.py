"""PROPOSAL (benchmark 1), not used by the pipeline: ``store.write_window`` with a COPY fast path.

Same transaction and semantics as ``argo_energy.warehouse.store.write_window`` for what the
benchmark exercises (no rejected readings): per-channel advisory lock, inserted/updated/unchanged
counts, one ``ingestion_logs`` row, all in one transaction.

The change: once the advisory lock is held, one index probe asks whether the window already has
readings. When it has none (every window of a first backfill, every new day of the daily sync),
the readings are COPYed straight into ``readings``: every row is an insert, so the temp-table hop
(``CREATE TEMP TABLE IF NOT EXISTS`` + ``SET LOCAL`` + COPY into it + ``INSERT ... ON CONFLICT``
from it) does the rows' work twice for nothing. Otherwise the store's own statements run. The
probe runs after the lock (its own statement, so it sees what an earlier writer committed while
we waited): no other writer of this channel can add rows between the probe and the COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from argo_energy.models import READING_FIELDS, Reading
from argo_energy.warehouse import store
from argo_energy.warehouse.connection import LOCK_CHANNEL_WRITE

_COLUMNS = ", ".join(READING_FIELDS)
COPY_READINGS = f'COPY readings (channel_id, "timestamp", {_COLUMNS}) FROM STDIN (FORMAT BINARY)'
COPY_TYPES = ["int4", "timestamptz"] + ["float4"] * len(READING_FIELDS)
PROBE = 'SELECT EXISTS (SELECT 1 FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s)'


def write_window_fast(
    conn: psycopg.Connection[Any],
    *,
    organization_id: str,
    channel_id: int,
    start: datetime,
    end: datetime,
    readings: Sequence[Reading],
    run_id: str | None = None,
) -> tuple[int, int, int]:
    """(inserted, updated, unchanged) of one window; COPY when the window is still empty."""
    rows = sorted(readings, key=lambda r: r.ts)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CHANNEL_WRITE, channel_id))
        cur.execute(PROBE, (channel_id, start, end))
        found = cur.fetchone()
        if found and not found[0]:
            with cur.copy(COPY_READINGS) as copy:
                copy.set_types(COPY_TYPES)
                for r in rows:
                    copy.write_row((channel_id, r.ts, *r.values()))
            inserted, updated = len(rows), 0
        else:
            # The store's path, its own statements (private constants, read not changed).
            cur.execute("SET LOCAL client_min_messages = warning")
            cur.execute(store._CREATE_STAGE)
            with cur.copy(store._COPY_STAGE) as copy:
                copy.set_types(store._COPY_TYPES)
                for r in rows:
                    copy.write_row((r.ts, *r.values()))
            cur.execute(store._UPSERT_READINGS, {"channel_id": channel_id})
            counts = cur.fetchone()
            inserted, updated = (int(counts[0]), int(counts[1])) if counts else (0, 0)
        unchanged = len(rows) - inserted - updated
        cur.execute(
            store._INSERT_LOG,
            (organization_id, channel_id, start, end, len(rows), inserted, 0, updated, unchanged, "success", None, run_id),
        )
    return inserted, updated, unchanged
