"""Rendering of the report: CSV, self-contained HTML, headline texts, charts (``render``, ``charts``)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from argo_energy.report import charts, figures, render
from argo_energy.report.config import DEFAULT_BUSINESS_HOURS
from argo_energy.report.queries import DailyRow, IntervalRow, Meter, Site
from argo_energy.report.week import week_of

PNG = b"\x89PNG\r\n\x1a\n"
WEEK = week_of(date(2026, 10, 26), "America/New_York")
SITE = Site("s<1>", "Plant & <Co>", "America/New_York", (Meter(1, "Main"), Meter(2, "Aux <b>")))
NOW = datetime(2026, 11, 2, 8, 5, tzinfo=UTC)


def _figures(with_data: bool = True, min_comparable: float = 0.0) -> figures.WeeklyFigures:
    """Two meter-days of data (196 of 1,352 slots, 14.5 %): comparing such weeks needs ``min_comparable=0``."""
    daily = [DailyRow(1, date(2026, 10, 26), 12.5, 3.0, 96), DailyRow(2, date(2026, 11, 1), 4.25, 1.0, 100)]
    intervals = [
        IntervalRow(datetime(2026, 10, 26, 13, 0, tzinfo=UTC), datetime(2026, 10, 26, 9, 0), 12.5, 3.0, 1),
        IntervalRow(datetime(2026, 11, 1, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 1, 0), 4.25, 1.0, 1),
    ]
    return figures.compute(
        site=SITE, week=WEEK, business_hours=DEFAULT_BUSINESS_HOURS,
        daily=daily if with_data else [], previous_daily=[DailyRow(1, date(2026, 10, 19), 10.0, 2.0, 96)],
        year_ago_daily=[], intervals=intervals if with_data else [], min_comparable=min_comparable,
    )


def test_csv_has_one_row_per_meter_and_day_and_empty_for_missing() -> None:
    rows = list(csv.DictReader(io.StringIO(render.daily_csv(_figures()).decode("utf-8"))))
    assert len(rows) == 2 * 7
    assert tuple(rows[0]) == render.CSV_COLUMNS
    first = rows[0]
    assert (first["local_date"], first["meter_id"], first["energy_kwh"], first["expected_readings"]) == (
        "2026-10-26", "1", "12.5", "96")
    sunday_aux = next(r for r in rows if r["local_date"] == "2026-11-01" and r["meter_id"] == "2")
    assert sunday_aux["energy_kwh"] == "4.25"
    assert sunday_aux["expected_readings"] == "100"
    assert sunday_aux["completeness_pct"] == "100.0"
    missing = next(r for r in rows if r["local_date"] == "2026-10-27" and r["meter_id"] == "1")
    assert missing["energy_kwh"] == "", "a missing day is empty, never 0"
    assert missing["clean_readings"] == "0"
    assert {r["week"] for r in rows} == {"2026-W44"}


def test_html_is_self_contained_and_escaped() -> None:
    result = _figures()
    page = render.report_html(result, charts.daily_chart(result), charts.heatmap_chart(result), NOW)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page), "no external resource"
    assert "<link" not in page
    assert "<script" not in page
    assert "Plant &amp; &lt;Co&gt;" in page
    assert "Aux &lt;b&gt;" in page
    assert page.count("<tr>") >= 7 + 1, "the load profile table has a row per day"
    assert "16.8 kWh" in page  # 12.5 + 4.25 rounded to one decimal


def test_headline_and_messages() -> None:
    result = _figures()
    h = render.headline(result)
    assert h["total_kwh"] == 16.75
    assert h["change_vs_previous_pct"] == pytest.approx(67.5)
    assert h["year_ago_kwh"] is None
    assert h["peak_kw"] == 3.0
    assert h["peak_local"] == "2026-10-26T09:00:00"
    text = render.slack_text(h, "file:///r/x.html")
    lines = text.splitlines()
    assert lines[0] == "*Weekly energy report: Plant &amp; &lt;Co&gt; (s&lt;1&gt;), week 2026-W44*", "mrkdwn-escaped"
    assert "• Total energy: 16.8 kWh" in lines
    assert "• vs previous week: +67.5% (10.0 kWh)" in lines
    assert "• vs same week last year: n/a (n/a)" in lines
    assert "• Peak demand: 3.0 kW on Mon 26 Oct 09:00" in lines
    assert lines[-1] == "Report: file:///r/x.html"
    body = render.email_html(h)
    assert "Plant &amp; &lt;Co&gt;" in body
    assert "<img" not in body, "the email body has no image (the report is attached)"


def test_incomplete_weeks_are_not_compared_and_say_why() -> None:
    h = render.headline(_figures(min_comparable=0.95))
    assert h["change_vs_previous_pct"] is None
    assert h["change_vs_previous_note"] == "this week is only 14.5% complete (comparisons need 95%)"
    lines = render.slack_text(h, "file:///r/x.html").splitlines()
    assert "• vs previous week: n/a (this week is only 14.5% complete (comparisons need 95%))" in lines


def test_empty_week_renders_with_na() -> None:
    result = _figures(with_data=False)
    daily_png, heat_png = charts.daily_chart(result), charts.heatmap_chart(result)
    assert daily_png.startswith(PNG)
    assert heat_png.startswith(PNG)
    page = render.report_html(result, daily_png, heat_png, NOW)
    assert "n/a" in page
    assert render.headline(result)["total_kwh"] is None


def test_charts_are_png() -> None:
    result = _figures()
    assert charts.daily_chart(result).startswith(PNG)
    assert charts.heatmap_chart(result).startswith(PNG)


def test_many_meters_are_grouped_in_the_daily_chart() -> None:
    meters = tuple(Meter(i, f"M{i}") for i in range(1, 13))
    site = Site("s", "S", "America/New_York", meters)
    daily = [DailyRow(i, date(2026, 10, 26), float(i), None, 96) for i in range(1, 13)]
    result = figures.compute(site=site, week=WEEK, business_hours=DEFAULT_BUSINESS_HOURS, daily=daily,
                             previous_daily=[], year_ago_daily=[], intervals=[])
    assert charts.daily_chart(result).startswith(PNG)
