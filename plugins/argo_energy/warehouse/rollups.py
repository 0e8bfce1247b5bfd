"""Incremental rollups: ``mv_hourly_usage`` (meter, UTC hour) and ``rollup_daily_usage`` (meter, site-local day).

Triggers on ``readings`` (migration V009) append a marker (channel, UTC hour) for every row a
statement inserted, updated or deleted, whatever wrote it (the ingestion's COPY and upsert, a
migration, an operator's DELETE); a change of a site's zone or of a meter's site marks every day of
the meter. ``refresh_rollups`` claims the markers it can see and recomputes exactly those
meter-hours and the site-local meter-days they fall in, from ``v_clean_readings``, in one
transaction: the cost follows what changed, not the size of the history. ``rebuild_rollups`` and
``rebuild_meter_days`` recompute a range or a list of meter-days whatever the markers say (operators,
the validation's rollup check). The SQL is in ``include/sql/rollups/``.

Two refreshes never run at once (advisory lock); a writer's markers are invisible until it commits
and are then left for the next refresh, so concurrent writers never lose a change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from argo_energy.warehouse.checks import check_window, require_aware
from argo_energy.warehouse.connection import Connection, own_transaction
from argo_energy.warehouse.sql import fetch_in

log = logging.getLogger(__name__)

# Advisory lock (key 1; key 2 is 0), next to connection.LOCK_* (842001-842003): one refresh or rebuild at a time.
LOCK_ROLLUPS = 842004


@dataclass(frozen=True, slots=True)
class RollupRefresh:
    """What one refresh or rebuild did: markers claimed, meter-hours and meter-days recomputed,
    rows written (new or changed) and removed (no clean reading any more) in each rollup."""

    markers: int
    hours: int
    days: int
    hours_written: int
    hours_removed: int
    days_written: int
    days_removed: int
    everything: bool = False


def _one(cur: psycopg.Cursor[Any], path: str, params: dict[str, Any] | None = None) -> tuple[Any, ...]:
    rows = fetch_in(cur, path, params)
    if len(rows) != 1:
        raise RuntimeError(f"{path} returned {len(rows)} rows, expected one")
    return rows[0]


def _all_params() -> dict[str, Any]:
    return {"meter_ids": None, "start": None, "end": None}


def _recompute(cur: psycopg.Cursor[Any], markers: int, everything: bool, what: str) -> RollupRefresh:
    """Derive the meter-days of the listed hours and meters, recompute both rollups, log counts."""
    # Temp tables are never auto-analyzed: without statistics the planner takes each for 2,550 rows
    # (a whole-meter list of that size multiplies into ~1 M estimated meter-days), costs a 20-row
    # refresh like a rebuild and JIT-compiles it (70 ms at 1 M readings, seconds on a busy machine).
    # The keyed path touches a few thousand index ranges: compiling never pays off.
    cur.execute("SET LOCAL jit = off")
    cur.execute("ANALYZE argo_rollup_hours")
    cur.execute("ANALYZE argo_rollup_meters")
    fetch_in(cur, "rollups/days_from_hours.sql")
    cur.execute("ANALYZE argo_rollup_days")
    hours, hours_written, hours_removed = _one(cur, "rollups/recompute_hours.sql")
    days, days_written, days_removed = _one(cur, "rollups/recompute_days.sql")
    return _logged(RollupRefresh(
        markers=int(markers), hours=int(hours), days=int(days), hours_written=int(hours_written),
        hours_removed=int(hours_removed), days_written=int(days_written), days_removed=int(days_removed),
        everything=everything,
    ), what)


def _rebuild_set(
    cur: psycopg.Cursor[Any], scope: dict[str, Any], markers: int, everything: bool, what: str
) -> RollupRefresh:
    """Set-based rebuild of a scope (meter_ids, start, end; None = all): one GROUP BY over its
    readings per rollup, then only the differences written (include/sql/rollups/rebuild_*.sql)."""
    # One hash aggregate over up to millions of groups: give it memory rather than spill to disk
    # (this transaction only; an operator's rebuild or a TRUNCATE, never the per-run refresh).
    cur.execute("SET LOCAL work_mem = '256MB'")
    hours, hours_written, hours_removed = _one(cur, "rollups/rebuild_hours.sql", scope)
    days, days_written, days_removed = _one(cur, "rollups/rebuild_days.sql", scope)
    return _logged(RollupRefresh(
        markers=int(markers), hours=int(hours), days=int(days), hours_written=int(hours_written),
        hours_removed=int(hours_removed), days_written=int(days_written), days_removed=int(days_removed),
        everything=everything,
    ), what)


def _logged(result: RollupRefresh, what: str) -> RollupRefresh:
    log.info(
        "rollups %s: %s marker(s) claimed; recomputed %s meter-hour(s) (%s written, %s removed) and "
        "%s meter-day(s) (%s written, %s removed)%s",
        what, result.markers, result.hours, result.hours_written, result.hours_removed,
        result.days, result.days_written, result.days_removed, " [everything]" if result.everything else "",
    )
    return result


def _begin(cur: psycopg.Cursor[Any]) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_ROLLUPS,))
    fetch_in(cur, "rollups/todo_tables.sql")


def refresh_rollups(conn: Connection) -> RollupRefresh:
    """Recompute the meter-hours and meter-days changed since the last refresh (one transaction)."""
    with own_transaction(conn) as cur:
        _begin(cur)
        markers, _hours, _meters, everything = _one(cur, "rollups/claim.sql")
        if everything:  # TRUNCATE readings: every hour and day that exists on either side
            return _rebuild_set(cur, _all_params(), markers, True, "refresh (everything)")
        return _recompute(cur, markers, False, "refresh")


def rebuild_rollups(
    conn: Connection,
    *,
    meter_ids: Sequence[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RollupRefresh:
    """Recompute every meter-hour of ``[start, end)`` (None: unbounded; widened to whole UTC hours)
    of ``meter_ids`` (None: all) and the local days they touch, whatever the markers say, set-based
    (one pass over the scope's readings). Without any filter it is a full rebuild and also claims
    the pending markers (everything they name is recomputed anyway)."""
    for value, name in ((start, "start"), (end, "end")):
        if value is not None:
            require_aware(value, name)
    if start is not None and end is not None:
        check_window(start, end)
    if meter_ids is not None and not meter_ids:
        raise ValueError("meter_ids is empty: pass None for every meter")
    full = meter_ids is None and start is None and end is None
    scope = {"meter_ids": list(meter_ids) if meter_ids is not None else None, "start": start, "end": end}
    with own_transaction(conn) as cur:
        _begin(cur)
        markers = _one(cur, "rollups/claim.sql")[0] if full else 0
        return _rebuild_set(cur, scope, markers, full, "full rebuild" if full else "rebuild")


def rebuild_meter_days(conn: Connection, meter_days: Sequence[tuple[int, date]]) -> RollupRefresh:
    """Recompute the given (meter, site-local date) pairs and the UTC hours that overlap them."""
    if not meter_days:
        return RollupRefresh(0, 0, 0, 0, 0, 0, 0)
    with own_transaction(conn) as cur:
        _begin(cur)
        _one(cur, "rollups/mark_days.sql",
             {"meter_ids": [int(m) for m, _ in meter_days], "days": [d for _, d in meter_days]})
        return _recompute(cur, 0, False, "rebuild of meter-days")


@dataclass(frozen=True, slots=True)
class DayComparison:
    """The rollup check: how many meter-days were sampled, and the ones that differ from readings."""

    sampled: int
    mismatches: tuple[dict[str, Any], ...]


def compare_sampled_days(conn: Connection, *, as_of: datetime, days: int, sample: int) -> DayComparison:
    """Compare ``sample`` random meter-days of ``[as_of - days, as_of)`` with a recomputation."""
    require_aware(as_of, "as_of")
    if days < 1 or sample < 1:
        raise ValueError(f"days and sample must be >= 1, got days={days}, sample={sample}")
    with own_transaction(conn) as cur:
        rows = fetch_in(cur, "rollups/compare_days.sql", {"as_of": as_of, "days": days, "sample": sample})
    mismatches = tuple(
        {"channel_id": meter, "local_date": day, "readings_now": now, "readings_in_rollup": stored,
         "kwh_now": kwh_now, "kwh_in_rollup": kwh_stored}
        for meter, day, now, stored, kwh_now, kwh_stored, differs in rows
        if differs
    )
    return DayComparison(sampled=len(rows), mismatches=mismatches)


def refresh_step(conn_id: str, *, rebuild: bool = False) -> dict[str, Any]:
    """The DAGs' ``refresh_mv_hourly_usage`` task: the windowed refresh, or a full rebuild when asked
    (the backfill's Param ``rebuild_rollups``); returns the counts (a small XCom)."""
    from argo_energy.warehouse.connection import connect

    with connect(conn_id, kind="refresh") as conn:
        done = rebuild_rollups(conn) if rebuild else refresh_rollups(conn)
    return {
        "mode": "full rebuild" if rebuild else "refresh", "markers": done.markers, "hours": done.hours,
        "days": done.days, "hours_written": done.hours_written, "hours_removed": done.hours_removed,
        "days_written": done.days_written, "days_removed": done.days_removed,
    }
