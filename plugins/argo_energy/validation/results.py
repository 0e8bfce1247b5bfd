"""What one check found: ``CheckResult`` (one row of ``validation_results``) and its log lines. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

PASS, FAIL, ERROR = "pass", "fail", "error"
STATUSES = (PASS, FAIL, ERROR)
# Findings kept in the details column per check and run; counts and the affected arrays stay exact.
MAX_STORED_FINDINGS = 5000
LOG_LINES = 200


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def jsonable(value: Any) -> Any:
    """Dates and datetimes as ISO strings, recursively, so that findings go into a jsonb column."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check in one run.

    ``findings`` are the failing items (a channel, a channel-day, a window...), each a mapping that
    may name ``channel_id`` and ``local_date`` (or ``local_dates``); the affected channels and days
    are derived from them. ``failed_count`` counts the failing items, ``checked_count`` what was
    examined (None when the check cannot say, e.g. a SQL check operator that passed).
    """

    check_name: str
    severity: str
    status: str
    message: str
    checked_count: int | None = None
    failed_count: int = 0
    findings: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    window_start: datetime | None = None
    window_end: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status != PASS

    @property
    def blocking(self) -> bool:
        """True when this result must fail the DAG run: an error-severity failure, or a check that broke."""
        return self.status == ERROR or (self.status == FAIL and self.severity == "error")

    @property
    def affected_channels(self) -> list[int]:
        return sorted({int(f["channel_id"]) for f in self.findings if f.get("channel_id") is not None})

    @property
    def affected_days(self) -> list[date]:
        days: set[date] = set()
        for finding in self.findings:
            single = _as_date(finding.get("local_date"))
            if single:
                days.add(single)
            for value in finding.get("local_dates") or ():
                parsed = _as_date(value)
                if parsed:
                    days.add(parsed)
        return sorted(days)

    def with_severity(self, severity: str) -> CheckResult:
        return replace(self, severity=severity)

    def stored_findings(self) -> list[Any]:
        return jsonable(list(self.findings[:MAX_STORED_FINDINGS]))

    def headline(self) -> str:
        """One line: what a person reads first (also the first line of a failure's error)."""
        if self.status == PASS:
            return f"{self.check_name}: pass ({self.message})"
        scope = []
        if self.affected_channels:
            scope.append(f"{len(self.affected_channels)} channel(s)")
        if self.affected_days:
            scope.append(f"{len(self.affected_days)} day(s)")
        where = f" [{', '.join(scope)}]" if scope else ""
        return f"{self.check_name}: {self.status.upper()} ({self.severity}){where}: {self.message}"

    def log_lines(self, limit: int = LOG_LINES) -> list[str]:
        """The headline, then one line per finding (at most ``limit``), then how many were left out."""
        lines = [self.headline()]
        if self.status == PASS:
            return lines
        if self.affected_channels:
            lines.append("  channels: " + ", ".join(str(c) for c in self.affected_channels))
        if self.affected_days:
            lines.append("  days: " + ", ".join(d.isoformat() for d in self.affected_days))
        for finding in self.findings[:limit]:
            lines.append("  - " + format_finding(finding))
        if len(self.findings) > limit:
            lines.append(f"  ... and {len(self.findings) - limit} more (all in validation_results.details)")
        return lines


def format_finding(finding: Mapping[str, Any]) -> str:
    """``channel 7 2024-03-10: expected=92 received=90`` style; channel and day first."""
    head = []
    if finding.get("channel_id") is not None:
        head.append(f"channel {finding['channel_id']}")
    if finding.get("local_date") is not None:
        head.append(str(jsonable(finding["local_date"])))
    rest = [
        f"{key}={jsonable(value)}"
        for key, value in finding.items()
        if key not in ("channel_id", "local_date") and value is not None
    ]
    return " ".join(head) + (": " if head and rest else "") + " ".join(rest)


def summary_lines(results: Sequence[CheckResult], missing: Iterable[str] = ()) -> list[str]:
    """The run's verdict: a table of every check, then the details of each failed one."""
    lines = [f"{'check':<28} {'severity':<8} {'status':<6} {'failed':>7} {'checked':>8}"]
    for r in sorted(results, key=lambda r: r.check_name):
        checked = "" if r.checked_count is None else str(r.checked_count)
        lines.append(f"{r.check_name:<28} {r.severity:<8} {r.status:<6} {r.failed_count:>7} {checked:>8}")
    for name in missing:
        lines.append(f"{name:<28} {'?':<8} {'none':<6}  (the check recorded no result: it did not run or crashed)")
    for r in sorted(results, key=lambda r: r.check_name):
        if r.failed:
            lines.extend(r.log_lines())
    return lines
