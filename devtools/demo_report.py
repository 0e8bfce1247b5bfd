"""What the demo prints: live progress read from the metadata database, and the final summary
read from the warehouse. Both only read (sqlite3 in read-only mode, psycopg), no Airflow import.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from argo_energy.warehouse.views import VIEW_FILES, view_name

INGESTION_DAGS = frozenset({"eniscope_daily_sync", "eniscope_historical_backfill"})
TERMINAL = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
_MARK = {"success": "ok", "failed": "FAILED", "skipped": "skipped", "upstream_failed": "upstream failed"}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _seconds(start: str | None, end: str | None) -> float | None:
    first, last = _parse_time(start), _parse_time(end)
    if first is None or last is None:
        return None
    return (last - first).total_seconds()


def task_label(task_id: str, map_index: int, rendered: str | None, width: int = 72) -> str:
    """``task_id`` or ``task_id[map label]``, shortened to ``width`` characters."""
    label = task_id if map_index < 0 else f"{task_id}[{rendered or map_index}]"
    return label if len(label) <= width else label[: width - 4] + "...]"


@dataclass
class _RunView:
    dag_id: str
    run_id: str
    reported: set[tuple[str, int]] = field(default_factory=set)
    running: set[tuple[str, int]] = field(default_factory=set)
    finished: bool = False


class ProgressWatcher:
    """Prints each new DAG run, each task as it starts and finishes, and each run's end.

    It polls the SQLite metadata database read-only: the runs are those that did not exist when
    the watcher was created, so older runs of the same DAGs are never reported again.
    """

    def __init__(self, metadata_db: Path, emit: Callable[[str], None] = print) -> None:
        self.path = metadata_db
        self.emit = emit
        self.runs: dict[tuple[str, str], _RunView] = {}
        self.before = {(d, r) for d, r, *_ in self._query("SELECT dag_id, run_id FROM dag_run")}

    def _query(self, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2)
        except sqlite3.Error:
            return []
        try:
            return conn.execute(text, args).fetchall()
        except sqlite3.Error:  # locked by a writer or not migrated yet: try again next tick
            return []
        finally:
            conn.close()

    def tick(self) -> None:
        rows = self._query("SELECT dag_id, run_id, state, start_date, end_date FROM dag_run ORDER BY id")
        for dag_id, run_id, state, start, end in rows:
            key = (dag_id, run_id)
            if key in self.before:
                continue
            view = self.runs.get(key)
            if view is None:
                view = self.runs[key] = _RunView(dag_id, run_id)
                self.emit(f"> {dag_id}: run {run_id} started")
            if view.finished:
                continue
            self._tasks(view)
            if state in ("success", "failed"):
                view.finished = True
                counts = Counter(s for *_, s in self._tis(view))
                took = _seconds(start, end)
                self.emit(
                    f"< {dag_id}: {state.upper()}"
                    + (f" in {took:.0f}s" if took is not None else "")
                    + " (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
                )

    def _tis(self, view: _RunView) -> list[tuple[Any, ...]]:
        return self._query(
            "SELECT task_id, map_index, rendered_map_index, start_date, end_date, state "
            "FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY start_date, task_id, map_index",
            (view.dag_id, view.run_id),
        )

    def _tasks(self, view: _RunView) -> None:
        tis = self._tis(view)
        total = len(tis)
        for task_id, map_index, rendered, start, end, state in tis:
            key = (task_id, map_index)
            label = task_label(task_id, map_index, rendered)
            if state == "running" and key not in view.running:
                view.running.add(key)
                self.emit(f"    ... {label} running")
            elif state in TERMINAL and key not in view.reported:
                view.reported.add(key)
                took = _seconds(start, end)
                self.emit(
                    f"    [{len(view.reported)}/{total}] {label}: {_MARK.get(state, state)}"
                    + (f" ({took:.1f}s)" if took is not None else "")
                )

    def run_tasks(self, dag_id: str, run_id: str) -> Counter[str]:
        """Task states of one run (for the summary)."""
        return Counter(row[-1] or "none" for row in self._tis(_RunView(dag_id, run_id)))


# ---------------------------------------------------------------------------------------------
# summary


def _one(cur: psycopg.Cursor[Any], text: str, args: Sequence[Any] = ()) -> tuple[Any, ...]:
    cur.execute(text, args)
    row = cur.fetchone()
    return tuple(row) if row else ()


def _exists(cur: psycopg.Cursor[Any], name: str) -> bool:
    return bool(_one(cur, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0])


def warehouse_summary(dsn: str, run_ids: Sequence[str], validation_run_id: str | None) -> dict[str, Any]:
    """Counts of the warehouse after the demo (every number read from the database).

    ``run_ids``: the Airflow runs of this demo, whose ``ingestion_logs`` rows are summed per run.
    """
    out: dict[str, Any] = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        if not _exists(cur, "readings"):
            return {"error": "the warehouse has no tables: the ingestion did not get as far as migrations"}
        out["by_run"] = {
            run_id: dict(zip(_RUN_COLUMNS, (int(v or 0) for v in rest), strict=True))
            for run_id, *rest in _rows(cur, _BY_RUN_SQL, (list(run_ids),))
        }
        out["sites"] = [
            dict(zip(("organization_id", "name", "timezone", "channels", "channels_with_readings",
                      "readings", "first_day", "last_day", "days"), row, strict=True))
            for row in _rows(cur, _SITES_SQL)
        ]
        out["channels"] = _one(cur, "SELECT count(*) FROM channels")[0]
        out["channels_with_readings"] = _one(cur, "SELECT count(DISTINCT channel_id) FROM readings")[0]
        out["unsupported_channels"] = _one(cur, _UNSUPPORTED_SQL)[0]
        out["readings"] = _one(cur, "SELECT count(*) FROM readings")[0]
        first, last, days = _one(cur, _DAYS_SQL)
        out["first_reading"] = first.isoformat() if first else None
        out["last_reading"] = last.isoformat() if last else None
        out["days_covered"] = days
        out["rejected"] = _one(cur, "SELECT count(*) FROM readings_rejected")[0]
        out["rejected_by_reason"] = dict(
            _rows(cur, "SELECT reason, count(*) FROM readings_rejected GROUP BY reason ORDER BY 2 DESC")
        )
        out["ingestion_windows"] = {
            status: {"windows": n, "fetched": f, "inserted": i, "rejected": r}
            for status, n, f, i, r in _rows(
                cur,
                "SELECT status, count(*), sum(readings_fetched), sum(readings_inserted), "
                "sum(readings_rejected) FROM ingestion_logs GROUP BY status ORDER BY status",
            )
        }
        views = {}
        for path in VIEW_FILES:
            name = view_name(path)
            if _exists(cur, name):
                views[name] = _one(cur, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))[0]
            else:
                views[name] = None
        out["views"] = views
        out["validation"] = []
        if validation_run_id and _exists(cur, "validation_results"):
            out["validation"] = [
                dict(zip(("check", "severity", "status", "failed_count", "message"), row, strict=True))
                for row in _rows(
                    cur,
                    "SELECT check_name, severity, status, failed_count, message FROM validation_results "
                    "WHERE dag_id = 'eniscope_validation' AND run_id = %s ORDER BY severity, check_name",
                    (validation_run_id,),
                )
            ]
    return out


def _rows(cur: psycopg.Cursor[Any], text: Any, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cur.execute(text, args)
    return [tuple(r) for r in cur.fetchall()]


_LOCAL_DAY = "(r.\"timestamp\" AT TIME ZONE coalesce(o.timezone, 'UTC'))::date"
_SITES_SQL = f"""
    SELECT o.organization_id, o.organization_name, o.timezone,
           count(DISTINCT c.channel_id), count(DISTINCT r.channel_id), count(r.id),
           min({_LOCAL_DAY}), max({_LOCAL_DAY}), count(DISTINCT {_LOCAL_DAY})
      FROM organizations o
      LEFT JOIN channels c ON c.organization_id = o.organization_id
      LEFT JOIN readings r ON r.channel_id = c.channel_id
     GROUP BY o.organization_id, o.organization_name, o.timezone
     ORDER BY o.organization_id
