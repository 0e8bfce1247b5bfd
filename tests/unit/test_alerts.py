"""Pure parts of the failure alerts: message content, recipients, muting, log URL."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from argo_energy import alerts
from argo_energy.alerts import (
    FailureAlert,
    build_log_url,
    failure_callbacks,
    first_error_line,
    is_muted,
    parse_recipients,
)


def test_first_error_line_takes_type_and_first_non_blank_line():
    err = ValueError("\n  3 channel-days incomplete  \nchannel 7 2024-03-10\n")
    assert first_error_line(err) == "ValueError: 3 channel-days incomplete"


def test_first_error_line_handles_none_empty_and_long_messages():
    assert "no error recorded" in first_error_line(None)
    assert first_error_line(RuntimeError("")) == "RuntimeError"
    long = first_error_line(RuntimeError("x" * 1000))
    assert len(long) == alerts.ERROR_LINE_MAX, "long errors are cut to the maximum length"
    assert long.endswith("…")
    assert first_error_line("plain string\nsecond") == "plain string"


def test_build_log_url_matches_the_ui_route_and_quotes_the_run_id():
    url = build_log_url("http://airflow.example/", "dag_a", "manual__2024-03-10T00:00:00+00:00", "t", 2, 3)
    assert url == (
        "http://airflow.example/dags/dag_a/runs/manual__2024-03-10T00%3A00%3A00%2B00%3A00"
        "/tasks/t/mapped/2?try_number=3"
    )
    assert build_log_url("http://x", "d", "r", "t", -1, None) == "http://x/dags/d/runs/r/tasks/t"


@pytest.mark.parametrize(
    ("raw", "dag_id", "expected"),
    [
        ('["a@x.org", "b@x.org"]', "d", ["a@x.org", "b@x.org"]),
        ("a@x.org, b@x.org; a@x.org", "d", ["a@x.org", "b@x.org"]),
        (["a@x.org", "not-an-address"], "d", ["a@x.org"]),
        ('{"default": ["ops@x.org"], "eniscope_validation": ["dq@x.org"]}', "eniscope_validation", ["dq@x.org"]),
        ('{"default": ["ops@x.org"], "eniscope_validation": ["dq@x.org"]}', "other", ["ops@x.org"]),
        ('{"default": ["ops@x.org"], "noisy": []}', "noisy", []),
        (None, "d", []),
        ("", "d", []),
        ("[not json", "d", []),
    ],
)
def test_parse_recipients(raw, dag_id, expected):
    assert parse_recipients(raw, dag_id) == expected


@pytest.mark.parametrize(
    ("raw", "dag_id", "expected"),
    [
        (None, "d", False),
        ('["d", "e"]', "d", True),
        ('["e"]', "d", False),
        ("*", "d", True),
        ("d, e", "e", True),
        ('"*"', "x", True),
        (True, "x", True),
        ("", "d", False),
    ],
)
def test_is_muted(raw, dag_id, expected):
    assert is_muted(raw, dag_id) is expected


def test_alert_from_context_names_everything_the_issue_asks_for(monkeypatch):
    monkeypatch.setattr(alerts, "_api_base_url", lambda: "https://airflow.argo.example")
    ti = SimpleNamespace(dag_id="eniscope_validation", task_id="evaluate", run_id="scheduled__x",
                         map_index=-1, try_number=2, max_tries=2)
    when = datetime(2024, 3, 10, 6, tzinfo=UTC)
    alert = alerts.alert_from_context(
        {"ti": ti, "logical_date": when, "exception": RuntimeError("boom\ntrace")}
    )
    text = alert.text()
    for expected in ("eniscope_validation", "evaluate", "scheduled__x", when.isoformat(), "2 of 3",
                     "RuntimeError: boom", "https://airflow.argo.example/dags/eniscope_validation/runs/"
                     "scheduled__x/tasks/evaluate?try_number=2"):
        assert expected in text, f"alert text lacks {expected!r}:\n{text}"
    assert "trace" not in text, "only the first line of the error belongs in the alert"


def test_alert_from_a_sparse_context_still_builds():
    alert = alerts.alert_from_context({})
    assert alert.dag_id == "unknown-dag"
    assert "none" in alert.logical_date_label


def test_html_escapes_error_text():
    alert = FailureAlert("d", "t", "r", None, 1, 0, "<script>x</script>", "http://h/a?b=1&c=2")
    body = alert.html()
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert 'href="http://h/a?b=1&amp;c=2"' in body


def test_failure_callbacks_touch_nothing_when_built(monkeypatch):
    """Building the list (DAG parse time) must not read a Connection or Variable."""

    def forbidden(*_args, **_kwargs):
        raise AssertionError("connection or variable read at parse time")

    monkeypatch.setattr(alerts, "connection_or_none", forbidden)
    monkeypatch.setattr(alerts, "get_variable", forbidden)
    callbacks = failure_callbacks()
    assert [type(cb).__name__ for cb in callbacks] == ["SlackFailureAlert", "EmailFailureAlert"]


def test_a_callback_that_breaks_inside_never_raises(monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("secrets backend down")

    monkeypatch.setattr(alerts, "connection_or_none", broken)
    monkeypatch.setattr(alerts, "get_variable", broken)
    for callback in failure_callbacks():
        callback({"exception": ValueError("task error")})  # must not raise
    assert caplog.text.count("could not be sent") == 2, caplog.text
    assert "Variable alerts_muted could not be read; alerting anyway" in caplog.text
