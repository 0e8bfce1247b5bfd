"""Deterministic synthetic physics of one 15-minute slot, and how slots merge into buckets.

The load of a meter is defined per 15-minute slot of the epoch (``ts // 900``) from the site's
local calendar (weekday/weekend, business hours), a per-channel size and seeded noise, so every
run, every process and every resolution agree. Slots carry primaries (P, S, V per phase; F; D);
``derive`` computes Q, PF, I, In and the system values so P = P1+P2+P3, S >= |P|, PF = P/S and
PFn = Pn/(Vn*In) hold exactly; merging averages primaries, sums counters (E, En, cost) and
derives again. Buckets and data faults are in ``eniscope_simulator.readings``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from eniscope_simulator.model import ChannelDef

SLOT = 900
_MASK64 = (1 << 64) - 1
PHASE_SPLIT = (0.35, 0.33, 0.32)


def _mix(*values: int) -> int:
    """splitmix64 over the values: a fast, stable hash (Python's ``hash`` is salted per process)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & _MASK64)) & _MASK64
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        state = z ^ (z >> 31)
    return state


def unit_random(*values: int) -> float:
    """Deterministic uniform number in [0, 1) for the given key."""
    return _mix(*values) / 2.0**64


def noise(*values: int) -> float:
    """Deterministic uniform number in [-1, 1)."""
    return 2.0 * unit_random(*values) - 1.0


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=262_144)
def occupancy(ts: int, timezone: str) -> float:
    """0..1 activity of a commercial building at ``ts`` in its local time (cached: zone maths is slow)."""
    local = datetime.fromtimestamp(ts, _zone(timezone))
    hour = local.hour + local.minute / 60.0
    weekday = local.weekday() < 5
    if weekday:
        if 8.0 <= hour < 18.0:
            return 1.0
        if 6.5 <= hour < 8.0:
            return (hour - 6.5) / 1.5
        if 18.0 <= hour < 20.0:
            return 1.0 - (hour - 18.0) / 2.0
        return 0.0
    if local.weekday() == 5 and 9.0 <= hour < 14.0:
        return 0.35  # Saturday morning: partial occupancy
    return 0.0


def _uniforms(count: int, *key: int) -> list[float]:
    """``count`` deterministic numbers in [-1, 1): one hash, then a 64-bit LCG (cheap per value)."""
    state = _mix(*key)
    out = []
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & _MASK64
        out.append((state >> 11) / 2.0**52 - 1.0)
    return out


# What slots carry and merging averages; every other electrical value is derived from them.
PRIMARY = frozenset(
    ["P", "S", "V", "F", "D", "P1", "P2", "P3", "S1", "S2", "S3", "V1", "V2", "V3", "T", "RH", "CO2", "VOC1"]
)
COUNTERS = frozenset(["E", "E1", "E2", "E3", "cost"])  # summed when buckets merge (API.md §4 "c")
# Per phase: its codes and cos/sin of its angle 0, -120, +120 degrees (neutral = |sum of currents|).
_PHASES = tuple(
    (phase, f"P{phase}", f"S{phase}", f"V{phase}", f"Q{phase}", f"PF{phase}", f"I{phase}", cos_t, sin_t)
    for phase, cos_t, sin_t in ((1, 1.0, 0.0), (2, -0.5, -math.sqrt(3) / 2), (3, -0.5, math.sqrt(3) / 2))
)


def slot_values(channel: ChannelDef, slot: int, seed: int, missing_phase: int | None = None) -> dict[str, float]:
    """A fresh copy of ``_slot_values`` (cached: a served record and its truth share slots)."""
    key = (channel.channel_id, channel.kind, channel.phases, channel.base_kw, channel.voltage, channel.timezone)
    return dict(_slot_values(key, slot, seed, missing_phase))


