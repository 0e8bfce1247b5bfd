"""Reconciliation: our daily kWh against Eniscope's own daily totals, per channel and local day.

For every metering channel in scope, one ``EniscopeHook.get_daily_totals`` request covers all its
settled site-local days of the lookback (``res=86400``; Eniscope cuts days at local midnight in
the channel's zone, see ``eniscope.totals``), under the account's shared request budget. A day
reconciles when |ours - Eniscope's| <= max(``reconcile_abs_tolerance_kwh``,
``reconcile_rel_tolerance`` x Eniscope's). Verdicts (``reconciliation_days``, one row per
channel-day, newest wins):

* ``match``;
* ``mismatch``: never healed for it: the self-heal re-fetches exactly that channel-day;
* ``heal_pending``: healed, but no successful pull of the day since the heal was asked;
* after the heal's pull, Eniscope's own 15-minute data of the day is fetched and summed once:
  equal to ours but not to its daily total -> ``source_inconsistent`` (the source disagrees with
  itself; not re-fetched again, reported by the warn check ``source_totals``), else ``unresolved``.

``reconciliation`` (error) fails on mismatch, heal_pending, unresolved and on channels that could
not be compared; ``source_totals`` (warn) lists the source-inconsistent days.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argo_energy.eniscope.errors import (
    ChannelUnsupportedError,
    EniscopeNotFoundError,
    EniscopeRequestError,
    EniscopeResponseError,
)
from argo_energy.eniscope.parsing import fields_for_channel
from argo_energy.models import Channel
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.days import ChannelDay
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.validation.scope import day_arrays, days_span, load_scope, scope_days
from argo_energy.warehouse.connection import Connection, own_transaction
from argo_energy.warehouse.sql import fetch, sql_text

if TYPE_CHECKING:
    from argo_energy.eniscope.hook import EniscopeHook

log = logging.getLogger(__name__)

MATCH, MISMATCH, HEAL_PENDING = "match", "mismatch", "heal_pending"
UNRESOLVED, SOURCE_INCONSISTENT, NOT_COMPARED = "unresolved", "source_inconsistent", "not_compared"
FAILING = (MISMATCH, HEAL_PENDING, UNRESOLVED, NOT_COMPARED)
# Errors that concern one channel (the others are still compared); auth, config and transient
# trouble fail the check instead (the task's retry comes back later).
CHANNEL_ERRORS = (ChannelUnsupportedError, EniscopeNotFoundError, EniscopeResponseError, EniscopeRequestError)


@dataclass(frozen=True, slots=True)
class Prior:
    """What earlier runs left for a channel-day: verdict and numbers, the reconciliation heal."""

    verdict: str | None = None
    our_kwh: float | None = None
    source_kwh: float | None = None
    source_slots_kwh: float | None = None
    heal_requested_at: datetime | None = None
    heal_run_id: str | None = None
    healed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DayVerdict:
    day: ChannelDay
    our_kwh: float | None
    our_readings: int
    source_kwh: float | None
    source_slots_kwh: float | None
    tolerance_kwh: float
    verdict: str
    prior: Prior

    def finding(self) -> dict[str, Any]:
        heal = self.prior
        return {
            "channel_id": self.day.channel_id, "local_date": self.day.local_date,
            "site": self.day.organization_id, "timezone": self.day.timezone, "verdict": self.verdict,
            "our_kwh": _round(self.our_kwh), "source_kwh": _round(self.source_kwh),
            "diff_kwh": _round(None if self.our_kwh is None or self.source_kwh is None
                               else self.our_kwh - self.source_kwh),
            "tolerance_kwh": _round(self.tolerance_kwh), "source_slots_kwh": _round(self.source_slots_kwh),
            "our_readings": self.our_readings,
            "healed": (f"{heal.heal_run_id} asked {heal.heal_requested_at.isoformat()}"
                       + (f", pulled {heal.healed_at.isoformat()}" if heal.healed_at else ", not pulled yet")
                       if heal.heal_requested_at else None),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# ------------------------------------------------------------------------------------------------
# pure judgement


def tolerance_kwh(source_kwh: float | None, rel: float, abs_kwh: float) -> float:
    """The allowed difference: the larger of ``abs_kwh`` and ``rel`` x |Eniscope's kWh|."""
    return max(abs_kwh, rel * abs(source_kwh)) if source_kwh is not None else abs_kwh


def agrees(a: float | None, b: float | None, tol: float) -> bool:
    """Both present and within ``tol`` (a missing value never agrees: NULL is not 0)."""
    return a is not None and b is not None and abs(a - b) <= tol


def needs_source_slots(ours: float | None, source: float | None, tol: float, prior: Prior) -> bool:
    """Whether Eniscope's 15-minute data of the day must be fetched: healed, pulled, still differing,
    and not already found source-inconsistent with these same numbers (then it is never re-fetched)."""
    if agrees(ours, source, tol) or prior.heal_requested_at is None or prior.healed_at is None:
        return False
    return not (prior.verdict == SOURCE_INCONSISTENT and agrees(prior.our_kwh, ours, tol)
                and agrees(prior.source_kwh, source, tol))


