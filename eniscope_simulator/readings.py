"""Readings buckets: the grid of a request, data faults, ``action=total``.

Buckets are ``ts = from + k*res`` (API.md §3.7/§9). ``res=86400`` steps by calendar days instead:
API.md §6 ("Timezones / DST": ``YYYY-MM-DD`` and named ranges map to local midnight in the
channel's ``timeZone``, INFERRED) and §9 (``daterange[]`` ``YYYY-MM-DD`` = local midnight in the
channel ``timeZone``) place Eniscope's days in the channel's (= its site organisation's) zone;
§6/§11 leave the DST behaviour of ``res=86400`` open. So a daily bucket runs from ``from`` to the
same wall-clock time of the next day in that zone (``SimulatorConfig.daily_zone``, default
"channel"): 23 or 25 hours on DST days. Its values are merged from the day's 15-minute slots
after slot faults (gaps, revisions, a missing phase), so a day's E is the sum of the 15-minute E
served for it, unless ``inconsistent_days`` names that channel and day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eniscope_simulator.config import FaultConfig
from eniscope_simulator.data import (
    COUNTERS,
    SLOT,
    add_counters,
    derive,
    merge,
    noise,
    slot_values,
    unit_random,
)
from eniscope_simulator.model import ChannelDef

DAY = 86400
SCALED = ("P", "S")  # revisions multiply P and S (and counters); Q, I and In follow, PF stays


def _to_epoch(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"fault bound {value!r} must be timezone-aware")
        return int(value.timestamp())
    return int(value)


def _channel_matches(wanted: Any, channel_id: int) -> bool:
    return wanted is None or int(wanted) == channel_id


def in_explicit_gap(channel_id: int, ts: int, gaps: Iterable[Sequence[Any]]) -> bool:
    """Whether ``ts`` falls in one of the ``(channel or None, start, end)`` gaps (half-open)."""
    return any(
        _channel_matches(gap[0], channel_id) and _to_epoch(gap[1]) <= ts < _to_epoch(gap[2]) for gap in gaps
    )


def _scale(values: dict[str, Any], factor: float) -> None:
    for key in list(values):
        if (key in COUNTERS or (key[:1] in SCALED and key[:2] != "PF")) and values[key] is not None:
            values[key] *= factor
    derive(values)


@dataclass
class Source:
    """What the API knows about one channel at the simulator clock ``now``: slots with data faults."""

    channel: ChannelDef
    seed: int
    faults: FaultConfig
    now: int
    installed: int
    daily_zone: str = "channel"

    # ------------------------------------------------------------------ slot level

    def missing_phase(self, ts: int) -> int | None:
        for entry in self.faults.phase_missing:
            if _channel_matches(entry[0], self.channel.channel_id) and (
                len(entry) < 4 or _to_epoch(entry[2]) <= ts < _to_epoch(entry[3])
            ):
                return int(entry[1])
        return None

    def is_gap(self, ts: int) -> bool:
        faults, cid = self.faults, self.channel.channel_id
        if faults.gap_rate > 0 and unit_random(self.seed, cid, ts // SLOT, 7001) < faults.gap_rate:
            return True
        return bool(faults.gaps) and in_explicit_gap(cid, ts, faults.gaps)

    def revise(self, values: dict[str, Any], ts: int) -> None:
        """The ``revision`` (last hours) and ``source_revisions`` (after a date) faults at ``ts``."""
        faults, cid = self.faults, self.channel.channel_id
        if faults.revision > 0 and ts >= self.now - int(faults.revision_hours * 3600):
            slot = ts // SLOT
            _scale(values, 1.0 + 0.01 * faults.revision * (1.0 + noise(self.seed, cid, slot, faults.revision)))
        for entry in faults.source_revisions:
            if (_channel_matches(entry[0], cid) and _to_epoch(entry[1]) <= ts < _to_epoch(entry[2])
                    and self.now >= _to_epoch(entry[3])):
                _scale(values, faults.source_revision_factor)

    def slot(self, slot: int) -> dict[str, Any]:
        return slot_values(self.channel, slot, self.seed, self.missing_phase(slot * SLOT))

    # ------------------------------------------------------------------ bucket level

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.channel.timezone if self.daily_zone == "channel" else self.daily_zone)

    def grid(self, start: int, end: int, resolution: int) -> Iterator[tuple[int, int]]:
        """``(ts, seconds)`` of the buckets starting in ``[start, end)``; days are local calendar days."""
        if resolution != DAY:
            for ts in range(start, end, resolution):
                yield ts, resolution
            return
        zone = self.zone()
        wall = datetime.fromtimestamp(start, zone).replace(tzinfo=None)
        ts = start
        while ts < end:
            wall += timedelta(days=1)
            following = int(wall.replace(tzinfo=zone).timestamp())
            yield ts, following - ts
            ts = following

    def bucket(self, ts: int, seconds: int, resolution: int) -> dict[str, Any] | None:
        """Values of ``[ts, ts + seconds)`` (None = a gap) before the bucket-level faults."""
        if resolution == DAY:
            return self._day(ts, seconds)
        if self.is_gap(ts):
            return None
        parts = []
        slot = ts // SLOT
        while slot * SLOT < ts + seconds:
            lo, hi = max(ts, slot * SLOT), min(ts + seconds, (slot + 1) * SLOT)
            parts.append((self.slot(slot), hi - lo))
            slot += 1
        values = parts[0][0] if len(parts) == 1 else merge(parts)
        if seconds < SLOT and self.channel.kind == "meter":
            wiggle = 1.0 + 0.02 * noise(self.seed, self.channel.channel_id, ts // 60, 99)
            _scale(values, wiggle)
        if self.channel.kind == "meter":
            add_counters(values, seconds, self.channel.tariff)
        self.revise(values, ts)
        return values

    def _day(self, ts: int, seconds: int) -> dict[str, Any] | None:
        parts = []
        # the slots starting in the day (a local midnight is a slot boundary in every real zone)
        for slot in range(-(-ts // SLOT), -(-(ts + seconds) // SLOT)):
            slot_ts = slot * SLOT
            if slot_ts < self.installed or self.is_gap(slot_ts):
                continue
            values = self.slot(slot)
            if self.channel.kind == "meter":
                add_counters(values, SLOT, self.channel.tariff)
            self.revise(values, slot_ts)
            parts.append((values, SLOT))
        if not parts:
            return None
        values = merge(parts)
        local_day = datetime.fromtimestamp(ts, self.zone()).date().isoformat()
        if any(_channel_matches(c, self.channel.channel_id) and str(d) == local_day
               for c, d in self.faults.inconsistent_days):
            for key in COUNTERS & values.keys():
                values[key] *= self.faults.inconsistent_factor
        return values


def _negate(values: dict[str, Any]) -> None:
    """The ``negative_rate`` fault: P and the counters below zero (PF follows the sign of P)."""
    for key in list(values):
        if key in COUNTERS or (key[:1] == "P" and key[:2] != "PF"):
            values[key] = -abs(values[key])
    derive(values)


def build_series(
    source: Source, start: int, end: int, resolution: int, *, complete_only: bool = True
) -> list[tuple[int, int, dict[str, Any] | None, frozenset[str] | None]]:
    """``(ts, seconds, values or None for a gap, nulled codes or None)`` of every served bucket.

    A bucket is available once it has ended (``ts + seconds <= now``) and is not among the last
    ``late_hours``; ``future_buckets`` lets that many buckets past ``now`` through.
    """
    faults, now, cid = source.faults, source.now, source.channel.channel_id
    late_cutoff = now - int(faults.late_hours * 3600)
    future_limit = now + faults.future_buckets * resolution
    out: list[tuple[int, int, dict[str, Any] | None, frozenset[str] | None]] = []
    for ts, seconds in source.grid(start, end, resolution):
        if ts < source.installed:
            continue
        ready = ts + seconds <= now if complete_only else ts < now
        if not ready and (faults.future_buckets <= 0 or ts >= future_limit):
            break
        if ready and faults.late_hours > 0 and ts + seconds > late_cutoff:
            continue
        values = source.bucket(ts, seconds, resolution)
        slot = ts // SLOT
        if values is not None and faults.negative_rate > 0 and (
            unit_random(source.seed, cid, slot, 7003) < faults.negative_rate
        ):
            _negate(values)
        nulled = None
        if faults.null_rate > 0 and unit_random(source.seed, cid, slot, 7002) < faults.null_rate:
            nulled = frozenset(faults.null_fields) if faults.null_fields is not None else frozenset(values or ())
        out.append((ts, seconds, values, nulled))
    return out


def project(ts: int, values: dict[str, Any] | None, nulled: frozenset[str] | None,
            fields: Sequence[str]) -> dict[str, Any]:
    """The record of ``fields``: a gap is all null, a nulled code null, a missing phase's codes absent."""
    record: dict[str, Any] = {"ts": ts}
    for code in fields:
        if values is None or (nulled is not None and code in nulled):
            record[code] = None
        elif code in values:
            record[code] = values[code]
    return record


