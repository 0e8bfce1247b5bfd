"""One redaction function for stored and alerted error text (``argo_energy.redaction``)."""

from __future__ import annotations

import pytest

from argo_energy import alerts, redaction
from argo_energy.redaction import WITHHELD, alert_error, masker_available, redact, redact_patterns


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET https://api.example/v1/readings/5?api_key=k3y-abcdef&res=900", "k3y-abcdef"),
        ("X-Eniscope-API: sim-api-key-8c1f7e", "sim-api-key-8c1f7e"),
        ("Authorization: Basic YXBpQGFyZ286NWY0ZGNjM2I=", "YXBpQGFyZ286NWY0ZGNjM2I="),
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "eyJhbGciOiJIUzI1NiJ9.x.y"),
        ("could not connect to postgresql://writer:hunter2pw@db:5432/energy", "hunter2pw"),
        ("host=db user=writer password=hunter2pw dbname=energy", "hunter2pw"),
        ('{"token": "abc123token", "x": 1}', "abc123token"),
        ("X-Eniscope-Token=tok-998877", "tok-998877"),
    ],
)
def test_credential_patterns_are_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert "***" in out


def test_ordinary_error_text_is_left_alone() -> None:
    text = "EniscopeResponseError: token expired after 3 uses; channel 59155 answered 503 (basic meter)"
    assert redact_patterns(text) == text


def test_a_secret_registered_with_airflow_is_masked() -> None:
    from airflow.sdk.log import mask_secret

    assert masker_available()
    mask_secret("an-unpatterned-secret-4411")
    assert redact("login failed with an-unpatterned-secret-4411 here") == "login failed with *** here"


def test_alerts_withhold_the_error_line_when_the_masker_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "_masker", lambda: None)
    assert alert_error("ValueError: password=hunter2pw") == WITHHELD
    alert = alerts._build_alert({"exception": ValueError("password=hunter2pw"), "dag_id": "d"})
    assert alert.error == WITHHELD
    assert "hunter2pw" not in alert.text()


def test_alerts_redact_with_the_masker() -> None:
    alert = alerts._build_alert({"exception": ValueError("GET /x?api_key=abcdef123 failed")})
    assert alert.error == "ValueError: GET /x?api_key=*** failed"
