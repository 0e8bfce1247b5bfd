"""The report's charts as PNG bytes, drawn with matplotlib's Agg canvas (no display needed).

Figures are made with ``matplotlib.figure.Figure`` and ``FigureCanvasAgg`` directly, not pyplot:
no global figure registry to leak, no backend selection that depends on the worker's display,
and safe in several threads. Meter names come from the Eniscope portal: they are drawn literally
(``escaping.mathtext``; TeX rendering off), so a ``$...$`` in a name is text, not math that can
fail at save time.
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from argo_energy.escaping import mathtext
from argo_energy.report.figures import WeeklyFigures

DPI = 110
MAX_STACKED_METERS = 8  # more meters than this: the smallest are drawn together as "other meters"
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    with matplotlib.rc_context({"text.usetex": False}):  # a deployment rc must not turn names into TeX
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def daily_chart(figures: WeeklyFigures) -> bytes:
    """Stacked bars: kWh per local day, one colour per meter (missing days draw nothing)."""
    return _png(daily_figure(figures))


def daily_figure(figures: WeeklyFigures) -> Figure:
    """The figure of ``daily_chart`` (legend labels are the meter names, drawn literally)."""
    days = figures.week.days
    meters = list(figures.site.meters)
    totals = {
        m.meter_id: math.fsum(figures.daily[(m.meter_id, d)].kwh or 0.0 for d in days) for m in meters
    }
    meters.sort(key=lambda m: (-totals[m.meter_id], m.meter_id))
    shown, rest = meters[:MAX_STACKED_METERS], meters[MAX_STACKED_METERS:]
    series: list[tuple[str, list[float]]] = [
        (mathtext(f"{m.meter_name} ({m.meter_id})"), [figures.daily[(m.meter_id, d)].kwh or 0.0 for d in days]) for m in shown
    ]
    if rest:
        series.append(
            (
                f"{len(rest)} other meters",
                [math.fsum(figures.daily[(m.meter_id, d)].kwh or 0.0 for m in rest) for d in days],
            )
        )
    fig = _figure(8.5, 3.8)
    ax = fig.subplots()
    x = np.arange(len(days))
    bottom = np.zeros(len(days))
    for label, values in series:
        ax.bar(x, values, bottom=bottom, label=label, width=0.7)
        bottom += np.array(values)
    ax.set_xticks(x, [f"{d:%a}\n{d.day} {d:%b}" for d in days])
    ax.set_ylabel("kWh")
    ax.set_title("Daily energy per meter (site-local days)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def heatmap_chart(figures: WeeklyFigures) -> bytes:
    """7 x 24 grid, local day-of-week by local hour-of-day; grey where the hour has no data."""
    grid = np.array(
        [[np.nan if v is None else v for v in row] for row in figures.heatmap], dtype=float
    )
    fig = _figure(8.5, 3.3)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=8)
    ax.set_yticks(range(7), [f"{WEEKDAY_LABELS[i]} {d.day} {d:%b}" for i, d in enumerate(figures.week.days)])
    ax.set_xlabel(f"hour of day ({figures.week.timezone})")
    ax.set_title("Weekly load profile: kWh per local hour")
    bar = fig.colorbar(image, ax=ax, pad=0.01)
    bar.set_label("kWh")
    return _png(fig)
