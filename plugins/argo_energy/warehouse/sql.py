"""The one way the project reaches SQL text and runs a read: files of ``include/sql/`` by path.

Every package (ingestion, validation, report, views, migrations) loads its statements here, so a
newcomer looking for "where does this query come from" opens ``include/sql/<path>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from argo_energy.warehouse.connection import Connection, own_transaction, sql_dir

Params = Mapping[str, Any] | Sequence[Any] | None
Query = str | sql.Composable


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def sql_text(path: str) -> str:
    """The text of ``include/sql/<path>``, e.g. ``sql_text("validation/completeness.sql")``.

    Cached per absolute file (the files are part of the deployment and do not change under a running task).
    """
    return _read(sql_dir() / path)


def run_query(cur: psycopg.Cursor[Any], query: Query, params: Params = None) -> list[tuple[Any, ...]]:
    """Execute ``query`` on an open cursor; every row it returns (none for a statement without rows)."""
    cur.execute(query, params)  # type: ignore[arg-type]  # psycopg's LiteralString typing
    return cur.fetchall() if cur.description else []


def fetch_in(cur: psycopg.Cursor[Any], path: str, params: Params = None) -> list[tuple[Any, ...]]:
    """Run the file ``include/sql/<path>`` on an open cursor (inside the caller's transaction)."""
    return run_query(cur, sql_text(path), params)


def fetch(conn: Connection, query_or_path: Query, params: Params = None) -> list[tuple[Any, ...]]:
    """Run one read in its own transaction on an idle connection and return every row.

    ``query_or_path`` is a path under ``include/sql/`` ending in ``.sql``, or a query.
    """
    query: Query = query_or_path
    if isinstance(query_or_path, str) and query_or_path.endswith(".sql"):
        query = sql_text(query_or_path)
    with own_transaction(conn) as cur:
        return run_query(cur, query, params)
