"""Tunables of the validation DAG: the Params, their defaults, and the validated config. Pure.

The DAG builds its ``params`` from ``PARAM_SPECS`` (typed, with JSON-schema bounds, shown as a form
in the UI); every task turns the run's params into one ``ValidationConfig`` with
``config_from_params``, which raises ``ValueError`` naming each bad value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from argo_energy.settings import BACKFILL_DAG_ID, VALIDATION_IGNORE_VARIABLE, parse_channel_ids

SEVERITIES = ("error", "warn")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One Param: default, JSON-schema type and bounds, and the text shown in the trigger form."""

    default: Any
    type: str | list[str]
    description: str
    minimum: float | None = None
    maximum: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description, **self.extra}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


PARAM_SPECS: dict[str, ParamSpec] = {
    "lookback_days": ParamSpec(
        7, "integer",
        "Days the data checks read: completeness and pulled windows per site-local day, "
        "duplicates, value ranges, energy vs power and flat lines over this many days before the run.",
        minimum=1, maximum=92,
    ),
    "settle_hours": ParamSpec(
        24, "integer",
        "A local day is checked for completeness only once it ended at least this many hours "
        "before the run (the daily sync at 02:00 UTC has fetched it by then).",
        minimum=0, maximum=168,
    ),
    "freshness_hours": ParamSpec(
        30, "number",
        "A channel is stale when its newest reading is older than this many hours.",
        minimum=0.25, maximum=24 * 31,
    ),
    "failure_lookback_days": ParamSpec(
        7, "integer",
        "Ingestion failures logged in this many days before the run must have a later success.",
        minimum=1, maximum=92,
    ),
    "energy_power_rel_tolerance": ParamSpec(
        0.02, "number",
        "An interval is inconsistent when |E - P x 0.25 h| exceeds this share of the larger of the two.",
        minimum=0, maximum=1,
    ),
    "energy_power_abs_tolerance_kwh": ParamSpec(
        0.001, "number",
        "... and also exceeds this many kWh (so that tiny loads do not fail on rounding).",
        minimum=0, maximum=100,
    ),
    "energy_power_max_share": ParamSpec(
        0.02, "number",
        "A channel-day fails energy vs power when more than this share of its intervals is inconsistent.",
        minimum=0, maximum=1,
    ),
    "flatline_min_intervals": ParamSpec(
        24, "integer",
        "A run of this many consecutive identical non-zero energy readings is a flat line (24 = 6 h).",
        minimum=2, maximum=96 * 7,
    ),
    "mv_compare_days": ParamSpec(
        7, "integer",
        "mv_hourly_usage must match the clean readings hour by hour over this many days.",
        minimum=1, maximum=92,
    ),
    "reconcile": ParamSpec(
        True, "boolean",
        "Compare our daily kWh of every metering channel with Eniscope's own daily totals "
        "(one request per channel for the whole lookback).",
    ),
    "reconcile_rel_tolerance": ParamSpec(
        0.001, "number",
        "A channel-day reconciles when our kWh is within this share of Eniscope's daily total ...",
        minimum=0, maximum=1,
    ),
    "reconcile_abs_tolerance_kwh": ParamSpec(
        0.01, "number",
        "... or within this many kWh of it (whichever allows more).",
        minimum=0, maximum=1000,
    ),
    "high_power_kw": ParamSpec(
        1000.0, "number",
        "A reading above this power (kW) is a warning (the original validate_data.py's bound).",
        minimum=0,
    ),
    "rollup_sample_days": ParamSpec(
        50, "integer",
        "Meter-days of the lookback sampled at random and compared with the daily rollup; "
        "the ones that differ are findings and are rebuilt in the run.",
        minimum=1, maximum=10000,
    ),
    "frequency_tolerance_pct": ParamSpec(
        1.0, "number",
        "frequency_band: a reading is off when its frequency is more than this % from the site's "
        "nominal 50/60 Hz (EN 50160: +-1 %).",
        minimum=0.01, maximum=20,
    ),
    "voltage_unbalance_max_pct": ParamSpec(
        2.0, "number",
        "voltage_unbalance: NEMA voltage unbalance (max deviation from the mean of V1..3 over the mean) "
        "above this % ...",
        minimum=0, maximum=100,
    ),
    "voltage_unbalance_max_minutes": ParamSpec(
        60, "integer",
        "... for longer than this many minutes in a row is a finding.",
        minimum=0, maximum=24 * 60,
    ),
    "thd_max_pct": ParamSpec(
        20.0, "number",
        "current_thd: intervals with current THD above this % are findings.",
        minimum=0, maximum=500,
    ),
    "neutral_max_ratio": ParamSpec(
        0.5, "number",
        "neutral_current: intervals whose neutral current is above this share of the mean phase "
        "current are findings (overloaded neutral).",
        minimum=0, maximum=10,
    ),
    "self_heal": ParamSpec(
        True, "boolean",
        f"Trigger {BACKFILL_DAG_ID} (force) once for the incomplete channel-days.",
    ),
    "heal_max_channel_days": ParamSpec(
        500, "integer",
        "At most this many channel-days are healed per run (oldest first); the rest wait for the next run.",
        minimum=1, maximum=20000,
    ),
    "ignore_channel_ids": ParamSpec(
        [], "array",
        "Channel ids left out of every check (decommissioned meters). Variable "
        f"{VALIDATION_IGNORE_VARIABLE} adds to this list for scheduled runs.",
        extra={"items": {"type": "integer"}},
    ),
    "severity_overrides": ParamSpec(
        {}, "object",
        'Per-check severity, e.g. {"flatline": "error", "completeness": "warn"}.',
        extra={"additionalProperties": {"type": "string", "enum": list(SEVERITIES)}},
    ),
}


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    lookback_days: int = 7
    settle_hours: int = 24
    freshness_hours: float = 30.0
    failure_lookback_days: int = 7
    energy_power_rel_tolerance: float = 0.02
    energy_power_abs_tolerance_kwh: float = 0.001
    energy_power_max_share: float = 0.02
    flatline_min_intervals: int = 24
    mv_compare_days: int = 7
    rollup_sample_days: int = 50
    reconcile: bool = True
    reconcile_rel_tolerance: float = 0.001
    reconcile_abs_tolerance_kwh: float = 0.01
    high_power_kw: float = 1000.0
    frequency_tolerance_pct: float = 1.0
    voltage_unbalance_max_pct: float = 2.0
    voltage_unbalance_max_minutes: int = 60
    thd_max_pct: float = 20.0
    neutral_max_ratio: float = 0.5
    self_heal: bool = True
    heal_max_channel_days: int = 500
    ignore_channel_ids: tuple[int, ...] = ()
    severity_overrides: Mapping[str, str] = field(default_factory=dict)

    def severity(self, check_name: str, default: str) -> str:
        return self.severity_overrides.get(check_name, default)


