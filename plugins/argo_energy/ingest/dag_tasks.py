"""Task factories shared by the two ingestion DAGs (called inside a ``with DAG(...)`` block).

Only wiring lives here: each task body is one call into ``argo_energy.ingest.tasks`` or
``argo_energy.ingest.status``; the readings are ``operators.SyncReadingsOperator``.
Creating these tasks reads no Connection, Variable, network or database: that happens when
the tasks run.

Shape of both DAGs, after their first task(s)::

    apply_migrations >> sync_metadata >> sync_readings (mapped over channel batches, pool eniscope_api)
      >> views_gate >> build_<view> (TaskGroup build_views: one SQL task per include/sql/views file)
      >> refresh_mv_hourly_usage >> record_sync_status >> publish_readings (Asset event);
      refresh_mv_hourly_usage >> publish_hourly_usage (Asset event);   every task >> fail_run_if_any_task_failed

Priority in the ``eniscope_api`` pool (issue 16; ``weight_rule="absolute"``): the daily sync's
readings (``PRIORITY["daily"]``) and a backfill of the last ``RECENT_DAYS`` days (validation's heals:
mapped task ``sync_readings_recent``, ``PRIORITY["recent"]``) are queued before a historical
backfill's batches (``PRIORITY["backfill"]``), and a backfill run holds at most
``BACKFILL_MAX_ACTIVE_READINGS`` slots at once (``max_active_tis_per_dagrun``; environment variable
``ARGO_BACKFILL_MAX_ACTIVE_READINGS``, read when the DAG is parsed), so a year-long backfill delays
the daily sync by at most one batch. All of them share the account's request budget (eniscope/budget.py).

Every task has an ``execution_timeout`` (``dag_defaults.TASK_TIMEOUTS``); the view builds' sessions
have the migration kind's ``statement_timeout``/``lock_timeout``.

``views_gate`` runs when the readings are done whatever their state (a failed batch must not keep
the others' data out of the views) but only if the metadata task produced a plan. The views and
the status run after failures, so the run's leaf tasks could succeed while a readings batch failed:
``fail_run_if_any_task_failed`` (trigger rule ``one_failed``) keeps such a run marked failed.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, TaskGroup, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from argo_energy.assets import HOURLY_USAGE, READINGS, change_extra
from argo_energy.dag_defaults import task_timeout
from argo_energy.ingest.operators import SyncReadingsOperator
from argo_energy.ingest.status import record_run_status
from argo_energy.ingest.tasks import apply_warehouse_migrations
from argo_energy.settings import (
    ENERGY_CONN_ID,
    ENISCOPE_CONN_ID,
    ENISCOPE_POOL,
    owner_conn_id,
    owner_conn_template,
)
from argo_energy.warehouse.connection import hook_params
from argo_energy.warehouse.rollups import refresh_step
from argo_energy.warehouse.views import VIEW_FILES, view_name

log = logging.getLogger(__name__)

METADATA_TASK = "sync_metadata"
READINGS_TASK = "sync_readings"
RECENT_READINGS_TASK = "sync_readings_recent"  # a backfill's batches of the last RECENT_DAYS days (heals)
READINGS_TASKS = [READINGS_TASK, RECENT_READINGS_TASK]
PRIORITY = {"daily": 100, "recent": 90, "backfill": 1}  # absolute priority weights in the eniscope_api pool
RECENT_DAYS = 7
# Pool slots one backfill run's readings may hold at once (the pool has 4: two stay for the daily sync).
BACKFILL_MAX_ACTIVE_READINGS = int(os.environ.get("ARGO_BACKFILL_MAX_ACTIVE_READINGS", "2"))
WATCHER_TASK = "fail_run_if_any_task_failed"
VIEWS_GROUP = "build_views"
PLAN_KEY = "plan"


def publish_plan(ti: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Return value of the metadata task: the batches (only a return value can be mapped over);
    the sites and the channels skipped as unsupported go to XCom key ``plan``."""
    ti.xcom_push(key=PLAN_KEY, value={k: v for k, v in plan.items() if k != "batches"})
    return plan["batches"]


def pull_plan(ti: Any) -> dict[str, Any] | None:
    """The metadata task's whole plan (``None`` when it did not succeed)."""
    plan = ti.xcom_pull(task_ids=METADATA_TASK, key=PLAN_KEY)
    batches = ti.xcom_pull(task_ids=METADATA_TASK)
    if plan is None or batches is None:
        return None
    return {**plan, "batches": batches}


