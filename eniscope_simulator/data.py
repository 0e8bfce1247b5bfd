"""Deterministic synthetic readings and the data faults that alter them.

The load of a meter is defined per 15-minute slot of the epoch (``ts // 900``) from the site's
local calendar (weekday/weekend, business hours), a per-channel size and seeded noise, so every
run, every process and every resolution agree. Coarser buckets aggregate slots (E summed, the
rest averaged), finer ones add per-minute noise; E (Wh) is always P (W) x bucket hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from eniscope_simulator.config import FaultConfig
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


def slot_values(channel: ChannelDef, slot: int, seed: int, phases: bool = True) -> dict[str, float]:
    """Fields of one 15-minute slot of a channel (raw API units: W, Wh, V, A, VAr...).

    Per-phase fields (P1, V2, ...) are computed only when ``phases`` is true (they cost half).
    """
    ts = slot * SLOT
    occ = occupancy(ts, channel.timezone)
    if channel.kind == "sensor":
        n = _uniforms(4, seed, channel.channel_id, slot)
        return {
            "T": 19.5 + 3.0 * occ + 0.6 * n[0],
            "RH": 46.0 - 6.0 * occ + 4.0 * n[1],
            "CO2": 420.0 + 600.0 * occ + 40.0 * n[2],
            "VOC1": 80.0 + 150.0 * occ + 20.0 * n[3],
        }
    n = _uniforms(13, seed, channel.channel_id, slot)
    base_w = channel.base_kw * 1000.0
    power = base_w * (0.28 + 0.72 * occ) * (1.0 + 0.06 * n[0])
    pf = min(0.98, max(0.6, 0.74 + 0.2 * occ + 0.03 * n[1]))
    voltage = channel.voltage * (1.0 + 0.012 * n[2])
    values: dict[str, float] = {
        "P": power,
        "PF": pf,
        "V": voltage,
        "F": (60.0 if channel.voltage < 200 else 50.0) + 0.02 * n[3],
    }
    if phases:
        for phase, share in enumerate(PHASE_SPLIT, start=1):
            values[f"P{phase}"] = power * share * (1.0 + 0.03 * n[3 + phase])
            values[f"V{phase}"] = voltage * (1.0 + 0.004 * n[6 + phase])
            values[f"PF{phase}"] = min(0.99, max(0.55, pf + 0.01 * n[9 + phase]))
    _derive(values)
    return values


def _derive(values: dict[str, float]) -> None:
    """Q, S, I and neutral current from P, PF and V (three-phase, V line-to-neutral)."""
    power, pf, voltage = values["P"], values["PF"], values["V"]
    values["Q"] = power * math.tan(math.acos(max(-1.0, min(1.0, pf))))
    values["S"] = power / pf if pf else 0.0
    values["I"] = power / (3.0 * voltage * pf)
    values["In"] = 0.08 * values["I"]
    if "P1" not in values:
        return
    for phase in (1, 2, 3):
        p, v, f = values[f"P{phase}"], values[f"V{phase}"], values[f"PF{phase}"]
        values[f"I{phase}"] = p / (v * f)
        values[f"Q{phase}"] = p * math.tan(math.acos(f))


def bucket_values(
    channel: ChannelDef, start: int, resolution: int, seed: int, phases: bool = True
) -> dict[str, float]:
    """Fields of the bucket ``[start, start + resolution)``: slot values weighted by overlap."""
    end = start + resolution
    weights: list[tuple[dict[str, float], int]] = []
    slot = start // SLOT
    while slot * SLOT < end:
        lo, hi = max(start, slot * SLOT), min(end, (slot + 1) * SLOT)
        weights.append((slot_values(channel, slot, seed, phases), hi - lo))
        slot += 1
    if len(weights) == 1:
        merged = weights[0][0]  # a fresh dict per call: safe to modify below
    else:
        total = float(resolution)
        merged = {key: sum(v[key] * w for v, w in weights) / total for key in weights[0][0]}
    if resolution < SLOT and channel.kind == "meter":
        wiggle = 1.0 + 0.02 * noise(seed, channel.channel_id, start // 60, 99)
        for key in ("P", "P1", "P2", "P3"):
            if key in merged:
                merged[key] *= wiggle
        _derive(merged)
    if channel.kind == "meter":
        hours = resolution / 3600.0
        merged["E"] = merged["P"] * hours
        if phases:
            for phase in (1, 2, 3):
                merged[f"E{phase}"] = merged[f"P{phase}"] * hours
    return merged


def _to_epoch(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"gap bound {value!r} must be timezone-aware")
        return int(value.timestamp())
    return int(value)


def in_explicit_gap(channel_id: int, ts: int, gaps: Iterable[Sequence[Any]]) -> bool:
    """Whether ``ts`` falls in one of the ``(channel or None, start, end)`` gaps (half-open)."""
    for gap in gaps:
        gap_channel, lo, hi = gap[0], _to_epoch(gap[1]), _to_epoch(gap[2])
        if (gap_channel is None or int(gap_channel) == channel_id) and lo <= ts < hi:
            return True
    return False


def build_records(
    channel: ChannelDef,
    start: int,
    end: int,
    resolution: int,
    fields: Sequence[str],
    *,
    now: int,
    seed: int,
    faults: FaultConfig,
    installed: int,
    missing_as_null: bool = False,
    complete_only: bool = True,
) -> list[dict[str, Any]]:
    """The records ``GET /readings`` serves for ``[start, end)``: the grid ``start + k*res``.

    Applies the data faults (gaps, nulls, negatives, late data, revisions, future buckets) but no
    transport fault. A bucket is available once it has ended (``ts + res <= now``) and is not
    among the last ``late_hours``; ``future_buckets`` lets that many buckets past ``now`` through.
    """
    records: list[dict[str, Any]] = []
    late_cutoff = now - int(faults.late_hours * 3600)
    revision_from = now - int(faults.revision_hours * 3600)
    future_limit = now + faults.future_buckets * resolution
    phases = any(code[-1:] in ("1", "2", "3") for code in fields)
    ts = start
    while ts < end:
        bucket_end = ts + resolution
        ready = bucket_end <= now if complete_only else ts < now
        if ts < installed:
            ts += resolution
            continue
        if not ready:
            if faults.future_buckets <= 0 or ts >= future_limit:
                break
        elif faults.late_hours > 0 and bucket_end > late_cutoff:
            ts += resolution
            continue
        slot = ts // SLOT
        gap = (faults.gap_rate > 0 and unit_random(seed, channel.channel_id, slot, 7001) < faults.gap_rate) or (
            bool(faults.gaps) and in_explicit_gap(channel.channel_id, ts, faults.gaps)
        )
        if gap and not missing_as_null:
            ts += resolution
            continue
        record: dict[str, Any] = {"ts": ts}
        if gap:
            record.update({code: None for code in fields})
            records.append(record)
            ts += resolution
            continue
        values = bucket_values(channel, ts, resolution, seed, phases)
        if faults.revision > 0 and ts >= revision_from:
            factor = 1.0 + 0.01 * faults.revision * (1.0 + noise(seed, channel.channel_id, slot, faults.revision))
            for key in list(values):
                if key[:1] in ("E", "P", "Q", "S", "I") and not key.startswith("PF"):
                    values[key] *= factor
        if faults.negative_rate > 0 and unit_random(seed, channel.channel_id, slot, 7003) < faults.negative_rate:
            for key in list(values):
                if key[:1] in ("E", "P") and not key.startswith("PF"):
                    values[key] = -abs(values[key])
        nulled = faults.null_rate > 0 and unit_random(seed, channel.channel_id, slot, 7002) < faults.null_rate
        null_set = set(faults.null_fields) if faults.null_fields is not None else None
        for code in fields:
            if nulled and (null_set is None or code in null_set):
                record[code] = None
            else:
                record[code] = values.get(code)
        records.append(record)
        ts += resolution
    return records


def total_record(records: list[dict[str, Any]], fields: Sequence[str], start: int) -> dict[str, Any]:
    """``action=total``: counters (E*) summed, everything else averaged; one record at ``start``."""
    out: dict[str, Any] = {"ts": start}
    for code in fields:
        numbers = [r[code] for r in records if r.get(code) is not None]
        if not numbers:
            out[code] = None
        elif code.startswith("E"):
            out[code] = sum(numbers)
        else:
            out[code] = sum(numbers) / len(numbers)
    return out


def now_epoch(now: datetime | None) -> int:
    """The simulator clock as Unix seconds."""
    return int((now or datetime.now(UTC)).timestamp())
