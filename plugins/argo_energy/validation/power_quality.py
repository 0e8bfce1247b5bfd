"""Power-quality checks of ``eniscope_validation`` (issue 19), warn severity by default.

* ``frequency_band``: readings outside the site's nominal frequency +- ``frequency_tolerance_pct``.
  The nominal is the site's: 60 Hz in a 60 Hz country (``organizations.country``), 50 Hz in any
  other known country, and for a site without a country the one of 50/60 nearer to the median its
  meters reported (a 50 Hz site then cannot pass as 60 Hz);
* ``voltage_unbalance``: voltage unbalance (NEMA) above ``voltage_unbalance_max_pct`` for longer
  than ``voltage_unbalance_max_minutes`` in a row;
* ``current_thd``: intervals with current THD above ``thd_max_pct``;
* ``neutral_current``: intervals whose neutral current is above ``neutral_max_ratio`` of the mean
  phase current (overloaded neutral: triplen harmonics, unbalance).

A channel that reports none of these fields gives no finding (single-phase meters have no unbalance
or neutral figure: NULL). Findings are stored and alerted like every check's (``validation.tasks``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.validation.scope import Scope, data_window, load_scope
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch

# Countries on 60 Hz mains (ISO 3166 alpha-2); any other known country is on 50 Hz. Japan is split
# (50 Hz east, 60 Hz west): a Japanese site is judged by its measured frequency.
SIXTY_HZ_COUNTRIES = frozenset({
    "US", "CA", "MX", "PR", "GU", "VI", "AS", "MP", "BR", "CO", "VE", "EC", "PE", "CR", "PA", "NI", "HN", "SV",
    "GT", "BZ", "CU", "DO", "HT", "JM", "BS", "BM", "TT", "KN", "LC", "AG", "MS", "KY", "VG", "AW", "GY",
    "SR", "PH", "KR", "TW", "SA", "LR", "FM", "MH", "PW",
})
_BY_MEASUREMENT = frozenset({"JP"})
COUNTRY_NAMES = {"UNITED STATES": "US", "USA": "US", "CANADA": "CA", "MEXICO": "MX", "BRAZIL": "BR",
                 "PHILIPPINES": "PH", "SOUTH KOREA": "KR", "TAIWAN": "TW", "SAUDI ARABIA": "SA", "JAPAN": "JP"}


def nominal_hz(country: str | None, median_hz: float | None) -> float | None:
    """The site's nominal frequency: by country, else the nearer of 50/60 to its median; None if unknown."""
    code = (country or "").strip().upper()
    code = COUNTRY_NAMES.get(code, code)
    if code and code not in _BY_MEASUREMENT:
        return 60.0 if code in SIXTY_HZ_COUNTRIES else 50.0
    if median_hz is None:
        return None
    return 60.0 if abs(median_hz - 60.0) < abs(median_hz - 50.0) else 50.0


def site_bands(rows: Iterable[Sequence[Any]], tolerance_pct: float) -> dict[str, tuple[float, float, float]]:
    """Rows of pq_site_frequency.sql -> ``{site: (nominal, low, high)}`` for the sites with a nominal."""
    bands: dict[str, tuple[float, float, float]] = {}
    for site, country, median, _readings in rows:
        nominal = nominal_hz(country, None if median is None else float(median))
        if nominal is not None:
            spread = nominal * tolerance_pct / 100.0
            bands[str(site)] = (nominal, nominal - spread, nominal + spread)
    return bands


def _result(name: str, cfg: ValidationConfig, findings: list[dict[str, Any]], checked: int, ok: str, bad: str,
            window: tuple[datetime, datetime]) -> CheckResult:
    return CheckResult(name, cfg.severity(name, "warn"), FAIL if findings else PASS, bad if findings else ok,
                       checked_count=checked, failed_count=len(findings), findings=tuple(findings),
                       window_start=window[0], window_end=window[1])


def _zones(scope: Scope) -> dict[str, Any]:
    return scope.zone_arrays()


