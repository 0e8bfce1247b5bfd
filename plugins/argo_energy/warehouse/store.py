"""The readings writes of the pipeline: per-window readings, rejects, ingestion logs, sync status.

The metadata upserts are in ``catalog.py``, the reads of the ingestion in ``reads.py``.

Each function runs in its own transaction and commits it (the connection must be idle). Values are
always bound parameters. Datetimes must be timezone-aware; they are stored as ``timestamptz``.

Writing one window (``write_window``) is one transaction: a per-channel advisory lock, the
readings, the rejected readings with their reasons, and one ``ingestion_logs`` row. Either all of
it is committed or none of it. The readings go one of two ways, decided under the lock:

* the window has no reading yet (every window of a first backfill, every new day of the daily
  sync): binary COPY straight into ``readings``, since every row is an insert. The lock and the
  statement that both probes the window and writes its ``ingestion_logs`` row go to the server in
  one round trip (psycopg pipeline mode);
* otherwise: COPY into a session temp table, then one ``INSERT ... ON CONFLICT (channel_id,
  timestamp) DO UPDATE ... WHERE (values) IS DISTINCT FROM (new values)`` (late corrections win,
  unchanged rows are not rewritten).

Both give the same rows and counts; the first costs about half as much per window (benchmark 1).

The window's rollup marker (``rollup_queue``: channel, first and last UTC hour of its rows; the
refresh step recomputes those hours and days) is written by the same statements, only when readings
were inserted or updated; the transaction says so with ``argo.rollup_marked`` and the readings
triggers (V015) then skip theirs. Every other writer of ``readings`` is marked by the triggers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from argo_energy.models import READING_FIELDS, Reading, Rejected
from argo_energy.redaction import redact, redact_optional
from argo_energy.warehouse.checks import check_window, require_aware, require_text
from argo_energy.warehouse.connection import LOCK_CHANNEL_WRITE, Connection, own_transaction
from argo_energy.warehouse.sql import sql_text

log = logging.getLogger(__name__)

# The seed's three statuses, plus 'unsupported' for a channel the API cannot serve (sensor or
# virtual channel answering 500 "Invalid Parameter"): the ingestion skips it for a while and the
# validation DAG leaves it out of its per-channel checks.
SYNC_STATUSES = frozenset({"success", "partial", "failed", "unsupported"})
_MAX_ERROR_CHARS = 10_000
# Most readings_rejected rows one window stores: a window answering millions of distinct bad
# timestamps must not write millions of rows on every run (the rest are counted in ingestion_logs).
MAX_REJECTS_PER_WINDOW = 1_000

_VALUE_COLUMNS = ", ".join(READING_FIELDS)
_STAGE_TABLE = "argo_readings_stage"
# A session temp table reused by every window (ON COMMIT DELETE ROWS): creating and dropping one
# per window would churn the catalog thousands of times per backfill. IF NOT EXISTS also covers a
# transaction-mode pooler handing us a different backend session.
_CREATE_STAGE = (
    f'CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} ("timestamp" timestamptz NOT NULL, '
    + ", ".join(f"{name} real" for name in READING_FIELDS)
    + ") ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f'COPY {_STAGE_TABLE} ("timestamp", {_VALUE_COLUMNS}) FROM STDIN (FORMAT BINARY)'
_COPY_TYPES = ["timestamptz"] + ["float4"] * len(READING_FIELDS)
# One ingestion_logs row; both statements below take these named parameters (see _log_params).
_LOG_COLUMNS = """(organization_id, channel_id, start_time, end_time, readings_fetched, readings_inserted,
     readings_rejected, readings_updated, readings_unchanged, status, error_message, run_id, rejects_not_stored)"""
_LOG_VALUES = """%(organization_id)s, %(channel_id)s, %(start)s, %(end)s, %(fetched)s, %(inserted)s,
       %(rejected)s, %(updated)s, %(unchanged)s, %(status)s, %(error_message)s, %(run_id)s, %(not_stored)s"""
# The window's rollup marker (V009's rollup_queue row: channel, first and last UTC hour of its rows),
# written by the statement that writes or completes its ingestion_logs row. The writer's transaction
# sets argo.rollup_marked (_LOCK_AND_MARK, transaction-local), under which V015's INSERT/UPDATE triggers on
# readings skip their own marking: one small row inside a statement we run anyway instead of a
# PL/pgSQL call per statement (what kept the write path under 0.7 x plain COPY, benchmark 1).
_MARK = """INSERT INTO rollup_queue (channel_id, hour, hour_to)
    SELECT %(channel_id)s, date_trunc('hour', %(first)s::timestamptz, 'UTC'),
           date_trunc('hour', %(last)s::timestamptz, 'UTC')"""
_LOCK_AND_MARK = "SELECT pg_advisory_xact_lock(%s, %s), set_config('argo.rollup_marked', 'on', true)"
# The fast path of a window without readings: its ingestion_logs row is written (and its id returned)
# only when the window has no reading, in one statement that is also the probe. A statement of its own
# after the advisory lock, so that its snapshot sees what a writer we waited for committed; the lock
# keeps the window empty until we commit. Both statements go in one round trip (pipeline mode).
_LOG_NEW_WINDOW = f"""
WITH logged AS (
    INSERT INTO ingestion_logs {_LOG_COLUMNS}
    SELECT {_LOG_VALUES}
     WHERE NOT EXISTS (SELECT 1 FROM readings
                        WHERE channel_id = %(channel_id)s AND "timestamp" >= %(start)s AND "timestamp" < %(end)s)
    RETURNING id
), marked AS (
    {_MARK}
      FROM logged
)
SELECT id FROM logged
"""  # noqa: S608 - only constant column lists are interpolated; values are bound
_COPY_READINGS = (
    f'COPY readings (channel_id, ingestion_log_id, "timestamp", {_VALUE_COLUMNS}) FROM STDIN (FORMAT BINARY)'
)
_COPY_READINGS_TYPES = ["int4", "int4", *_COPY_TYPES]

# Rows go in timestamp order so that two writers of overlapping windows lock rows in the same order;
# the per-channel advisory lock already serialises them, this keeps it deadlock-free without it.
_UPSERT_READINGS = f"""
WITH up AS (
    INSERT INTO readings AS t (channel_id, ingestion_log_id, "timestamp", {_VALUE_COLUMNS})
    SELECT %(channel_id)s, %(log_id)s, s."timestamp", {", ".join("s." + n for n in READING_FIELDS)}
      FROM {_STAGE_TABLE} s
     ORDER BY s."timestamp"
    ON CONFLICT (channel_id, "timestamp") DO UPDATE
       SET {", ".join(f"{n} = EXCLUDED.{n}" for n in READING_FIELDS)},
           updated_at = CURRENT_TIMESTAMP,
           ingestion_log_id = EXCLUDED.ingestion_log_id
     WHERE ({", ".join("t." + n for n in READING_FIELDS)})
           IS DISTINCT FROM ({", ".join("EXCLUDED." + n for n in READING_FIELDS)})
    RETURNING (t.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""  # noqa: S608 - only constant identifiers are interpolated; values are bound

_UPSERT_REJECTED = f"""
INSERT INTO readings_rejected AS t
    (channel_id, "timestamp", {_VALUE_COLUMNS}, reason, detail, source, window_start, window_end, ingestion_log_id)
VALUES (%s, %s, {", ".join(["%s"] * len(READING_FIELDS))}, %s, %s, 'ingestion', %s, %s, %s)
ON CONFLICT (channel_id, "timestamp", reason) DO UPDATE
   SET {", ".join(f"{n} = EXCLUDED.{n}" for n in READING_FIELDS)},
       detail = EXCLUDED.detail,
       window_start = EXCLUDED.window_start,
       window_end = EXCLUDED.window_end,
       ingestion_log_id = EXCLUDED.ingestion_log_id,
       last_seen_at = CURRENT_TIMESTAMP
"""  # noqa: S608 - only constant identifiers are interpolated; values are bound

_INSERT_LOG = f"""
INSERT INTO ingestion_logs {_LOG_COLUMNS}
VALUES ({_LOG_VALUES})
RETURNING id
"""  # noqa: S608 - only constant column lists are interpolated; values are bound
# The upsert path logs its pull first (the readings it writes carry the log id), then the counts.
_LOG_COUNTS = f"""
WITH marked AS (
    {_MARK}
     WHERE %(inserted)s + %(updated)s > 0
)
UPDATE ingestion_logs SET readings_inserted = %(inserted)s, readings_updated = %(updated)s,
       readings_unchanged = %(unchanged)s
 WHERE id = %(log_id)s
"""  # noqa: S608 - only the constant marker statement is interpolated; values are bound


@dataclass(frozen=True, slots=True)
class WindowWrite:
    """What one ``write_window`` call did to ``readings`` (and the ``ingestion_logs`` row it wrote)."""

    inserted: int
    updated: int
    unchanged: int
    rejected: int
    log_id: int
    rejects_not_stored: int = 0  # rejected beyond the window's cap: counted, no readings_rejected row


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """One ``data_sync_status`` row: per organisation (``channel_id`` None) or per channel."""

    organization_id: str
    channel_id: int | None
    last_sync_timestamp: datetime
    last_reading_timestamp: datetime | None
    readings_count: int | None
    sync_status: str  # 'success' | 'partial' | 'failed'
    error_message: str | None = None


# --------------------------------------------------------------------------------------------------
# Readings
# --------------------------------------------------------------------------------------------------


def write_window(
    conn: Connection,
    *,
    organization_id: str,
    channel_id: int,
    start: datetime,
    end: datetime,
    readings: Sequence[Reading],
    rejected: Sequence[Rejected],
    fetched: int,
    run_id: str | None = None,
    max_rejects: int | None = None,
) -> WindowWrite:
    """Upsert one channel's readings of ``[start, end)``, keep its rejects, log it: one transaction.

    At most ``max_rejects`` (default ``MAX_REJECTS_PER_WINDOW``) rejects are stored, the earliest
    by timestamp and reason (the same ones on a rerun); ``ingestion_logs.readings_rejected`` counts
    all of them and ``rejects_not_stored`` the rest. Raises ``ValueError`` (before touching the
    database) for naive datetimes, an empty window, a reading outside the window, or one timestamp
    sent twice with different values.
    """
    require_text(organization_id, "organization_id")
    check_window(start, end)
    if fetched < 0:
        raise ValueError(f"fetched must be >= 0, got {fetched}")
    rows = _dedupe_readings(readings, channel_id)
    if rows and not (start <= rows[0].ts and rows[-1].ts < end):  # in time order: the ends bound them all
        outside = [r.ts for r in rows if not start <= r.ts < end]
        raise ValueError(
            f"channel {channel_id}: {len(outside)} reading(s) outside the window "
            f"[{start.isoformat()}, {end.isoformat()}), first {min(outside).isoformat()}; "
            "validation should have rejected them"
        )
    for rej in rejected:
        require_aware(rej.reading.ts, f"channel {channel_id}: rejected reading timestamp")
        require_text(rej.reason, f"channel {channel_id}: rejected reading reason")

    stored, cap = _capped(rejected, max_rejects)
    not_stored = len(rejected) - len(stored)
    log_row = _log_params(
        organization_id, channel_id, start, end, fetched=fetched, inserted=len(rows), rejected=len(rejected),
        run_id=run_id, not_stored=not_stored,
    )
    marker = _marker(channel_id, rows)
    log_row.update(marker)
    with own_transaction(conn) as cur:
        with conn.pipeline():  # one round trip: the lock, then (with readings) the empty-window probe
            cur.execute(_LOCK_AND_MARK, (LOCK_CHANNEL_WRITE, channel_id))
            if rows:
                cur.execute(_LOG_NEW_WINDOW, log_row)
        logged = cur.fetchone() if rows else None
        fast = logged is not None  # the window had no reading: its log row is written, COPY the rows
        if not fast:
            cur.execute(_INSERT_LOG, log_row)
            logged = cur.fetchone()
        log_id = int(logged[0]) if logged else 0
        if fast:
            inserted, updated = _copy_new_window(cur, channel_id, log_id, rows), 0
        else:
            inserted, updated = _upsert_window(cur, channel_id, log_id, rows) if rows else (0, 0)
        if stored:
            cur.executemany(
                _UPSERT_REJECTED,
                [
                    (channel_id, r.reading.ts, *r.reading.values(), r.reason, r.detail or None, start, end, log_id)
                    for r in stored
                ],
            )
        unchanged = len(rows) - inserted - updated
        if not fast:
            cur.execute(_LOG_COUNTS, {**marker, "inserted": inserted, "updated": updated,
                                      "unchanged": unchanged, "log_id": log_id})
    result = WindowWrite(
        inserted=inserted, updated=updated, unchanged=unchanged, rejected=len(rejected), log_id=log_id,
        rejects_not_stored=not_stored,
    )
    if not_stored:
        log.warning(
            "channel %s [%s, %s): %s rejected reading(s), %s stored (cap %s per window), %s counted only",
            channel_id, start.isoformat(), end.isoformat(), len(rejected), len(stored), cap, not_stored,
        )
    log.info(
        "channel %s [%s, %s): fetched %s, inserted %s, updated %s, unchanged %s, rejected %s",
        channel_id,
        start.isoformat(),
        end.isoformat(),
        fetched,
        result.inserted,
        result.updated,
        result.unchanged,
        result.rejected,
    )
    return result


def _marker(channel_id: int, rows: Sequence[Reading]) -> dict[str, Any]:
    """The named parameters of ``_MARK``: the window's channel, first and last reading time
    (``rows`` as ``_dedupe_readings`` returns them: in time order)."""
    return {
        "channel_id": channel_id,
        "first": rows[0].ts if rows else None,
        "last": rows[-1].ts if rows else None,
    }


def _capped(rejected: Sequence[Rejected], max_rejects: int | None) -> tuple[Sequence[Rejected], int]:
    """The rejects to store (the earliest by timestamp and reason: a rerun stores the same) and the cap."""
    cap = MAX_REJECTS_PER_WINDOW if max_rejects is None else max_rejects
    if cap < 0:
        raise ValueError(f"max_rejects must be >= 0, got {cap}")
    if len(rejected) <= cap:
        return rejected, cap
    return sorted(rejected, key=lambda r: (r.reading.ts, r.reason))[:cap], cap


def _log_params(
    organization_id: str,
    channel_id: int,
    start: datetime,
    end: datetime,
    *,
    fetched: int,
    inserted: int = 0,
    rejected: int = 0,
    updated: int = 0,
    unchanged: int = 0,
    status: str = "success",
    error_message: str | None = None,
    run_id: str | None = None,
    not_stored: int = 0,
) -> dict[str, Any]:
    """The named parameters of ``_INSERT_LOG`` / ``_LOG_NEW_WINDOW``."""
    return {
        "organization_id": organization_id, "channel_id": channel_id, "start": start, "end": end,
        "fetched": fetched, "inserted": inserted, "rejected": rejected, "updated": updated,
        "unchanged": unchanged, "status": status, "error_message": error_message, "run_id": run_id,
        "not_stored": not_stored,
    }


def _copy_new_window(cur: psycopg.Cursor[Any], channel_id: int, log_id: int, rows: Sequence[Reading]) -> int:
    """COPY the readings of a window that has none yet (the caller holds the channel's lock)."""
    with cur.copy(_COPY_READINGS) as copy:
        copy.set_types(_COPY_READINGS_TYPES)
        for reading in rows:
            copy.write_row((channel_id, log_id, reading.ts, *reading.values()))
    return len(rows)


def _upsert_window(
    cur: psycopg.Cursor[Any], channel_id: int, log_id: int, rows: Sequence[Reading]
) -> tuple[int, int]:
    """Stage the readings and upsert them; (inserted, updated)."""
    cur.execute("SET LOCAL client_min_messages = warning")  # "already exists, skipping"
    cur.execute(_CREATE_STAGE)
    with cur.copy(_COPY_STAGE) as copy:
        copy.set_types(_COPY_TYPES)
        for reading in rows:
            copy.write_row((reading.ts, *reading.values()))
    cur.execute(_UPSERT_READINGS, {"channel_id": channel_id, "log_id": log_id})
    counts = cur.fetchone()
    return (int(counts[0]), int(counts[1])) if counts else (0, 0)


def log_window_failure(
    conn: Connection,
    *,
    organization_id: str,
    channel_id: int,
    start: datetime,
    end: datetime,
    error: str,
    fetched: int = 0,
    run_id: str | None = None,
) -> None:
    """Record a failed pull of ``[start, end)`` as an ``ingestion_logs`` row with status 'failure'."""
    require_text(organization_id, "organization_id")
    check_window(start, end)
    error = redact(error)  # stored rows outlive the log masker's reach
    message = error if len(error) <= _MAX_ERROR_CHARS else error[: _MAX_ERROR_CHARS - 1] + "…"
    with own_transaction(conn) as cur:
        cur.execute(
            _INSERT_LOG,
            _log_params(
                organization_id, channel_id, start, end, fetched=fetched, status="failure",
                error_message=message, run_id=run_id,
            ),
        )
    log.warning(
        "channel %s [%s, %s): failure logged: %s", channel_id, start.isoformat(), end.isoformat(), message
    )


def record_sync_status(conn: Connection, rows: Sequence[SyncStatus]) -> None:
    """Append ``data_sync_status`` rows (a history: the newest row per site/channel is the current state)."""
    for row in rows:
        require_text(row.organization_id, "organization_id")
        if row.sync_status not in SYNC_STATUSES:
            raise ValueError(f"sync_status must be one of {sorted(SYNC_STATUSES)}, got {row.sync_status!r}")
        require_aware(row.last_sync_timestamp, "last_sync_timestamp")
        if row.last_reading_timestamp is not None:
            require_aware(row.last_reading_timestamp, "last_reading_timestamp")
    if not rows:
        return
    with own_transaction(conn) as cur:
        cur.executemany(
            sql_text("ingest/insert_sync_status.sql"),
            [
                (
                    r.organization_id,
                    r.channel_id,
                    r.last_sync_timestamp,
                    r.last_reading_timestamp,
                    r.readings_count,
                    r.sync_status,
                    redact_optional(r.error_message),
                )
                for r in rows
            ],
        )
    log.info(
        "data_sync_status: %s row(s) (%s)",
        len(rows),
        ", ".join(f"{s}={sum(r.sync_status == s for r in rows)}" for s in sorted(SYNC_STATUSES)),
    )


# --------------------------------------------------------------------------------------------------
# Input checks (clear errors before any SQL runs; the shared ones are in checks.py)
# --------------------------------------------------------------------------------------------------


def _dedupe_readings(readings: Sequence[Reading], channel_id: int) -> list[Reading]:
    """The rows in timestamp order, each timestamp once; a timestamp given twice must repeat its values."""
    previous: datetime | None = None
    zone: object = None  # the tzinfo last checked to give an offset (one per batch in practice)
    for reading in readings:  # what the hook returns: aware and strictly ascending, one pass
        ts = reading.ts
        if zone is None or ts.tzinfo is not zone:
            if ts.utcoffset() is None:
                break
            zone = ts.tzinfo
        if previous is not None and ts <= previous:
            break
        previous = ts
    else:
        return list(readings)
    by_ts: dict[datetime, Reading] = {}
    for reading in readings:
        require_aware(reading.ts, f"channel {channel_id}: reading timestamp")
        existing = by_ts.get(reading.ts)
        if existing is not None and not _same_values(existing, reading):
            raise ValueError(
                f"channel {channel_id}: timestamp {reading.ts.isoformat()} given twice with different values"
            )
        by_ts[reading.ts] = reading
    return sorted(by_ts.values(), key=lambda r: r.ts)


def _same_values(a: Reading, b: Reading) -> bool:
    return all(
        x == y or (x is not None and y is not None and math.isnan(x) and math.isnan(y))
        for x, y in zip(a.values(), b.values(), strict=True)
    )
