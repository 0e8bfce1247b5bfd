"""Settings of the weekly report read from Variables and Params, parsed and validated. Pure.

- ``report_business_hours``: business hours per site (JSON), default 08:00-18:00 Monday-Friday.
- ``report_emails``: recipients, a JSON list or ``{"<site_id>": [...], "default": [...]}``.
- ``report_base_path``: where the files go (an object storage URL), default
  ``file://$AIRFLOW_HOME/reports``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from argo_energy.alerts import parse_recipients
from argo_energy.settings import REPORT_BASE_PATH_VARIABLE, REPORT_BUSINESS_HOURS_VARIABLE

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ReportConfigError(ValueError):
    """A report Variable or Param is invalid; the message says which and why."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Local wall-clock business hours: ``start <= time < end`` on ``weekdays`` (0 = Monday)."""

    weekdays: frozenset[int] = frozenset(range(5))
    start: time = time(8, 0)
    end: time = time(18, 0)

    def contains(self, local: datetime) -> bool:
        """True when the local (naive wall-clock) datetime ``local`` is within business hours."""
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end

    def label(self) -> str:
        """``Mon–Fri 08:00–18:00``; non-contiguous days are listed (``Sat, Sun 10:00–16:00``)."""
        days = sorted(self.weekdays)
        names = [WEEKDAYS[d].capitalize() for d in days]
        contiguous = len(days) > 2 and days[-1] - days[0] == len(days) - 1
        day_text = f"{names[0]}–{names[-1]}" if contiguous else ", ".join(names)
        end = "24:00" if self.end == time.max else f"{self.end:%H:%M}"
        return f"{day_text} {self.start:%H:%M}–{end}"


DEFAULT_BUSINESS_HOURS = BusinessHours()


def _parse_time(value: Any, where: str) -> time:
    if isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if match:
            hour, minute = int(match["h"]), int(match["m"])
            if hour == 24 and minute == 0:
                return time.max
            if hour < 24 and minute < 60:
                return time(hour, minute)
    raise ReportConfigError(f"{where}: expected a time HH:MM (00:00-24:00), got {value!r}")


def _parse_days(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise ReportConfigError(f'{where}: "days" must be a non-empty list like ["mon", "tue"], got {value!r}')
    out = set()
    for item in value:
        key = str(item).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise ReportConfigError(f"{where}: unknown weekday {item!r} (use {', '.join(WEEKDAYS)})")
        out.add(WEEKDAYS.index(key))
    return frozenset(out)


def parse_business_hours_spec(spec: Any, where: str) -> BusinessHours:
    """``{"days": ["mon",...], "start": "08:00", "end": "18:00"}``; missing keys take the default."""
    if not isinstance(spec, Mapping):
        raise ReportConfigError(f"{where}: expected an object with days/start/end, got {spec!r}")
    unknown = set(spec) - {"days", "start", "end"}
    if unknown:
        raise ReportConfigError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: days, start, end)")
    days = _parse_days(spec["days"], where) if "days" in spec else DEFAULT_BUSINESS_HOURS.weekdays
    start = _parse_time(spec["start"], f"{where}.start") if "start" in spec else DEFAULT_BUSINESS_HOURS.start
    end = _parse_time(spec["end"], f"{where}.end") if "end" in spec else DEFAULT_BUSINESS_HOURS.end
    if start >= end:
        raise ReportConfigError(f"{where}: start {start:%H:%M} must be before end {end:%H:%M}")
    return BusinessHours(days, start, end)


def business_hours_for(raw: Any, site_id: str) -> BusinessHours:
    """Business hours of ``site_id`` from Variable ``report_business_hours``.

    Accepted: unset (08:00-18:00 Mon-Fri); one spec for every site; or ``{"<site_id>": spec,
    "default": spec}`` where the site's entry wins over ``default``.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_BUSINESS_HOURS
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ReportConfigError(
                f"Variable {REPORT_BUSINESS_HOURS_VARIABLE} is not JSON ({exc.msg}); expected e.g. "
                '{"default": {"days": ["mon","tue","wed","thu","fri"], "start": "08:00", "end": "18:00"}}'
            ) from None
    if not isinstance(value, Mapping):
        raise ReportConfigError(f"Variable {REPORT_BUSINESS_HOURS_VARIABLE} must be a JSON object, got {raw!r}")
    if set(value) & {"days", "start", "end"}:
        return parse_business_hours_spec(value, f"Variable {REPORT_BUSINESS_HOURS_VARIABLE}")
    for key in (site_id, "default"):
        if key in value:
            return parse_business_hours_spec(value[key], f"Variable {REPORT_BUSINESS_HOURS_VARIABLE}[{key!r}]")
    return DEFAULT_BUSINESS_HOURS


def recipients_for(raw: Any, site_id: str) -> list[str]:
    """Recipients of ``site_id`` from Variable ``report_emails`` (list, or per site with "default")."""
    return parse_recipients(raw, site_id)


def default_base_path() -> str:
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return "file://" + os.path.join(os.path.abspath(home), "reports")


def base_path_from(raw: Any) -> str:
    """Variable ``report_base_path`` (an object storage URL such as ``s3://bucket/reports``) or the default."""
    if raw is None or not str(raw).strip():
        return default_base_path()
    text = str(raw).strip()
    if text.startswith("/"):
        return "file://" + text  # a plain absolute path means the local file system
    if "://" not in text:
        raise ReportConfigError(
            f"Variable {REPORT_BASE_PATH_VARIABLE} must be a URL like file:///srv/reports or s3://bucket/reports "
            f"(or an absolute path), got {text!r}"
        )
    return text.rstrip("/")


def safe_name(text: str) -> str:
    """A file-name-safe form of a site id (anything but letters, digits, ``._-`` becomes ``_``)."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")
    return cleaned or "site"


def report_file_stem(site_id: str, week_label: str) -> str:
    """``energy-report_<site>_<2026-W10>``: the file names of one site and week (HTML and CSV)."""
    return f"energy-report_{safe_name(site_id)}_{week_label}"


def parse_week_param(value: Any) -> date | None:
    """Param ``week_start``: empty means "from the data interval", else a Monday YYYY-MM-DD."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ReportConfigError(f"week_start must be a date YYYY-MM-DD, got {value!r}") from None
    if day.weekday() != 0:
        raise ReportConfigError(f"week_start must be a Monday; {day.isoformat()} is a {day:%A}")
    return day
