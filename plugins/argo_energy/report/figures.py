"""The numbers of one site's weekly report, computed from the rows the views returned. Pure, no I/O.

Definitions (also printed in the report's notes):

- kWh: clean readings only (v_clean_readings: energy and power present and non-zero), summed over
  all the site's meters; a meter-day without any clean reading is missing (``None``), never 0.
- Change: ``(this - other) / other`` in percent; ``None`` when the other week has no reading (not
  available) or sums to 0, and ``None`` with the reason (``comparison_note``) when either week's
  data is less than ``min_comparable`` complete (default 95 %): a week 14 % loaded is no baseline.
- Load profile: kWh per local hour-of-day x local day-of-week (7 x 24, Monday first). A local hour
  that does not exist (spring forward) is ``None``; the repeated hour of a fall-back night holds
  both of its hours.
- Peak demand: the largest sum of the meters' ``power_kw`` over one 15-minute interval, with its
  local time (the earliest such interval on a tie).
- After-hours share: kWh outside the site's business hours (by the local start of each interval)
  over the week's kWh.
- Completeness of a meter: intervals with a clean reading over the week's 15-minute intervals
  (668, 672 or 676 with DST), each day capped at its own count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from argo_energy.report.config import BusinessHours
from argo_energy.report.queries import DailyRow, IntervalRow, Site, ValidationDay
from argo_energy.report.week import DAYS_IN_WEEK, ReportWeek

HOURS = 24
TOP_CHANGES = 5
# A week is compared with another only when both are at least this complete (report Param).
MIN_COMPARABLE_COMPLETENESS = 0.95


@dataclass(frozen=True, slots=True)
class WeekTotal:
    """A week's site total and how complete the data behind it is."""

    week: ReportWeek
    kwh: float | None
    completeness: float | None  # received / expected intervals over all meters; None: no meter


@dataclass(frozen=True, slots=True)
class Peak:
    kw: float
    at: datetime  # UTC
    local: datetime  # site wall-clock time (naive)


@dataclass(frozen=True, slots=True)
class MeterChange:
    meter_id: int
    meter_name: str
    kwh: float | None
    previous_kwh: float | None
    change_kwh: float | None
    change_pct: float | None


@dataclass(frozen=True, slots=True)
class MeterCompleteness:
    meter_id: int
    meter_name: str
    received: int
    expected: int
    validation: str  # what the validation DAG said about this meter's days of the week

    @property
    def share(self) -> float:
        return self.received / self.expected if self.expected else 0.0


@dataclass(frozen=True, slots=True)
class DailyCell:
    kwh: float | None
    peak_kw: float | None
    readings: int
    expected: int


@dataclass(frozen=True, slots=True)
class WeeklyFigures:
    site: Site
    week: ReportWeek
    business_hours: BusinessHours
    current: WeekTotal
    previous: WeekTotal
    year_ago: WeekTotal
    daily: Mapping[tuple[int, date], DailyCell]
    daily_totals: Mapping[date, float | None]
    heatmap: tuple[tuple[float | None, ...], ...]  # [weekday 0..6][hour 0..23]
    peak: Peak | None
    business_kwh: float | None
    after_hours_kwh: float | None
    meter_changes: tuple[MeterChange, ...]
    completeness: tuple[MeterCompleteness, ...]
    validation_checked: bool = field(default=False)
    min_comparable: float = MIN_COMPARABLE_COMPLETENESS

    @property
    def total_kwh(self) -> float | None:
        return self.current.kwh

    def comparison_note(self, other: WeekTotal) -> str | None:
        """Why this week cannot be compared with ``other`` (None: it can)."""
        return comparison_note(self.current, other, self.min_comparable)

    @property
    def change_vs_previous_pct(self) -> float | None:
        if self.comparison_note(self.previous):
            return None
        return change_pct(self.current.kwh, self.previous.kwh)

    @property
    def change_vs_year_ago_pct(self) -> float | None:
        if self.comparison_note(self.year_ago):
            return None
        return change_pct(self.current.kwh, self.year_ago.kwh)

    @property
    def after_hours_share(self) -> float | None:
        if self.after_hours_kwh is None or self.business_kwh is None:
            return None
        total = self.after_hours_kwh + self.business_kwh
        return self.after_hours_kwh / total if total else None


