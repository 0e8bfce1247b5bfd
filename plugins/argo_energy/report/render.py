"""Turn ``WeeklyFigures`` into the report's files and messages: self-contained HTML, CSV, headline.

The HTML has no external reference: CSS inline, charts as base64 PNG ``data:`` URIs, so the file
opens anywhere (browser, mail attachment, object store preview). Missing values print as "n/a".
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from argo_energy.escaping import clean_text, csv_cell, slack_mrkdwn
from argo_energy.report.figures import WeeklyFigures

CSV_COLUMNS = (
    "site_id",
    "site_name",
    "week",
    "local_date",
    "meter_id",
    "meter_name",
    "energy_kwh",
    "peak_power_kw",
    "clean_readings",
    "expected_readings",
    "completeness_pct",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;margin:24px auto;max-width:1040px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.sub{color:#52606d;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:10px 14px;min-width:150px;flex:1}
.card .k{font-size:12px;color:#52606d;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:22px;font-weight:600;margin-top:2px}.card .n{font-size:12px;color:#52606d}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #d9e2ec;padding:3px 7px;text-align:right}
th{background:#f0f4f8}td.l,th.l{text-align:left;white-space:nowrap}
table.heat td{width:26px;height:18px;padding:0;font-size:10px;text-align:center}
img{max-width:100%}.warn{color:#b44d12}.muted{color:#7b8794}
details{margin:8px 0}ul.notes{font-size:13px;color:#3e4c59}
"""


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------


def fmt_kwh(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} kWh"


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def fmt_pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def fmt_share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def fmt_local(value: datetime) -> str:
    return f"{value:%a %d %b %H:%M}"


def _e(value: Any) -> str:
    return html.escape(str(value))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Headline (small, JSON-able: XCom, Slack, email body)
# --------------------------------------------------------------------------------------------------


def headline(figures: WeeklyFigures) -> dict[str, Any]:
    """The headline figures as plain JSON-able values (what the Slack message and email body show)."""
    peak = figures.peak
    return {
        "site_id": figures.site.site_id,
        "site_name": figures.site.site_name,
        "timezone": figures.week.timezone,
        "week": figures.week.iso_label,
        "week_span": figures.week.span_label,
        "week_start": figures.week.monday.isoformat(),
        "total_kwh": figures.total_kwh,
        "previous_kwh": figures.previous.kwh,
        "change_vs_previous_pct": figures.change_vs_previous_pct,
        "change_vs_previous_note": figures.comparison_note(figures.previous),
        "year_ago_kwh": figures.year_ago.kwh,
        "change_vs_year_ago_pct": figures.change_vs_year_ago_pct,
        "change_vs_year_ago_note": figures.comparison_note(figures.year_ago),
        "peak_kw": None if peak is None else peak.kw,
        "peak_local": None if peak is None else peak.local.isoformat(),
        "after_hours_share": figures.after_hours_share,
        "completeness": figures.current.completeness,
        "business_hours": figures.business_hours.label(),
    }


