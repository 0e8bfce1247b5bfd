"""The weekly report's power-quality section (issue 19): worst meters by voltage unbalance and current
THD, the frequency band, and the power factor per phase, with a chart.

Shown only when the site's meters report power-quality fields in the week (``load`` returns None
otherwise, and the section is empty). Figures come from ``v_power_quality_intervals`` through
``include/sql/report/power_quality.sql``; a figure the meters did not report is n/a, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from argo_energy.escaping import mathtext
from argo_energy.report.charts import _figure, _png
from argo_energy.report.render import _e, _table, data_uri, fmt_num
from argo_energy.report.week import ReportWeek
from argo_energy.warehouse.sql import fetch_in

UNBALANCE_LIMIT_PCT = 2.0  # NEMA MG-1: derate motors above 1 %, and 2 % is the usual utility limit
WORST_SHOWN = 10


@dataclass(frozen=True, slots=True)
class MeterQuality:
    """One meter's week: unbalance, THD, frequency range, average PF per phase (None: not reported)."""

    meter_id: int
    meter_name: str
    avg_voltage_unbalance_pct: float | None
    max_voltage_unbalance_pct: float | None
    avg_current_unbalance_pct: float | None
    avg_current_thd_pct: float | None
    max_current_thd_pct: float | None
    min_frequency_hz: float | None
    max_frequency_hz: float | None
    power_factor: tuple[float | None, float | None, float | None]
    max_neutral_ratio: float | None
    intervals: int


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def load(cur: psycopg.Cursor[Any], site_id: str, week: ReportWeek) -> list[MeterQuality] | None:
    """The site's meters with power-quality data in ``week``, worst unbalance first; None if there is none."""
    rows = fetch_in(cur, "report/power_quality.sql", {"site_id": site_id, "start": week.start, "end": week.end})
    meters = [
        MeterQuality(
            meter_id=int(r[0]), meter_name=str(r[1]),
            avg_voltage_unbalance_pct=_opt(r[2]), max_voltage_unbalance_pct=_opt(r[3]),
            avg_current_unbalance_pct=_opt(r[4]), avg_current_thd_pct=_opt(r[5]), max_current_thd_pct=_opt(r[6]),
            min_frequency_hz=_opt(r[7]), max_frequency_hz=_opt(r[8]),
            power_factor=(_opt(r[9]), _opt(r[10]), _opt(r[11])), max_neutral_ratio=_opt(r[12]), intervals=int(r[13]),
        )
        for r in rows
    ]
    return meters or None


def chart(meters: list[MeterQuality]) -> bytes:
    """Grouped bars: average power factor of phases L1-L3 per meter (a missing phase draws nothing)."""
    shown = meters[:WORST_SHOWN]
    fig = _figure(9.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(shown))
    for phase in range(3):
        values = [m.power_factor[phase] for m in shown]
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (phase - 1) * 0.27, heights, width=0.27, label=f"L{phase + 1}")
    ax.set_xticks(x, [mathtext(f"{m.meter_name} ({m.meter_id})") for m in shown], rotation=20, ha="right",
                  fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("average power factor")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def section_html(meters: list[MeterQuality] | None) -> str:
    """The section's HTML (empty when the site's meters report no power-quality field)."""
    if not meters:
        return ""
    lows = [m.min_frequency_hz for m in meters if m.min_frequency_hz is not None]
    highs = [m.max_frequency_hz for m in meters if m.max_frequency_hz is not None]
    band = f"{min(lows):.2f} – {max(highs):.2f} Hz" if lows and highs else "n/a"
    rows = []
    for m in meters[:WORST_SHOWN]:
        over = m.max_voltage_unbalance_pct is not None and m.max_voltage_unbalance_pct > UNBALANCE_LIMIT_PCT
        rows.append([
            _e(f"{m.meter_name} ({m.meter_id})"),
            _pct(m.avg_voltage_unbalance_pct),
            f"<span class='warn'>{_pct(m.max_voltage_unbalance_pct)}</span>" if over else _pct(m.max_voltage_unbalance_pct),
            _pct(m.avg_current_unbalance_pct), _pct(m.avg_current_thd_pct), _pct(m.max_current_thd_pct),
            fmt_num(m.max_neutral_ratio, 2),
            *(fmt_num(pf, 3) for pf in m.power_factor),
        ])
    head = ["Meter", "Voltage unbalance avg", "max", "Current unbalance avg", "Current THD avg", "max",
            "Neutral / phase current max", "PF L1", "PF L2", "PF L3"]
    return "".join([
        "<h2>Power quality</h2>",
        f"<p>Frequency range over the week: <b>{_e(band)}</b>. Meters ordered by their worst voltage unbalance "
        f"(NEMA: largest deviation of a phase voltage from the three-phase mean, over the mean; above "
        f"{UNBALANCE_LIMIT_PCT:g} % in orange), then by current THD. n/a: not reported (single-phase meter, "
        "a phase missing).</p>",
        f"<img alt='Average power factor per phase and meter' src='{data_uri(chart(meters))}'>",
        _table(head, rows),
    ])
