"""One alert per failed run, and deadline alerts, through the Slack and email channels of ``alerts``.

- ``record_task_failure`` is every task's ``on_failure_callback`` (``dag_defaults``). Airflow calls
  it when a task fails on its last try (``on_retry_callback`` covers the others); it sends
  nothing and records the task instance and its first error line in ``pipeline_task_failures``.
- ``RunFailureAlert`` is every DAG's ``on_failure_callback``: when the run fails (a task failed, or
  ``dagrun_timeout`` stopped it, which runs no task callback at all) it sends ONE message per
  channel naming the failed tasks and mapped batches and the first error.
- ``deadline_missed`` is the callback of the DAGs' ``DeadlineAlert`` (a ``SyncCallback``: it runs
  on the executor, with a context holding the run and the deadline).

Nothing here raises: an alert that cannot be built or sent is logged, never masks the failure.
When the warehouse cannot be read, the run alert still goes out with what the context knows.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from argo_energy.alerts import EmailFailureAlert, SlackFailureAlert, _api_base_url, first_error_line
from argo_energy.escaping import clean_text, slack_mrkdwn
from argo_energy.redaction import alert_error
from argo_energy.settings import ENERGY_CONN_ID

log = logging.getLogger(__name__)

MAX_LISTED = 20  # failed task instances named in one message; the rest are counted
REASONS = {
    "timed_out": "the run exceeded its dagrun_timeout; the tasks still running were stopped",
    "task_failure": "a task failed",
}


@dataclass(frozen=True, slots=True)
class RunMessage:
    """A run-level alert (failed run or missed deadline), rendered as text or HTML."""

    dag_id: str
    run_id: str
    title: str
    lines: tuple[tuple[str, str], ...]
    failed: tuple[str, ...] = field(default_factory=tuple)
    url: str | None = None

    @property
    def task_label(self) -> str:
        return f"run {self.run_id}"

    def subject(self) -> str:
        return clean_text(f"[Airflow] {self.title} ({self.run_id})")

    def _rows(self) -> list[tuple[str, str]]:
        return [*self.lines, ("Link", self.url or "unavailable")]

    def text(self) -> str:
        """Slack mrkdwn: every value escaped (an error quoting a name cannot ping or link)."""
        body = [slack_mrkdwn(self.title), *(f"{key}: {slack_mrkdwn(value)}" for key, value in self._rows())]
        body += [f"  - {slack_mrkdwn(name)}" for name in self.failed]
        return "\n".join(body)

    def html(self) -> str:
        rows = "".join(
            f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._rows()
        )
        items = "".join(f"<li>{html.escape(name)}</li>" for name in self.failed)
        return f"<p><b>{html.escape(self.title)}</b></p><table>{rows}</table>" + (f"<ul>{items}</ul>" if items else "")


def run_url(dag_id: str, run_id: str) -> str | None:
    try:
        return f"{_api_base_url().rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
    except Exception:
        return None


def _channels() -> list[SlackFailureAlert | EmailFailureAlert]:
    return [SlackFailureAlert(), EmailFailureAlert()]


def deliver(message: RunMessage, context: Mapping[str, Any]) -> int:
    """Send ``message`` on every channel (muting applies); the number of channels that sent it."""
    return sum(1 for channel in _channels() if channel.deliver(message, context))


# ------------------------------------------------------------------------------------------------
# task level: record, do not send


def record_task_failure(context: Mapping[str, Any], conn_id: str = ENERGY_CONN_ID) -> None:
    """Record this failed task instance (last try) and its first error line for the run alert."""
    try:
        ti: Any = context.get("ti") or context.get("task_instance")
        from argo_energy.warehouse.connection import connect
        from argo_energy.warehouse.operability import record_task_failure as record

        label = getattr(ti, "rendered_map_index", None)
        with closing(connect(conn_id, "write")) as conn:
            record(
                conn, dag_id=str(ti.dag_id), run_id=str(ti.run_id), task_id=str(ti.task_id),
                map_index=getattr(ti, "map_index", None), map_label=str(label) if label else None,
                try_number=getattr(ti, "try_number", None),
                # Alerts leave the log masker's reach: redacted, or withheld without the masker.
                error=alert_error(first_error_line(context.get("exception"))),
            )
    except Exception:
        # The run alert still names the run; only this task's error line is missing from it.
        log.warning("could not record the task failure for the run alert", exc_info=True)


# ------------------------------------------------------------------------------------------------
# DAG level: one message per failed run


def _failures(dag_id: str, run_id: str, conn_id: str) -> list[Any] | None:
    try:
        from argo_energy.warehouse.connection import connect
        from argo_energy.warehouse.operability import run_task_failures

        with closing(connect(conn_id, "read")) as conn:
            return list(run_task_failures(conn, dag_id, run_id))
    except Exception:
        log.warning("could not read the run's task failures; alerting without them", exc_info=True)
        return None


def _listed(names: Sequence[str]) -> tuple[str, ...]:
    if len(names) <= MAX_LISTED:
        return tuple(names)
    return (*names[:MAX_LISTED], f"... and {len(names) - MAX_LISTED} more")


def run_failure_message(
    dag_id: str, run_id: str, reason: str | None, logical_date: datetime | None, failures: list[Any] | None,
    fallback_task: str | None = None,
) -> RunMessage:
    """The one message of a failed run; ``failures`` from ``pipeline_task_failures`` (None: unreadable)."""
    why = REASONS.get(reason or "", reason or "failed")
    lines = [("DAG", dag_id), ("Run", run_id),
             ("Logical date", logical_date.isoformat() if logical_date else "none (manual or triggered run)"),
             ("Reason", why)]
    names: list[str] = []
    if failures:
        names = [f.label for f in failures]
        first = failures[0]
        lines.append(("Failed", f"{len(failures)} task instance(s)"))
        lines.append(("First error", f"{first.label}: {first.error}"))
    elif failures is None:
        lines.append(("Failed", f"{fallback_task or 'unknown'} (task list unavailable: warehouse unreachable)"))
    else:
        lines.append(("Failed", "no task failure recorded" + (f" (last task: {fallback_task})" if fallback_task else "")))
    title = f"Airflow run failed: {dag_id}" + (" (timed out)" if reason == "timed_out" else "")
    return RunMessage(dag_id, run_id, title, tuple(lines), _listed(names), run_url(dag_id, run_id))


class RunFailureAlert:
    """DAG ``on_failure_callback``: one message per channel for the failed run. Never raises."""

    def __init__(self, conn_id: str = ENERGY_CONN_ID) -> None:
        self.conn_id = conn_id

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            dag_run = context.get("dag_run")
            ti = context.get("ti")
            dag_id = str(getattr(context.get("dag"), "dag_id", None) or getattr(dag_run, "dag_id", ""))
            run_id = str(context.get("run_id") or getattr(dag_run, "run_id", ""))
            logical_date = getattr(dag_run, "logical_date", None)
            failures = _failures(dag_id, run_id, self.conn_id)
            message = run_failure_message(
                dag_id, run_id, context.get("reason"), logical_date if isinstance(logical_date, datetime) else None,
                failures, getattr(ti, "task_id", None),
            )
            sent = deliver(message, context)
            log.info("run alert for %s %s: %d failed task instance(s), sent on %d channel(s)", dag_id, run_id,
                     len(failures or []), sent)
        except Exception:
            log.exception("the run alert could not be sent; the run's failure itself is unaffected")


# ------------------------------------------------------------------------------------------------
# deadlines


def deadline_missed(context: Mapping[str, Any] | None = None, what: str = "the run") -> None:
    """``SyncCallback`` of a ``DeadlineAlert``: one message per channel saying which run is late."""
    try:
        run = dict((context or {}).get("dag_run") or {})
        deadline = dict((context or {}).get("deadline") or {})
        dag_id, run_id = str(run.get("dag_id", "unknown-dag")), str(run.get("dag_run_id") or run.get("run_id", ""))
        lines = (("DAG", dag_id), ("Run", run_id), ("Deadline", str(deadline.get("deadline_time", "unknown"))),
                 ("Expected", what), ("State", str(run.get("state", "unknown"))))
        message = RunMessage(dag_id, run_id, f"Airflow deadline missed: {dag_id}", lines, url=run_url(dag_id, run_id))
        sent = deliver(message, context or {})
        log.info("deadline alert for %s %s sent on %d channel(s)", dag_id, run_id, sent)
    except Exception:
        log.exception("the deadline alert could not be sent")
