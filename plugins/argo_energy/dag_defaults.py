"""``default_args`` shared by every DAG: owner, retries and the failure alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from argo_energy.alerts import failure_callbacks

OWNER = "data-platform"

# Closed set of tags; tests/dags enforces it.
ALLOWED_TAGS = frozenset({"eniscope", "ingestion", "backfill", "validation", "report", "warehouse"})


def default_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": failure_callbacks(),
    }
    args.update(overrides)
    return args