def change_pct(value: float | None, reference: float | None) -> float | None:
    """Percent change of ``value`` against ``reference``; None when either is missing or reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / reference * 100.0


def comparison_note(current: WeekTotal, other: WeekTotal, minimum: float) -> str | None:
    """The reason two weeks are not compared (a week below ``minimum`` completeness), or None."""
    for label, total in (("this week", current), (f"week {other.week.iso_label}", other)):
        if total.completeness is None:
            return f"{label} has no data"
        if total.completeness < minimum:
            return f"{label} is only {total.completeness:.1%} complete (comparisons need {minimum:.0%})"
    return None


def _sum(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def week_total(week: ReportWeek, rows: Sequence[DailyRow], meter_ids: Sequence[int]) -> WeekTotal:
    """The site's kWh over a week (None without any reading) and its completeness."""
    wanted = set(meter_ids)
    in_week = [r for r in rows if week.monday <= r.local_date <= week.sunday and r.meter_id in wanted]
    received, expected = 0, 0
    for meter_id in meter_ids:
        got, exp = _meter_slots(week, in_week, meter_id)
        received += got
        expected += exp
    return WeekTotal(
        week=week,
        kwh=_sum([r.kwh for r in in_week]),
        completeness=received / expected if expected else None,
    )


def _meter_slots(week: ReportWeek, rows: Sequence[DailyRow], meter_id: int) -> tuple[int, int]:
    """(received, expected) clean intervals of one meter over the week, each day capped."""
    by_day = {r.local_date: r.readings for r in rows if r.meter_id == meter_id}
    received = expected = 0
    for day in week.days:
        slots = week.expected_slots(day)
        expected += slots
        received += min(by_day.get(day, 0), slots)
    return received, expected


def daily_cells(week: ReportWeek, site: Site, rows: Sequence[DailyRow]) -> dict[tuple[int, date], DailyCell]:
    """Every (meter, day) of the week; days without a row are missing (kWh None, 0 readings)."""
    by_key = {(r.meter_id, r.local_date): r for r in rows}
    cells = {}
    for meter in site.meters:
        for day in week.days:
            row = by_key.get((meter.meter_id, day))
            cells[(meter.meter_id, day)] = DailyCell(
                kwh=row.kwh if row else None,
                peak_kw=row.peak_kw if row else None,
                readings=row.readings if row else 0,
                expected=week.expected_slots(day),
            )
    return cells


def heatmap(intervals: Sequence[IntervalRow], week: ReportWeek) -> tuple[tuple[float | None, ...], ...]:
    """kWh per local [weekday][hour]; None where no interval of that local hour had a reading."""
    sums: dict[tuple[int, int], list[float]] = defaultdict(list)
    for row in intervals:
        if row.kwh is None or not week.monday <= row.local.date() <= week.sunday:
            continue
        sums[(row.local.weekday(), row.local.hour)].append(row.kwh)
    return tuple(
        tuple(math.fsum(sums[(d, h)]) if (d, h) in sums else None for h in range(HOURS))
        for d in range(DAYS_IN_WEEK)
    )


def peak_demand(intervals: Sequence[IntervalRow]) -> Peak | None:
    best: IntervalRow | None = None
    for row in intervals:
        if row.kw is not None and (best is None or best.kw is None or row.kw > best.kw):
            best = row
    if best is None or best.kw is None:
        return None
    return Peak(kw=best.kw, at=best.ts, local=best.local)


def split_business_hours(intervals: Sequence[IntervalRow], hours: BusinessHours) -> tuple[float | None, float | None]:
    """(business kWh, after-hours kWh); both None when the week has no reading."""
    business = [r.kwh for r in intervals if r.kwh is not None and hours.contains(r.local)]
    after = [r.kwh for r in intervals if r.kwh is not None and not hours.contains(r.local)]
    if not business and not after:
        return None, None
    return math.fsum(business), math.fsum(after)


