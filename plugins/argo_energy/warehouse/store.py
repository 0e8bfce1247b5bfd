"""Every SQL write of the pipeline: metadata upserts, per-window reading writes, audit rows.

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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argo_energy.models import (
    DEFAULT_SITE_TIMEZONE,
    READING_FIELDS,
    Channel,
    Device,
    Organization,
    Reading,
    Rejected,
)
from argo_energy.warehouse.connection import LOCK_CHANNEL_WRITE, Connection, own_transaction

log = logging.getLogger(__name__)

# The seed's three statuses, plus 'unsupported' for a channel the API cannot serve (sensor or
# virtual channel answering 500 "Invalid Parameter"): the ingestion skips it for a while and the
# validation DAG leaves it out of its per-channel checks.
SYNC_STATUSES = frozenset({"success", "partial", "failed", "unsupported"})
_MAX_ERROR_CHARS = 10_000

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
     readings_rejected, readings_updated, readings_unchanged, status, error_message, run_id)"""
_LOG_VALUES = """%(organization_id)s, %(channel_id)s, %(start)s, %(end)s, %(fetched)s, %(inserted)s,
       %(rejected)s, %(updated)s, %(unchanged)s, %(status)s, %(error_message)s, %(run_id)s"""
# The fast path of a window without readings: its ingestion_logs row is written (and its id returned)
# only when the window has no reading, in one statement that is also the probe. A statement of its own
# after the advisory lock, so that its snapshot sees what a writer we waited for committed; the lock
# keeps the window empty until we commit. Both statements go in one round trip (pipeline mode).
_LOG_NEW_WINDOW = f"""
INSERT INTO ingestion_logs {_LOG_COLUMNS}
SELECT {_LOG_VALUES}
 WHERE NOT EXISTS (SELECT 1 FROM readings
                    WHERE channel_id = %(channel_id)s AND "timestamp" >= %(start)s AND "timestamp" < %(end)s)
RETURNING id
"""  # noqa: S608 - only constant column lists are interpolated; values are bound
_COPY_READINGS = f'COPY readings (channel_id, "timestamp", {_VALUE_COLUMNS}) FROM STDIN (FORMAT BINARY)'
_COPY_READINGS_TYPES = ["int4", *_COPY_TYPES]

# Rows go in timestamp order so that two writers of overlapping windows lock rows in the same order;
# the per-channel advisory lock already serialises them, this keeps it deadlock-free without it.
_UPSERT_READINGS = f"""
WITH up AS (
    INSERT INTO readings AS t (channel_id, "timestamp", {_VALUE_COLUMNS})
    SELECT %(channel_id)s, s."timestamp", {", ".join("s." + n for n in READING_FIELDS)}
      FROM {_STAGE_TABLE} s
     ORDER BY s."timestamp"
    ON CONFLICT (channel_id, "timestamp") DO UPDATE
       SET {", ".join(f"{n} = EXCLUDED.{n}" for n in READING_FIELDS)},
           updated_at = CURRENT_TIMESTAMP
     WHERE ({", ".join("t." + n for n in READING_FIELDS)})
           IS DISTINCT FROM ({", ".join("EXCLUDED." + n for n in READING_FIELDS)})
    RETURNING (t.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""  # noqa: S608 - only constant identifiers are interpolated; values are bound

_UPSERT_REJECTED = f"""
INSERT INTO readings_rejected AS t
    (channel_id, "timestamp", {_VALUE_COLUMNS}, reason, detail, source, window_start, window_end)
VALUES (%s, %s, {", ".join(["%s"] * len(READING_FIELDS))}, %s, %s, 'ingestion', %s, %s)
ON CONFLICT (channel_id, "timestamp", reason) DO UPDATE
   SET {", ".join(f"{n} = EXCLUDED.{n}" for n in READING_FIELDS)},
       detail = EXCLUDED.detail,
       window_start = EXCLUDED.window_start,
       window_end = EXCLUDED.window_end,
       last_seen_at = CURRENT_TIMESTAMP