def build_records(
    source: Source, start: int, end: int, resolution: int, fields: Sequence[str], *,
    missing_as_null: bool = False, complete_only: bool = True,
) -> list[dict[str, Any]]:
    """The records ``GET /readings`` serves for ``[start, end)`` (data faults applied, no transport fault)."""
    return [
        project(ts, values, nulled, fields)
        for ts, _seconds, values, nulled in build_series(source, start, end, resolution,
                                                         complete_only=complete_only)
        if values is not None or missing_as_null
    ]


def total_record(
    source: Source, start: int, end: int, resolution: int, fields: Sequence[str], *, complete_only: bool = True
) -> list[dict[str, Any]]:
    """``action=total``: one record at ``start`` merging the served buckets (counters summed,
    instants time-weighted, PF/I/Q derived again); no record when no bucket has data."""
    parts = [
        ({k: v for k, v in values.items() if nulled is None or k not in nulled}, seconds)
        for _ts, seconds, values, nulled in build_series(source, start, end, resolution,
                                                         complete_only=complete_only)
        if values is not None
    ]
    if not parts:
        return []
    merged = merge(parts)
    # a missing phase's codes stay absent; other codes without any value are null
    return [{"ts": start, **{code: merged.get(code) for code in fields
                             if code in merged or not code[-1:].isdigit()}}]


def local_day_bounds(day: date, zone: str) -> tuple[int, int]:
    """Unix seconds of local midnight of ``day`` and of the next day in ``zone``."""
    tz = ZoneInfo(zone)
    nxt = day + timedelta(days=1)
    return (int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()),
            int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()))
