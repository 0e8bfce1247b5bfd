"""Which site-local week a report covers, and its UTC bounds. Pure, no I/O.

A report week is a site-local Monday 00:00 to the next Monday 00:00 (168 hours, or 167/169 when
a DST change falls inside it). The run's data interval decides it: the last week that had ended,
in the site's zone, at ``data_interval_end``. For the scheduled Tuesday 08:00 UTC run that is
the week that ended on the Sunday before in every zone (UTC-12 to UTC+14), and the daily sync of
Tuesday 02:00 UTC has loaded all of it. A run at another time never reports a week that is still
running: west of its time it takes the week before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argo_energy.sitetime import SLOT, local_date, local_midnight

DAYS_IN_WEEK = 7
# 52 weeks: the same ISO weekday alignment a year earlier (365 days would start on a Tuesday).
YEAR_AGO = timedelta(weeks=52)


@dataclass(frozen=True, slots=True)
class ReportWeek:
    """One site-local Monday-to-Sunday week; ``start``/``end`` are UTC instants, half-open."""

    monday: date
    timezone: str
    start: datetime
    end: datetime

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=DAYS_IN_WEEK - 1)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(DAYS_IN_WEEK)]

    @property
    def iso_label(self) -> str:
        """``2026-W10`` (ISO year and week of the Monday)."""
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def span_label(self) -> str:
        """``Mon 2 Mar – Sun 8 Mar 2026``."""
        first, last = self.monday, self.sunday
        return f"Mon {first.day} {first:%b}{'' if first.year == last.year else f' {first.year}'} – Sun {last.day} {last:%b %Y}"

    @property
    def hours(self) -> float:
        return (self.end - self.start) / timedelta(hours=1)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """UTC ``[start, end)`` of one local day of this week's zone."""
        return local_midnight(day, self.timezone), local_midnight(day + timedelta(days=1), self.timezone)

    def expected_slots(self, day: date) -> int:
        """15-minute intervals in a local day: 96, 92 (spring forward) or 100 (fall back)."""
        start, end = self.day_bounds(day)
        return int((end - start) / SLOT)

    def previous(self) -> ReportWeek:
        return week_of(self.monday - timedelta(days=DAYS_IN_WEEK), self.timezone)

    def year_ago(self) -> ReportWeek:
        return week_of(self.monday - YEAR_AGO, self.timezone)


def week_of(monday: date, timezone: str) -> ReportWeek:
    """The week starting on local Monday ``monday`` in ``timezone``; ``ValueError`` if not a Monday."""
    if monday.weekday() != 0:
        raise ValueError(f"a report week starts on a Monday; {monday.isoformat()} is a {monday:%A}")
    return ReportWeek(
        monday=monday,
        timezone=timezone,
        start=local_midnight(monday, timezone),
        end=local_midnight(monday + timedelta(days=DAYS_IN_WEEK), timezone),
    )


def week_for_interval_end(interval_end: datetime, timezone: str) -> ReportWeek:
    """The last site-local Monday-to-Sunday week that had ended at ``interval_end`` (aware)."""
    today = local_date(interval_end, timezone)
    this_monday = today - timedelta(days=today.weekday())
    week = week_of(this_monday - timedelta(days=DAYS_IN_WEEK), timezone)
    # local_date <= interval_end's local day, so week.end (this Monday's midnight) <= interval_end;
    # checked anyway because a report of a running week would be silently short.
    if week.end > interval_end.astimezone(UTC):
        raise ValueError(f"week {week.iso_label} has not ended at {interval_end.isoformat()}")
    return week
