"""Validation of one window's readings before they are written. Pure, no I/O.

Every reading is either accepted or rejected with its reasons; nothing is dropped silently.
A reason is ``"<code>: <detail>"``; several failing checks are joined with ``"; "``.
A reading whose values are all missing is *accepted*: the warehouse stores NULLs (a gap is not 0).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from argo_energy.models import READING_FIELDS, Reading, Rejected, Window

GRID_SECONDS = 900

# Reason codes (stable: ingestion_logs and the rejected-readings table are queried by them).
NAIVE_TIMESTAMP = "naive_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
OUTSIDE_WINDOW = "outside_window"
OFF_GRID = "off_grid"
DUPLICATE = "duplicate_timestamp"
NON_FINITE = "non_finite"
NEGATIVE_POWER = "negative_power"
NEGATIVE_ENERGY = "negative_energy"
POWER_FACTOR_RANGE = "power_factor_out_of_range"


class ValidationResult(NamedTuple):
    accepted: list[Reading]
    rejected: list[Rejected]


def _timestamp_problems(ts: datetime, window: Window, now: datetime, grid_seconds: int) -> list[str]:
    if ts.tzinfo is None or ts.utcoffset() is None:
        return [f"{NAIVE_TIMESTAMP}: {ts.isoformat()} has no time zone"]
    problems = []
    if ts > now:
        problems.append(f"{FUTURE_TIMESTAMP}: {ts.isoformat()} is after {now.isoformat()}")
    if not window.start <= ts < window.end:
        problems.append(
            f"{OUTSIDE_WINDOW}: {ts.isoformat()} not in [{window.start.isoformat()}, {window.end.isoformat()})"
        )
    if ts.microsecond or int(ts.timestamp()) % grid_seconds:
        problems.append(f"{OFF_GRID}: {ts.isoformat()} is not on the {grid_seconds // 60}-minute grid")
    return problems


def _value_problems(reading: Reading) -> list[str]:
    problems = []
    for name in READING_FIELDS:
        value = getattr(reading, name)
        if value is not None and not math.isfinite(value):
            problems.append(f"{NON_FINITE}: {name}={value}")
    # Comparisons with NaN are False, so the non-finite values above are not reported twice.
    power, energy, pf = reading.power_kw, reading.energy_kwh, reading.power_factor
    if power is not None and power < 0:
        problems.append(f"{NEGATIVE_POWER}: power_kw={power}")
    if energy is not None and energy < 0:
        problems.append(f"{NEGATIVE_ENERGY}: energy_kwh={energy}")
    if pf is not None and abs(pf) > 1:
        problems.append(f"{POWER_FACTOR_RANGE}: power_factor={pf}")
    return problems


def validate(
    readings: Iterable[Reading], window: Window, now: datetime, *, grid_seconds: int = GRID_SECONDS
) -> ValidationResult:
    """Split one response's readings into accepted and rejected (with reasons).

    Checks: timestamp aware, not after ``now``, inside ``[window.start, window.end)``, on the
    ``grid_seconds`` grid; values finite, power and energy not negative, |power factor| <= 1.
    A timestamp repeated within the response keeps its first occurrence; later ones are rejected,
    because which of two differing values is right cannot be known.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    accepted: list[Reading] = []
    rejected: list[Rejected] = []
    seen: set[datetime] = set()
    for reading in readings:
        problems = _timestamp_problems(reading.ts, window, now, grid_seconds)
        aware = not (problems and problems[0].startswith(NAIVE_TIMESTAMP))
        if aware:
            if reading.ts in seen:
                problems.append(f"{DUPLICATE}: {reading.ts.isoformat()} already in this response")
            seen.add(reading.ts)
        problems.extend(_value_problems(reading))
        if problems:
            rejected.append(Rejected(reading=reading, reason="; ".join(problems)))
        else:
            accepted.append(reading)
    return ValidationResult(accepted, rejected)


def reason_counts(rejected: Iterable[Rejected]) -> Counter[str]:
    """How many rejected readings failed each check (one reading may count under several codes)."""
    counts: Counter[str] = Counter()
    for item in rejected:
        counts.update({part.split(":", 1)[0].strip() for part in item.reason.split("; ")})
    return counts
