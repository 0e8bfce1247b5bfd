"""Validation check ``catalog_quarantine``: catalog records the metadata sync left out, still unresolved.

The metadata sync quarantines an organisation, device or channel whose record it cannot use (see
``ingest.quarantine``) and syncs the others; this check keeps each such record visible until a
later sync sees it healthy. A quarantined site's readings are not fetched at all, so nothing
else would notice a site that never synced.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.sql import fetch

NAME = "catalog_quarantine"


def evaluate_quarantine(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """One finding per open quarantine row (pure)."""
    return [
        {
            "kind": kind, "record_id": record_id, "site": org, "reason": reason, "detail": detail,
            "first_seen_at": first, "last_seen_at": last,
            **({"channel_id": int(record_id)} if kind == "channel" and str(record_id).isdigit() else {}),
        }
        for kind, record_id, org, reason, detail, first, last in rows
    ]


def check_catalog_quarantine(conn: Connection, cfg: ValidationConfig, as_of: datetime) -> CheckResult:
    """Fails while any catalog record is quarantined and not seen healthy since."""
    findings = evaluate_quarantine(fetch(conn, "validation/catalog_quarantine.sql"))
    kinds = {kind: sum(f["kind"] == kind for f in findings) for kind in ("organization", "device", "channel")}
    return CheckResult(
        check_name=NAME,
        severity="warn",
        status=FAIL if findings else PASS,
        message=(
            f"{len(findings)} catalog record(s) quarantined by the metadata sync and not synced "
            f"({', '.join(f'{n} {k}(s)' for k, n in kinds.items() if n)}): "
            + "; ".join(str(f["detail"]) for f in findings[:5])
            if findings else "no catalog record is quarantined"
        ),
        checked_count=len(findings),
        failed_count=len(findings),
        findings=tuple(findings),
    )
