"""
### Eniscope daily sync

Every day at 02:00 UTC: pull the readings of every site into the warehouse, rebuild the views and
refresh `mv_hourly_usage`.

**Range.** For each site, from the start of the site-local day `lookback_days` days (param,
default 7) before `data_interval_end`, up to `data_interval_end`, so late and revised data is
picked up; cut into site-local days (23, 24 or 25 hours), one fetch and one transaction per
channel and day. Sites: Variable `eniscope_sites` (JSON list of organisation ids), else every
organisation of the account that has channels.

**Tasks.** `apply_migrations` → `sync_metadata` (organisations, devices, channels; plans batches)
→ `sync_readings` (one mapped task per batch of channels, pool `eniscope_api`) → `views_gate` →
`build_<view>` (one SQL task per file of `include/sql/views/`) → `refresh_mv_hourly_usage`
(`REFRESH MATERIALIZED VIEW CONCURRENTLY`) → `record_sync_status` (`data_sync_status`).
`fail_run_if_any_task_failed` keeps the run red when a batch failed although the views still ran.

**Runs without a logical date.** A run triggered without a date (REST `logical_date: null`, the
UI with the date cleared) has no data interval: it fetches the `lookback_days` site-local days
before the moment it was triggered (`run_after`) up to that moment, today's partial day included.

**Bounds and alerts.** Every task has an `execution_timeout`, the run a 6 h `dagrun_timeout`; a
run still going 4 h after it was queued (06:00 UTC for the 02:00 run) sends a deadline alert. A
failed or timed-out run sends one Slack message and one email naming the failed batches and the
first error. On success the run publishes the Asset events `argo_energy.readings` and
`argo_energy.hourly_usage` (extra: sites, local days, counts) that validation is scheduled on.

**Failures.** A failed window writes a `failure` row in `ingestion_logs`, the others continue, the
batch fails at the end and its retry fetches only the windows this run has not written. A channel
answering 500 "Invalid Parameter" (sensor, virtual) is marked unsupported and skipped for 7 days.

**Backfill.** `airflow backfill create --dag-id eniscope_daily_sync --from-date 2026-03-01
--to-date 2026-03-08` (scheduler running, DAG unpaused) creates the runs whose logical date (the
interval start, 02:00 UTC) is in that range; add `--dag-run-conf '{"lookback_days": 1}'` to keep
consecutive runs from fetching the same days again. For months of history prefer
`eniscope_historical_backfill`. Automatic retries skip what the run already wrote; a cleared
task or run fetches its whole range again.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from argo_energy.dag_defaults import DAGRUN_TIMEOUTS, deadline, default_args, run_callbacks, task_timeout
from argo_energy.ingest import dag_tasks, tasks
from argo_energy.settings import DAILY_SYNC_DAG_ID, ENISCOPE_POOL
from argo_energy.warehouse.connection import sql_dir

with DAG(
    dag_id=DAILY_SYNC_DAG_ID,
    doc_md=__doc__,
    description="Daily Eniscope readings sync (last lookback_days site-local days), views, refresh",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUTS["daily_sync"],
    deadline=deadline("daily_sync", "the daily sync finished by 06:00 UTC (4 h after it was queued)"),
    on_failure_callback=run_callbacks(),
    default_args=default_args(),
    tags=["eniscope", "ingestion"],
    template_searchpath=[str(sql_dir())],
    params={
        "lookback_days": Param(
            7,
            type="integer",
            minimum=0,
            maximum=90,
            title="Lookback (days)",
            description="Site-local days before the end of the data interval to fetch again (late data).",
        ),
    },
) as dag:

    @task(task_id=dag_tasks.METADATA_TASK, pool=ENISCOPE_POOL, execution_timeout=task_timeout("metadata"))
    def sync_metadata(params=None, data_interval_end=None, dag_run: Any = None, ti=None) -> list:
        """Upsert sites, devices and channels; plan the batches of the data interval's range."""
        # A run without a logical date has no data interval: its range ends when it was triggered.
        end = data_interval_end or dag_run.run_after
        plan = tasks.sync_metadata_daily(data_interval_end=end, lookback_days=params["lookback_days"])
        return dag_tasks.publish_plan(ti, plan)

    plan = sync_metadata()
    dag_tasks.apply_migrations() >> plan
    dag_tasks.readings_to_status(plan)
    dag_tasks.watch_every_task(dag)
