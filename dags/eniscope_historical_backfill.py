"""
### Eniscope historical backfill

Triggered by hand (UI form, or `airflow dags trigger eniscope_historical_backfill -c '{...}'`):
fetch the readings of a range of site-local days into the warehouse, then rebuild the views and
refresh `mv_hourly_usage`.

| param | meaning |
|---|---|
| `start_date` | required, `YYYY-MM-DD`: first site-local day |
| `end_date` | optional, inclusive; empty = yesterday |
| `site_ids` | optional list of organisation ids (default: every site with channels) |
| `channel_ids` | optional list of channel ids (each must belong to the selected sites) |
| `force` | default false: windows with a `success` row in `ingestion_logs` are skipped, so a re-trigger resumes; true fetches everything again |
| `dry_run` | plan and log the windows; fetch and write nothing |
| `rebuild_rollups` | default false: `refresh_mv_hourly_usage` rebuilds `mv_hourly_usage` and the daily rollup from all of `readings` instead of recomputing only the changed meter-hours and days |

Bad params (malformed date, end before start, a date in the future, a range over Variable
`eniscope_backfill_max_days` (default 366), an unknown site or channel) fail `validate_params`,
the first task, with a message naming the problem, before any write. Malformed dates are refused
even earlier, by the form's JSON schema, when the run is triggered.

**Tasks.** `validate_params` → `dry_run_gate` → `apply_migrations` → `sync_metadata` →
`sync_readings` (mapped over batches of channels, pool `eniscope_api`) → `views_gate` →
`build_<view>` → `refresh_mv_hourly_usage` → `record_sync_status`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from argo_energy.dag_defaults import DAGRUN_TIMEOUTS, default_args, run_callbacks, task_timeout
from argo_energy.ingest import dag_tasks, tasks
from argo_energy.settings import BACKFILL_DAG_ID, ENISCOPE_POOL
from argo_energy.warehouse.connection import sql_dir

with DAG(
    dag_id=BACKFILL_DAG_ID,
    doc_md=__doc__,
    description="Backfill Eniscope readings for a range of site-local days (params form)",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUTS["backfill"],
    on_failure_callback=run_callbacks(),
    default_args=default_args(),
    tags=["eniscope", "ingestion", "backfill"],
    template_searchpath=[str(sql_dir())],
    params={
        # Nullable in the schema, required by validate_params (its first task): Airflow 3.3.2's
        # dag.test() / `airflow dags test` builds the run-failure callback's context without the
        # run's conf, and a Param without a default then fails the callback instead of alerting.
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Start date (required)",
            description="First site-local day to fetch (YYYY-MM-DD); the first task fails without it.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="End date (inclusive)",
            description="Last site-local day to fetch; empty means yesterday.",
        ),
        "site_ids": Param(
            [],
            type="array",
            items={"type": ["string", "integer"]},
            title="Sites",
            description='Organisation ids, e.g. ["23271"]; empty = every site with channels.',
        ),
        "channel_ids": Param(
            [],
            type="array",
            items={"type": ["integer", "string"]},
            title="Channels",
            description="Channel ids, e.g. [158694]; empty = every channel of the sites.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Fetch again windows that already have a success row in ingestion_logs.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Plan and log the windows only: no request for readings, no write.",
        ),
        "rebuild_rollups": Param(
            False,
            type="boolean",
            title="Rebuild rollups",
            description="Recompute mv_hourly_usage and the daily rollup from all readings (operators; "
            "normally only the meter-hours and days that changed are recomputed).",
        ),
    },
) as dag:

    @task(task_id="validate_params", pool=ENISCOPE_POOL, retries=0)
    def validate_params(params=None) -> dict:
        """Check every param (then the ids against the API's lists); log the plan of a dry run."""
        return tasks.validate_backfill(dict(params))

    @task.short_circuit(task_id="dry_run_gate")
    def dry_run_gate(request) -> bool:  # request: the dict validate_params returned (an XComArg here)
        """Stop here (everything downstream skipped) when the run is a dry run."""
        return not request["dry_run"]

    @task(task_id=dag_tasks.METADATA_TASK, pool=ENISCOPE_POOL, execution_timeout=task_timeout("metadata"))
    def sync_metadata(request, ti=None) -> list:  # request: as for dry_run_gate
        """Upsert the selected sites, devices and channels; plan the batches of the range."""
        return dag_tasks.publish_plan(ti, tasks.sync_metadata_backfill(request))

    request = validate_params()
    plan = sync_metadata(request)
    dry_run_gate(request) >> dag_tasks.apply_migrations() >> plan
    dag_tasks.readings_to_status(plan, readings_timeout="readings_backfill", backfill=True)
    dag_tasks.watch_every_task(dag)
