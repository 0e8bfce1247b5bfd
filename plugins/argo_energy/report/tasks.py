"""What the tasks of ``eniscope_weekly_report`` do: each function is one task body.

``select_sites`` -> ``build_report`` (per site: read the views in one read-only snapshot, compute,
draw, write HTML and CSV) -> ``email_report`` and ``slack_report`` (per written report). Only small
dicts travel through XCom (ids, URLs, headline figures), never the data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from argo_energy.report import charts, config, delivery, figures, power_quality, queries, render
from argo_energy.report.week import ReportWeek, week_for_interval_end, week_of
from argo_energy.settings import (
    ENERGY_CONN_ID,
    READONLY_CONN_ID,
    REPORT_ALLOW_WRITER_CONN_VARIABLE,
    REPORT_BASE_PATH_VARIABLE,
    REPORT_BUSINESS_HOURS_VARIABLE,
    REPORT_EMAILS_VARIABLE,
    SITES_VARIABLE,
    SLACK_CONN_ID,
    SMTP_CONN_ID,
    ParamError,
    connection_or_none,
    fail,
    get_variable,
    parse_flag,
    parse_sites_variable,
)
from argo_energy.warehouse.connection import Connection, connect

log = logging.getLogger(__name__)


def report_conn_id() -> str:
    """``READONLY_CONN_ID``; ``ENERGY_CONN_ID`` (the writer) only when Variable
    ``REPORT_ALLOW_WRITER_CONN_VARIABLE`` says ``true``; else the task fails with what to do.

    The report needs SELECT on the views only: falling back to a credential that can write (or
    own) the warehouse without anyone deciding so is how a read-only job ends up holding one.
    """
    if connection_or_none(READONLY_CONN_ID) is not None:
        return READONLY_CONN_ID
    try:
        allowed = parse_flag(get_variable(REPORT_ALLOW_WRITER_CONN_VARIABLE), REPORT_ALLOW_WRITER_CONN_VARIABLE)
    except ParamError as exc:
        raise fail(exc) from None
    if not allowed:
        raise fail(
            f"the weekly report reads through the read-only connection {READONLY_CONN_ID!r}, which is not "
            f"defined. Define it (a login with the readonly role: docs/WAREHOUSE.md), or set Variable "
            f"{REPORT_ALLOW_WRITER_CONN_VARIABLE} to true to read through {ENERGY_CONN_ID!r}, the writer "
            "credential (read-only transactions; not recommended)."
        )
    log.warning("connection %r is not defined and Variable %s allows the writer: reading through %r in "
                "read-only transactions", READONLY_CONN_ID, REPORT_ALLOW_WRITER_CONN_VARIABLE, ENERGY_CONN_ID)
    return ENERGY_CONN_ID


def _open() -> Connection:
    conn_id = report_conn_id()
    conn = connect(conn_id, "read")
    log.info("reading the warehouse through connection %r", conn_id)
    return conn


def choose_sites(sites: Sequence[queries.SiteRow], wanted: Sequence[str] | None) -> list[str]:
    """Site ids to report on: ``wanted`` (each must exist), else every site that has meters.

    A wanted site without meters is left out with a warning: there is nothing to report yet.
    Raises ``ParamError`` naming unknown ids.
    """
    by_id = {s.site_id: s for s in sites}
    if wanted:
        unknown = [sid for sid in wanted if sid not in by_id]
        if unknown:
            raise ParamError(
                f"Variable {SITES_VARIABLE} names site(s) {', '.join(unknown)} that are not in the "
                f"warehouse (v_sites has {', '.join(sorted(by_id)) or 'none'})"
            )
        chosen = [by_id[sid] for sid in wanted]
    else:
        chosen = list(sites)
    empty = [s.site_id for s in chosen if not s.meter_ids]
    if empty and wanted:
        log.warning("site(s) %s have no meter yet: no report for them", ", ".join(empty))
    return [s.site_id for s in chosen if s.meter_ids]


def select_sites() -> list[str]:
    """The sites of this run (Variable ``eniscope_sites``, else every site with meters)."""
    try:
        wanted = parse_sites_variable(get_variable(SITES_VARIABLE))
    except ParamError as exc:
        raise fail(str(exc)) from None
    with _open() as conn, queries.read_only_snapshot(conn) as cur:
        sites = queries.list_sites(cur)
    try:
        chosen = choose_sites(sites, wanted)
    except ParamError as exc:
        raise fail(str(exc)) from None
    log.info("weekly report: %d site(s) selected of %d in the warehouse%s", len(chosen), len(sites),
             f" (Variable {SITES_VARIABLE})" if wanted else "")
    return chosen


def resolve_week(week_start: Any, data_interval_end: datetime | None, timezone: str) -> ReportWeek:
    """Param ``week_start`` (a Monday) when given, else the last local week ended at the interval end.

    ``data_interval_end`` is the run's ``run_after`` for a run without a logical date (the caller
    passes it): the last site-local week that had ended when the run was triggered.
    """
    monday = config.parse_week_param(week_start)
    if monday is not None:
        return week_of(monday, timezone)
    if data_interval_end is None:
        # Not retryable: the same run would fail the same way.
        raise fail("the run has neither a data interval nor a run_after: give the week_start param (a Monday)")
    return week_for_interval_end(data_interval_end, timezone)


def compute_figures(
    cur: psycopg.Cursor[Any], site_id: str, week_start: Any, data_interval_end: datetime | None,
    hours: config.BusinessHours, min_comparable: float = figures.MIN_COMPARABLE_COMPLETENESS,
) -> figures.WeeklyFigures:
    """Read everything one report needs (one snapshot) and compute its figures."""
    site = queries.load_site(cur, site_id)
    week = resolve_week(week_start, data_interval_end, site.timezone)
    daily = queries.load_daily(cur, site_id, week)
    previous = queries.load_daily(cur, site_id, week.previous())
    year_ago = queries.load_daily(cur, site_id, week.year_ago())
    intervals = queries.load_intervals(cur, site_id, week)
    validation = queries.load_validation(cur, week, [m.meter_id for m in site.meters])
    log.info(
        "site %s week %s (%s, %s): %d meter(s), %d daily row(s), %d interval(s); previous week %d, "
        "a year earlier %d daily row(s)",
        site_id, week.iso_label, week.span_label, week.timezone, len(site.meters), len(daily), len(intervals),
        len(previous), len(year_ago),
    )
    return figures.compute(
        site=site, week=week, business_hours=hours, daily=daily, previous_daily=previous,
        year_ago_daily=year_ago, intervals=intervals, validation=validation, min_comparable=min_comparable,
    )


def write_report(
    result: figures.WeeklyFigures,
    base_url: str,
    now: datetime | None = None,
    quality: list[power_quality.MeterQuality] | None = None,
) -> dict[str, Any]:
    """Draw, render and write ``<base>/<site>/<stem>.html`` and ``.csv``; return their URLs and the headline.

    ``quality``: the power-quality section's meters (None: the site's meters report no such field).
    """
    from airflow.sdk import ObjectStoragePath

    now = now or datetime.now(UTC)
    html = render.report_html(result, charts.daily_chart(result), charts.heatmap_chart(result), now,
                              sections=power_quality.section_html(quality))
    csv_bytes = render.daily_csv(result)
    folder = ObjectStoragePath(base_url) / config.safe_name(result.site.site_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = config.report_file_stem(result.site.site_id, result.week.iso_label)
    html_path, csv_path = folder / f"{stem}.html", folder / f"{stem}.csv"
    html_path.write_bytes(html.encode("utf-8"))
    csv_path.write_bytes(csv_bytes)
    log.info("wrote %s (%d bytes) and %s (%d bytes)", html_path, len(html), csv_path, len(csv_bytes))
    return {"html_url": str(html_path), "csv_url": str(csv_path), "headline": render.headline(result)}


def build_report(
    site_id: str, week_start: Any = None, data_interval_end: datetime | None = None,
    min_comparable: float = figures.MIN_COMPARABLE_COMPLETENESS,
) -> dict[str, Any]:
    """One site's report for the run's week, written under Variable ``report_base_path``.

    ``min_comparable``: the completeness both weeks need before they are compared (Param ``min_comparable_pct``).
    """
    try:
        hours = config.business_hours_for(get_variable(REPORT_BUSINESS_HOURS_VARIABLE), site_id)
        base_url = config.base_path_from(get_variable(REPORT_BASE_PATH_VARIABLE))
        config.parse_week_param(week_start)
    except config.ReportConfigError as exc:
        raise fail(str(exc)) from None
    with _open() as conn, queries.read_only_snapshot(conn) as cur:
        result = compute_figures(cur, site_id, week_start, data_interval_end, hours, min_comparable)
        quality = power_quality.load(cur, site_id, result.week)
    log.info("site %s: power quality of %d meter(s)", site_id, len(quality or ()))
    return write_report(result, base_url, quality=quality)


def email_report(
    report: Mapping[str, Any], deliver: bool = True, *, run: tuple[str, str] = ("", ""), resend: bool = False
) -> dict[str, Any]:
    """Email the report once per (site, week); ``run`` = (dag_id, run_id) recorded with the delivery."""
    site_id = report["headline"]["site_id"]
    if not deliver:
        log.info("report email skipped for site %s: param deliver is false", site_id)
        return {"sent": False, "reason": "deliver=false"}
    recipients = config.recipients_for(get_variable(REPORT_EMAILS_VARIABLE), site_id)
    if not recipients or connection_or_none(SMTP_CONN_ID) is None:
        return delivery.send_email(report, recipients)  # logs and returns the skip; no bookkeeping
    return delivery.deliver_once(report, "email", lambda: delivery.send_email(report, recipients),
                                 dag_id=run[0], run_id=run[1], resend=resend)


def slack_report(
    report: Mapping[str, Any], deliver: bool = True, *, run: tuple[str, str] = ("", ""), resend: bool = False
) -> dict[str, Any]:
    """Post the report's headline once per (site, week); see ``email_report``."""
    if not deliver:
        log.info("report Slack message skipped for site %s: param deliver is false", report["headline"]["site_id"])
        return {"sent": False, "reason": "deliver=false"}
    if connection_or_none(SLACK_CONN_ID) is None:
        return delivery.send_slack(report)  # logs and returns the skip; no bookkeeping
    return delivery.deliver_once(report, "slack", lambda: delivery.send_slack(report),
                                 dag_id=run[0], run_id=run[1], resend=resend)
