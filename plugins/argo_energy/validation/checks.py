"""The data-quality checks of ``eniscope_validation``: their registry and evaluation.

Each Python check is ``run(conn, cfg, as_of) -> CheckResult``: it reads the channels in scope
(``validation.scope``) and the SQL of ``include/sql/validation/`` through ``warehouse.sql``
(values bound, never pasted) and judges the rows with a pure
``evaluate_*`` function. Checks that a common-sql check operator expresses (duplicates, value
ranges, voltage band, mv_hourly_usage staleness) are defined in ``validation.operators``; their
``details_*`` functions here name the channels and days when such a check fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import sql

from argo_energy.sitetime import local_date
from argo_energy.validation import rollups as rollup_check
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.days import ChannelDay, ChannelScope
from argo_energy.validation.power_quality import POWER_QUALITY_CHECKS
from argo_energy.validation.quarantine import NAME as QUARANTINE_CHECK
from argo_energy.validation.quarantine import check_catalog_quarantine
from argo_energy.validation.reconcile import check_reconciliation, check_source_totals
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.validation.schema import EXPECTED_RELATIONS, evaluate_schema
from argo_energy.validation.scope import (
    data_window,
    day_arrays,
    days_span,
    load_scope,
    local_dates_between,
    scope_days,
)
from argo_energy.validation.value_warnings import check_high_power, check_never_reported, check_null_values
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch, sql_text

log = logging.getLogger(__name__)

# Voltage band under load, from the seed's validate_data.py (100-600 V).
VOLTAGE_MIN_V = 100.0
VOLTAGE_MAX_V = 600.0


def _result(name: str, severity: str, failing: Sequence[Mapping[str, Any]], checked: int, ok: str,
            bad: str, window: tuple[datetime, datetime] | None = None) -> CheckResult:
    return CheckResult(
        check_name=name,
        severity=severity,
        status=FAIL if failing else PASS,
        message=bad if failing else ok,
        checked_count=checked,
        failed_count=len(failing),
        findings=tuple(failing),
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
    )


# ------------------------------------------------------------------------------------------------
# schema


def check_schema(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    names = list(EXPECTED_RELATIONS)
    columns = fetch(conn, "validation/catalog_columns.sql", {"relations": names})
    indexes = fetch(conn, "validation/catalog_indexes.sql", {"relations": names})
    findings, checked = evaluate_schema(columns, indexes)
    return _result(
        "schema", "error", findings, checked,
        ok=f"{len(names)} tables and views with the expected columns, types and indexes",
        bad=f"{len(findings)} problem(s) with the warehouse objects: "
            + "; ".join(f"{f['object']} {f['problem']}" for f in findings[:5]),
    )


# ------------------------------------------------------------------------------------------------
# freshness


def evaluate_freshness(channels: Iterable[ChannelScope], as_of: datetime, hours: float
                       ) -> tuple[list[dict[str, Any]], int]:
    """Channels whose newest reading is older than ``hours`` at ``as_of`` (or that have none)."""
    limit = timedelta(hours=hours)
    findings: list[dict[str, Any]] = []
    checked = 0
    for ch in channels:
        checked += 1
        if ch.newest_reading is None:
            findings.append({"channel_id": ch.channel_id, "site": ch.organization_id,
                             "newest_reading": None, "age_hours": None, "problem": "pulled but no reading ever"})
        elif as_of - ch.newest_reading > limit:
            age = (as_of - ch.newest_reading).total_seconds() / 3600
            findings.append({"channel_id": ch.channel_id, "site": ch.organization_id,
                             "local_date": local_date(ch.newest_reading, ch.timezone),
                             "newest_reading": ch.newest_reading, "age_hours": round(age, 2)})
    return findings, checked


def check_freshness(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    findings, checked = evaluate_freshness(scope.channels, as_of, cfg.freshness_hours)
    if not scope.channels:
        # An empty warehouse is not fresh: the ingestion never delivered anything.
        findings = [{"problem": "no channel has any reading or pulled window: has the ingestion run?"}]
    return _result(
        "freshness", "error", findings, checked,
        ok=f"every channel has a reading within {cfg.freshness_hours:g} h ({scope.note()})",
        bad=f"{len(findings)} of {checked} channel(s) have no reading within {cfg.freshness_hours:g} h "
            f"of {as_of.isoformat()} ({scope.note()})",
    )


# ------------------------------------------------------------------------------------------------
# completeness


def evaluate_completeness(
    days: Sequence[ChannelDay],
    counts: Mapping[int, tuple[int, int]],
    heals: Mapping[tuple[int, date], Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Channel-days with fewer distinct slots than expected; ``counts[i] = (received, rejected)``."""
    findings = []
    for i, day in enumerate(days):
        received, rejected = counts.get(i, (0, 0))
        expected = day.expected_slots
        if received < expected:
            heal = heals.get((day.channel_id, day.local_date))
            findings.append({
                "channel_id": day.channel_id,
                "local_date": day.local_date,
                "site": day.organization_id,
                "timezone": day.timezone,
                "expected": expected,
                "received": received,
                "missing": expected - received,
                "rejected": rejected,
                "healed": (f"{heal['status']} by {heal['backfill_run_id']} at {heal['requested_at']}"
                           if heal else None),
            })
    return findings