def _number(name: str, value: Any, spec: ParamSpec, problems: list[str], integer: bool) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = int(value) if integer else float(value)
            except ValueError:
                problems.append(f"{name} must be a number, got {value!r}")
                return spec.default
        else:
            problems.append(f"{name} must be a number, got {value!r}")
            return spec.default
    if integer and int(value) != value:
        problems.append(f"{name} must be an integer, got {value!r}")
        return spec.default
    if spec.minimum is not None and value < spec.minimum:
        problems.append(f"{name} must be >= {spec.minimum}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        problems.append(f"{name} must be <= {spec.maximum}, got {value!r}")
    return int(value) if integer else float(value)


def parse_channel_id_list(name: str, value: Any, problems: list[str]) -> tuple[int, ...]:
    """A list of channel ids, sorted and without repeats; text (a Variable) may be JSON or comma-separated.

    The items are judged by ``settings.parse_channel_ids`` (ints or digit strings), as the
    backfill's ``channel_ids`` are; only the text forms and the order are the validation's own.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        problems.append(f"{name} must be a list of channel ids, got {value!r}")
        return ()
    return tuple(sorted(parse_channel_ids(value, problems, name=name)))


def config_from_params(
    params: Mapping[str, Any], *, known_checks: tuple[str, ...] = (), extra_ignored: tuple[int, ...] = ()
) -> ValidationConfig:
    """Validate the run's params (missing ones take their defaults); raise ``ValueError`` listing problems."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, spec in PARAM_SPECS.items():
        raw = params.get(name, spec.default)
        if raw is None:
            raw = spec.default
        if spec.type in ("integer", "number"):
            values[name] = _number(name, raw, spec, problems, integer=spec.type == "integer")
        elif spec.type == "boolean":
            if isinstance(raw, bool):
                values[name] = raw
            else:
                problems.append(f"{name} must be true or false, got {raw!r}")
        elif name == "ignore_channel_ids":
            values[name] = tuple(sorted(set(parse_channel_id_list(name, raw, problems)) | set(extra_ignored)))
        elif name == "severity_overrides":
            values[name] = _severity_overrides(raw, known_checks, problems)
    if problems:
        raise ValueError("invalid validation params: " + "; ".join(problems))
    return ValidationConfig(**values)


def _severity_overrides(raw: Any, known_checks: tuple[str, ...], problems: list[str]) -> dict[str, str]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            problems.append(f"severity_overrides must be a JSON object, got {raw!r}")
            return {}
    if not isinstance(raw, Mapping):
        problems.append(f"severity_overrides must be an object, got {raw!r}")
        return {}
    out: dict[str, str] = {}
    for check, severity in raw.items():
        if known_checks and check not in known_checks:
            problems.append(f"severity_overrides names unknown check {check!r} (known: {', '.join(known_checks)})")
        elif severity not in SEVERITIES:
            problems.append(f"severity_overrides[{check!r}] must be one of {SEVERITIES}, got {severity!r}")
        else:
            out[str(check)] = str(severity)
    return out
