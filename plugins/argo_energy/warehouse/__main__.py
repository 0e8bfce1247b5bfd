"""Run the warehouse maintenance by hand.

    python -m argo_energy.warehouse migrate      [--conn-id energy_db | --dsn postgresql://...]
    python -m argo_energy.warehouse build-views  [...]
    python -m argo_energy.warehouse refresh      [...]   # rollups: what changed since the last refresh
    python -m argo_energy.warehouse rebuild-rollups [--meter ID ...] [--from ISO] [--to ISO] [...]
    python -m argo_energy.warehouse setup        [...]   # migrate + build-views + refresh
    python -m argo_energy.warehouse status       [...]   # applied version and view build state
    python -m argo_energy.warehouse lineage --meter 123 --day 2026-03-08 [...]   # where a day's numbers came from

``--conn-id`` (default ``settings.ENERGY_CONN_ID``, ``energy_db``) goes through Airflow's PostgresHook, so it reads the same
connection as the DAGs (``AIRFLOW_CONN_ENERGY_DB`` or the metadata database). ``--dsn`` (or the
``ARGO_WAREHOUSE_DSN`` environment variable) connects with psycopg directly, without Airflow.
``rebuild-rollups`` recomputes mv_hourly_usage and the daily rollup from readings: everything, or the
meters given (``--meter`` repeated) and/or the UTC range ``[--from, --to)`` (ISO 8601 with an offset).
Exit status 0 on success, 1 on a warehouse error (the message says why).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime

import psycopg

from argo_energy.settings import ENERGY_CONN_ID, OWNER_CONN_ID, owner_conn_id
from argo_energy.warehouse.connection import Connection, WarehouseError, connect, own_transaction
from argo_energy.warehouse.lineage import day_lineage, format_lineage
from argo_energy.warehouse.migrations import apply_migrations, current_version, load_migrations
from argo_energy.warehouse.rollups import rebuild_rollups, refresh_rollups
from argo_energy.warehouse.views import build_views

COMMANDS = ("migrate", "build-views", "refresh", "rebuild-rollups", "setup", "status", "lineage")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m argo_energy.warehouse",
        description="Apply migrations, build the layered views, refresh or rebuild the rollups.",
    )
    parser.add_argument("command", choices=COMMANDS)
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--conn-id", default=None,
        help=f"Airflow connection id (default: {OWNER_CONN_ID} when defined, else {ENERGY_CONN_ID})",
    )
    target.add_argument("--dsn", default=None, help="libpq DSN/URL; also ARGO_WAREHOUSE_DSN")
    parser.add_argument("--meter", type=int, action="append", default=None, help="rebuild-rollups: a meter id")
    parser.add_argument("--from", dest="start", type=_instant, default=None, help="rebuild-rollups: UTC start")
    parser.add_argument("--to", dest="end", type=_instant, default=None, help="rebuild-rollups: UTC end (excl.)")
    parser.add_argument("--day", type=date.fromisoformat, default=None,
                        help="lineage: the meter's site-local day (YYYY-MM-DD)")
    return parser


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2025-03-01T00:00+00:00)")
    return value


def _open(args: argparse.Namespace) -> Connection:
    dsn = args.dsn or (None if args.conn_id else os.environ.get("ARGO_WAREHOUSE_DSN"))
    if dsn:
        return psycopg.connect(dsn)
    # Migrations, view builds and rebuilds are DDL: the owner role by default.
    return connect(args.conn_id or owner_conn_id())


def _status(conn: Connection) -> None:
    newest = load_migrations()[-1].version
    version = current_version(conn)
    print(f"schema version: {version if version is not None else 'none'} (files up to {newest})")
    with own_transaction(conn) as cur:
        cur.execute("SELECT to_regclass('warehouse_view_definitions') IS NOT NULL")
        row = cur.fetchone()
        if row and row[0]:
            cur.execute("SELECT view_name, kind, built_at FROM warehouse_view_definitions ORDER BY view_name")
            for name, kind, built_at in cur.fetchall():
                print(f"{kind:>17} {name:<22} built {built_at.isoformat()}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        with _open(args) as conn:
            if args.command in ("migrate", "setup"):
                applied = apply_migrations(conn)
                print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
            if args.command in ("build-views", "setup"):
                actions = build_views(conn)
                print("views: " + ", ".join(f"{name}={action}" for name, action in actions.items()))
            if args.command in ("refresh", "setup"):
                done = refresh_rollups(conn)
                print(f"rollups refresh: {done.hours} meter-hour(s), {done.days} meter-day(s) recomputed")
            if args.command == "rebuild-rollups":
                done = rebuild_rollups(conn, meter_ids=args.meter, start=args.start, end=args.end)
                print(f"rollups rebuild: {done.hours} meter-hour(s), {done.days} meter-day(s) recomputed")
            if args.command == "status":
                _status(conn)
            if args.command == "lineage":
                if not args.meter or len(args.meter) != 1 or args.day is None:
                    raise WarehouseError("lineage needs exactly one --meter and a --day (YYYY-MM-DD)")
                print("\n".join(format_lineage(day_lineage(conn, args.meter[0], args.day))))
    except (WarehouseError, ValueError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
