"""Task factories of ``eniscope_weekly_report`` (called inside its ``with DAG(...)`` block).

Only wiring lives here: each task body is one call into ``argo_energy.report.tasks``. Creating
these tasks reads no Connection, Variable, network or database: that happens when they run.

Shape::

    select_sites >> build_report (mapped per site) >> email_report, slack_report (mapped per report)

Each mapped task instance is labelled with its site id in the UI (``map_index_template``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from airflow.sdk import get_current_context, task

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


@task(task_id="select_sites")
def select_sites() -> list[str]:
    """Site ids of this run: Variable eniscope_sites, else every site with meters."""
    return report.select_sites()


@task(task_id="build_report", map_index_template=MAP_INDEX_TEMPLATE)
def build_report(
    site_id: str, params: Mapping[str, Any] | None = None, data_interval_end: datetime | None = None
) -> dict[str, Any]:
    """Read, compute, draw and write one site's report; return its URLs and headline figures."""
    _label(site_id)
    return report.build_report(site_id, (params or {}).get("week_start"), data_interval_end)


@task(task_id="email_report", map_index_template=MAP_INDEX_TEMPLATE)
def email_report(built: dict[str, Any], params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Email the report (HTML and CSV attached) when the SMTP connection and recipients exist."""
    _label(built["headline"]["site_id"])
    return report.email_report(built, (params or {}).get("deliver", True))


@task(task_id="slack_report", map_index_template=MAP_INDEX_TEMPLATE)
def slack_report(built: dict[str, Any], params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Post the headline figures to Slack when the Slack connection exists."""
    _label(built["headline"]["site_id"])
    return report.slack_report(built, (params or {}).get("deliver", True))


def wire_report() -> None:
    """Create and connect every task of the weekly report DAG (the shape in the module docstring)."""
    reports = build_report.expand(site_id=select_sites())
    email_report.expand(built=reports)
    slack_report.expand(built=reports)