"""  # noqa: S608 - a constant expression, no values
_DAYS_SQL = f"""
    SELECT min(r."timestamp"), max(r."timestamp"), count(DISTINCT {_LOCAL_DAY})
      FROM readings r JOIN channels c ON c.channel_id = r.channel_id
      JOIN organizations o ON o.organization_id = c.organization_id
"""  # noqa: S608 - a constant expression, no values
_RUN_COLUMNS = ("windows", "failed", "fetched", "inserted", "updated", "unchanged", "rejected")
_BY_RUN_SQL = """
    SELECT run_id, count(*), count(*) FILTER (WHERE status <> 'success'), sum(readings_fetched),
           sum(readings_inserted), sum(readings_updated), sum(readings_unchanged), sum(readings_rejected)
      FROM ingestion_logs WHERE run_id = ANY(%s) GROUP BY run_id
"""
_UNSUPPORTED_SQL = """
    SELECT count(*) FROM (
        SELECT DISTINCT ON (channel_id) channel_id, error_message
          FROM data_sync_status WHERE channel_id IS NOT NULL
         ORDER BY channel_id, last_sync_timestamp DESC, id DESC
    ) newest WHERE error_message LIKE 'unsupported channel:%%'
"""


def _run_lines(run: Mapping[str, Any], by_run: Mapping[str, Any]) -> list[str]:
    """One Airflow run of the summary: state, time, task counts, error, what it wrote."""
    tasks = run.get("tasks") or {}
    took = _seconds(run.get("started"), run.get("ended"))
    lines = [
        f"  {run['dag_id']:<30} {str(run.get('state')).upper():<8}"
        + (f" {took:5.0f}s " if took is not None else "  ")
        + ", ".join(f"{n} {s}" for s, n in sorted(tasks.items()))
    ]
    if run.get("error"):
        lines.append(f"      error: {run['error']}")
    written = by_run.get(run.get("run_id"))
    if written:
        lines.append(
            "      ingestion_logs: {windows} windows written ({failed} failed): {fetched:,} readings "
            "fetched, {inserted:,} inserted, {updated:,} updated, {unchanged:,} unchanged, "
            "{rejected:,} rejected".format(**written)
        )
    elif run.get("dag_id") in INGESTION_DAGS and run.get("state") == "success":
        lines.append("      ingestion_logs: no window written (every window was done already)")
    return lines


def _warehouse_lines(warehouse: Mapping[str, Any]) -> list[str]:
    """The warehouse part of the summary: totals, ingestion windows, sites, views, validation."""
    lines = [
        "Warehouse:",
        f"  sites {len(warehouse['sites'])}, channels {warehouse['channels']} "
        f"({warehouse['channels_with_readings']} with readings, "
        f"{warehouse['unsupported_channels']} sensor/virtual channels marked unsupported)",
        f"  readings stored {warehouse['readings']:,}, rejected {warehouse['rejected']:,}"
        + (f" {warehouse['rejected_by_reason']}" if warehouse["rejected_by_reason"] else ""),
        f"  days covered {warehouse['days_covered']} site-local days, "
        f"{warehouse['first_reading']} .. {warehouse['last_reading']} (UTC)",
    ]
    for status, agg in warehouse["ingestion_windows"].items():
        lines.append(
            f"  ingestion_logs {status}: {agg['windows']} windows, {agg['fetched'] or 0:,} fetched, "
            f"{agg['inserted'] or 0:,} inserted, {agg['rejected'] or 0:,} rejected"
        )
    lines.append("  per site:")
    for site in warehouse["sites"]:
        lines.append(
            f"    {site['organization_id']:<6} {site['name']:<24} {site['timezone'] or '':<18} "
            f"{site['channels']:>3} channels, {site['readings']:>7,} readings, "
            f"{site['days']:>3} days {site['first_day'] or ''}..{site['last_day'] or ''}"
        )
    lines.append("Views (rows):")
    for name, count in warehouse["views"].items():
        lines.append(f"  {name:<24} {'missing' if count is None else f'{count:,}'}")
    lines.append("Validation (eniscope_validation, this run):")
    if not warehouse["validation"]:
        lines.append("  no results recorded")
    for row in warehouse["validation"]:
        lines.append(
            f"  {row['check']:<22} {row['severity']:<5} {row['status'].upper():<5} {row['message'][:90]}"
        )
    return lines


def format_summary(
    runs: Iterable[Mapping[str, Any]],
    warehouse: Mapping[str, Any],
    footer: Sequence[str],
) -> list[str]:
    """The summary as printable lines."""
    lines = ["", "=" * 78, "Demo summary", "=" * 78, "Airflow runs (dag.test, every task through the Task SDK):"]
    by_run = warehouse.get("by_run") or {}
    for run in runs:
        lines += _run_lines(run, by_run)
    if "error" in warehouse:
        lines.append(f"Warehouse: {warehouse['error']}")
    else:
        lines += _warehouse_lines(warehouse)
    return [*lines, "", *footer]