@lru_cache(maxsize=131_072)
def _slot_values(key: tuple[Any, ...], slot: int, seed: int, missing_phase: int | None) -> dict[str, float]:
    """Every field of one 15-minute slot of a channel (raw API units: W, Wh, V, A, VAr, VA, Hz, %).

    A three-phase meter draws P, PF and V per phase (P1+P2+P3 is the site-shaped load), a
    single-phase one the system values; ``derive`` computes the rest. ``missing_phase`` drops
    that phase (the fault ``phase_missing``): the system values then sum the phases present.
    """
    channel_id, kind, phases, base_kw, nominal_v, timezone = key
    ts = slot * SLOT
    occ = occupancy(ts, timezone)
    if kind == "sensor":
        n = _uniforms(4, seed, channel_id, slot)
        return {
            "T": 19.5 + 3.0 * occ + 0.6 * n[0],
            "RH": 46.0 - 6.0 * occ + 4.0 * n[1],
            "CO2": 420.0 + 600.0 * occ + 40.0 * n[2],
            "VOC1": 80.0 + 150.0 * occ + 20.0 * n[3],
        }
    n = _uniforms(14, seed, channel_id, slot)
    power = base_kw * 1000.0 * (0.28 + 0.72 * occ) * (1.0 + 0.06 * n[0])
    pf = min(0.98, max(0.6, 0.74 + 0.2 * occ + 0.03 * n[1]))
    voltage = nominal_v * (1.0 + 0.012 * n[2])
    values = {
        "F": (60.0 if nominal_v < 200 else 50.0) + 0.02 * n[3],
        # current THD: electronic loads at night distort more than a busy building's motors
        "D": 8.0 + 14.0 * (1.0 - occ) + 2.0 * n[13],
    }
    if phases == 1:
        values.update(P=power, S=power / pf, V=voltage)
    else:
        weights = [share * (1.0 + 0.03 * n[3 + phase]) for phase, share in enumerate(PHASE_SPLIT, start=1)]
        total = sum(weights)
        for (phase, p_key, s_key, v_key, *_rest), weight in zip(_PHASES, weights, strict=True):
            if phase == missing_phase:
                continue
            phase_pf = min(0.98, max(0.6, pf + 0.01 * n[9 + phase]))
            values[p_key] = power * weight / total
            values[s_key] = values[p_key] / phase_pf
            values[v_key] = voltage * (1.0 + 0.004 * n[6 + phase])
    derive(values)
    return values


def derive(values: dict[str, float]) -> None:
    """Q, S, PF, I (and per phase; neutral In) from P, S and V, so that the physics hold exactly.

    Three-phase: P = sum Pn, S = sum Sn (arithmetic apparent power), Q = sum Qn with
    Qn = sqrt(Sn^2 - Pn^2), PFn = Pn / Sn = Pn / (Vn * In), PF = P / S, V = mean Vn,
    I = S / (phases * V) (about the mean phase current) and In = |sum of the phase current phasors|.
    Single-phase: Q = sqrt(S^2 - P^2), PF = P / S, I = S / V. Sensors: nothing to derive.
    """
    present = [entry for entry in _PHASES if entry[1] in values]
    if not present:
        if "P" in values:
            power, apparent = values["P"], values["S"]
            values["Q"] = math.sqrt(max(apparent * apparent - power * power, 0.0))
            values["PF"] = power / apparent
            values["I"] = apparent / values["V"]
        return
    power = apparent = reactive = volts = x = y = 0.0
    for _phase, p_key, s_key, v_key, q_key, pf_key, i_key, cos_t, sin_t in present:
        p, s, v = values[p_key], values[s_key], values[v_key]
        q = math.sqrt(max(s * s - p * p, 0.0))
        current = s / v
        values[q_key], values[pf_key], values[i_key] = q, p / s, current
        # lagging current: angle theta - phi with cos(phi) = p/s, sin(phi) = q/s
        x += current * (cos_t * p + sin_t * q) / s
        y += current * (sin_t * p - cos_t * q) / s
        power, apparent, reactive, volts = power + p, apparent + s, reactive + q, volts + v
    volts /= len(present)
    values.update(P=power, S=apparent, Q=reactive, V=volts, PF=power / apparent,
                  I=apparent / (len(present) * volts), In=math.hypot(x, y))


_ENERGY = (("P", "E"), ("P1", "E1"), ("P2", "E2"), ("P3", "E3"))


def add_counters(values: dict[str, float], seconds: int, tariff: float | None) -> None:
    """E, E1..E3 (Wh) = power x hours and ``cost`` = kWh x tariff, for a span of ``seconds``."""
    hours = seconds / 3600.0
    for power, energy in _ENERGY:
        if power in values:
            values[energy] = values[power] * hours
    if tariff is not None and "E" in values:
        values["cost"] = values["E"] / 1000.0 * tariff


def merge(parts: Sequence[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    """One bucket from parts ``(values, seconds)``: counters summed, primaries time-weighted, rest derived.

    A key absent (or None) in a part is averaged or summed over the parts that have it, so a
    phase missing for part of a bucket still gives that phase's energy of the time it reported.
    """
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for values, seconds in parts:
        for key, value in values.items():
            if value is None or (key not in PRIMARY and key not in COUNTERS):
                continue
            weight = 1.0 if key in COUNTERS else float(seconds)
            sums[key] = sums.get(key, 0.0) + value * weight
            weights[key] = weights.get(key, 0.0) + weight
    merged = {key: sums[key] if key in COUNTERS else sums[key] / weights[key] for key in sums}
    if "P1" in merged or ("P" in merged and "S" in merged):
        derive(merged)
    return merged


def now_epoch(now: datetime | None) -> int:
    """The simulator clock as Unix seconds."""
    return int((now or datetime.now(UTC)).timestamp())
