"""
### Eniscope validation

Every six hours (00, 06, 12, 18 UTC) **and** whenever an ingestion run published new readings
(Asset `argo_energy.readings`, `AssetOrTimeSchedule`), so fresh data is checked within minutes:
data-quality checks of the energy warehouse, each its own
task, each recording one row per run in `validation_results` (severity, status, counts, affected
channels and site-local days, findings). `evaluate` is the verdict: it fails the run, and so sends
one alert, when an error-severity check failed or a check could not run; its log lists the
channels and days. Warn-severity findings are recorded and logged without failing the run.

| check | severity | how |
|---|---|---|
| `schema` | error | tables and views present with the expected column types and indexes |
| `freshness` | error | newest reading of every channel within `freshness_hours` |
| `completeness` | error | received vs expected 15-minute slots per channel and site-local day (92/96/100) |
| `ingestion_failures` | error | failed `ingestion_logs` windows without a later success |
| `windows_never_pulled` | warn | channel-days no `ingestion_logs` window ever covered |
| `duplicates` | error | `SQLTableCheckOperator`: one reading per channel and 15-minute slot |
| `value_ranges` | error | `SQLColumnCheckOperator`: no negative energy/power, power factor in [-1, 1] |
| `voltage_band` | warn | `SQLTableCheckOperator`: 100-600 V while drawing power |
| `energy_power` | warn | E close to P x 0.25 h |
| `flatline` | warn | runs of identical non-zero energy readings |
| `mv_staleness` | warn | `SQLCheckOperator`: `mv_hourly_usage` equals the clean readings hour by hour |

Severities can be changed per run with the `severity_overrides` param.

**Runs without a logical date** (asset-triggered, REST `logical_date: null`, the UI with the date
cleared) check the window ending when the run was triggered (`run_after`); the SQL checks bind
that window in Python, no template needs a data interval.

**Bounds and alerts.** Every task has an `execution_timeout`, the run a 2 h `dagrun_timeout`; a
run not finished 1 h after it was queued sends a deadline alert; a failed run sends one alert.

**Self-healing** (param `self_heal`, default on): `plan_heal` turns the incomplete channel-days
into `eniscope_historical_backfill` runs with `force` (exactly those channels and days), records
each channel-day in `validation_heal_requests` first, and `trigger_heal` triggers them. A
channel-day is healed at most once: if it is still incomplete later, it is reported, not re-pulled
(delete its row to allow another heal).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from argo_energy.assets import READINGS
from argo_energy.dag_defaults import DAGRUN_TIMEOUTS, deadline, default_args, run_callbacks
from argo_energy.settings import VALIDATION_DAG_ID
from argo_energy.validation import dag_tasks
from argo_energy.validation.config import PARAM_SPECS
from argo_energy.warehouse.connection import sql_dir

with DAG(
    dag_id=VALIDATION_DAG_ID,
    doc_md=__doc__,
    description="Data-quality checks every 6 hours, results in validation_results, self-healing backfills",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 */6 * * *", timezone="UTC"), assets=READINGS
    ),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUTS["validation"],
    deadline=deadline("validation", "validation finished within 1 h of being queued"),
    on_failure_callback=run_callbacks(),
    default_args=default_args(),
    tags=["eniscope", "validation"],
    template_searchpath=[str(sql_dir())],
    params={name: Param(spec.default, **spec.schema()) for name, spec in PARAM_SPECS.items()},
) as dag:
    dag_tasks.wire_validation()
