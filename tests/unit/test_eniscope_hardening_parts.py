"""Hardening rules without a network: https-or-loopback, new extras, JSON decoding, record cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from argo_energy.eniscope.config import MIB, EniscopeSettings, is_loopback_host
from argo_energy.eniscope.errors import EniscopeConfigError, EniscopeResponseError
from argo_energy.eniscope.hook import EniscopeHook
from argo_energy.eniscope.parsing import max_records, parse_readings
from argo_energy.eniscope.retry import MALFORMED, Retryable
from argo_energy.eniscope.transport import decode_json, error_message
from argo_energy.settings import ENISCOPE_CONN_ID


def conn(host: str, **extra: object) -> SimpleNamespace:
    return SimpleNamespace(host=host, login="a@example.com", password="secret-pass", schema=None, port=None,
                           extra_dejson={"api_key": "key-123456", **extra})


@pytest.mark.parametrize(
    ("hostname", "loopback"),
    [("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.254.3.9", True), ("::1", True),
     ("[::1]", True), ("::ffff:127.0.0.1", True), ("10.0.0.1", False), ("128.0.0.1", False),
     ("localhost.example.com", False), ("core.eniscope.com", False), ("::2", False)],
)
def test_loopback_hosts(hostname, loopback):
    assert is_loopback_host(hostname) is loopback


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8085", "http://localhost:8085", "http://[::1]:8085", "https://core.eniscope.com",
            "https://10.0.0.7:8443"],
)
def test_https_or_loopback_is_accepted(url):
    assert EniscopeSettings.from_connection(conn(url), "c").base_url == url


@pytest.mark.parametrize("url", ["http://core.eniscope.com", "http://10.0.0.7:8085", "http://eniscope-simulator:8090"])
def test_plain_http_to_another_host_is_a_terminal_config_error(url):
    with pytest.raises(EniscopeConfigError, match="plain http") as info:
        EniscopeSettings.from_connection(conn(url), "eniscope_default")
    assert isinstance(info.value, AirflowFailException)
    assert "connection 'eniscope_default'" in str(info.value)


def test_plain_http_can_be_allowed_explicitly_for_a_private_network():
    settings = EniscopeSettings.from_connection(conn("http://eniscope-simulator:8090", allow_insecure_http="true"), "c")
    assert settings.allow_insecure_http is True
    with pytest.raises(EniscopeConfigError, match="'allow_insecure_http' must be true or false"):
        EniscopeSettings.from_connection(conn("http://x", allow_insecure_http="maybe"), "c")


def test_new_extras_have_defaults_and_are_validated():
    default = EniscopeSettings.from_connection(conn("https://h"), "c")
    assert (default.request_deadline, default.max_response_bytes, default.allow_insecure_http) == (120.0, 20 * MIB, False)
    tuned = EniscopeSettings.from_connection(conn("https://h", request_deadline="30", max_response_mb=0.5), "c")
    assert (tuned.request_deadline, tuned.max_response_bytes) == (30.0, MIB // 2)
    for name, value, problem in [("request_deadline", 0, "must be > 0"), ("max_response_mb", "lots", "must be a number"),
                                 ("request_deadline", "nan", "must be >= 0"), ("max_response_mb", True, "must be a number")]:
        with pytest.raises(EniscopeConfigError, match=f"'{name}' {problem}"):
            EniscopeSettings.from_connection(conn("https://h", **{name: value}), "c")


def test_default_connection_id_comes_from_settings():
    assert EniscopeHook.default_conn_name == ENISCOPE_CONN_ID
    assert EniscopeHook().eniscope_conn_id == ENISCOPE_CONN_ID


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"[" * 100_000 + b"]" * 100_000, "RecursionError"), (b'{"records": [', "JSONDecodeError"),
     (b"\xff\xfe\x00", "UnicodeDecodeError")],
)
def test_undecodable_bodies_are_malformed_not_crashes(body, error):
    with pytest.raises(Retryable) as info:
        decode_json(body, "GET /x")
    assert info.value.kind == MALFORMED
    assert error in str(info.value)


def test_error_message_survives_absurd_bodies():
    assert error_message(b"[" * 100_000) == ""
    assert error_message(None) == ""
    assert error_message(b'{"message": "Invalid Parameter"}') == "Invalid Parameter"


def test_record_cap_is_twice_the_window_slots():
    start = datetime(2026, 11, 12, 5, tzinfo=UTC)
    assert max_records(start, start + timedelta(days=1)) == 2 * 96
    assert max_records(start, start + timedelta(hours=25), 3600) == 2 * 100, "at most 15-minute slots"
    assert max_records(start, start + timedelta(hours=1), 60) == 2 * 60, "a finer resolution asks more"
    assert max_records(start, start + timedelta(minutes=5)) == 2, "a partial slot counts as one"
    assert max_records(start, start + timedelta(hours=1), "auto") == 8


def test_parse_readings_refuses_more_records_than_the_cap():
    payload = {"channel": 7, "from": 0, "to": 3600, "resolution": 900, "units": {"E": "Wh"},
               "records": [{"ts": t, "E": 1.0} for t in range(0, 3600, 300)]}
    assert len(parse_readings(payload, 7).readings) == 12, "no cap unless asked"
    with pytest.raises(EniscopeResponseError, match="12 records, more than the 8"):
        parse_readings(payload, 7, max_records=8)
