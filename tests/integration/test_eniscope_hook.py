"""EniscopeHook against the simulator over real HTTP: paging, auth, retries, faults, DST splits."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import pytest

from argo_energy.eniscope.errors import (
    ChannelUnsupportedError,
    EniscopeAuthError,
    EniscopeResponseError,
    EniscopeTransientError,
)
from argo_energy.eniscope.hook import EniscopeHook
from argo_energy.eniscope.parsing import SENSOR_FIELDS
from eniscope_simulator import UserConfig, default_config, scaled_config
from tests.fixtures.simulator import SIM_NOW, set_eniscope_conn

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 12, 5, 0, tzinfo=UTC)  # a New York local day (Thursday), 24 h
WATT_FIELDS = {"energy_kwh": "E", "power_kw": "P", "reactive_power_kvar": "Q"}
SAME_FIELDS = {"voltage_v": "V", "current_a": "I", "power_factor": "PF",
               "temperature_c": "T", "relative_humidity": "RH"}


def readings_requests(sim, channel_id=None):
    return [r for r in sim.requests if "/readings/" in r.path
            and (channel_id is None or r.path.rstrip("/").endswith(f"/{channel_id}"))]


def assert_matches_truth(readings, truth):
    """Each reading equals the simulator's raw record converted independently (Wh/1000 etc.)."""
    assert [r.ts for r in readings] == [datetime.fromtimestamp(t["ts"], UTC) for t in truth]
    for reading, record in zip(readings, truth, strict=True):
        for attr, code in WATT_FIELDS.items():
            raw = record.get(code)
            assert getattr(reading, attr) == (None if raw is None else pytest.approx(raw / 1000.0)), attr
        for attr, code in SAME_FIELDS.items():
            raw = record.get(code)
            assert getattr(reading, attr) == (None if raw is None else pytest.approx(raw)), attr


def secrets_of(sim):
    import base64
    import hashlib

    md5 = hashlib.md5(sim.config.password.encode(), usedforsecurity=False).hexdigest()
    basic = base64.b64encode(f"{sim.config.email}:{md5}".encode()).decode()
    return [sim.config.password, md5, sim.config.api_key, basic]