def load_heals(conn: Connection, channel_ids: Sequence[int], since: date) -> dict[tuple[int, date], dict[str, Any]]:
    rows = fetch(conn, "validation/heal_requests.sql",
                 {"channel_ids": list(channel_ids), "since": since, "reason": "completeness"})
    return {
        (int(cid), day): {"status": status, "backfill_run_id": run_id, "requested_at": at.isoformat()}
        for cid, day, status, run_id, at in rows
    }


def check_completeness(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    days = scope_days(scope, as_of, cfg)
    counts: dict[int, tuple[int, int]] = {}
    heals: dict[tuple[int, date], dict[str, Any]] = {}
    if days:
        rows = fetch(conn, "validation/completeness.sql", day_arrays(days))
        counts = {idx: (int(received), int(rejected)) for idx, received, rejected in rows}
        heals = load_heals(conn, [c.channel_id for c in scope.channels], min(d.local_date for d in days))
    findings = evaluate_completeness(days, counts, heals)
    missing = sum(f["missing"] for f in findings)
    healed = sum(1 for f in findings if f["healed"])
    span, window = days_span(days, as_of)
    return _result(
        "completeness", "error", findings, len(days),
        ok=f"{len(days)} channel-day(s) complete ({span}; {scope.note()})",
        bad=f"{len(findings)} of {len(days)} channel-day(s) incomplete, {missing} slot(s) missing "
            f"({span}; {scope.note()}); {healed} of them were healed before and are still incomplete",
        window=window,
    )


# ------------------------------------------------------------------------------------------------
# windows never pulled


def evaluate_never_pulled(days: Sequence[ChannelDay], flags: Mapping[int, tuple[bool, bool]]
                          ) -> list[dict[str, Any]]:
    """Channel-days that no ingestion_logs window overlaps (``flags[i] = (pulled, pulled_ok)``)."""
    return [
        {"channel_id": d.channel_id, "local_date": d.local_date, "site": d.organization_id,
         "timezone": d.timezone}
        for i, d in enumerate(days)
        if not flags.get(i, (False, False))[0]
    ]


def check_windows_never_pulled(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    days = scope_days(scope, as_of, cfg)
    flags: dict[int, tuple[bool, bool]] = {}
    if days:
        flags = {idx: (bool(p), bool(ok)) for idx, p, ok in fetch(conn, "validation/windows_pulled.sql", day_arrays(days))}
    findings = evaluate_never_pulled(days, flags)
    only_failed = sum(1 for i in range(len(days)) if flags.get(i, (False, False)) == (True, False))
    return _result(
        "windows_never_pulled", "warn", findings, len(days),
        ok=f"every one of {len(days)} channel-day(s) was pulled at least once"
           + (f" ({only_failed} only by failed pulls: see ingestion_failures)" if only_failed else ""),
        bad=f"{len(findings)} of {len(days)} channel-day(s) were never asked of the API "
            "(no ingestion_logs window overlaps them)",
        window=days_span(days, as_of)[1],
    )


# ------------------------------------------------------------------------------------------------
# ingestion failures without a later success


def check_ingestion_failures(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    since, _ = data_window(as_of, cfg.failure_lookback_days)
    rows = fetch(conn, "validation/ingestion_failures.sql", {"since": since, "ignored": list(cfg.ignore_channel_ids)})
    findings = []
    for channel_id, org, start, end, attempts, last_at, last_error, last_run in rows:
        zone = scope.zones.get(int(channel_id), "UTC")
        findings.append({
            "channel_id": channel_id, "local_date": local_date(start, zone), "site": org,
            "window_start": start, "window_end": end, "attempts": attempts, "last_failed_at": last_at,
            "last_run_id": last_run, "error": (last_error or "").splitlines()[0][:200] if last_error else None,
        })
    return _result(
        "ingestion_failures", "error", findings, len(rows),
        ok=f"no failed pull since {since.isoformat()} is left without a later success",
        bad=f"{len(findings)} failed window(s) since {since.isoformat()} have no later success",
        window=(since, as_of),
    )


# ------------------------------------------------------------------------------------------------
# energy vs power


def evaluate_energy_power(rows: Iterable[Sequence[Any]], max_share: float) -> tuple[list[dict[str, Any]], int]:
    """Channel-days where more than ``max_share`` of the judged intervals are inconsistent."""
    findings, checked = [], 0
    for channel_id, day, judged, inconsistent, worst in rows:
        checked += 1
        if judged and inconsistent / judged > max_share:
            findings.append({"channel_id": channel_id, "local_date": day, "intervals": judged,
                             "inconsistent": inconsistent, "share": round(inconsistent / judged, 4),
                             "worst_diff_kwh": round(float(worst), 6) if worst is not None else None})
    return findings, checked


def check_energy_power(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/energy_power.sql", {
        "start": window[0], "end": window[1], "abs_tol": cfg.energy_power_abs_tolerance_kwh,
        "rel_tol": cfg.energy_power_rel_tolerance, **scope.zone_arrays(),
    })
    findings, checked = evaluate_energy_power(rows, cfg.energy_power_max_share)
    return _result(
        "energy_power", "warn", findings, checked,
        ok=f"energy matches power x 0.25 h on all {checked} channel-day(s)",
        bad=f"{len(findings)} of {checked} channel-day(s) have over {cfg.energy_power_max_share:.1%} of "
            f"intervals where E differs from P x 0.25 h by more than {cfg.energy_power_rel_tolerance:.1%}",
        window=window,
    )


# ------------------------------------------------------------------------------------------------
# flat lines


def check_flatline(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/flatline.sql", {
        "start": window[0], "end": window[1], "min_intervals": cfg.flatline_min_intervals,
        **scope.zone_arrays(),
    })
    findings = [
        {"channel_id": cid, "local_dates": local_dates_between(start, end, scope.zones.get(int(cid), "UTC")),
         "run_start": start, "run_end": end, "intervals": n, "value_kwh": float(value)}
        for cid, start, end, n, value in rows
    ]
    return _result(
        "flatline", "warn", findings, len(scope.channels),
        ok=f"no run of {cfg.flatline_min_intervals}+ identical non-zero energy readings",
        bad=f"{len(findings)} flat run(s) of {cfg.flatline_min_intervals}+ identical non-zero energy "
            f"readings on {len({f['channel_id'] for f in findings})} channel(s)",
        window=window,
    )


# ------------------------------------------------------------------------------------------------
# details of the operator-based checks (run only when the operator's check failed)


def details_duplicates(conn: Connection, cfg: ValidationConfig, as_of: datetime, table: str = "readings"
                       ) -> list[dict[str, Any]]:
    scope = load_scope(conn, cfg)
    start, end = data_window(as_of, cfg.lookback_days)
    query = sql.SQL(sql_text("validation/duplicates_details.sql")).format(table=sql.Identifier(table))
    rows = fetch(conn, query, {"start": start, "end": end, **scope.zone_arrays(in_scope_only=False)})
    return [
        {"channel_id": cid, "local_date": day, "slot": slot, "readings": n, "distinct_timestamps": distinct}
        for cid, day, slot, n, distinct in rows
    ]


def _range_rows(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> list[tuple[Any, ...]]:
    scope = load_scope(conn, cfg)
    start, end = data_window(as_of, cfg.lookback_days)
    return fetch(conn, "validation/value_ranges_details.sql", {
        "start": start, "end": end, "voltage_min": VOLTAGE_MIN_V, "voltage_max": VOLTAGE_MAX_V,
        **scope.zone_arrays(in_scope_only=False),
    })


def details_value_ranges(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> list[dict[str, Any]]:
    return [
        {"channel_id": cid, "local_date": day, "negative_energy": ne, "negative_power": np_,
         "power_factor_out_of_range": pf}
        for cid, day, ne, np_, pf, _v in _range_rows(conn, cfg, as_of)
        if ne or np_ or pf
    ]


def details_voltage_band(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> list[dict[str, Any]]:
    return [
        {"channel_id": cid, "local_date": day, "voltage_out_of_band": v,
         "band_v": f"{VOLTAGE_MIN_V:g}-{VOLTAGE_MAX_V:g}"}
        for cid, day, _ne, _np, _pf, v in _range_rows(conn, cfg, as_of)
        if v
    ]


def details_mv_staleness(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> list[dict[str, Any]]:
    scope = load_scope(conn, cfg)
    query = sql.SQL(sql_text("validation/mv_staleness_details.sql")).format(diff=sql.SQL(sql_text("validation/mv_staleness_diff.sql")))
    rows = fetch(conn, query, {"as_of": as_of, "days": cfg.mv_compare_days,
                                     **scope.zone_arrays(in_scope_only=False)})
    return [
        {"channel_id": cid, "local_date": day, "hour": hour, "readings_now": now, "readings_in_view": view,
         "kwh_now": kwh_now, "kwh_in_view": kwh_view}
        for cid, day, hour, now, view, kwh_now, kwh_view in rows
    ]


# ------------------------------------------------------------------------------------------------
# registry


CheckRun = Callable[[Connection, ValidationConfig, datetime], CheckResult]
Details = Callable[[Connection, ValidationConfig, datetime], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A check: name (task ``check_<name>``), default severity, what it verifies, how it runs."""

    name: str
    severity: str
    summary: str
    run: CheckRun | None = None  # Python checks
    details: Details | None = None  # operator checks: who failed, when the operator says so


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("schema", "error", "tables and views present with the expected column types and indexes",
              run=check_schema),
    CheckSpec("freshness", "error", "every active channel has a reading within freshness_hours",
              run=check_freshness),
    CheckSpec("completeness", "error", "expected vs received 15-minute slots per channel and site-local day",
              run=check_completeness),
    CheckSpec("ingestion_failures", "error", "failed pulls in ingestion_logs are followed by a success",
              run=check_ingestion_failures),
    CheckSpec("windows_never_pulled", "warn", "every channel-day was asked of the API at least once",
              run=check_windows_never_pulled),
    CheckSpec("duplicates", "error", "one reading per channel and 15-minute slot", details=details_duplicates),
    CheckSpec("value_ranges", "error", "no negative energy or power; power factor within [-1, 1]",
              details=details_value_ranges),
    CheckSpec("voltage_band", "warn", f"voltage within {VOLTAGE_MIN_V:g}-{VOLTAGE_MAX_V:g} V while drawing power",
              details=details_voltage_band),
    CheckSpec("energy_power", "warn", "E close to P x 0.25 h per interval", run=check_energy_power),
    CheckSpec("flatline", "warn", "no long run of identical non-zero energy readings", run=check_flatline),
    CheckSpec("mv_staleness", "warn", "mv_hourly_usage matches the readings (refreshed after the newest ingestion)",
              details=details_mv_staleness),
    CheckSpec("reconciliation", "error", "daily kWh per metering channel equals Eniscope's own daily total",
              run=check_reconciliation),
    CheckSpec("source_totals", "warn", "Eniscope's daily totals agree with its own 15-minute data",
              run=check_source_totals),
    CheckSpec("null_values", "warn", "no reading with NULL energy or power", run=check_null_values),
    CheckSpec("high_power", "warn", "no reading above high_power_kw (1,000 kW)", run=check_high_power),
    CheckSpec("never_reported", "warn", "every channel has reported a reading with a value",
              run=check_never_reported),
    *(CheckSpec(name, severity, summary, run=run) for name, severity, summary, run in POWER_QUALITY_CHECKS),
    CheckSpec(rollup_check.CHECK_NAME, rollup_check.SEVERITY, rollup_check.SUMMARY, run=rollup_check.check_rollups),
    CheckSpec(QUARANTINE_CHECK, "warn", "no organisation, device or channel record left out by the metadata sync",
              run=check_catalog_quarantine),
)
CHECKS_BY_NAME: dict[str, CheckSpec] = {c.name: c for c in CHECKS}
CHECK_NAMES: tuple[str, ...] = tuple(CHECKS_BY_NAME)
