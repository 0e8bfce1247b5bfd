"""The failure callbacks against real local receivers (HTTP webhook server, aiosmtpd)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from argo_energy.alerts import failure_callbacks
from devtools.localpg import free_port
from tests.fixtures.receivers import WEBHOOK_PATH

pytestmark = pytest.mark.integration


def _context(error: BaseException) -> dict:
    ti = SimpleNamespace(dag_id="eniscope_daily_sync", task_id="fetch_readings", run_id="scheduled__2024-03-11",
                         map_index=3, try_number=3, max_tries=2)
    return {"ti": ti, "logical_date": datetime(2024, 3, 11, 2, tzinfo=UTC), "exception": error}


def _fire(context: dict) -> None:
    for callback in failure_callbacks():
        callback(context)


def test_both_channels_receive_the_alert(webhook_receiver, smtp_receiver, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", json.dumps(["ops@argo.test", "dq@argo.test"]))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.argo.test")

    _fire(_context(RuntimeError("Eniscope returned 500 for channel 7\nTraceback ...")))

    posts = webhook_receiver.wait_for(1)
    assert len(posts) == 1, f"expected one webhook POST, got {len(posts)}"
    assert posts[0].path == WEBHOOK_PATH
    text = posts[0].json()["text"]
    for expected in ("eniscope_daily_sync", "fetch_readings[3]", "scheduled__2024-03-11",
                     "2024-03-11T02:00:00+00:00", "3 of 3", "RuntimeError: Eniscope returned 500 for channel 7",
                     "https://airflow.argo.test/dags/eniscope_daily_sync/runs/scheduled__2024-03-11/tasks/"
                     "fetch_readings/mapped/3?try_number=3"):
        assert expected in text, f"Slack text lacks {expected!r}:\n{text}"

    mails = smtp_receiver.wait_for(1)
    assert len(mails) == 1, f"expected one email, got {len(mails)}"
    mail = mails[0]
    assert sorted(mail.rcpt_tos) == ["dq@argo.test", "ops@argo.test"]
    assert mail.mail_from == "airflow-alerts@argo.test"
    assert "eniscope_daily_sync.fetch_readings[3] failed" in mail.subject
    assert "Eniscope returned 500 for channel 7" in mail.html()


def test_braces_in_the_error_are_sent_verbatim(webhook_receiver):
    _fire(_context(KeyError("{{ not a template }} {% nor this %}")))
    posts = webhook_receiver.wait_for(1)
    assert "{{ not a template }} {% nor this %}" in posts[0].json()["text"]


def test_missing_slack_connection_disables_slack_only(smtp_receiver, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_DEFAULT", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", "ops@argo.test")
    _fire(_context(RuntimeError("x")))
    assert len(smtp_receiver.wait_for(1)) == 1, "email must still go out without Slack"


def test_empty_connection_variable_counts_as_missing(webhook_receiver, monkeypatch, caplog):
    # docker-compose sets AIRFLOW_CONN_SMTP_DEFAULT="" when .env leaves it unset.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "")
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", "ops@argo.test")
    _fire(_context(RuntimeError("x")))
    assert len(webhook_receiver.wait_for(1)) == 1
    assert "Email alerts disabled: connection 'smtp_default' is not defined" in caplog.text


def test_no_recipients_disables_email(smtp_receiver, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_ALERT_EMAILS", raising=False)
    _fire(_context(RuntimeError("x")))
    assert smtp_receiver.items == []
    assert "names no recipient" in caplog.text


def test_muted_dag_sends_nothing(webhook_receiver, smtp_receiver, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", "ops@argo.test")
    monkeypatch.setenv("AIRFLOW_VAR_ALERTS_MUTED", json.dumps(["eniscope_daily_sync"]))
    _fire(_context(RuntimeError("x")))
    assert webhook_receiver.items == []
    assert smtp_receiver.items == []


def test_unreachable_receivers_never_raise(webhook_receiver, monkeypatch, caplog):
    """Slack answering 500 and a dead SMTP port: the callbacks log and return."""
    monkeypatch.setenv("AIRFLOW_VAR_ALERT_EMAILS", "ops@argo.test")
    webhook_receiver.status = 500
    closed_port = free_port()  # bound and released: nothing listens there
    conn = json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": closed_port,
                       "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 2, "retry_limit": 0}})
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", conn)
    _fire(_context(RuntimeError("x")))
    assert caplog.text.count("could not be sent") == 2, caplog.text
