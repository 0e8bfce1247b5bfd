"""
### Eniscope weekly energy report

Every Tuesday at 08:00 UTC: one report per site for the previous **site-local** Monday-to-Sunday
week (complete everywhere: the daily sync of Tuesday 02:00 UTC has loaded the end of every
site's Sunday, New York's and Honolulu's included), written as a self-contained HTML file (charts embedded) and a CSV of the daily figures, then
emailed and posted to Slack.

**Week.** The data interval decides it: the last week that had ended in the site's zone at
`data_interval_end`, so `airflow backfill create --dag-id eniscope_weekly_report --from-date
2026-01-05 --to-date 2026-03-02 --dag-run-conf '{"deliver": false}'` writes past reports without
sending them. Param `week_start` (a Monday) overrides the interval for a manual run.

**Sites.** Variable `eniscope_sites` (JSON list of site ids, as the sync DAGs), else every site
of the warehouse with meters. One mapped `build_report` per site.

**Read-only.** Reads the views (`v_readings_daily`, `v_readings_enriched`, `v_meters`, ...) through
connection `energy_db_readonly` when it exists (role from `include/sql/roles/readonly_role.sql`),
else `energy_db`, always in one `REPEATABLE READ READ ONLY` transaction per task: it never writes.

**Content.** Total kWh and change vs the previous week and the same week a year earlier; daily
kWh per meter; load profile heatmap (local hour x weekday); peak demand and when; after-hours
share (Variable `report_business_hours`, default Mon-Fri 08:00-18:00); meters with the largest
change; data completeness per meter (with the validation DAG's verdict when it ran).

**Output and delivery.** Files under Variable `report_base_path` (object storage URL, default
`file://$AIRFLOW_HOME/reports`) as `<site>/energy-report_<site>_<YYYY-Www>.html|.csv`. Email
through `smtp_default` to Variable `report_emails` (JSON list, or `{"<site_id>": [...],
"default": [...]}`), HTML and CSV attached; Slack through `slack_default`. A channel whose
connection is missing is skipped with a log line. Each (site, week) is delivered once per channel
(table `report_deliveries`): a retry or a cleared email/Slack task does not send it again; trigger
with `{"resend": true}` to send it again on purpose.

**Runs without a logical date** (REST `logical_date: null`, the UI with the date cleared) report
the last site-local week ended when the run was triggered (`run_after`), or `week_start`.

**Bounds and alerts.** Every task has an `execution_timeout`, the run a 3 h `dagrun_timeout`; a
failed run sends one alert.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from argo_energy.dag_defaults import DAGRUN_TIMEOUTS, default_args, run_callbacks
from argo_energy.report import dag_tasks
from argo_energy.settings import REPORT_DAG_ID

with DAG(
    dag_id=REPORT_DAG_ID,
    doc_md=__doc__,
    description="Weekly per-site energy report (HTML + CSV), read-only, by email and Slack",
    schedule=CronDataIntervalTimetable("0 8 * * 2", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 7, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUTS["report"],
    on_failure_callback=run_callbacks(),
    default_args=default_args(),
    tags=["eniscope", "report"],
    params={
        "week_start": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Week (Monday)",
            description="Leave empty to report the last site-local week ended at the data interval end; "
            "or give a Monday (YYYY-MM-DD).",
        ),
        "deliver": Param(
            True,
            type="boolean",
            title="Send email and Slack",
            description="False writes the files only (e.g. for backfills of past weeks).",
        ),
        "min_comparable_pct": Param(
            95,
            type="number",
            minimum=0,
            maximum=100,
            title="Comparable above (% complete)",
            description="A week is compared with another only when both are at least this complete; "
            "otherwise the comparison shows n/a with the reason.",
        ),
        "resend": Param(
            False,
            type="boolean",
            title="Send again",
            description="True sends a report whose (site, week) was already delivered; false skips it.",
        ),
    },
) as dag:
    dag_tasks.wire_report()
