"""The ``rollups`` check of ``eniscope_validation``: the daily rollup equals a recomputation from readings.

A random sample of site-local meter-days of the lookback is recomputed from ``v_clean_readings``
and compared with ``rollup_daily_usage`` (``warehouse.rollups.compare_sampled_days``). A mismatch is
a finding, and those meter-days (and the UTC hours overlapping them) are rebuilt at once in the
same run (``warehouse.rollups.rebuild_meter_days``); the result says what was rebuilt.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.rollups import compare_sampled_days, rebuild_meter_days

log = logging.getLogger(__name__)

CHECK_NAME = "rollups"
SEVERITY = "warn"
SUMMARY = "sampled meter-days of the daily rollup equal a recomputation from readings (mismatches rebuilt)"


def check_rollups(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    """Sample ``cfg.rollup_sample_days`` meter-days of the lookback; rebuild the ones that differ."""
    compared = compare_sampled_days(conn, as_of=as_of, days=cfg.lookback_days, sample=cfg.rollup_sample_days)
    findings = list(compared.mismatches)
    rebuilt = ""
    if findings:
        done = rebuild_meter_days(conn, [(int(f["channel_id"]), f["local_date"]) for f in findings])
        for finding in findings:
            finding["rebuilt"] = True
        rebuilt = f"; rebuilt them ({done.days} meter-day(s), {done.hours} meter-hour(s) recomputed)"
    log.info("rollups check: %s meter-day(s) sampled, %s differed%s", compared.sampled, len(findings), rebuilt)
    window = (as_of - timedelta(days=cfg.lookback_days), as_of)
    return CheckResult(
        check_name=CHECK_NAME,
        severity=SEVERITY,
        status=FAIL if findings else PASS,
        message=(f"{len(findings)} of {compared.sampled} sampled meter-day(s) differed from the readings{rebuilt}"
                 if findings else f"{compared.sampled} sampled meter-day(s) equal a recomputation from readings"),
        checked_count=compared.sampled,
        failed_count=len(findings),
        findings=tuple(findings),
        window_start=window[0],
        window_end=window[1],
    )
