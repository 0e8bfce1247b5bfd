"""Delivery decisions of the report tasks: what is skipped, and why (no network involved here)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from argo_energy.report import delivery, tasks
from argo_energy.report.queries import SiteRow

REPORT = {"html_url": "file:///nowhere/r.html", "csv_url": "file:///nowhere/r.csv",
          "headline": {"site_id": "s1", "week": "2026-W10"}}


def test_deliver_false_skips_both_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: Any) -> None:
        raise AssertionError("nothing may be looked up when deliver is false")

    monkeypatch.setattr(delivery, "connection_or_none", never)
    monkeypatch.setattr(tasks, "get_variable", never)
    assert tasks.email_report(REPORT, deliver=False) == {"sent": False, "reason": "deliver=false"}
    assert tasks.slack_report(REPORT, deliver=False) == {"sent": False, "reason": "deliver=false"}


def test_email_without_recipient_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "connection_or_none", lambda conn_id: object())
    monkeypatch.setattr(tasks, "get_variable", lambda name: json.dumps({"other": ["x@y.test"]}))
    assert tasks.email_report(REPORT) == {"sent": False, "reason": "no recipient"}


def test_missing_connections_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "connection_or_none", lambda conn_id: None)
    monkeypatch.setattr(tasks, "get_variable", lambda name: '["a@b.test"]')
    assert tasks.email_report(REPORT) == {"sent": False, "reason": "no connection smtp_default"}
    assert tasks.slack_report(REPORT) == {"sent": False, "reason": "no connection slack_default"}


def test_readonly_connection_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "connection_or_none", lambda conn_id: object())
    assert tasks.report_conn_id() == "energy_db_readonly"
    monkeypatch.setattr(tasks, "connection_or_none", lambda conn_id: None)
    monkeypatch.setattr(tasks, "get_variable", lambda name: "true")  # report_allow_writer_conn
    assert tasks.report_conn_id() == "energy_db"


def test_site_selection() -> None:
    sites = [SiteRow("a", "A", "UTC", (1, 2)), SiteRow("b", "B", None, ()), SiteRow("c", "C", "UTC", (3,))]
    assert tasks.choose_sites(sites, None) == ["a", "c"], "every site with meters"
    assert tasks.choose_sites(sites, ("c", "b")) == ["c"], "the Variable's order; a site without meters is left out"
    with pytest.raises(ValueError, match="names site\\(s\\) zz that are not in the warehouse"):
        tasks.choose_sites(sites, ("a", "zz"))