def logged(caplog, capsys):
    """Everything logged: stdlib records (caplog) and Airflow's structlog console output."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def assert_no_secret(text, sim):
    for secret in secrets_of(sim):
        assert secret not in text, "a credential leaked into logs, exception text or a URL"


# ----------------------------------------------------------------------------- discovery


def test_paging_across_three_pages(make_simulator, monkeypatch):
    sim = make_simulator(scaled_config(sites=3, meters_per_site=13, now=SIM_NOW))  # 45 channels
    set_eniscope_conn(monkeypatch, sim, page_size=20)
    hook = EniscopeHook()
    channels = hook.list_channels()
    assert sorted(c.channel_id for c in channels) == sorted(sim.channel_ids())
    assert len(channels) == 45
    pages = [(r.query["page"], r.query["limit"]) for r in sim.requests if r.path == "/channels"]
    assert pages == [(["1"], ["20"]), (["2"], ["20"]), (["3"], ["20"])], "expected pages 1..3 of 20"
    assert all(isinstance(c.channel_id, int) for c in channels)


def test_paging_stops_on_the_last_full_page(make_simulator, monkeypatch):
    sim = make_simulator(scaled_config(sites=2, meters_per_site=18, now=SIM_NOW))  # 40 channels
    set_eniscope_conn(monkeypatch, sim, page_size=20)
    assert len(EniscopeHook().list_channels()) == 40
    assert len([r for r in sim.requests if r.path == "/channels"]) == 2, "no request past pageCount"


def test_organizations_devices_and_channels(eniscope_conn):
    sim = eniscope_conn
    hook = EniscopeHook()
    orgs = {o.organization_id: o for o in hook.list_organizations()}
    assert set(orgs) == {str(o) for o in sim.world.orgs}
    zones = {o.timezone for o in orgs.values()}
    assert {"America/New_York", "Asia/Kolkata", "Europe/London"} <= zones
    site = sim.site_organization_ids()[1]
    assert hook.get_organization(site).timezone == "Asia/Kolkata"

    channels = hook.list_channels(site)
    assert {c.channel_id for c in channels} == set(sim.channel_ids(organization_id=site))
    devices = hook.list_devices(site)
    assert {c.device_id for c in channels} <= {d.device_id for d in devices}, "channel devices missing"
    sensor = next(c for c in channels if c.channel_id in sim.channel_ids("sensor"))
    assert sensor.channel_type == "Air Sense"


# ----------------------------------------------------------------------------- readings


def test_one_day_of_readings_matches_ground_truth(eniscope_conn):
    sim = eniscope_conn
    channel = sim.channel_ids("meter")[0]
    batch = EniscopeHook().get_readings(channel, DAY, DAY + timedelta(days=1))
    assert batch.resolution == 900
    assert len(batch.readings) == 96
    assert_matches_truth(batch.readings, sim.ground_truth(channel, DAY, DAY + timedelta(days=1)))
    assert sim.ground_truth_readings(channel, DAY, DAY + timedelta(days=1)) == batch.readings


@pytest.mark.parametrize(
    ("start", "end", "expected", "calls"),
    [
        # America/New_York 2026-11-01: 25 local hours -> 100 quarter-hours, split in two calls
        (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC), 100, 2),
        # America/New_York 2026-03-08: 23 local hours -> 92 quarter-hours, one call
        (datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC), 92, 1),
    ],
)
def test_dst_days_at_900_seconds(eniscope_conn, start, end, expected, calls):
    sim = eniscope_conn
    channel = sim.channel_ids("meter")[0]
    batch = EniscopeHook().get_readings(channel, start, end)
    assert (len(batch.readings), batch.resolution) == (expected, 900)
    assert len(readings_requests(sim)) == calls
    assert [r.ts for r in batch.readings] == [start + timedelta(minutes=15 * k) for k in range(expected)]
    assert_matches_truth(batch.readings, sim.ground_truth(channel, start, end))


def test_sensor_channel_is_unsupported_for_default_fields_and_not_retried(eniscope_conn):
    sim = eniscope_conn
    sensor = sim.channel_ids("sensor")[0]
    hook = EniscopeHook()
    with pytest.raises(ChannelUnsupportedError) as info:
        hook.get_readings(sensor, DAY, DAY + timedelta(days=1))
    assert info.value.channel_id == sensor
    assert "Invalid Parameter" in str(info.value)
    assert len(readings_requests(sim)) == 1, "a 500 Invalid Parameter must not be retried"

    batch = hook.get_readings(sensor, DAY, DAY + timedelta(days=1), fields=SENSOR_FIELDS)
    assert len(batch.readings) == 96
    assert all(r.energy_kwh is None and r.temperature_c is not None for r in batch.readings)
    assert_matches_truth(batch.readings, sim.ground_truth(sensor, DAY, DAY + timedelta(days=1)))


def test_virtual_channel_is_unsupported(eniscope_conn):
    virtual = eniscope_conn.channel_ids("virtual")[0]
    with pytest.raises(ChannelUnsupportedError):
        EniscopeHook().get_readings(virtual, DAY, DAY + timedelta(hours=1))


def test_data_faults_reach_the_caller_unchanged(eniscope_conn):
    sim = eniscope_conn
    channel = sim.channel_ids("meter")[1]
    sim.faults.null_rate = 0.2
    sim.faults.gap_rate = 0.1
    sim.faults.negative_rate = 0.1
    batch = EniscopeHook().get_readings(channel, DAY, DAY + timedelta(days=1))
    truth = sim.ground_truth(channel, DAY, DAY + timedelta(days=1))
    assert 0 < len(batch.readings) < 96, "gaps omit buckets"
    assert_matches_truth(batch.readings, truth)
    nulls = [r for r in batch.readings if r.energy_kwh is None]
    assert nulls, "null_rate=0.2 should null some buckets"
    assert all(r.power_kw is None for r in nulls), "null values stay None, never 0"
    assert any(r.power_kw is not None and r.power_kw < 0 for r in batch.readings), "negatives kept"


def test_future_buckets_are_passed_through(eniscope_conn):
    sim = eniscope_conn
    sim.faults.future_buckets = 4
    channel = sim.channel_ids("meter")[0]
    batch = EniscopeHook().get_readings(channel, SIM_NOW - timedelta(hours=1), SIM_NOW + timedelta(hours=2))
    assert sum(r.ts >= SIM_NOW for r in batch.readings) == 4, "the ingestion layer rejects these"


def test_late_data_then_revision(eniscope_conn):
    sim = eniscope_conn
    channel = sim.channel_ids("meter")[0]
    start, end = SIM_NOW - timedelta(hours=12), SIM_NOW
    sim.faults.late_hours = 6
    hook = EniscopeHook()
    first = hook.get_readings(channel, start, end)
    assert len(first.readings) == 24, "the last 6 of 12 hours are not available yet"
    sim.faults.late_hours = 0
    sim.faults.revision = 1
    second = hook.get_readings(channel, start, end)
    assert len(second.readings) == 48
    assert_matches_truth(second.readings, sim.ground_truth(channel, start, end))
    assert second.readings[0].energy_kwh != first.readings[0].energy_kwh, "values were revised"


# ----------------------------------------------------------------------------- auth and tokens


def test_token_is_reused_then_expiry_mid_run_reauthenticates(eniscope_conn):
    sim = eniscope_conn
    sim.faults.token_max_uses = 2
    hook = EniscopeHook()
    site = sim.site_organization_ids()[0]
    for _ in range(5):
        hook.get_organization(site)
    seen = [(r.auth, r.status) for r in sim.requests]
    assert seen == [
        ("basic", 200), ("token", 200), ("token", 200),
        ("token", 419), ("basic", 200), ("token", 200),
    ], f"expected login, two token uses, 419, one re-login, token again; got {seen}"


def test_bad_api_key(eniscope_conn, monkeypatch, caplog, capsys):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, api_key="wrong-key-1234567")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EniscopeAuthError) as info:
        EniscopeHook().list_organizations()
    assert info.value.cause == "api_key"
    assert "API key" in str(info.value)
    assert len(sim.requests) == 2, "one request and one diagnostic probe, no retries"
    text = logged(caplog, capsys) + str(info.value)
    assert "Eniscope" in text
    assert_no_secret(text, sim)
    assert "wrong-key-1234567" not in text


def test_bad_password(eniscope_conn, monkeypatch, caplog, capsys):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, password="not-the-password")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EniscopeAuthError) as info:
        EniscopeHook().list_channels()
    assert info.value.cause == "credentials"
    assert "password" in str(info.value)
    assert [(r.auth, r.status) for r in sim.requests] == [("basic", 401)], "401 is not retried"
    text = logged(caplog, capsys) + str(info.value)
    assert_no_secret(text, sim)
    assert "not-the-password" not in text


def test_permission_error(make_simulator, monkeypatch, caplog, capsys):
    config = default_config(now=SIM_NOW)
    config.users = [UserConfig("site-user@example.com", "site-password-77", organization="London Office")]
    sim = make_simulator(config)
    set_eniscope_conn(monkeypatch, sim, login="site-user@example.com", password="site-password-77")
    other_site = sim.site_organization_ids()[0]
    foreign = sim.channel_ids("meter", organization_id=other_site)[0]
    caplog.set_level(logging.DEBUG)
    hook = EniscopeHook()
    assert {c.organization_id for c in hook.list_channels()} == {sim.site_organization_ids()[2]}
    with pytest.raises(EniscopeAuthError) as info:
        hook.get_readings(foreign, DAY, DAY + timedelta(hours=1))
    assert info.value.cause == "permission"
    assert "permission" in str(info.value)
    text = logged(caplog, capsys) + str(info.value)
    assert "Eniscope" in text
    assert_no_secret(text, sim)
    assert "site-password-77" not in text


def test_no_credential_in_any_url(eniscope_conn):
    sim = eniscope_conn
    hook = EniscopeHook()
    hook.list_channels()
    hook.get_readings(sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=2))
    for request in sim.requests:
        assert_no_secret(request.path + repr(request.query), sim)


def test_test_connection(eniscope_conn, monkeypatch):
    ok, message = EniscopeHook().test_connection()
    assert ok, message
    assert eniscope_conn.base_url in message
    set_eniscope_conn(monkeypatch, eniscope_conn, api_key="another-wrong-key")
    ok, message = EniscopeHook().test_connection()
    assert not ok
    assert "API key" in message
    assert_no_secret(message, eniscope_conn)


def test_http_conn_type_works(eniscope_conn, monkeypatch):
    set_eniscope_conn(monkeypatch, eniscope_conn, conn_type="http")
    assert len(EniscopeHook().list_organizations()) == 4


# ----------------------------------------------------------------------------- retries


def test_429_honours_retry_after(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, retry_wait_max=60)
    sim.faults.rate_limit_next = 2
    sim.faults.retry_after = 7
    waits: list[float] = []
    hook = EniscopeHook(sleep=waits.append)
    batch = hook.get_readings(sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=6))
    assert len(batch.readings) == 24
    assert waits == [7.0, 7.0], "each 429 waits exactly its Retry-After"
    assert [r.status for r in sim.requests] == [429, 429, 200]


def test_5xx_then_success(eniscope_conn):
    sim = eniscope_conn
    sim.faults.error_next = 2
    channel = sim.channel_ids("meter")[0]
    batch = EniscopeHook().get_readings(channel, DAY, DAY + timedelta(days=1))
    assert [r.status for r in sim.requests] == [503, 503, 200]
    assert_matches_truth(batch.readings, sim.ground_truth(channel, DAY, DAY + timedelta(days=1)))


def test_5xx_persisting_is_transient_after_bounded_retries(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, max_retries=2)
    sim.faults.error_next = 100
    sim.faults.error_status = 502
    with pytest.raises(EniscopeTransientError) as info:
        EniscopeHook().get_readings(sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=1))
    assert len(sim.requests) == 3, "first attempt + max_retries=2"
    assert "502" in str(info.value)


def test_backoff_waits_are_exponential_and_bounded(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, max_retries=5, retry_wait_min=2, retry_wait_max=10)
    sim.faults.error_next = 5
    waits: list[float] = []
    EniscopeHook(sleep=waits.append).get_organization(sim.site_organization_ids()[0])
    assert len(waits) == 5
    ceilings = [2, 4, 8, 10, 10]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling, f"wait {wait} outside jitter range of {ceiling}"


def test_read_timeout_is_retried(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, read_timeout=0.2)
    sim.faults.slow_next = 1
    sim.faults.slow_seconds = 2
    hook = EniscopeHook()
    batch = hook.get_readings(sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=1))
    assert len(batch.readings) == 4
    # The simulator records the abandoned request only when its delay ends, so count client-side.
    assert hook.request_count == 2


def test_persistent_timeouts_raise_transient(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    set_eniscope_conn(monkeypatch, sim, read_timeout=0.2, max_retries=1)
    sim.faults.slow_next = 2
    sim.faults.slow_seconds = 2
    with pytest.raises(EniscopeTransientError, match="timed out"):
        EniscopeHook().get_readings(sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=1))


@pytest.mark.parametrize("fault", ["malformed_next", "truncated_next"])
def test_bad_json_is_retried_then_reported(eniscope_conn, monkeypatch, fault):
    sim = eniscope_conn
    channel = sim.channel_ids("meter")[0]
    setattr(sim.faults, fault, 1)
    batch = EniscopeHook().get_readings(channel, DAY, DAY + timedelta(hours=1))
    assert len(batch.readings) == 4
    assert len(readings_requests(sim)) == 2

    set_eniscope_conn(monkeypatch, sim, max_retries=1)
    setattr(sim.faults, fault, 5)
    with pytest.raises(EniscopeResponseError):
        EniscopeHook().get_readings(channel, DAY, DAY + timedelta(hours=1))


def test_request_budget_respected_by_client_limiter(eniscope_conn, monkeypatch):
    sim = eniscope_conn
    sim.faults.budget_rps = 5
    set_eniscope_conn(monkeypatch, sim, requests_per_second=4)
    hook = EniscopeHook()
    site = sim.site_organization_ids()[0]
    for _ in range(8):
        hook.get_organization(site)
    assert all(r.status == 200 for r in sim.requests), "the limiter keeps the client under budget"


def test_parse_nan_for_garbage_values_is_kept(eniscope_conn):
    # Sanity: with no faults, every value is a finite number (the generator never emits garbage).
    batch = EniscopeHook().get_readings(eniscope_conn.channel_ids("meter")[0], DAY, DAY + timedelta(hours=3))
    assert all(math.isfinite(r.energy_kwh) for r in batch.readings)
