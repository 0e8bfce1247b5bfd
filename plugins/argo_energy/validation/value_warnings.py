"""The original ``validate_data.py`` warnings, restored as warn-severity checks.

* ``null_values``: readings whose energy or power is NULL, per channel and site-local day (a row
  with both NULL is neither received nor fresh for completeness and freshness);
* ``high_power``: readings above ``high_power_kw`` (1,000 kW by default; a W-as-kW slip);
* ``never_reported``: channels in the catalogue without a single reading that carries a value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.validation.scope import data_window, load_scope
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch


def _warn(name: str, findings: list[dict[str, Any]], checked: int, ok: str, bad: str,
          window: tuple[datetime, datetime] | None = None) -> CheckResult:
    return CheckResult(name, "warn", FAIL if findings else PASS, bad if findings else ok,
                       checked_count=checked, failed_count=len(findings), findings=tuple(findings),
                       window_start=window[0] if window else None, window_end=window[1] if window else None)


def check_null_values(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/null_values.sql",
                 {"start": window[0], "end": window[1], **scope.zone_arrays()})
    findings = [
        {"channel_id": cid, "local_date": day, "readings": n, "energy_null": e, "power_null": p, "both_null": both}
        for cid, day, n, e, p, both in rows
    ]
    both_null = sum(f["both_null"] for f in findings)
    return _warn(
        "null_values", findings, len(scope.channels),
        ok=f"no reading with NULL energy or power in the last {cfg.lookback_days} day(s)",
        bad=f"{len(findings)} channel-day(s) have readings with NULL energy or power "
            f"({both_null} reading(s) with neither: not counted as received or fresh)",
        window=window,
    )


def check_high_power(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    window = data_window(as_of, cfg.lookback_days)
    rows = fetch(conn, "validation/high_power.sql",
                 {"start": window[0], "end": window[1], "max_kw": cfg.high_power_kw, **scope.zone_arrays()})
    findings = [
        {"channel_id": cid, "local_date": day, "readings": n, "max_power_kw": round(float(top), 3), "first_at": first}
        for cid, day, n, top, first in rows
    ]
    return _warn(
        "high_power", findings, len(scope.channels),
        ok=f"no reading above {cfg.high_power_kw:g} kW",
        bad=f"{len(findings)} channel-day(s) have readings above {cfg.high_power_kw:g} kW "
            "(a unit slip, W stored as kW, looks like this)",
        window=window,
    )


def check_never_reported(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    scope = load_scope(conn, cfg)
    findings = [{"channel_id": cid, "problem": "never pulled, no reading"} for cid in scope.never_seen]
    findings += [{"channel_id": c.channel_id, "site": c.organization_id,
                  "problem": "pulled, but no reading with energy or power ever"}
                 for c in scope.channels if c.newest_reading is None]
    checked = len(scope.channels) + len(scope.never_seen)
    return _warn(
        "never_reported", findings, checked,
        ok=f"every one of {checked} channel(s) has reported a reading with a value",
        bad=f"{len(findings)} of {checked} channel(s) never reported a reading with energy or power "
            f"({scope.note()})",
    )
