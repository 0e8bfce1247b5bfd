"""Connections, transactions and SQL file locations shared by the warehouse modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from argo_energy.settings import ENERGY_CONN_ID
from argo_energy.warehouse.timeouts import EXTRA_KEY, Kind, TimeoutConfigError, session_options, timeouts_for

# Two-key advisory lock namespaces (pg_advisory_xact_lock(int, int)); SQL files use the same numbers.
LOCK_MIGRATIONS = 842001  # key 2: 0
LOCK_VIEWS = 842002  # key 2: 0 (taken inside argo_build_view)
LOCK_CHANNEL_WRITE = 842003  # key 2: channel_id

Connection = psycopg.Connection[Any]


class WarehouseError(RuntimeError):
    """The warehouse cannot do what was asked; the message says why."""


def sql_dir() -> Path:
    """``include/sql`` of this deployment (``ARGO_SQL_DIR`` overrides it)."""
    override = os.environ.get("ARGO_SQL_DIR")
    if override:
        return Path(override)
    # plugins/argo_energy/warehouse/connection.py -> repository (or /opt/airflow) root.
    return Path(__file__).resolve().parents[3] / "include" / "sql"


def _hook_class() -> type[Any]:
    """PostgresHook that keeps our extras out of the libpq arguments and sets the session ``options``."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    class _WarehouseHook(PostgresHook):
        # "options" is merged by session_options(); "timeouts" is ours, not a libpq keyword.
        ignored_extra_options = PostgresHook.ignored_extra_options | {EXTRA_KEY, "options"}

    return _WarehouseHook


def connect(conn_id: str = ENERGY_CONN_ID, kind: Kind = "write") -> Connection:
    """A psycopg 3 connection from the Airflow connection ``conn_id`` (PostgresHook, imported lazily).

    ``kind`` (write, refresh, migration, check, read) sets the session's ``statement_timeout`` and
    ``lock_timeout`` at connect time (``warehouse.timeouts``; connection extra ``timeouts``).
    """
    hook = _hook_class()(postgres_conn_id=conn_id)
    try:
        hook.options = session_options(kind, hook.connection.extra_dejson)
    except TimeoutConfigError as exc:
        raise WarehouseError(f"connection {conn_id!r}: {exc}") from None
    conn = hook.get_conn()
    if not isinstance(conn, psycopg.Connection):
        raise WarehouseError(
            f"connection {conn_id!r} gave a {type(conn).__module__}.{type(conn).__name__}; "
            "the warehouse needs psycopg 3 (PostgresHook with psycopg installed and SQLAlchemy 2)"
        )
    return conn


def hook_params(kind: Kind) -> dict[str, Any]:
    """``hook_params`` of a common-sql operator: the default timeouts of ``kind`` (parse time: no extras)."""
    return {"options": timeouts_for(kind).options()}


@contextmanager
def own_transaction(conn: Connection) -> Iterator[psycopg.Cursor[Any]]:
    """One transaction that this call owns and commits; yields a tuple-row cursor.

    Refuses a connection that is inside a transaction already: psycopg would turn our block into a
    savepoint and nothing would be committed until the caller commits, which is a silent trap.
    """
    status = conn.info.transaction_status
    if status != TransactionStatus.IDLE:
        raise WarehouseError(
            f"connection is not idle ({status.name}): commit or roll back first; "
            "warehouse functions run and commit their own transaction"
        )
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        yield cur
