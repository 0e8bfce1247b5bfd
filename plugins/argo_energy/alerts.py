"""Failure alerts: a Slack incoming webhook and an email, sent from task failure callbacks.

``failure_callbacks()`` goes into ``default_args["on_failure_callback"]`` of every DAG (see
``dag_defaults``). Each channel is active only when its connection exists, and that is decided
when a task fails, never at DAG parse time:

- Slack: ``SlackWebhookNotifier`` of the Slack provider, connection ``settings.SLACK_CONN_ID``
  (``slack_default``, type ``slackwebhook``; password = the webhook URL or token).
- Email: ``SmtpNotifier`` of the SMTP provider, connection ``settings.SMTP_CONN_ID``
  (``smtp_default``); recipients from the Variable ``settings.ALERT_EMAILS_VARIABLE``
  (``alert_emails``: a JSON list, a comma-separated string, or a JSON object that routes by DAG id
  with a ``"default"`` entry).

The Variable ``settings.ALERTS_MUTED_VARIABLE`` (``alerts_muted``: a JSON list of DAG ids, or
``"*"``) silences both channels.
An alert that cannot be sent is logged and dropped: it never raises, so it can never mask the
task's own failure.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote

from argo_energy.escaping import clean_text, slack_mrkdwn
from argo_energy.redaction import alert_error
from argo_energy.settings import (
    ALERT_EMAILS_VARIABLE,
    ALERTS_MUTED_VARIABLE,
    SLACK_CONN_ID,
    SMTP_CONN_ID,
    connection_or_none,
    get_variable,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

log = logging.getLogger(__name__)

# Bounded so that a dead Slack endpoint cannot hold a finished task's slot for long.
SLACK_TIMEOUT_SECONDS = 10
ERROR_LINE_MAX = 300
FALLBACK_FROM_EMAIL = "airflow@localhost"


@dataclass(frozen=True, slots=True)
class FailureAlert:
    """What one failure alert says; built from the task context, rendered as text or HTML."""

    dag_id: str
    task_id: str
    run_id: str
    logical_date: datetime | None
    try_number: int | None
    max_tries: int | None
    error: str
    log_url: str | None
    map_index: int | None = None

    @property
    def task_label(self) -> str:
        if self.map_index is not None and self.map_index >= 0:
            return f"{self.task_id}[{self.map_index}]"
        return self.task_id

    @property
    def tries_label(self) -> str:
        if self.try_number is None:
            return "unknown"
        if self.max_tries is None:
            return str(self.try_number)
        return f"{self.try_number} of {self.max_tries + 1}"

    @property
    def logical_date_label(self) -> str:
        return self.logical_date.isoformat() if self.logical_date else "none (manual or triggered run)"

    def subject(self) -> str:
        return clean_text(f"[Airflow] {self.dag_id}.{self.task_label} failed ({self.run_id})")

    def lines(self) -> list[tuple[str, str]]:
        return [
            ("DAG", self.dag_id),
            ("Task", self.task_label),
            ("Run", self.run_id),
            ("Logical date", self.logical_date_label),
            ("Try", self.tries_label),
            ("Error", self.error),
            ("Log", self.log_url or "unavailable"),
        ]

    def text(self) -> str:
        """Slack mrkdwn: every value escaped (an error quoting a portal name cannot ping or link)."""
        head = slack_mrkdwn(f"Airflow task failed: {self.dag_id}.{self.task_label}")
        return "\n".join([head, *(f"{key}: {slack_mrkdwn(value)}" for key, value in self.lines())])

    def html(self) -> str:
        rows = []
        for key, value in self.lines():
            cell = html.escape(value)
            if key == "Log" and self.log_url:
                cell = f'<a href="{html.escape(self.log_url, quote=True)}">{cell}</a>'
            rows.append(f"<tr><th align='left'>{html.escape(key)}</th><td>{cell}</td></tr>")
        title = html.escape(f"Airflow task failed: {self.dag_id}.{self.task_label}")
        return f"<p><b>{title}</b></p><table>{''.join(rows)}</table>"


class Alert(Protocol):
    """What a channel sends: a failed task (``FailureAlert``), a failed run or a missed deadline."""

    @property
    def dag_id(self) -> str: ...

    @property
    def task_label(self) -> str: ...

    def subject(self) -> str: ...

    def text(self) -> str: ...

    def html(self) -> str: ...


def first_error_line(error: BaseException | str | None) -> str:
    """The first non-blank line of the error, prefixed by its type, at most ERROR_LINE_MAX chars."""
    if error is None:
        return "no error recorded (the task may have been killed or timed out)"
    if isinstance(error, BaseException):
        message = str(error)
        kind = type(error).__name__
    else:
        message, kind = str(error), ""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    line = f"{kind}: {first}" if kind and first else (first or kind or "unknown error")
    if len(line) > ERROR_LINE_MAX:
        line = line[: ERROR_LINE_MAX - 1] + "…"
    return line


def build_log_url(
    base_url: str, dag_id: str, run_id: str, task_id: str, map_index: int | None, try_number: int | None
) -> str:
    """The task log page of the web UI, in the route shape Airflow's own ``ti.log_url`` uses."""
    url = f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}/tasks/{quote(task_id)}"
    if map_index is not None and map_index >= 0:
        url += f"/mapped/{map_index}"
    if try_number:
        url += f"?try_number={try_number}"
    return url