def headline_lines(h: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, detail) of each headline figure, in reading order."""
    peak, peak_at = "n/a", ""
    if h.get("peak_kw") is not None and h.get("peak_local"):
        peak, peak_at = f"{h['peak_kw']:,.1f} kW", f"on {fmt_local(datetime.fromisoformat(h['peak_local']))}"
    return [
        ("Total energy", fmt_kwh(h.get("total_kwh")), ""),
        ("vs previous week", fmt_pct(h.get("change_vs_previous_pct"), signed=True),
         h.get("change_vs_previous_note") or fmt_kwh(h.get("previous_kwh"))),
        ("vs same week last year", fmt_pct(h.get("change_vs_year_ago_pct"), signed=True),
         h.get("change_vs_year_ago_note") or fmt_kwh(h.get("year_ago_kwh"))),
        ("Peak demand", peak, peak_at),
        ("After-hours share", fmt_share(h.get("after_hours_share")), f"business hours {h.get('business_hours')}"),
        ("Data completeness", fmt_share(h.get("completeness")), ""),
    ]


def _line(value: str, detail: str) -> str:
    return f"{value} ({detail})" if detail and not detail.startswith("on ") else f"{value} {detail}".strip()


def title(h: Mapping[str, Any]) -> str:
    """One line (also the email subject: no control character can reach the header)."""
    return clean_text(f"Weekly energy report: {h['site_name']} ({h['site_id']}), week {h['week']}")


def slack_text(h: Mapping[str, Any], html_url: str | None = None) -> str:
    """Slack mrkdwn: a bold title, the week, one line per headline figure, and where the report is.

    Every value is escaped for mrkdwn: a site name cannot ping ``<!channel>`` or hide a link.
    """
    lines = [f"*{slack_mrkdwn(title(h))}*", slack_mrkdwn(f"{h['week_span']} ({h['timezone']})")]
    lines += [f"• {slack_mrkdwn(label)}: {slack_mrkdwn(_line(value, detail))}" for label, value, detail in headline_lines(h)]
    if html_url:
        lines.append(f"Report: {slack_mrkdwn(html_url)}")
    return "\n".join(lines)


def email_html(h: Mapping[str, Any]) -> str:
    """The email body: the headline as a small table (the full report is the attached HTML)."""
    rows = "".join(
        f"<tr><th align='left' style='padding:2px 10px 2px 0'>{_e(label)}</th><td>{_e(_line(value, detail))}</td></tr>"
        for label, value, detail in headline_lines(h)
    )
    return (
        f"<p><b>{_e(title(h))}</b><br>{_e(h['week_span'])} ({_e(h['timezone'])})</p>"
        f"<table>{rows}</table>"
        "<p>The full report (charts, daily figures, data completeness) is attached as HTML, "
        "the daily figures as CSV.</p>"
    )


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def daily_csv(figures: WeeklyFigures) -> bytes:
    """One row per meter and local day of the week; a missing day has an empty energy_kwh.

    Text cells (ids and names) go through ``escaping.csv_cell``: no cell runs as a formula.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for day in figures.week.days:
        for meter in figures.site.meters:
            cell = figures.daily[(meter.meter_id, day)]
            share = min(cell.readings, cell.expected) / cell.expected * 100 if cell.expected else None
            writer.writerow(
                (
                    csv_cell(figures.site.site_id),
                    csv_cell(figures.site.site_name),
                    figures.week.iso_label,
                    day.isoformat(),
                    meter.meter_id,
                    csv_cell(meter.meter_name),
                    "" if cell.kwh is None else repr(round(cell.kwh, 6)),
                    "" if cell.peak_kw is None else repr(round(cell.peak_kw, 6)),
                    cell.readings,
                    cell.expected,
                    "" if share is None else f"{share:.1f}",
                )
            )
    return out.getvalue().encode("utf-8")


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], left: Iterable[int] = (0,), cls: str = "") -> str:
    """A table whose columns ``left`` are left-aligned (the others are numbers); cells are already escaped."""
    lefts = set(left)
    head_html = "".join(f"<th class='l'>{h}</th>" if i in lefts else f"<th>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td class='l'>{c}</td>" if i in lefts else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table{f' class={cls!r}' if cls else ''}><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>"


def _cards(figures: WeeklyFigures) -> str:
    h = headline(figures)
    notes = {
        "Total energy": f"{len(figures.site.meters)} meter(s)",
        "vs previous week": f"week {figures.previous.week.iso_label}, data {fmt_share(figures.previous.completeness)} complete",
        "vs same week last year": f"week {figures.year_ago.week.iso_label}, data {fmt_share(figures.year_ago.completeness)} complete"
        if figures.year_ago.kwh is not None else "no data a year earlier",
        "Peak demand": "sum of the meters' power in one 15-minute interval",
        "After-hours share": "",
        "Data completeness": "15-minute intervals with a clean reading",
    }
    cards = []
    for label, value, detail in headline_lines(h):
        extra = " · ".join(x for x in (detail, notes.get(label, "")) if x)
        cards.append(f"<div class='card'><div class='k'>{_e(label)}</div><div class='v'>{_e(value)}</div>"
                     f"<div class='n'>{_e(extra)}</div></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def _daily_table(figures: WeeklyFigures) -> str:
    days = figures.week.days
    head = ["Meter", *[f"{d:%a} {d.day} {d:%b}" for d in days], "Week"]
    rows = []
    for meter in figures.site.meters:
        values = [figures.daily[(meter.meter_id, d)].kwh for d in days]
        present = [v for v in values if v is not None]
        rows.append([f"{_e(meter.meter_name)} <span class='muted'>({meter.meter_id})</span>",
                     *[fmt_num(v) for v in values], fmt_num(sum(present) if present else None)])
    rows.append(["<b>Site total</b>", *[f"<b>{fmt_num(figures.daily_totals[d])}</b>" for d in days],
                 f"<b>{fmt_num(figures.total_kwh)}</b>"])
    return _table(head, rows)


def _heat_color(value: float | None, top: float) -> str:
    if value is None:
        return "#d9d9d9"
    share = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
    # white -> orange-red, readable without the PNG (mail clients that block images)
    red, green, blue = 255, round(255 - 170 * share), round(255 - 235 * share)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _heat_table(figures: WeeklyFigures) -> str:
    values = [v for row in figures.heatmap for v in row if v is not None]
    top = max(values, default=0.0)
    head = ["Day", *[f"{h:02d}" for h in range(24)]]
    rows = []
    for i, (day, row) in enumerate(zip(figures.week.days, figures.heatmap, strict=True)):
        cells = [
            f"<span title='{_e(fmt_num(v, 3))} kWh' style='display:block;background:{_heat_color(v, top)}'>"
            f"{'' if v is None else f'{v:.0f}'}</span>"
            for v in row
        ]
        rows.append([f"{WEEKDAYS[i]} {day.day} {day:%b}", *cells])
    return _table(head, rows, cls="heat")


def _changes_table(figures: WeeklyFigures) -> str:
    if not figures.meter_changes:
        return "<p class='muted'>No meter has data in both weeks.</p>"
    rows = [
        [f"{_e(c.meter_name)} <span class='muted'>({c.meter_id})</span>", fmt_num(c.kwh), fmt_num(c.previous_kwh),
         fmt_num(c.change_kwh), fmt_pct(c.change_pct, signed=True)]
        for c in figures.meter_changes
    ]
    head = ["Meter", "This week kWh", f"Week {_e(figures.previous.week.iso_label)} kWh", "Change kWh", "Change"]
    return _table(head, rows)


def _completeness_table(figures: WeeklyFigures) -> str:
    rows = []
    for c in figures.completeness:
        share = c.share
        cls = " class='warn'" if share < 0.98 else ""
        rows.append([f"{_e(c.meter_name)} <span class='muted'>({c.meter_id})</span>", str(c.received), str(c.expected),
                     f"<span{cls}>{fmt_share(share)}</span>", _e(c.validation)])
    head = ["Meter", "Intervals with data", "Expected intervals", "Completeness", "Validation DAG"]
    return _table(head, rows, left=(0, 4))


def report_html(
    figures: WeeklyFigures, daily_png: bytes, heatmap_png: bytes, generated_at: datetime, sections: str = ""
) -> str:
    """The whole report as one self-contained HTML document; ``sections``: extra HTML before the notes."""
    h = headline(figures)
    site, week = figures.site, figures.week
    notes = [
        "Energy is the sum of the clean 15-minute readings (energy and power present and non-zero) of all "
        "the site's meters; a day without any reading is shown as n/a, not 0.",
        f"Days are site-local calendar days ({_e(week.timezone)}); this week has {week.hours:g} hours.",
        "Changes compare with the previous week and with the week 52 weeks earlier (same weekdays); "
        "n/a when that week has no data. Check the completeness of both weeks before reading a change.",
        f"After-hours: energy of the intervals starting outside business hours ({_e(figures.business_hours.label())}, local time).",
        "Peak demand: the highest sum of the meters' power (kW) in one 15-minute interval.",
        "Completeness: share of the week's 15-minute intervals with a clean reading, per meter. The last column "
        "is the latest verdict of the validation DAG (raw readings received per local day), when it ran.",
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title(h))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(site.site_name)} <span class='muted'>({_e(site.site_id)})</span></h1>",
        f"<p class='sub'>Weekly energy report · week {_e(week.iso_label)} · {_e(week.span_label)} · "
        f"{_e(week.timezone)} · generated {_e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}</p>",
        _cards(figures),
        "<h2>Daily energy per meter</h2>",
        f"<img alt='Daily kWh per meter' src='{data_uri(daily_png)}'>",
        _daily_table(figures),
        "<h2>Weekly load profile</h2>",
        f"<img alt='Load profile heatmap, kWh per local hour and day' src='{data_uri(heatmap_png)}'>",
        "<details><summary>Load profile as a table (kWh per local hour)</summary>",
        _heat_table(figures),
        "</details>",
        "<h2>Meters with the largest change</h2>",
        _changes_table(figures),
        "<h2>Data completeness per meter</h2>",
        _completeness_table(figures),
        sections,
        "<h2>How to read this report</h2>",
        "<ul class='notes'>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>",
        "</body></html>",
    ]
    return "".join(parts)