"""  # noqa: S608 - only constant identifiers are interpolated; values are bound

_INSERT_LOG = f"""
INSERT INTO ingestion_logs {_LOG_COLUMNS}
VALUES ({_LOG_VALUES})
RETURNING id
"""  # noqa: S608 - only constant column lists are interpolated; values are bound


@dataclass(frozen=True, slots=True)
class WindowWrite:
    """What one ``write_window`` call did to ``readings`` (and the ``ingestion_logs`` row it wrote)."""

    inserted: int
    updated: int
    unchanged: int
    rejected: int
    log_id: int


@dataclass(frozen=True, slots=True)
class Upserted:
    """Rows of a metadata upsert: new, changed, and identical (left untouched)."""

    inserted: int
    updated: int
    unchanged: int


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
# Metadata
# --------------------------------------------------------------------------------------------------


def upsert_organizations(conn: Connection, orgs: Sequence[Organization]) -> Upserted:
    """Insert or update organisations; ``updated_at`` moves only when a field changed.

    A missing time zone keeps the stored one (or the contract default for a new site): the zone
    decides the site's calendar, so an API that omits it must not reset it.
    """
    rows = _unique(orgs, lambda o: o.organization_id, "organization_id")
    for org in rows:
        _require_text(org.organization_id, "organization_id")
        _require_text(org.organization_name, f"organization {org.organization_id}: organization_name")
        if org.timezone is not None:
            _require_zone(org.timezone, f"organization {org.organization_id}")
    if not rows:
        return Upserted(0, 0, 0)
    query = """
    WITH s AS (
        SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
            AS s (organization_id, organization_name, address, city, postcode, country, timezone)
    )
    INSERT INTO organizations AS t
        (organization_id, organization_name, address, city, postcode, country, timezone)
    SELECT s.organization_id, s.organization_name, s.address, s.city, s.postcode, s.country,
           COALESCE(s.timezone, o.timezone, %s)
      FROM s LEFT JOIN organizations o ON o.organization_id = s.organization_id
     ORDER BY s.organization_id
    ON CONFLICT (organization_id) DO UPDATE
       SET organization_name = EXCLUDED.organization_name, address = EXCLUDED.address,
           city = EXCLUDED.city, postcode = EXCLUDED.postcode, country = EXCLUDED.country,
           timezone = EXCLUDED.timezone, updated_at = CURRENT_TIMESTAMP
     WHERE (t.organization_name, t.address, t.city, t.postcode, t.country, t.timezone)
           IS DISTINCT FROM (EXCLUDED.organization_name, EXCLUDED.address, EXCLUDED.city,
                             EXCLUDED.postcode, EXCLUDED.country, EXCLUDED.timezone)
    RETURNING (t.xmax = 0)
    """
    params = [
        *_columns(
            rows, ("organization_id", "organization_name", "address", "city", "postcode", "country", "timezone")
        ),
        DEFAULT_SITE_TIMEZONE,  # the contract's default for organizations.timezone (§3.2)
    ]
    return _run_upsert(conn, "organizations", query, params, len(rows))


def upsert_devices(conn: Connection, devices: Sequence[Device]) -> Upserted:
    """Insert or update devices (their organisations must exist); ``updated_at`` moves only on change."""
    rows = _unique(devices, lambda d: d.device_id, "device_id")
    for device in rows:
        if device.last_seen is not None:
            _require_aware(device.last_seen, f"device {device.device_id}: last_seen")
    if not rows:
        return Upserted(0, 0, 0)
    query = """
    INSERT INTO devices AS t
        (device_id, device_name, organization_id, device_type, serial_number, firmware_version, last_seen)
    SELECT * FROM unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                         %s::timestamptz[])
     ORDER BY 1
    ON CONFLICT (device_id) DO UPDATE
       SET device_name = EXCLUDED.device_name, organization_id = EXCLUDED.organization_id,
           device_type = EXCLUDED.device_type, serial_number = EXCLUDED.serial_number,
           firmware_version = EXCLUDED.firmware_version, last_seen = EXCLUDED.last_seen,
           updated_at = CURRENT_TIMESTAMP
     WHERE (t.device_name, t.organization_id, t.device_type, t.serial_number, t.firmware_version, t.last_seen)
           IS DISTINCT FROM (EXCLUDED.device_name, EXCLUDED.organization_id, EXCLUDED.device_type,
                             EXCLUDED.serial_number, EXCLUDED.firmware_version, EXCLUDED.last_seen)
    RETURNING (t.xmax = 0)
    """
    params = _columns(
        rows,
        ("device_id", "device_name", "organization_id", "device_type", "serial_number", "firmware_version", "last_seen"),
    )
    return _run_upsert(conn, "devices", query, params, len(rows))


def upsert_channels(conn: Connection, channels: Sequence[Channel]) -> Upserted:
    """Insert or update channels (devices and organisations first); ``updated_at`` moves only on change."""
    rows = _unique(channels, lambda c: c.channel_id, "channel_id")
    for channel in rows:
        _require_text(channel.channel_name, f"channel {channel.channel_id}: channel_name")
    if not rows:
        return Upserted(0, 0, 0)
    query = """
    INSERT INTO channels AS t
        (channel_id, channel_name, device_id, organization_id, channel_type, unit, description)
    SELECT * FROM unnest(%s::integer[], %s::text[], %s::integer[], %s::text[], %s::text[], %s::text[], %s::text[])
     ORDER BY 1
    ON CONFLICT (channel_id) DO UPDATE
       SET channel_name = EXCLUDED.channel_name, device_id = EXCLUDED.device_id,
           organization_id = EXCLUDED.organization_id, channel_type = EXCLUDED.channel_type,
           unit = EXCLUDED.unit, description = EXCLUDED.description, updated_at = CURRENT_TIMESTAMP
     WHERE (t.channel_name, t.device_id, t.organization_id, t.channel_type, t.unit, t.description)
           IS DISTINCT FROM (EXCLUDED.channel_name, EXCLUDED.device_id, EXCLUDED.organization_id,
                             EXCLUDED.channel_type, EXCLUDED.unit, EXCLUDED.description)
    RETURNING (t.xmax = 0)
    """
    params = _columns(
        rows, ("channel_id", "channel_name", "device_id", "organization_id", "channel_type", "unit", "description")
    )
    return _run_upsert(conn, "channels", query, params, len(rows))


def _run_upsert(conn: Connection, table: str, query: str, params: list[Any], total: int) -> Upserted:
    with own_transaction(conn) as cur:
        cur.execute(query, params)
        flags = [row[0] for row in cur.fetchall()]
    result = Upserted(inserted=sum(flags), updated=len(flags) - sum(flags), unchanged=total - len(flags))
    log.info(
        "%s: %s inserted, %s updated, %s unchanged", table, result.inserted, result.updated, result.unchanged
    )
    return result


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
) -> WindowWrite:
    """Upsert one channel's readings of ``[start, end)``, keep its rejects, log it: one transaction.

    Raises ``ValueError`` (before touching the database) for naive datetimes, an empty window, a
    reading outside the window, or one timestamp sent twice with different values.
    """
    _require_text(organization_id, "organization_id")
    _check_window(start, end)
    if fetched < 0:
        raise ValueError(f"fetched must be >= 0, got {fetched}")
    rows = _dedupe_readings(readings, channel_id)
    outside = [r.ts for r in rows if not start <= r.ts < end]
    if outside:
        raise ValueError(
            f"channel {channel_id}: {len(outside)} reading(s) outside the window "
            f"[{start.isoformat()}, {end.isoformat()}), first {min(outside).isoformat()}; "
            "validation should have rejected them"
        )
    for rej in rejected:
        _require_aware(rej.reading.ts, f"channel {channel_id}: rejected reading timestamp")
        _require_text(rej.reason, f"channel {channel_id}: rejected reading reason")

    log_row = _log_params(
        organization_id, channel_id, start, end, fetched=fetched, inserted=len(rows), rejected=len(rejected),
        run_id=run_id,
    )
    with own_transaction(conn) as cur:
        with conn.pipeline():  # one round trip: the lock, then (with readings) the empty-window probe
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CHANNEL_WRITE, channel_id))
            if rows:
                cur.execute(_LOG_NEW_WINDOW, log_row)
        logged = cur.fetchone() if rows else None
        if logged is not None:  # the window had no reading: its log row is written, COPY the rows
            inserted, updated = _copy_new_window(cur, channel_id, rows), 0
        else:
            inserted, updated = _upsert_window(cur, channel_id, rows) if rows else (0, 0)
        if rejected:
            cur.executemany(
                _UPSERT_REJECTED,
                [
                    (channel_id, r.reading.ts, *r.reading.values(), r.reason, r.detail or None, start, end)
                    for r in rejected
                ],
            )
        unchanged = len(rows) - inserted - updated
        if logged is None:
            cur.execute(_INSERT_LOG, {**log_row, "inserted": inserted, "updated": updated, "unchanged": unchanged})
            logged = cur.fetchone()
    log_id = int(logged[0]) if logged else 0
    result = WindowWrite(
        inserted=inserted, updated=updated, unchanged=unchanged, rejected=len(rejected), log_id=log_id
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
) -> dict[str, Any]:
    """The named parameters of ``_INSERT_LOG`` / ``_LOG_NEW_WINDOW``."""
    return {
        "organization_id": organization_id, "channel_id": channel_id, "start": start, "end": end,
        "fetched": fetched, "inserted": inserted, "rejected": rejected, "updated": updated,
        "unchanged": unchanged, "status": status, "error_message": error_message, "run_id": run_id,
    }


def _copy_new_window(cur: Any, channel_id: int, rows: Sequence[Reading]) -> int:
    """COPY the readings of a window that has none yet (the caller holds the channel's lock)."""
    with cur.copy(_COPY_READINGS) as copy:
        copy.set_types(_COPY_READINGS_TYPES)
        for reading in rows:
            copy.write_row((channel_id, reading.ts, *reading.values()))
    return len(rows)


def _upsert_window(cur: Any, channel_id: int, rows: Sequence[Reading]) -> tuple[int, int]:
    """Stage the readings and upsert them; (inserted, updated)."""
    cur.execute("SET LOCAL client_min_messages = warning")  # "already exists, skipping"
    cur.execute(_CREATE_STAGE)
    with cur.copy(_COPY_STAGE) as copy:
        copy.set_types(_COPY_TYPES)
        for reading in rows:
            copy.write_row((reading.ts, *reading.values()))
    cur.execute(_UPSERT_READINGS, {"channel_id": channel_id})
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
    _require_text(organization_id, "organization_id")
    _check_window(start, end)
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
    _check_window(start, end)
    if not channel_ids:
        return set()
    with own_transaction(conn) as cur:
        cur.execute(
            """
            SELECT DISTINCT channel_id, start_time, end_time
              FROM ingestion_logs
             WHERE status = 'success'
               AND channel_id = ANY(%s::integer[])
               AND start_time >= %s AND end_time <= %s
               AND (%s::text IS NULL OR run_id = %s::text)
            """,
            (list(channel_ids), start, end, run_id, run_id),
        )
        return {(int(c), s.astimezone(UTC), e.astimezone(UTC)) for c, s, e in cur.fetchall()}


def record_sync_status(conn: Connection, rows: Sequence[SyncStatus]) -> None:
    """Append ``data_sync_status`` rows (a history: the newest row per site/channel is the current state)."""
    for row in rows:
        _require_text(row.organization_id, "organization_id")
        if row.sync_status not in SYNC_STATUSES:
            raise ValueError(f"sync_status must be one of {sorted(SYNC_STATUSES)}, got {row.sync_status!r}")
        _require_aware(row.last_sync_timestamp, "last_sync_timestamp")
        if row.last_reading_timestamp is not None:
            _require_aware(row.last_reading_timestamp, "last_reading_timestamp")
    if not rows:
        return
    with own_transaction(conn) as cur:
        cur.executemany(
            """
            INSERT INTO data_sync_status
                (organization_id, channel_id, last_sync_timestamp, last_reading_timestamp,
                 readings_count, sync_status, error_message)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            [
                (
                    r.organization_id,
                    r.channel_id,
                    r.last_sync_timestamp,
                    r.last_reading_timestamp,
                    r.readings_count,
                    r.sync_status,
                    r.error_message,
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
# Input checks (clear errors before any SQL runs)
# --------------------------------------------------------------------------------------------------

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


def _dedupe_readings(readings: Sequence[Reading], channel_id: int) -> list[Reading]:
    by_ts: dict[datetime, Reading] = {}
    for reading in readings:
        _require_aware(reading.ts, f"channel {channel_id}: reading timestamp")
        previous = by_ts.get(reading.ts)
        if previous is not None and not _same_values(previous, reading):
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


def _columns(rows: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    return [[getattr(row, name) for row in rows] for name in names]


def _check_window(start: datetime, end: datetime) -> None:
    _require_aware(start, "window start")
    _require_aware(end, "window end")
    if not start < end:
        raise ValueError(f"empty window: start {start.isoformat()} is not before end {end.isoformat()}")


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")


def _require_text(value: str | None, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _require_zone(name: str, what: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{what}: unknown IANA time zone {name!r}") from exc
