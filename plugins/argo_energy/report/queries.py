"""The report's reads: read-only connections and the SELECTs of ``include/sql/report/`` (views only).

Every read runs inside ``read_only_snapshot``: one ``REPEATABLE READ READ ONLY`` transaction, so
all the figures of a report come from the same snapshot and PostgreSQL itself refuses any write
("cannot execute ... in a read-only transaction"), whatever rights the login has. The connection
is ``settings.READONLY_CONN_ID`` when that Airflow connection exists (a login without write rights,
see ``include/sql/roles/readonly_role.sql``), else ``settings.ENERGY_CONN_ID``. The SQL files are
read through ``warehouse.sql`` like every other package's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.rows import tuple_row

from argo_energy.report.week import ReportWeek
from argo_energy.warehouse.connection import Connection, WarehouseError
from argo_energy.warehouse.sql import fetch_in

log = logging.getLogger(__name__)

# Bounds one report's reads; a week of one site is milliseconds, a stuck lock must not hang the run.
STATEMENT_TIMEOUT = "5min"


@contextmanager
def read_only_snapshot(conn: Connection) -> Iterator[psycopg.Cursor[Any]]:
    """One ``REPEATABLE READ READ ONLY`` transaction on an idle connection; rolled back at the end.

    Checks ``transaction_read_only`` inside the transaction, so a pooler or driver that dropped the
    ``READ ONLY`` of ``BEGIN`` is an error rather than a silently writable report.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise WarehouseError("the report needs an idle connection (no open transaction)")
    conn.autocommit = False
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.cursor(row_factory=tuple_row) as cur:
        try:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (STATEMENT_TIMEOUT,))
            cur.execute("SELECT current_setting('transaction_read_only')")
            row = cur.fetchone()
            if not row or row[0] != "on":
                raise WarehouseError(f"the report's transaction is not read-only (transaction_read_only={row})")
            yield cur
        finally:
            conn.rollback()  # nothing to keep: a read-only transaction has nothing to commit


# --------------------------------------------------------------------------------------------------
# Row types (plain data handed to the pure figure functions)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteRow:
    site_id: str
    site_name: str
    timezone: str | None
    meter_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Meter:
    meter_id: int
    meter_name: str


@dataclass(frozen=True, slots=True)
class Site:
    site_id: str
    site_name: str
    timezone: str
    meters: tuple[Meter, ...]


@dataclass(frozen=True, slots=True)
class DailyRow:
    """A meter on a local day, as in v_readings_daily (only days with clean readings exist)."""

    meter_id: int
    local_date: date
    kwh: float | None
    peak_kw: float | None
    readings: int


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """The site's summed load in one 15-minute interval (``local`` is the naive site wall-clock time)."""

    ts: datetime
    local: datetime
    kwh: float | None
    kw: float | None
    meters: int


@dataclass(frozen=True, slots=True)
class ValidationDay:
    """The latest validation completeness verdict covering one local day (``checked_at`` None: none)."""

    local_date: date
    run_id: str | None
    checked_at: datetime | None
    flagged: tuple[tuple[int, int | None, int | None], ...]  # (meter_id, expected, received)


# --------------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------------


def list_sites(cur: psycopg.Cursor[Any]) -> list[SiteRow]:
    """Every site of the warehouse with its meter ids (possibly none)."""
    grouped: dict[str, tuple[str, str | None, list[int]]] = {}
    for site_id, site_name, zone, meter_id, _meter_name in fetch_in(cur, "report/sites.sql"):
        entry = grouped.setdefault(str(site_id), (str(site_name), zone, []))
        if meter_id is not None:
            entry[2].append(int(meter_id))
    return [SiteRow(sid, name, zone, tuple(ids)) for sid, (name, zone, ids) in grouped.items()]


def load_site(cur: psycopg.Cursor[Any], site_id: str) -> Site:
    rows = fetch_in(cur, "report/site_meters.sql", {"site_id": site_id})
    if not rows:
        raise WarehouseError(f"site {site_id!r} has no meters in v_meters: nothing to report")
    meters = tuple(Meter(int(r[0]), str(r[1])) for r in rows)
    return Site(site_id=str(rows[0][2]), site_name=str(rows[0][3]), timezone=str(rows[0][4]), meters=meters)


def load_daily(cur: psycopg.Cursor[Any], site_id: str, week: ReportWeek) -> list[DailyRow]:
    rows = fetch_in(cur, "report/daily.sql", {"site_id": site_id, "start": week.start, "end": week.end})
    return [
        DailyRow(
            meter_id=int(r[0]),
            local_date=r[1],
            kwh=None if r[2] is None else float(r[2]),
            peak_kw=None if r[3] is None else float(r[3]),
            readings=int(r[4]),
        )
        for r in rows
    ]


def load_intervals(cur: psycopg.Cursor[Any], site_id: str, week: ReportWeek) -> list[IntervalRow]:
    rows = fetch_in(cur, "report/intervals.sql", {"site_id": site_id, "start": week.start, "end": week.end})
    return [
        IntervalRow(
            ts=r[0],
            local=r[1],
            kwh=None if r[2] is None else float(r[2]),
            kw=None if r[3] is None else float(r[3]),
            meters=int(r[4]),
        )
        for r in rows
    ]


def load_validation(
    cur: psycopg.Cursor[Any], week: ReportWeek, meter_ids: Sequence[int]
) -> list[ValidationDay] | None:
    """The validation DAG's completeness verdicts for the week; None when its table is not there.

    Read inside a savepoint: the validation tables belong to another DAG and may change shape; a
    failing read costs this section of the report, never the report.
    """
    available = fetch_in(cur, "report/validation_available.sql")
    if not available or not available[0][0]:
        log.info("validation_results is not in this database (or not readable): completeness from the views only")
        return None
    bounds = [week.day_bounds(day) for day in week.days]
    params = {
        "days": week.days,
        "starts": [b[0] for b in bounds],
        "ends": [b[1] for b in bounds],
        "meter_ids": list(meter_ids),
    }
    try:
        with cur.connection.transaction():
            rows = fetch_in(cur, "report/validation_flags.sql", params)
    except psycopg.Error as exc:
        log.warning("could not read validation_results (%s): completeness from the views only", exc)
        return None
    days: dict[date, ValidationDay] = {}
    for local_day, run_id, checked_at, channel_id, expected, received in rows:
        current = days.get(local_day) or ValidationDay(local_day, run_id, checked_at, ())
        if channel_id is not None:
            current = ValidationDay(
                local_day, run_id, checked_at, (*current.flagged, (int(channel_id), expected, received))
            )
        days[local_day] = current
    return [days[d] for d in sorted(days)]