def meter_changes(
    site: Site, current: Sequence[DailyRow], previous: Sequence[DailyRow], top: int = TOP_CHANGES,
    week: ReportWeek | None = None, minimum: float = 0.0,
) -> tuple[MeterChange, ...]:
    """The ``top`` meters by absolute kWh change against the previous week (both weeks must have data
    and, given ``week``, be at least ``minimum`` complete for that meter)."""
    def totals(rows: Sequence[DailyRow]) -> dict[int, float | None]:
        return {m.meter_id: _sum([r.kwh for r in rows if r.meter_id == m.meter_id]) for m in site.meters}

    now, before = totals(current), totals(previous)
    changes = []
    for meter in site.meters:
        if week is not None and not all(
            expected and received / expected >= minimum
            for received, expected in (_meter_slots(week, current, meter.meter_id),
                                       _meter_slots(week.previous(), previous, meter.meter_id))
        ):
            continue
        this, prev = now[meter.meter_id], before[meter.meter_id]
        delta = None if this is None or prev is None else this - prev
        changes.append(MeterChange(meter.meter_id, meter.meter_name, this, prev, delta, change_pct(this, prev)))
    comparable = [c for c in changes if c.change_kwh is not None]
    comparable.sort(key=lambda c: (-abs(c.change_kwh or 0.0), c.meter_id))
    return tuple(comparable[:top])


def _validation_text(meter_id: int, validation: Sequence[ValidationDay] | None, week: ReportWeek) -> str:
    if validation is None:
        return "validation results not available"
    checked = [v for v in validation if v.checked_at is not None]
    if not checked:
        return "not checked by validation"
    flagged = [
        (v.local_date, expected, received)
        for v in checked
        for (mid, expected, received) in v.flagged
        if mid == meter_id
    ]
    scope = f"{len(checked)} of {len(week.days)} day(s) checked"
    if not flagged:
        return f"no day flagged ({scope})"
    items = ", ".join(
        f"{day:%a %d %b} ({'?' if received is None else received}/{'?' if expected is None else expected})"
        for day, expected, received in sorted(flagged)
    )
    return f"{len(flagged)} day(s) flagged incomplete: {items} ({scope})"


def meter_completeness(
    site: Site, week: ReportWeek, rows: Sequence[DailyRow], validation: Sequence[ValidationDay] | None
) -> tuple[MeterCompleteness, ...]:
    out = []
    for meter in site.meters:
        received, expected = _meter_slots(week, rows, meter.meter_id)
        out.append(
            MeterCompleteness(
                meter.meter_id, meter.meter_name, received, expected,
                _validation_text(meter.meter_id, validation, week),
            )
        )
    return tuple(out)


def compute(
    *,
    site: Site,
    week: ReportWeek,
    business_hours: BusinessHours,
    daily: Sequence[DailyRow],
    previous_daily: Sequence[DailyRow],
    year_ago_daily: Sequence[DailyRow],
    intervals: Sequence[IntervalRow],
    validation: Sequence[ValidationDay] | None = None,
    min_comparable: float = MIN_COMPARABLE_COMPLETENESS,
) -> WeeklyFigures:
    """Every figure of the report of ``site`` for ``week``."""
    meter_ids = [m.meter_id for m in site.meters]
    cells = daily_cells(week, site, daily)
    business, after = split_business_hours(intervals, business_hours)
    return WeeklyFigures(
        site=site,
        week=week,
        business_hours=business_hours,
        current=week_total(week, daily, meter_ids),
        previous=week_total(week.previous(), previous_daily, meter_ids),
        year_ago=week_total(week.year_ago(), year_ago_daily, meter_ids),
        daily=cells,
        daily_totals={day: _sum([cells[(m, day)].kwh for m in meter_ids]) for day in week.days},
        heatmap=heatmap(intervals, week),
        peak=peak_demand(intervals),
        business_kwh=business,
        after_hours_kwh=after,
        meter_changes=meter_changes(site, daily, previous_daily, week=week, minimum=min_comparable),
        completeness=meter_completeness(site, week, daily, validation),
        validation_checked=validation is not None and any(v.checked_at is not None for v in validation),
        min_comparable=min_comparable,
    )
