"""Validation of one window's readings before they are written. Pure, no I/O.

Every reading is either accepted or rejected with its reasons; nothing is dropped silently.
A rejection's ``reason`` is the failed checks' stable codes joined with ``"; "`` (the warehouse's
key, so a rerun refreshes the row); its ``detail`` is ``"<code>: <detail>; ..."`` in words.
A reading whose values are all missing is *accepted*: the warehouse stores NULLs (a gap is not 0).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from argo_energy.ingest.limits import DEFAULT_LIMITS, Limit, family_of
from argo_energy.models import READING_FIELDS, Reading, Rejected, Window
from argo_energy.sitetime import SLOT_SECONDS

Problem = tuple[str, str]  # (code, detail)

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
# A value the warehouse's ``real`` columns cannot hold (it would be stored as Infinity).
REAL_RANGE = "exceeds_real_range"
REAL_MAX = 3.4028234663852886e38  # largest finite float4
# The plausibility limits' codes (power_implausible, voltage_implausible, ...) are in ingest/limits.py.
_NOT_NEGATIVE = {"power_kw": NEGATIVE_POWER, "energy_kwh": NEGATIVE_ENERGY}


class ValidationResult(NamedTuple):
    accepted: list[Reading]
    rejected: list[Rejected]


def _timestamp_problems(ts: datetime, window: Window, now: datetime, grid_seconds: int) -> list[Problem]:
    if ts.tzinfo is None or ts.utcoffset() is None:
        return [(NAIVE_TIMESTAMP, f"{ts.isoformat()} has no time zone")]
    problems = []
    if ts > now:
        problems.append((FUTURE_TIMESTAMP, f"{ts.isoformat()} is after {now.isoformat()}"))
    if not window.start <= ts < window.end:
        problems.append(
            (OUTSIDE_WINDOW, f"{ts.isoformat()} not in [{window.start.isoformat()}, {window.end.isoformat()})")
        )
    if ts.microsecond or int(ts.timestamp()) % grid_seconds:
        problems.append((OFF_GRID, f"{ts.isoformat()} is not on the {grid_seconds // 60}-minute grid"))
    return problems


def _value_problems(reading: Reading, limits: Mapping[str, Limit]) -> list[Problem]:
    problems = []
    finite: dict[str, float] = {}
    for name in READING_FIELDS:
        value = getattr(reading, name)
        if value is not None and not math.isfinite(value):
            problems.append((NON_FINITE, f"{name}={value}"))
        elif value is not None:
            finite[name] = value
    # The first checks keep their order: a reason is a stored key, the same problems must give it again.
    power, energy, pf = finite.get("power_kw"), finite.get("energy_kwh"), finite.get("power_factor")
    if power is not None and power < 0:
        problems.append((NEGATIVE_POWER, f"power_kw={power}"))
    if energy is not None and energy < 0:
        problems.append((NEGATIVE_ENERGY, f"energy_kwh={energy}"))
    if pf is not None and abs(pf) > 1:
        problems.append((POWER_FACTOR_RANGE, f"power_factor={pf}"))
    for name, value in finite.items():
        problems.extend(_field_problems(name, value, limits))
    return problems


def _field_problems(name: str, value: float, limits: Mapping[str, Limit]) -> list[Problem]:
    """A finite value's other problems: the phase columns' sign and PF, the float4 range, the limit."""
    problems = []
    family = family_of(name)
    if name != family and family in _NOT_NEGATIVE and value < 0:
        problems.append((_NOT_NEGATIVE[family], f"{name}={value}"))
    if name != family and family == "power_factor" and abs(value) > 1:
        problems.append((POWER_FACTOR_RANGE, f"{name}={value}"))
    if abs(value) > REAL_MAX:
        problems.append((REAL_RANGE, f"{name}={value:g} does not fit a real column (|x| <= {REAL_MAX:g})"))
    limit = limits.get(family)
    if limit is not None and limit.breached(value):
        problems.append((limit.code, f"{name}={value:g} outside {limit.describe()}"))
    return problems


def rejection(reading: Reading, problems: list[Problem]) -> Rejected:
    """``Rejected`` with the stable codes as its reason (each code once, in check order)."""
    codes = list(dict.fromkeys(code for code, _ in problems))
    return Rejected(
        reading=reading,
        reason="; ".join(codes),
        detail="; ".join(f"{code}: {detail}" for code, detail in problems),
    )


def validate(
    readings: Iterable[Reading],
    window: Window,
    now: datetime,
    *,
    grid_seconds: int = SLOT_SECONDS,
    limits: Mapping[str, Limit] = DEFAULT_LIMITS,
) -> ValidationResult:
    """Split one response's readings into accepted and rejected (with reasons).

    Checks: timestamp aware, not after ``now``, inside ``[window.start, window.end)``, on the
    ``grid_seconds`` grid; values finite and within a ``real`` column's range, power and energy
    (system and per phase) not negative, every |power factor| <= 1, and each family's plausibility
    ``limits`` (``ingest.limits``: power, voltage, frequency, THD, neutral current, apparent power).
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
        aware = not (problems and problems[0][0] == NAIVE_TIMESTAMP)
        if aware:
            if reading.ts in seen:
                problems.append((DUPLICATE, f"{reading.ts.isoformat()} already in this response"))
            seen.add(reading.ts)
        problems.extend(_value_problems(reading, limits))
        if problems:
            rejected.append(rejection(reading, problems))
        else:
            accepted.append(reading)
    return ValidationResult(accepted, rejected)


def reason_counts(rejected: Iterable[Rejected]) -> Counter[str]:
    """How many rejected readings failed each check (one reading may count under several codes)."""
    counts: Counter[str] = Counter()
    for item in rejected:
        counts.update(reason_codes(item.reason))
    return counts


def reason_codes(reason: str) -> set[str]:
    """The codes of a stored reason: ``"a; b"``, or the older ``"a: detail; b: detail"``."""
    return {part.split(":", 1)[0].strip() for part in reason.split("; ") if part.strip()}
