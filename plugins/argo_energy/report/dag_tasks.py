"""Task factories of ``eniscope_weekly_report`` (called inside its ``with DAG(...)`` block).

Only wiring lives here: each task body is one call into ``argo_energy.report.tasks``. Creating
these tasks reads no Connection, Variable, network or database: that happens when they run.

Shape::

    select_sites >> build_report (mapped per site) >> email_report, slack_report (mapped per report)

Each mapped task instance is labelled with its site id in the UI (``map_index_template``).
A run without a logical date reports the last site-local week ended at its ``run_after``. The
email and Slack tasks deliver a (site, week) once (``report_deliveries``): a retry or a cleared
task does not send it again unless the run's param ``resend`` is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from airflow.sdk import get_current_context, task

from argo_energy.dag_defaults import task_timeout
from argo_energy.report import tasks as report

SITE_LABEL = "report_site"  # context key that map_index_template names each mapped instance by
MAP_INDEX_TEMPLATE = "{{ " + SITE_LABEL + " }}"


def _label(site_id: str) -> None:
    """Name this mapped instance after its site.

    Airflow renders ``map_index_template`` with the task's context once the task ran, so a key
    set here shows in the UI (Airflow's documented way). The key is ours, not one of the typed
    ``Context`` keys, hence the cast.
    """
    cast("dict[str, Any]", get_current_context())[SITE_LABEL] = site_id


@task(task_id="select_sites", execution_timeout=task_timeout("report_build"))
def select_sites() -> list[str]:
    """Site ids of this run: Variable eniscope_sites, else every site with meters."""
    return report.select_sites()


@task(task_id="build_report", map_index_template=MAP_INDEX_TEMPLATE, execution_timeout=task_timeout("report_build"))
def build_report(
    site_id: str, params: Mapping[str, Any] | None = None, data_interval_end: datetime | None = None,
    dag_run: Any = None,
) -> dict[str, Any]:
    """Read, compute, draw and write one site's report; return its URLs and headline figures."""
    _label(site_id)
    # A run without a logical date has no data interval: the week is the last one ended at run_after.
    end = data_interval_end or getattr(dag_run, "run_after", None)
    p = params or {}
    return report.build_report(
        site_id, p.get("week_start"), end, min_comparable=float(p.get("min_comparable_pct", 95)) / 100
    )


def _run(dag_run: Any) -> tuple[str, str]:
    return str(getattr(dag_run, "dag_id", "")), str(getattr(dag_run, "run_id", ""))


@task(task_id="email_report", map_index_template=MAP_INDEX_TEMPLATE,
      execution_timeout=task_timeout("report_delivery"))
def email_report(built: dict[str, Any], params: Mapping[str, Any] | None = None, dag_run: Any = None
                 ) -> dict[str, Any]:
    """Email the report (HTML and CSV attached) when the SMTP connection and recipients exist."""
    _label(built["headline"]["site_id"])
    p = params or {}
    return report.email_report(built, p.get("deliver", True), run=_run(dag_run), resend=bool(p.get("resend")))


@task(task_id="slack_report", map_index_template=MAP_INDEX_TEMPLATE,
      execution_timeout=task_timeout("report_delivery"))
def slack_report(built: dict[str, Any], params: Mapping[str, Any] | None = None, dag_run: Any = None
                 ) -> dict[str, Any]:
    """Post the headline figures to Slack when the Slack connection exists."""
    _label(built["headline"]["site_id"])
    p = params or {}
    return report.slack_report(built, p.get("deliver", True), run=_run(dag_run), resend=bool(p.get("resend")))


def wire_report() -> None:
    """Create and connect every task of the weekly report DAG (the shape in the module docstring)."""
    reports = build_report.expand(site_id=select_sites())
    email_report.expand(built=reports)
    slack_report.expand(built=reports)