def judge(ours: float | None, source: float | None, tol: float, prior: Prior, slots: float | None) -> str:
    """The verdict of one channel-day (``slots``: Eniscope's 15-minute data summed, when known)."""
    if agrees(ours, source, tol):
        return MATCH
    if prior.heal_requested_at is None:
        return MISMATCH
    if prior.healed_at is None:
        return HEAL_PENDING
    if agrees(slots, ours, tol) and not agrees(slots, source, tol):
        return SOURCE_INCONSISTENT
    return UNRESOLVED


def is_metering(row: Sequence[Any]) -> bool:
    """A channel whose readings carry energy (the ingestion asks sensors for T/RH only)."""
    channel_id, name, channel_type, description, unit = row
    channel = Channel(channel_id=int(channel_id), channel_name=name or "", device_id=None, organization_id=None,
                      channel_type=channel_type, unit=unit, description=description)
    return "E" in fields_for_channel(channel)


# ------------------------------------------------------------------------------------------------
# I/O


def _hook() -> EniscopeHook:
    from argo_energy.eniscope.hook import EniscopeHook

    return EniscopeHook()


def source_slots_kwh(hook: EniscopeHook, day: ChannelDay) -> float | None:
    """Eniscope's own 15-minute energy of the day, summed (None: it served none)."""
    batch = hook.get_readings(day.channel_id, day.start, day.end, fields=("E",), resolution=900)
    values = [r.energy_kwh for r in batch.readings if r.energy_kwh is not None and day.start <= r.ts < day.end]
    return sum(values) if values else None


def _priors(conn: Connection, days: Sequence[ChannelDay]) -> dict[int, Prior]:
    rows = fetch(conn, "validation/reconcile_state.sql", {**day_arrays(days), "days": [d.local_date for d in days]})
    return {int(idx): Prior(*rest) for idx, *rest in rows}


def _compare_channel(hook: EniscopeHook, cfg: ValidationConfig, days: Sequence[ChannelDay],
                     ours: Mapping[int, tuple[float | None, int]], priors: Mapping[int, Prior],
                     index: Mapping[tuple[int, Any], int]) -> list[DayVerdict]:
    """One request for the channel's days, then the verdict of each (and the rare 15-minute fetch)."""
    first = days[0]
    totals = hook.get_daily_totals(first.channel_id, first.local_date, days[-1].local_date, first.timezone)
    out = []
    for day in days:
        i = index[(day.channel_id, day.local_date)]
        our_kwh, readings = ours.get(i, (None, 0))
        source = totals.get(day.local_date)
        tol = tolerance_kwh(source, cfg.reconcile_rel_tolerance, cfg.reconcile_abs_tolerance_kwh)
        prior = priors.get(i, Prior())
        slots = prior.source_slots_kwh
        if needs_source_slots(our_kwh, source, tol, prior):
            slots = source_slots_kwh(hook, day)
        out.append(DayVerdict(day, our_kwh, readings, source, slots, tol, judge(our_kwh, source, tol, prior, slots),
                              prior))
    return out


def record_verdicts(conn: Connection, run_id: str | None, verdicts: Sequence[DayVerdict]) -> None:
    """Upsert the newest verdict of each channel-day into ``reconciliation_days``."""
    if not verdicts:
        return
    with own_transaction(conn) as cur:
        cur.execute(sql_text("validation/reconcile_record.sql"), {
            "run_id": run_id,
            "channel_ids": [v.day.channel_id for v in verdicts],
            "days": [v.day.local_date for v in verdicts],
            "zones": [v.day.timezone for v in verdicts],
            "starts": [v.day.start for v in verdicts],
            "ends": [v.day.end for v in verdicts],
            "our_kwh": [v.our_kwh for v in verdicts],
            "our_readings": [v.our_readings for v in verdicts],
            "source_kwh": [v.source_kwh for v in verdicts],
            "source_slots_kwh": [v.source_slots_kwh for v in verdicts],
            "tolerance_kwh": [v.tolerance_kwh for v in verdicts],
            "verdicts": [v.verdict for v in verdicts],
        })