@task(task_id="apply_migrations", execution_timeout=task_timeout("migrations"))
def apply_migrations() -> dict[str, Any]:
    """Bring the warehouse schema to the current version (advisory-locked, idempotent)."""
    return apply_warehouse_migrations(owner_conn_id())


def sync_readings(
    batches: Any, timeout_kind: str = "readings_daily", *, priority: str = "daily", **partial: Any
) -> Any:
    """One mapped task per batch of channels, named after its channels, in the ``eniscope_api`` pool."""
    return SyncReadingsOperator.partial(
        task_id=partial.pop("task_id", READINGS_TASK),
        pool=ENISCOPE_POOL,
        priority_weight=PRIORITY[priority],
        weight_rule="absolute",
        **partial,
        execution_timeout=task_timeout(timeout_kind),
        map_index_template="{{ task.batch['label'] }}",
        eniscope_conn_id=ENISCOPE_CONN_ID,
        energy_conn_id=ENERGY_CONN_ID,
    ).expand(batch=batches)


@task(execution_timeout=task_timeout("status"))
def route_batches(batches: list[dict[str, Any]], which: str) -> list[dict[str, Any]]:
    """A backfill's ``recent`` batches (every window within the last ``RECENT_DAYS`` days, e.g.
    validation's heals: the daily sync's priority) or its ``historical`` ones (the backfill's)."""
    since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)

    def recent(batch: dict[str, Any]) -> bool:
        starts = [datetime.fromisoformat(str(t["start"])) for t in batch["targets"]]
        return bool(starts) and min(starts) >= since

    chosen = [b for b in batches if recent(b) == (which == "recent")]
    log.info("%d of %d batch(es) are %s: priority %d%s", len(chosen), len(batches), which,
             PRIORITY["recent" if which == "recent" else "backfill"],
             "" if which == "recent" else f", at most {BACKFILL_MAX_ACTIVE_READINGS} at once")
    return chosen


def backfill_readings(batches: Any, timeout_kind: str) -> list[Any]:
    """The backfill's two readings paths: recent batches first, historical ones capped per run."""
    recent = route_batches.override(task_id="recent_batches")(batches, "recent")
    historical = route_batches.override(task_id="historical_batches")(batches, "historical")
    return [
        sync_readings(recent, timeout_kind, priority="recent", task_id=RECENT_READINGS_TASK),
        sync_readings(historical, timeout_kind, priority="backfill",
                      max_active_tis_per_dagrun=BACKFILL_MAX_ACTIVE_READINGS),
    ]


@task.short_circuit(
    task_id="views_gate", trigger_rule=TriggerRule.ALL_DONE, ignore_downstream_trigger_rules=False
)
def views_gate(ti: Any = None) -> bool:
    """Build the views once the readings are done, if the metadata task got as far as a plan."""
    plan = pull_plan(ti)
    if plan is None:
        log.warning("no plan from %s: the views are not rebuilt in this run", METADATA_TASK)
    return plan is not None


