"""Writes of the validation DAG: its own tables (results, heal requests). SQL in include/sql/validation/."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from argo_energy.validation.results import CheckResult
from argo_energy.warehouse.connection import Connection, own_transaction
from argo_energy.warehouse.sql import fetch, fetch_in, sql_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Which DAG run a result belongs to, and the instant the checks judge the data at."""

    dag_id: str
    run_id: str
    as_of: datetime


def ensure_schema(conn: Connection) -> None:
    """Create the validation tables when missing (idempotent, serialised by an advisory lock)."""
    with own_transaction(conn) as cur:
        cur.execute(sql_text("validation/results_schema.sql"))
    log.info("validation tables present (validation_results, validation_heal_requests)")


def record_result(conn: Connection, run: RunInfo, result: CheckResult) -> None:
    """Upsert the result row of this check in this run."""
    with own_transaction(conn) as cur:
        cur.execute(sql_text("validation/record_result.sql"), {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "check_name": result.check_name,
            "severity": result.severity,
            "status": result.status,
            "checked_count": result.checked_count,
            "failed_count": result.failed_count,
            "affected_channels": result.affected_channels,
            "affected_days": result.affected_days,
            "message": result.message,
            "details": json.dumps(result.stored_findings()),
            "window_start": result.window_start,
            "window_end": result.window_end,
            "as_of": run.as_of,
        })


def load_run_results(conn: Connection, dag_id: str, run_id: str) -> list[CheckResult]:
    """The results recorded by one run, in check-name order."""
    rows = fetch(conn, "validation/run_results.sql", {"dag_id": dag_id, "run_id": run_id})
    return [
        CheckResult(
            check_name=name, severity=severity, status=status, message=message,
            checked_count=checked, failed_count=failed, findings=tuple(details or ()),
            window_start=start, window_end=end,
        )
        for name, severity, status, checked, failed, message, details, start, end in rows
    ]


def record_heal_requests(
    conn: Connection, validation_run_id: str,
    items: Sequence[tuple[int, date, str, int | None, int | None, str]],
) -> set[tuple[int, date, str]]:
    """Insert (channel, day, backfill run id, expected, received, reason) requests; return the new ones."""
    if not items:
        return set()
    with own_transaction(conn) as cur:
        rows = fetch_in(cur, "validation/heal_record.sql", {
            "validation_run_id": validation_run_id,
            "channel_ids": [i[0] for i in items],
            "days": [i[1] for i in items],
            "backfill_run_ids": [i[2] for i in items],
            "expected": [i[3] for i in items],
            "received": [i[4] for i in items],
            "reasons": [i[5] for i in items],
        })
    return {(int(cid), day, reason) for cid, day, _run, reason in rows}


def confirm_heal_requests(conn: Connection, backfill_run_ids: Iterable[str]) -> int:
    """Mark the requests of backfill runs that exist as triggered; return how many rows changed."""
    return _execute_count(conn, "validation/heal_confirm.sql", backfill_run_ids)


def forget_heal_requests(conn: Connection, backfill_run_ids: Iterable[str]) -> int:
    """Delete the still-requested rows of backfill runs that were never created."""
    return _execute_count(conn, "validation/heal_forget.sql", backfill_run_ids)


def _execute_count(conn: Connection, path: str, backfill_run_ids: Iterable[str]) -> int:
    ids = list(backfill_run_ids)
    if not ids:
        return 0
    with own_transaction(conn) as cur:
        cur.execute(sql_text(path), {"backfill_run_ids": ids})
        return cur.rowcount


def heal_requests_of(
    conn: Connection, channel_ids: Sequence[int], since: date, reason: str = "completeness"
) -> set[tuple[int, date]]:
    """(channel, day) pairs already requested for ``reason`` since ``since`` (by any run)."""
    rows: list[tuple[Any, ...]] = fetch(conn, "validation/heal_requests.sql",
                                        {"channel_ids": list(channel_ids), "since": since, "reason": reason})
    return {(int(r[0]), r[1]) for r in rows}
