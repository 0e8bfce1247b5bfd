"""Deliver a written report: email with the HTML and CSV attached, and a Slack webhook message.

Each channel is active only when its Airflow connection exists (``settings.SMTP_CONN_ID``,
``settings.SLACK_CONN_ID``); a missing connection, or no recipient for the site, is a logged skip, not a
failure. A connection that exists but does not work is a failure (the task retries).

Idempotent: ``deliver_once`` looks up ``report_deliveries`` (migration V013) first, so a retry or a
cleared task does not send a (site, ISO week) report again on a channel that already delivered it;
``resend=True`` (the run's ``resend`` param) sends anyway. The row is written right after a
successful send: a crash between the two can repeat one delivery, never lose one.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argo_energy.report import render
from argo_energy.settings import (
    ENERGY_CONN_ID,
    REPORT_EMAILS_VARIABLE,
    SLACK_CONN_ID,
    SMTP_CONN_ID,
    connection_or_none,
)
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.operability import delivery_of, record_delivery
from argo_energy.warehouse.sql import fetch

if TYPE_CHECKING:
    from airflow.sdk import Connection as AirflowConnection

log = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 15
FALLBACK_FROM_EMAIL = "argo-reports@localhost"


def _from_email(conn: AirflowConnection) -> str:
    extra = getattr(conn, "extra_dejson", None) or {}
    if extra.get("from_email"):
        return str(extra["from_email"])
    from airflow.sdk import conf

    return conf.get("email", "from_email", fallback=None) or FALLBACK_FROM_EMAIL


def _local_copies(urls: Sequence[str], folder: Path) -> list[str]:
    """Copy the report files (any object storage) to ``folder``: the SMTP hook attaches local paths."""
    from airflow.sdk import ObjectStoragePath

    paths = []
    for url in urls:
        source = ObjectStoragePath(url)
        target = folder / source.name
        target.write_bytes(source.read_bytes())
        paths.append(str(target))
    return paths


def send_email(
    report: Mapping[str, Any], recipients: Sequence[str], conn_id: str = SMTP_CONN_ID
) -> dict[str, Any]:
    """Email the report to ``recipients`` through ``conn_id``; returns what was done."""
    site_id = report["headline"]["site_id"]
    conn = connection_or_none(conn_id)
    if conn is None:
        log.info("report email skipped for site %s: connection %r is not defined", site_id, conn_id)
        return {"sent": False, "reason": f"no connection {conn_id}"}
    if not recipients:
        log.info("report email skipped for site %s: Variable %s names no recipient", site_id,
                 REPORT_EMAILS_VARIABLE)
        return {"sent": False, "reason": "no recipient"}
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    h = report["headline"]
    with tempfile.TemporaryDirectory(prefix="argo-report-") as tmp:
        files = _local_copies([report["html_url"], report["csv_url"]], Path(tmp))
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            hook.send_email_smtp(
                to=list(recipients),
                subject=render.title(h),
                html_content=render.email_html(h),
                from_email=_from_email(conn),
                files=files,
            )
    log.info("report email for site %s week %s sent to %d recipient(s) with %d attachment(s)",
             site_id, h["week"], len(recipients), len(files))
    return {"sent": True, "recipients": len(recipients), "attachments": [Path(f).name for f in files]}


def send_slack(report: Mapping[str, Any], conn_id: str = SLACK_CONN_ID) -> dict[str, Any]:
    """Post the headline figures to the Slack incoming webhook of ``conn_id``."""
    site_id = report["headline"]["site_id"]
    if connection_or_none(conn_id) is None:
        log.info("report Slack message skipped for site %s: connection %r is not defined", site_id, conn_id)
        return {"sent": False, "reason": f"no connection {conn_id}"}
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    text = render.slack_text(report["headline"], report.get("html_url"))
    response = SlackWebhookHook(slack_webhook_conn_id=conn_id, timeout=SLACK_TIMEOUT_SECONDS).send(text=text)
    status = getattr(response, "status_code", None)
    log.info("report Slack message for site %s week %s posted (HTTP %s)", site_id, report["headline"]["week"], status)
    return {"sent": True, "status": status}


def deliver_once(
    report: Mapping[str, Any], channel: str, send: Callable[[], dict[str, Any]], *, dag_id: str, run_id: str,
    resend: bool = False, conn_id: str = ENERGY_CONN_ID,
) -> dict[str, Any]:
    """``send()`` unless (site, week) was already delivered on ``channel``; record a delivery that happened.

    The bookkeeping goes through the writer connection ``conn_id``. When it is unusable (undefined,
    unreachable, or V013 not applied) the report is sent anyway with a warning: a possible repeat
    beats a report that never arrives.
    """
    site_id, week = str(report["headline"]["site_id"]), str(report["headline"]["week"])
    conn = _bookkeeping(conn_id)
    if conn is None:
        return send()
    with closing(conn):
        before = delivery_of(conn, site_id, week, channel)
        if before is not None and not resend:
            log.info("report %s for site %s week %s already delivered by run %s at %s (%d send(s)): not sent "
                     "again (param resend=true sends it again)", channel, site_id, week, before.run_id,
                     before.delivered_at.isoformat(), before.sends)
            return {"sent": False, "reason": "already delivered", "delivered_by": before.run_id}
        outcome = send()
        if outcome.get("sent"):
            record_delivery(conn, site_id=site_id, iso_week=week, channel=channel, dag_id=dag_id, run_id=run_id,
                            recipients=outcome.get("recipients"), detail=None if before is None else "resend")
            log.info("report %s delivery recorded for site %s week %s%s", channel, site_id, week,
                     " (resend)" if before is not None else "")
    return outcome


def _bookkeeping(conn_id: str) -> Connection | None:
    """A writer session with ``report_deliveries`` present, or None (logged) when there is none."""
    from argo_energy.warehouse.connection import connect

    try:
        conn = connect(conn_id, "write")
    except Exception as exc:
        log.warning("deliveries cannot be recorded (connection %r: %s): sending without the check, so a retry "
                    "may send this report again", conn_id, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    if fetch(conn, "SELECT to_regclass('report_deliveries') IS NOT NULL")[0][0]:
        return conn
    conn.close()
    log.warning("table report_deliveries is missing (migration V013 not applied: python -m argo_energy.warehouse "
                "setup): sending without the check, so a retry may send this report again")
    return None
