"""Physical plausibility limits of reading values, configurable per deployment. Pure but ``load_limits``.

Defaults are the original system's (API.md §8): power above 5,000 kW, voltage outside 50-600 V,
frequency outside 45-65 Hz (the original's 55-65 Hz was for its 60 Hz site; 45 admits 50 Hz
sites), current THD outside 0-500 %, and a negative neutral current or apparent power. A limit of
a family applies to its phase columns too (``voltage_v`` to ``voltage_v_l1..3``).

Overrides: Variable ``eniscope_plausibility_limits`` (``settings.PLAUSIBILITY_LIMITS_VARIABLE``),
a JSON object ``{"<family>": {"min": number|null, "max": number|null}}``; a key left out keeps its
default, ``null`` removes that bound. E.g. ``{"power_kw": {"max": 20000}, "voltage_v": {"min": 80}}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from argo_energy.settings import PLAUSIBILITY_LIMITS_VARIABLE, ParamError, fail, get_variable

# Reason codes (stable, like the other screening codes).
POWER_IMPLAUSIBLE = "power_implausible"
VOLTAGE_IMPLAUSIBLE = "voltage_implausible"
FREQUENCY_RANGE = "frequency_out_of_range"
THD_RANGE = "thd_out_of_range"
NEUTRAL_CURRENT_NEGATIVE = "negative_neutral_current"
APPARENT_POWER_NEGATIVE = "negative_apparent_power"


@dataclass(frozen=True, slots=True)
class Limit:
    """Bounds of one family of columns (inclusive; None = unbounded) and the code of a breach."""

    code: str
    low: float | None = None
    high: float | None = None

    def breached(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (self.high is not None and value > self.high)

    def describe(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"[{low}, {high}]"


DEFAULT_LIMITS: dict[str, Limit] = {
    "power_kw": Limit(POWER_IMPLAUSIBLE, None, 5000.0),
    "voltage_v": Limit(VOLTAGE_IMPLAUSIBLE, 50.0, 600.0),
    "frequency_hz": Limit(FREQUENCY_RANGE, 45.0, 65.0),
    "current_thd_pct": Limit(THD_RANGE, 0.0, 500.0),
    "neutral_current_a": Limit(NEUTRAL_CURRENT_NEGATIVE, 0.0, None),
    "apparent_power_kva": Limit(APPARENT_POWER_NEGATIVE, 0.0, None),
}


def family_of(column: str) -> str:
    """``voltage_v_l2`` -> ``voltage_v``; a system column is its own family."""
    return column[:-3] if column[-3:] in ("_l1", "_l2", "_l3") else column


def parse_limits(raw: Any) -> dict[str, Limit]:
    """The limits with the overrides of ``raw`` (JSON text or None); ``ParamError`` says what is wrong."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return dict(DEFAULT_LIMITS)
    name = f"Variable {PLAUSIBILITY_LIMITS_VARIABLE}"
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ParamError(f'{name} is not JSON ({exc.msg}); expected e.g. {{"power_kw": {{"max": 20000}}}}') from None
    if not isinstance(value, Mapping):
        raise ParamError(f"{name} must be a JSON object of families, got {type(value).__name__}")
    limits = dict(DEFAULT_LIMITS)
    for family, bounds in value.items():
        if family not in DEFAULT_LIMITS:
            raise ParamError(f"{name}: unknown family {family!r}; known: {', '.join(sorted(DEFAULT_LIMITS))}")
        limits[family] = _override(f"{name}.{family}", limits[family], bounds)
    return limits


def _override(name: str, limit: Limit, bounds: Any) -> Limit:
    if not isinstance(bounds, Mapping) or not bounds or set(bounds) - {"min", "max"}:
        raise ParamError(f'{name} must be an object with "min" and/or "max", got {bounds!r}')
    changes: dict[str, float | None] = {}
    for key, attr in (("min", "low"), ("max", "high")):
        if key in bounds:
            changes[attr] = _bound(f"{name}.{key}", bounds[key])
    updated = replace(limit, **changes)  # type: ignore[arg-type]
    if updated.low is not None and updated.high is not None and updated.low > updated.high:
        raise ParamError(f"{name}: min {updated.low:g} is above max {updated.high:g}")
    return updated


def _bound(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParamError(f"{name} must be a finite number or null, got {value!r}")
    return float(value)


def load_limits() -> dict[str, Limit]:
    """The deployment's limits (Variable overrides on the defaults); a bad Variable fails the task."""
    try:
        return parse_limits(get_variable(PLAUSIBILITY_LIMITS_VARIABLE))
    except ParamError as exc:
        raise fail(exc) from None