@task(task_id="refresh_mv_hourly_usage")
def refresh_rollups(conn_id: str = ENERGY_CONN_ID, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Recompute the meter-hours and site-local meter-days changed since the last refresh (this run's
    and anyone's), in one transaction; a full rebuild when the run's Param ``rebuild_rollups`` is true."""
    return refresh_step(conn_id, rebuild=bool((params or {}).get("rebuild_rollups")))


def build_views_and_refresh(conn_id: str = ENERGY_CONN_ID) -> tuple[Any, Any]:
    """One ``SQLExecuteQueryOperator`` per view file in dependency order, then the rollup refresh.

    The files live in ``include/sql/views`` (the DAG's ``template_searchpath`` is ``include/sql``);
    each is ``SELECT argo_build_view(...)``, a no-op when the recorded definition is unchanged.
    The refresh (``warehouse.rollups``) recomputes only what changed since the last one and logs how
    many meter-hours and meter-days it recomputed.
    """
    # One group in the grid; DDL sessions bounded like migrations (short lock waits).
    # prefix_group_id=False: the task ids stay build_<view> (runbook, backfill clears, tests).
    with TaskGroup(group_id=VIEWS_GROUP, prefix_group_id=False, tooltip="one SQL task per include/sql/views file"):
        builds = [
            SQLExecuteQueryOperator(
                task_id=f"build_{view_name(path)}",
                # DDL: the owner role (energy_db_owner, else energy_db); the refresh stays the writer's.
                conn_id=owner_conn_template(),
                sql=path,
                show_return_value_in_logs=True,
                hook_params=hook_params("migration"),
                execution_timeout=task_timeout("view_build"),
            )
            for path in VIEW_FILES
        ]
    refresh = refresh_rollups.override(execution_timeout=task_timeout("refresh"))(conn_id)
    for before, after in zip([*builds], [*builds[1:], refresh], strict=True):
        before >> after
    return builds[0], refresh


@task(task_id="record_sync_status", trigger_rule=TriggerRule.ALL_DONE, execution_timeout=task_timeout("status"))
def record_sync_status(ti: Any = None) -> dict[str, Any]:
    """One ``data_sync_status`` row per site and per channel, from the plan and the batches' summaries."""
    plan = pull_plan(ti)
    # A list of task ids makes xcom_pull return one entry per map index (None where nothing was pushed).
    summaries = ti.xcom_pull(task_ids=READINGS_TASKS, key="summary")
    return record_run_status(plan, summaries, energy_conn_id=ENERGY_CONN_ID)


@task(
    task_id=WATCHER_TASK,
    trigger_rule=TriggerRule.ONE_FAILED,
    retries=0,
    on_failure_callback=[],  # not a failure of its own: the failed task is recorded already
)
def fail_run_if_any_task_failed() -> None:
    """Runs only when a task failed: keeps the run failed although the views and status ran after it."""
    raise AirflowFailException("a task of this run failed (see its log); the views and status still ran")


def watch_every_task(dag: DAG) -> None:
    """Make ``fail_run_if_any_task_failed`` downstream of every other task of ``dag``."""
    watcher = fail_run_if_any_task_failed()
    for other in dag.tasks:
        if other.task_id != WATCHER_TASK:
            other >> watcher


def _run_changes(ti: Any) -> dict[str, Any]:
    """The Asset event extra of this run (``assets.change_extra``)."""
    return change_extra(pull_plan(ti), ti.xcom_pull(task_ids=READINGS_TASKS, key="summary"))


def _publish(asset: Any, ti: Any, outlet_events: Any) -> dict[str, Any]:
    extra = _run_changes(ti)
    if not extra["inserted"] and not extra["updated"]:
        # A skipped task emits no Asset event: subscribers are not woken for nothing.
        raise AirflowSkipException("no reading was inserted or updated: no Asset event")
    outlet_events[asset].extra = extra
    log.info("Asset %s: %d channel(s) of sites %s, local days %s, %d inserted, %d updated", asset.name,
             extra["channels"], extra["sites"], extra["local_days"], extra["inserted"], extra["updated"])
    return extra


@task(task_id="publish_readings", outlets=[READINGS], trigger_rule=TriggerRule.ALL_DONE,
      execution_timeout=task_timeout("status"))
def publish_readings(ti: Any = None, outlet_events: Any = None) -> dict[str, Any]:
    """Asset event ``argo_energy.readings`` when the run inserted or updated readings."""
    return _publish(READINGS, ti, outlet_events)


@task(task_id="publish_hourly_usage", outlets=[HOURLY_USAGE], execution_timeout=task_timeout("status"))
def publish_hourly_usage(ti: Any = None, outlet_events: Any = None) -> dict[str, Any]:
    """Asset event ``argo_energy.hourly_usage`` when the refresh ran after changed readings."""
    return _publish(HOURLY_USAGE, ti, outlet_events)


def readings_to_status(batches: Any, readings_timeout: str = "readings_daily", *, backfill: bool = False) -> Any:
    """Wire readings -> views gate -> views -> refresh -> status after the metadata task's ``batches``,
    and the Asset events: readings after the status, hourly usage after the refresh. A backfill's
    readings are ``backfill_readings`` (recent and historical paths), the daily sync's one task."""
    readings = backfill_readings(batches, readings_timeout) if backfill else sync_readings(batches, readings_timeout)
    first_view, refresh = build_views_and_refresh()
    status = record_sync_status()
    readings >> views_gate() >> first_view
    refresh >> status >> publish_readings()
    refresh >> publish_hourly_usage()
    return status