def _api_base_url() -> str:
    from airflow.sdk import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/") or "http://localhost:8080/"


def alert_from_context(context: Mapping[str, Any]) -> FailureAlert:
    """Read what the alert needs from a task context; tolerate missing keys and attributes."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "unknown-dag"
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", None) or "unknown-task"
    run_id = getattr(ti, "run_id", None) or context.get("run_id") or getattr(dag_run, "run_id", None) or ""
    map_index = getattr(ti, "map_index", None)
    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    logical_date = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    try:
        log_url = build_log_url(_api_base_url(), dag_id, run_id, task_id, map_index, try_number)
    except Exception:
        log_url = None
    return FailureAlert(
        dag_id=str(dag_id),
        task_id=str(task_id),
        run_id=str(run_id),
        logical_date=logical_date if isinstance(logical_date, datetime) else None,
        try_number=try_number if isinstance(try_number, int) else None,
        max_tries=max_tries if isinstance(max_tries, int) else None,
        error=first_error_line(context.get("exception")),
        log_url=log_url,
        map_index=map_index if isinstance(map_index, int) else None,
    )


def parse_recipients(raw: Any, dag_id: str) -> list[str]:
    """Recipients for ``dag_id`` from the ``alert_emails`` value.

    Accepts a JSON list, a comma/semicolon-separated string, or a JSON object
    ``{"<dag_id>": [...], "default": [...]}`` (the DAG's entry wins; ``[]`` silences that DAG).
    """
    value = raw
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{", '"'):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError:
                value = stripped
        else:
            value = stripped
    if isinstance(value, Mapping):
        value = value.get(dag_id, value.get("default", []))
    if value is None:
        return []
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    elif isinstance(value, list | tuple):
        items = [str(item) for item in value]
    else:
        return []
    seen: dict[str, None] = {}
    for item in items:
        address = item.strip()
        if "@" in address:
            seen.setdefault(address, None)
    return list(seen)


def is_muted(raw: Any, dag_id: str) -> bool:
    """True when the ``alerts_muted`` value names ``dag_id`` (JSON list or comma list) or is ``"*"``."""
    value = raw
    if isinstance(value, str):
        stripped = value.strip()
        try:
            value = json.loads(stripped) if stripped[:1] in ("[", '"') else stripped
        except json.JSONDecodeError:
            value = stripped
    if value is True:
        return True
    if isinstance(value, str):
        names = {part.strip() for part in value.split(",")}
    elif isinstance(value, list | tuple):
        names = {str(part).strip() for part in value}
    else:
        return False
    return "*" in names or dag_id in names


def _muted(dag_id: str) -> bool:
    """Whether Variable ``alerts_muted`` silences ``dag_id``; an unreadable Variable mutes nothing."""
    try:
        return is_muted(get_variable(ALERTS_MUTED_VARIABLE), dag_id)
    except Exception:
        log.warning("Variable %s could not be read; alerting anyway", ALERTS_MUTED_VARIABLE, exc_info=True)
        return False


def _redact(text: str) -> str:
    """The error line an alert may carry (``redaction.alert_error``; kept for run_alerts)."""
    return alert_error(text)


def _build_alert(context: Mapping[str, Any]) -> FailureAlert:
    alert = alert_from_context(context)
    return FailureAlert(
        dag_id=alert.dag_id,
        task_id=alert.task_id,
        run_id=alert.run_id,
        logical_date=alert.logical_date,
        try_number=alert.try_number,
        max_tries=alert.max_tries,
        # Alerts leave the log masker's reach: redacted, or left out when the masker is unavailable.
        error=alert_error(alert.error),
        log_url=alert.log_url,
        map_index=alert.map_index,
    )


class _ChannelAlert:
    """Base of the two channels: never raises, logs what it did."""

    channel = "alert"

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            alert = _build_alert(context)
        except Exception:
            log.exception("%s alert could not be built; the task failure itself is unaffected", self.channel)
            return
        self.deliver(alert, context)

    def deliver(self, alert: Alert, context: Mapping[str, Any]) -> bool:
        """Send ``alert`` unless Variable ``alerts_muted`` names its DAG; never raises. True when sent."""
        try:
            if _muted(alert.dag_id):
                log.info("%s alert for %s.%s muted by Variable %s", self.channel, alert.dag_id,
                         alert.task_label, ALERTS_MUTED_VARIABLE)
                return False
            self.send(alert, context)
            return True
        except Exception:
            # An alert failure must never mask or replace the task's own failure.
            log.exception("%s alert could not be sent; the task failure itself is unaffected", self.channel)
            return False

    def send(self, alert: Alert, context: Mapping[str, Any]) -> None:
        raise NotImplementedError


class SlackFailureAlert(_ChannelAlert):
    """Posts the alert to the Slack incoming webhook of ``conn_id`` when that connection exists."""

    channel = "Slack"

    def __init__(self, conn_id: str = SLACK_CONN_ID) -> None:
        self.conn_id = conn_id

    def send(self, alert: Alert, context: Mapping[str, Any]) -> None:
        if connection_or_none(self.conn_id) is None:
            log.info("Slack alerts disabled: connection %r is not defined", self.conn_id)
            return
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifier = SlackWebhookNotifier(
            slack_webhook_conn_id=self.conn_id, text=alert.text(), timeout=SLACK_TIMEOUT_SECONDS
        )
        # notify(), not notifier(context): the text is final, and rendering it through Jinja
        # would treat braces inside an error message as template syntax.
        notifier.notify(dict(context))
        log.info("Slack alert sent for %s.%s via %r", alert.dag_id, alert.task_label, self.conn_id)


class EmailFailureAlert(_ChannelAlert):
    """Emails the alert through ``conn_id`` to the ``alert_emails`` recipients when both exist."""

    channel = "Email"

    def __init__(self, conn_id: str = SMTP_CONN_ID, recipients_variable: str = ALERT_EMAILS_VARIABLE) -> None:
        self.conn_id = conn_id
        self.recipients_variable = recipients_variable

    def send(self, alert: Alert, context: Mapping[str, Any]) -> None:
        conn = connection_or_none(self.conn_id)
        if conn is None:
            log.info("Email alerts disabled: connection %r is not defined", self.conn_id)
            return
        recipients = parse_recipients(get_variable(self.recipients_variable), alert.dag_id)
        if not recipients:
            log.info("Email alerts disabled for %s: Variable %r names no recipient",
                     alert.dag_id, self.recipients_variable)
            return
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(
            to=recipients,
            from_email=_from_email(conn),
            subject=alert.subject(),
            html_content=alert.html(),
            smtp_conn_id=self.conn_id,
        )
        # See SlackFailureAlert.send for why not notifier(context). The callback's context is the
        # task's Context; it is typed as a Mapping here because tests and Airflow pass plain dicts.
        notifier.notify(cast("Context", dict(context)))
        log.info("Email alert sent for %s.%s to %d recipient(s)", alert.dag_id, alert.task_label,
                 len(recipients))


def _from_email(conn: Connection) -> str:
    extra = getattr(conn, "extra_dejson", None) or {}
    if extra.get("from_email"):
        return str(extra["from_email"])
    try:
        from airflow.sdk import conf

        configured = conf.get("email", "from_email", fallback=None)
    except Exception:
        configured = None
    return configured or FALLBACK_FROM_EMAIL


def failure_callbacks(
    *, slack_conn_id: str = SLACK_CONN_ID, smtp_conn_id: str = SMTP_CONN_ID,
    recipients_variable: str = ALERT_EMAILS_VARIABLE,
) -> list[Callable[[Mapping[str, Any]], None]]:
    """The task ``on_failure_callback`` list: Slack, then email. Cheap: touches nothing until called."""
    return [
        SlackFailureAlert(slack_conn_id),
        EmailFailureAlert(smtp_conn_id, recipients_variable),
    ]
