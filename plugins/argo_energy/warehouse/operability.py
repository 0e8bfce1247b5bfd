"""Operability bookkeeping (migration V013): failed task instances for the run alert, report deliveries.

Each function runs one statement of ``include/sql/operability/`` or ``include/sql/report/`` in its
own transaction on an idle connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch

ERROR_MAX = 1000


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """One task instance of a run that failed on its last try."""

    task_id: str
    map_index: int
    map_label: str | None
    try_number: int | None
    error: str
    failed_at: datetime

    @property
    def label(self) -> str:
        if self.map_index < 0:
            return self.task_id
        return f"{self.task_id}[{self.map_label or self.map_index}]"


def record_task_failure(
    conn: Connection, *, dag_id: str, run_id: str, task_id: str, map_index: int | None,
    map_label: str | None, try_number: int | None, error: str,
) -> None:
    """Record (or replace) the failure of one task instance of a run."""
    fetch(conn, "operability/record_task_failure.sql", {
        "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
        "map_index": -1 if map_index is None else map_index, "map_label": map_label,
        "try_number": try_number, "error": error[:ERROR_MAX],
    })


def run_task_failures(conn: Connection, dag_id: str, run_id: str) -> list[TaskFailure]:
    """The failed task instances of one run, first failure first."""
    rows = fetch(conn, "operability/run_task_failures.sql", {"dag_id": dag_id, "run_id": run_id})
    return [TaskFailure(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A report already delivered on one channel."""

    run_id: str
    delivered_at: datetime
    sends: int


def delivery_of(conn: Connection, site_id: str, iso_week: str, channel: str) -> Delivery | None:
    """The recorded delivery of (site, week) on ``channel`` (email or slack), or None."""
    rows = fetch(conn, "report/delivery_get.sql", {"site_id": site_id, "iso_week": iso_week, "channel": channel})
    return Delivery(*rows[0]) if rows else None


def record_delivery(
    conn: Connection, *, site_id: str, iso_week: str, channel: str, dag_id: str, run_id: str,
    recipients: int | None, detail: str | None,
) -> None:
    """Record that (site, week) was delivered on ``channel`` by this run (a resend counts up ``sends``)."""
    fetch(conn, "report/delivery_record.sql", {
        "site_id": site_id, "iso_week": iso_week, "channel": channel, "dag_id": dag_id,
        "run_id": run_id, "recipients": recipients, "detail": detail,
    })
