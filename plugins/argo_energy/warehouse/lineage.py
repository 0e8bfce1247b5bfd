"""Lineage of a number: where one meter's readings of one site-local day came from.

``day_lineage(conn, meter_id, day)`` reads the queries of ``include/sql/lineage/`` in order: the
meter and its site's zone (which cuts the day), the ``ingestion_logs`` pulls overlapping the day
(when, which run, what each inserted, updated, left unchanged or rejected, and how many of the
day's readings still carry its values: ``readings.ingestion_log_id``, V012), the readings as
stored (revised later or not), the rejected readings by reason, and the reconciliation verdict
with the heals asked for the day. ``format_lineage`` prints it; the CLI is
``python -m argo_energy.warehouse lineage --meter 123 --day 2026-03-08``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from argo_energy.sitetime import local_midnight, resolve_zone
from argo_energy.warehouse.connection import Connection, WarehouseError, own_transaction
from argo_energy.warehouse.sql import fetch, sql_text


def _rows(conn: Connection, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``include/sql/<path>`` as dicts (column name -> value), in their own transaction."""
    with own_transaction(conn) as cur:
        cur.execute(sql_text(path), params)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@dataclass(frozen=True, slots=True)
class DayLineage:
    """Everything the warehouse knows about how one meter's local day got its numbers."""

    meter_id: int
    meter_name: str
    site: str | None
    timezone: str
    local_date: date
    day_start: datetime
    day_end: datetime
    readings: dict[str, Any]
    pulls: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: dict[str, Any] | None = None
    heals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def expected_slots(self) -> int:
        return int((self.day_end - self.day_start) / timedelta(minutes=15))


def day_lineage(conn: Connection, meter_id: int, day: date) -> DayLineage:
    """The lineage of ``meter_id`` on its site-local ``day``; ``WarehouseError`` for an unknown meter."""
    meters = _rows(conn, "lineage/meter.sql", {"channel_id": meter_id})
    if not meters:
        raise WarehouseError(f"meter {meter_id} is not in the channels table")
    meter = meters[0]
    zone, _warning = resolve_zone(meter["timezone"])
    day_start, day_end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    bounds: dict[str, Any] = {"channel_id": meter_id, "day_start": day_start, "day_end": day_end, "local_date": day}
    (present,) = fetch(conn, "lineage/tables.sql")
    heal_table, verdict_table = bool(present[0]), bool(present[1])
    verdicts = _rows(conn, "lineage/reconciliation.sql", bounds) if verdict_table else []
    return DayLineage(
        meter_id=meter_id,
        meter_name=meter["channel_name"],
        site=meter["organization_name"] or meter["organization_id"],
        timezone=zone,
        local_date=day,
        day_start=day_start,
        day_end=day_end,
        readings=_rows(conn, "lineage/readings.sql", bounds)[0],
        pulls=_rows(conn, "lineage/pulls.sql", bounds),
        rejected=_rows(conn, "lineage/rejected.sql", bounds),
        reconciliation=verdicts[0] if verdicts else None,
        heals=_rows(conn, "lineage/heals.sql", bounds) if heal_table else [],
    )


def _ts(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _kwh(value: Any) -> str:
    return "NULL" if value is None else f"{float(value):.4f}"


def format_lineage(lin: DayLineage) -> list[str]:
    """The lineage as text lines (what the CLI prints)."""
    r = lin.readings
    lines = [
        f"meter {lin.meter_id} ({lin.meter_name}), site {lin.site}, local day {lin.local_date} in {lin.timezone}: "
        f"[{_ts(lin.day_start)}, {_ts(lin.day_end)}), {lin.expected_slots} quarter-hours",
        f"readings: {r['readings']} stored, {r['with_value']} with a value, {_kwh(r['kwh'])} kWh; "
        f"{r['updated_later']} revised by a later pull"
        + (f" (last {_ts(r['last_updated_at'])})" if r["last_updated_at"] else "")
        + (f"; {r['without_pull']} written before lineage was recorded" if r["without_pull"] else ""),
        f"pulls overlapping the day: {len(lin.pulls)}",
    ]
    for p in lin.pulls:
        lines.append(
            f"  #{p['id']} {_ts(p['created_at'])} {p['status']} run={p['run_id']} "
            f"window=[{_ts(p['start_time'])}, {_ts(p['end_time'])}) fetched={p['readings_fetched']} "
            f"inserted={p['readings_inserted']} updated={p['readings_updated']} "
            f"unchanged={p['readings_unchanged']} rejected={p['readings_rejected']} "
            f"now_from_it={p['readings_now_from_it']}"
            + (f" error={str(p['error_message']).splitlines()[0][:120]}" if p["error_message"] else "")
        )
    lines.append(f"rejected: {sum(x['readings'] for x in lin.rejected)}")
    for x in lin.rejected:
        lines.append(f"  {x['readings']} x {x['reason']} (last seen {_ts(x['last_seen_at'])}, pull "
                     f"#{x['last_pull_id']}): {x['example_detail'] or ''}")
    v = lin.reconciliation
    if v is None:
        lines.append("reconciliation: not checked yet")
    else:
        lines.append(
            f"reconciliation: {v['verdict']} (ours {_kwh(v['our_kwh'])} kWh, Eniscope {_kwh(v['source_kwh'])} kWh"
            + (f", Eniscope 15-minute sum {_kwh(v['source_slots_kwh'])} kWh" if v["source_slots_kwh"] is not None
               else "")
            + f", tolerance {_kwh(v['tolerance_kwh'])} kWh; checked {_ts(v['checked_at'])} by {v['run_id']})"
        )
    for h in lin.heals:
        lines.append(f"  heal ({h['reason']}): {h['status']} {h['backfill_run_id']} asked {_ts(h['requested_at'])}")
    return lines