def check_frequency_band(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    zones = _zones(scope)
    params = {"start": window[0], "end": window[1], **zones}
    bands = site_bands(fetch(conn, "validation/pq_site_frequency.sql", params), cfg.frequency_tolerance_pct)
    site_of = {c.channel_id: str(c.organization_id) for c in scope.channels}
    banded = [cid for cid in zones["zone_channels"] if site_of[cid] in bands]
    rows = fetch(conn, "validation/pq_frequency.sql", {
        "start": window[0], "end": window[1], "zone_channels": banded,
        "zones": [scope.zones[cid] for cid in banded],
        "lows": [bands[site_of[cid]][1] for cid in banded], "highs": [bands[site_of[cid]][2] for cid in banded],
    })
    findings = [
        {"channel_id": cid, "site": site_of[cid], "local_date": day, "readings": n, "nominal_hz": bands[site_of[cid]][0],
         "min_hz": round(float(low), 3), "max_hz": round(float(high), 3), "first_at": first}
        for cid, day, n, low, high, first in rows
    ]
    sites = ", ".join(f"{site} {band[0]:g} Hz" for site, band in sorted(bands.items())) or "no site reports F"
    return _result(
        "frequency_band", cfg, findings, len(banded),
        ok=f"every frequency within +-{cfg.frequency_tolerance_pct:g} % of nominal ({sites})",
        bad=f"{len(findings)} channel-day(s) with frequency outside +-{cfg.frequency_tolerance_pct:g} % "
            f"of nominal ({sites})",
        window=window,
    )


def check_voltage_unbalance(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/pq_voltage_unbalance.sql", {
        "start": window[0], "end": window[1], "max_pct": cfg.voltage_unbalance_max_pct,
        "max_minutes": cfg.voltage_unbalance_max_minutes, **_zones(scope),
    })
    findings = [
        {"channel_id": cid, "local_date": day, "run_start": start, "run_end": end, "minutes": int(minutes),
         "max_unbalance_pct": round(float(top), 3)}
        for cid, day, start, end, minutes, top in rows
    ]
    limit = f"{cfg.voltage_unbalance_max_pct:g} % for more than {cfg.voltage_unbalance_max_minutes} min"
    return _result(
        "voltage_unbalance", cfg, findings, len(scope.channels),
        ok=f"no voltage unbalance above {limit}",
        bad=f"{len(findings)} period(s) of voltage unbalance above {limit}",
        window=window,
    )


def _thd_neutral_rows(conn: Connection, cfg: ValidationConfig, as_of: datetime
                      ) -> tuple[Scope, tuple[datetime, datetime], list[tuple[Any, ...]]]:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/pq_thd_neutral.sql", {
        "start": window[0], "end": window[1], "thd_max_pct": cfg.thd_max_pct,
        "neutral_max_ratio": cfg.neutral_max_ratio, **_zones(scope),
    })
    return scope, window, rows


def evaluate_thd_neutral(rows: Iterable[Sequence[Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of pq_thd_neutral.sql -> (THD findings, neutral findings), one per channel-day each. Pure."""
    thd: list[dict[str, Any]] = []
    neutral: list[dict[str, Any]] = []
    for cid, day, thd_n, thd_max, neutral_n, ratio_max in rows:
        if thd_n:
            thd.append({"channel_id": cid, "local_date": day, "intervals": int(thd_n),
                        "max_thd_pct": round(float(thd_max), 3)})
        if neutral_n:
            neutral.append({"channel_id": cid, "local_date": day, "intervals": int(neutral_n),
                            "max_neutral_ratio": round(float(ratio_max), 4)})
    return thd, neutral


def check_current_thd(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope, window, rows = _thd_neutral_rows(conn, cfg, as_of)
    findings, _ = evaluate_thd_neutral(rows)
    return _result(
        "current_thd", cfg, findings, len(scope.channels),
        ok=f"no current THD above {cfg.thd_max_pct:g} %",
        bad=f"{len(findings)} channel-day(s) with current THD above {cfg.thd_max_pct:g} %",
        window=window,
    )


def check_neutral_current(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope, window, rows = _thd_neutral_rows(conn, cfg, as_of)
    _, findings = evaluate_thd_neutral(rows)
    share = f"{cfg.neutral_max_ratio:g} x the mean phase current"
    return _result(
        "neutral_current", cfg, findings, len(scope.channels),
        ok=f"no neutral current above {share}",
        bad=f"{len(findings)} channel-day(s) with neutral current above {share} (overloaded neutral?)",
        window=window,
    )


# name, default severity, summary, run: registered in validation.checks.CHECKS
POWER_QUALITY_CHECKS: tuple[tuple[str, str, str, Any], ...] = (
    ("frequency_band", "warn", "frequency within frequency_tolerance_pct of the site's nominal 50/60 Hz",
     check_frequency_band),
    ("voltage_unbalance", "warn", "voltage unbalance (NEMA) not above voltage_unbalance_max_pct for longer "
     "than voltage_unbalance_max_minutes", check_voltage_unbalance),
    ("current_thd", "warn", "current THD not above thd_max_pct", check_current_thd),
    ("neutral_current", "warn", "neutral current not above neutral_max_ratio x the mean phase current",
     check_neutral_current),
)
