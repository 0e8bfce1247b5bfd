"""``default_args`` and the run-level bounds and alerts shared by every DAG.

Bounded time everywhere: every task has an ``execution_timeout`` (``TASK_TIMEOUTS`` per kind of
task, ``DEFAULT_TASK_TIMEOUT`` otherwise), every DAG a ``dagrun_timeout`` (``DAGRUN_TIMEOUTS``).
One alert per failed run: tasks only record their failure (``run_alerts.record_task_failure``);
the DAG's ``on_failure_callback`` (``run_callbacks()``) sends one Slack message and one email per
failed or timed-out run. ``deadline(...)`` builds the DAGs' ``DeadlineAlert``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from argo_energy.run_alerts import RunFailureAlert, record_task_failure

OWNER = "data-platform"

# Closed set of tags; tests/dags enforces it.
ALLOWED_TAGS = frozenset({"eniscope", "ingestion", "backfill", "validation", "report", "warehouse"})

DEFAULT_TASK_TIMEOUT = timedelta(minutes=30)
# execution_timeout per kind of task. A readings batch is bounded anyway by the hook's per-request
# wall-clock deadline x retries per window; this is the backstop for the whole batch.
TASK_TIMEOUTS: dict[str, timedelta] = {
    "migrations": timedelta(minutes=15),
    "metadata": timedelta(minutes=20),
    "readings_daily": timedelta(hours=2),
    "readings_backfill": timedelta(hours=8),
    "view_build": timedelta(minutes=10),
    "refresh": timedelta(minutes=45),
    "status": timedelta(minutes=10),
    "check": timedelta(minutes=20),
    "heal": timedelta(minutes=5),
    "report_build": timedelta(minutes=30),
    "report_delivery": timedelta(minutes=10),
}
# dagrun_timeout per DAG: shorter than the schedule's period, so a hung run never blocks the next.
DAGRUN_TIMEOUTS: dict[str, timedelta] = {
    "daily_sync": timedelta(hours=6),
    "backfill": timedelta(hours=24),
    "validation": timedelta(hours=2),
    "report": timedelta(hours=3),
}
# Deadlines (DeadlineAlert, from when the run was queued): the 02:00 UTC daily sync finished by
# 06:00 UTC; a validation run within one hour.
DEADLINES: dict[str, timedelta] = {
    "daily_sync": timedelta(hours=4),
    "validation": timedelta(hours=1),
}


def task_timeout(kind: str) -> timedelta:
    """The ``execution_timeout`` of a task of ``kind`` (a key of ``TASK_TIMEOUTS``)."""
    return TASK_TIMEOUTS[kind]


def default_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "execution_timeout": DEFAULT_TASK_TIMEOUT,
        # Records the failure (last try) for the run alert; sends nothing itself.
        "on_failure_callback": [record_task_failure],
    }
    args.update(overrides)
    return args


def run_callbacks() -> list[Any]:  # Any: DAG wants list[Callable[[Context], None]] (invariant)
    """The DAG ``on_failure_callback``: one alert per failed or timed-out run."""
    return [RunFailureAlert()]


def deadline(name: str, what: str) -> Any:
    """A ``DeadlineAlert``: the run not finished ``DEADLINES[name]`` after it was queued -> one alert."""
    # The submodules: airflow.sdk exports these lazily, which mypy cannot see.
    from airflow.sdk.definitions.callback import SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=DEADLINES[name],
        callback=SyncCallback("argo_energy.run_alerts.deadline_missed", kwargs={"what": what}),
        name=f"{name}_deadline",
    )