def reconcile_days(conn: Connection, cfg: ValidationConfig, days: Sequence[ChannelDay], hook: EniscopeHook
                   ) -> tuple[list[DayVerdict], list[dict[str, Any]]]:
    """Verdicts of ``days`` (grouped per channel: one daily-totals request each) and the channels
    that could not be compared (one finding per channel-day, with the error)."""
    ours = {int(i): (None if kwh is None else float(kwh), int(n))
            for i, kwh, n in fetch(conn, "validation/reconcile_ours.sql", day_arrays(days))}
    priors = _priors(conn, days)
    index = {(d.channel_id, d.local_date): i for i, d in enumerate(days)}
    per_channel: dict[int, list[ChannelDay]] = defaultdict(list)
    for day in days:
        per_channel[day.channel_id].append(day)
    verdicts: list[DayVerdict] = []
    problems: list[dict[str, Any]] = []
    for channel_id, channel_days in per_channel.items():
        try:
            verdicts.extend(_compare_channel(hook, cfg, channel_days, ours, priors, index))
        except CHANNEL_ERRORS as exc:
            log.warning("channel %s: not compared with Eniscope: %s", channel_id, exc)
            problems.extend({"channel_id": channel_id, "local_date": d.local_date, "verdict": NOT_COMPARED,
                             "error": str(exc).splitlines()[0][:300]} for d in channel_days)
    return verdicts, problems


def metering_days(conn: Connection, days: Iterable[ChannelDay]) -> list[ChannelDay]:
    days = list(days)
    rows = fetch(conn, "validation/metering_channels.sql", {"channel_ids": sorted({d.channel_id for d in days})})
    metering = {int(row[0]) for row in rows if is_metering(row)}
    return [d for d in days if d.channel_id in metering]


def _current_run_id() -> str | None:
    """The Airflow run this check runs in (None outside a task: a test or a console)."""
    from airflow.sdk import get_current_context

    try:
        return str(get_current_context()["run_id"])
    except RuntimeError:
        return None


def check_reconciliation(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    """Our daily kWh vs Eniscope's daily totals for every settled channel-day in scope."""
    if not cfg.reconcile:
        return CheckResult("reconciliation", "error", PASS, "not run: param reconcile is false", checked_count=0)
    scope = load_scope(conn, cfg)
    days = metering_days(conn, scope_days(scope, as_of, cfg))
    span, window = days_span(days, as_of)
    if not days:
        return CheckResult("reconciliation", "error", PASS, f"no settled channel-day to reconcile ({span})",
                           checked_count=0, window_start=window[0], window_end=window[1])
    hook = _hook()
    try:
        verdicts, problems = reconcile_days(conn, cfg, days, hook)
        requests = hook.request_count
    finally:
        hook.close()
    record_verdicts(conn, _current_run_id(), verdicts)
    counts = {v: sum(d.verdict == v for d in verdicts) for v in (MATCH, MISMATCH, HEAL_PENDING, UNRESOLVED,
                                                                  SOURCE_INCONSISTENT)}
    log.info("reconciliation: %d channel-day(s) of %d channel(s) in %d request(s): %s; %d not compared",
             len(days), len({d.channel_id for d in days}), requests,
             ", ".join(f"{k}={n}" for k, n in counts.items()), len(problems))
    findings = [v.finding() for v in verdicts if v.verdict in FAILING] + problems
    note = (f"; {counts[SOURCE_INCONSISTENT]} where Eniscope's daily total disagrees with its own 15-minute "
            "data (see source_totals)" if counts[SOURCE_INCONSISTENT] else "")
    return CheckResult(
        "reconciliation", "error", FAIL if findings else PASS,
        (f"{len(findings)} of {len(days)} channel-day(s) differ from Eniscope's daily totals or could not be "
         f"compared ({counts[MISMATCH]} to heal, {counts[HEAL_PENDING]} heal pending, {counts[UNRESOLVED]} "
         f"unresolved after their heal, {len(problems)} not compared; {span}){note}")
        if findings else
        f"{counts[MATCH]} channel-day(s) equal Eniscope's daily totals within tolerance ({span}){note}",
        checked_count=len(days), failed_count=len(findings), findings=tuple(findings),
        window_start=window[0], window_end=window[1],
    )


def check_source_totals(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    """Channel-days of the lookback where Eniscope's daily total disagrees with its 15-minute data."""
    scope = load_scope(conn, cfg)
    since = (as_of - timedelta(days=cfg.lookback_days + 2)).date()
    rows = fetch(conn, "validation/source_totals.sql",
                 {"channel_ids": [c.channel_id for c in scope.channels], "since": since})
    findings = [
        {"channel_id": cid, "local_date": day, "timezone": tz, "our_kwh": _round(ours),
         "source_kwh": _round(source), "source_slots_kwh": _round(slots), "diff_kwh": _round(diff),
         "tolerance_kwh": _round(tol), "first_mismatch_at": first, "checked_at": checked}
        for cid, day, tz, ours, source, slots, diff, tol, first, checked in rows
    ]
    return CheckResult(
        "source_totals", "warn", FAIL if findings else PASS,
        (f"{len(findings)} channel-day(s) since {since} where Eniscope's daily total differs from its own "
         "15-minute data (ours equals the 15-minute data; not re-fetched)") if findings else
        f"no channel-day since {since} where Eniscope disagrees with itself",
        checked_count=len(scope.channels), failed_count=len(findings), findings=tuple(findings),
    )
