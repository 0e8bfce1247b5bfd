"""Issue 19/18 pure parts: field catalogue and discovery answers, units, request fields, plausibility limits."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.fields import (
    DEFAULT_FIELDS,
    FIELD_TO_ATTR,
    POWER_QUALITY_FIELDS,
    parse_field_list,
    request_fields,
)
from argo_energy.eniscope.parsing import parse_channel, parse_readings
from argo_energy.ingest.discovery import stale_by_type
from argo_energy.ingest.limits import DEFAULT_LIMITS, parse_limits
from argo_energy.ingest.screening import validate
from argo_energy.models import READING_FIELDS, Channel, Reading, Window
from argo_energy.settings import ParamError
from argo_energy.warehouse.catalog import ChannelFields

START = datetime(2026, 3, 5, 5, tzinfo=UTC)
WINDOW = Window(start=START, end=START + timedelta(days=1), local_date=date(2026, 3, 5))
NOW = START + timedelta(days=2)
# The 26 fields the original system requested (API.md §8): 11 system codes and 15 per phase.
ORIGINAL_26 = ("E", "P", "V", "I", "PF", "Q", "S", "F", "D", "In", "cost",
               *(f"{c}{n}" for c in ("E", "P", "V", "I", "PF") for n in (1, 2, 3)))


def test_every_original_field_and_the_defaults_have_one_column_each():
    assert set(ORIGINAL_26) | set(DEFAULT_FIELDS) == set(FIELD_TO_ATTR)
    assert set(DEFAULT_FIELDS) | set(POWER_QUALITY_FIELDS) == set(FIELD_TO_ATTR)
    assert sorted(FIELD_TO_ATTR.values()) == sorted(READING_FIELDS), "one Reading column per code"


def test_units_are_converted_by_family_and_missing_fields_are_none():
    record = {"ts": 1772686800, "S": 12000.0, "F": 59.98, "D": 7.5, "In": 3.25, "cost": 0.42,
              "E1": 1500.0, "P2": 2000.0, "V3": 121.5, "I1": 40.0, "PF3": 0.93}
    units = {"S": "VA", "F": "Hz", "D": "%", "In": "A", "cost": "USD", "E1": "Wh", "P2": "W", "V3": "V",
             "I1": "A", "PF3": ""}
    (reading,) = parse_readings({"channel": 7, "resolution": 900, "records": [record], "units": units}, 7,
                                start=START, end=START + timedelta(hours=1)).readings
    assert reading.apparent_power_kva == pytest.approx(12.0)
    assert reading.frequency_hz == pytest.approx(59.98)
    assert reading.current_thd_pct == pytest.approx(7.5)
    assert reading.neutral_current_a == pytest.approx(3.25)
    assert reading.cost == pytest.approx(0.42)
    assert reading.energy_kwh_l1 == pytest.approx(1.5)
    assert reading.power_kw_l2 == pytest.approx(2.0)
    assert reading.voltage_v_l3 == pytest.approx(121.5)
    assert reading.current_a_l1 == pytest.approx(40.0)
    assert reading.power_factor_l3 == pytest.approx(0.93)
    for absent in ("energy_kwh", "voltage_v_l1", "power_factor_l1", "current_a_l2", "energy_kwh_l3"):
        assert getattr(reading, absent) is None, f"{absent}: not sent, must be None (NULL), not 0"


def test_an_unknown_unit_for_a_new_field_is_refused():
    payload = {"channel": 7, "resolution": 900, "records": [{"ts": 1772686800, "F": 50.0}], "units": {"F": "rpm"}}
    with pytest.raises(EniscopeResponseError, match="unexpected unit 'rpm' for field F"):
        parse_readings(payload, 7)


@pytest.mark.parametrize(
    "payload",
    [
        {"fields": ["E", "P", "S", "E", "F"]},
        {"filters": {"fields": ["E", "P", "S", "F"]}},
        ["E", "P", "S", "F"],
        {"fields": [{"code": "E"}, {"field": "P"}, {"name": "S"}, "F"]},
    ],
)
def test_discovery_answers_of_every_documented_shape(payload):
    assert parse_field_list(payload, "GET /fields/20") == ("E", "P", "S", "F")


@pytest.mark.parametrize("payload", [{"fields": "E,P"}, {"other": []}, 42, {"fields": [""]}, {"fields": [7]}])
def test_a_malformed_discovery_answer_is_a_clear_error(payload):
    with pytest.raises(EniscopeResponseError, match="GET /fields/20"):
        parse_field_list(payload, "GET /fields/20")


def test_request_fields_ask_a_meter_for_what_it_reports_and_others_for_the_defaults():
    three_phase = ["D", "E", "E1", "E2", "E3", "F", "I", "I1", "I2", "I3", "In", "P", "P1", "P2", "P3", "PF",
                   "PF1", "PF2", "PF3", "Q", "Q1", "Q2", "Q3", "S", "V", "V1", "V2", "V3"]
    asked = request_fields(three_phase)
    assert asked[:6] == ("E", "P", "V", "I", "PF", "Q"), "system codes first, in the column order"
    assert set(asked) == set(three_phase) - {"Q1", "Q2", "Q3"}, "every stored code reported, nothing else"
    single = request_fields(["D", "E", "F", "I", "P", "PF", "Q", "S", "V"])
    assert not any(code[-1] in "123" for code in single)
    assert "In" not in single
    assert request_fields(None) == DEFAULT_FIELDS, "not discovered: the defaults"
    assert request_fields(["T", "RH", "CO2"]) == DEFAULT_FIELDS, "a sensor keeps the request it had"
    assert request_fields([]) == DEFAULT_FIELDS, "a virtual channel keeps the request it had"


def test_channels_are_rediscovered_only_when_never_done_or_their_device_type_changed():
    channels = [Channel(1, "a", device_type_id="20"), Channel(2, "b", device_type_id="20"),
                Channel(3, "c", device_type_id="31"), Channel(4, "d", device_type_id="20"),
                Channel(5, "e", device_type_id=None)]
    cached = {
        1: ChannelFields(1, ("E", "P"), "20"),  # fresh
        2: ChannelFields(2, None, None),  # never discovered
        3: ChannelFields(3, ("E", "P"), "20"),  # type changed 20 -> 31
    }
    assert stale_by_type(channels, cached) == {"20": [2, 4], "31": [3]}


def test_parse_channel_keeps_the_device_type_id():
    channel = parse_channel({"dataChannelId": "59155", "channelName": "x", "deviceTypeId": "20"})
    assert channel.device_type_id == "20"


# ------------------------------------------------------------------------- plausibility (issue 18)


def at(minutes: int = 0, **values: float | None) -> Reading:
    base = {"energy_kwh": 1.0, "power_kw": 4.0, "power_factor": 0.9}
    base.update(values)
    return Reading(ts=START + timedelta(minutes=minutes), **base)


def reasons(reading: Reading, limits=DEFAULT_LIMITS) -> str:
    accepted, rejected = validate([reading], WINDOW, NOW, limits=limits)
    return "" if accepted else rejected[0].reason


def test_a_huge_finite_voltage_is_rejected_not_stored_as_infinity():
    result = validate([at(voltage_v=1e39)], WINDOW, NOW)
    assert result.accepted == []
    (rejected,) = result.rejected
    assert rejected.reason == "exceeds_real_range; voltage_implausible"
    assert "voltage_v=1e+39" in rejected.detail


@pytest.mark.parametrize("column", ["cost", "temperature_c", "reactive_power_kvar", "energy_kwh_l2"])
def test_any_column_beyond_the_real_range_is_rejected(column):
    assert "exceeds_real_range" in reasons(at(**{column: -3.5e38 if column == "cost" else 3.5e38}))


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"power_kw": 5000.5}, "power_implausible"),
        ({"power_kw_l2": 6000.0}, "power_implausible"),
        ({"voltage_v": 49.0}, "voltage_implausible"),
        ({"voltage_v_l3": 601.0}, "voltage_implausible"),
        ({"frequency_hz": 44.9}, "frequency_out_of_range"),
        ({"frequency_hz": 65.1}, "frequency_out_of_range"),
        ({"current_thd_pct": 500.1}, "thd_out_of_range"),
        ({"current_thd_pct": -0.1}, "thd_out_of_range"),
        ({"power_factor_l1": -1.01}, "power_factor_out_of_range"),
        ({"power_factor_l2": 1.2}, "power_factor_out_of_range"),
        ({"neutral_current_a": -0.5}, "negative_neutral_current"),
        ({"apparent_power_kva": -1.0}, "negative_apparent_power"),
        ({"energy_kwh_l1": -0.1}, "negative_energy"),
        ({"power_kw_l3": -0.1}, "negative_power"),
    ],
)
def test_each_plausibility_limit_rejects_with_its_code(values, code):
    assert reasons(at(**values)) == code


@pytest.mark.parametrize(
    "values",
    [
        {"power_kw": 5000.0, "voltage_v": 50.0, "voltage_v_l1": 600.0, "frequency_hz": 45.0},
        {"frequency_hz": 65.0, "current_thd_pct": 500.0, "power_factor_l3": -1.0, "neutral_current_a": 0.0},
        {"frequency_hz": 49.97, "current_thd_pct": 0.0, "apparent_power_kva": 0.0, "cost": -2.5},
    ],
)
def test_values_on_the_limits_are_accepted(values):
    assert reasons(at(**values)) == ""


def test_missing_power_quality_values_are_accepted_as_none():
    accepted, rejected = validate([at(frequency_hz=None, voltage_v_l2=None)], WINDOW, NOW)
    assert rejected == []
    assert accepted[0].voltage_v_l2 is None


def test_overrides_change_bounds_and_null_removes_one():
    limits = parse_limits(json.dumps({"power_kw": {"max": 20000}, "frequency_hz": {"min": 55, "max": None}}))
    assert reasons(at(power_kw=8000.0), limits) == ""
    assert reasons(at(frequency_hz=54.0), limits) == "frequency_out_of_range"
    assert reasons(at(frequency_hz=70.0), limits) == "", "max removed"
    assert reasons(at(voltage_v=20.0), limits) == "voltage_implausible", "untouched families keep defaults"
    assert parse_limits(None) == DEFAULT_LIMITS
    assert parse_limits("  ") == DEFAULT_LIMITS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"volts": {"max": 1}}', "unknown family 'volts'"),
        ('{"power_kw": 5000}', 'must be an object with "min" and/or "max"'),
        ('{"power_kw": {"maximum": 1}}', 'must be an object with "min" and/or "max"'),
        ('{"power_kw": {"max": "big"}}', "power_kw.max must be a finite number or null"),
        ('{"voltage_v": {"min": 300, "max": 200}}', "min 300 is above max 200"),
    ],
)
def test_bad_overrides_are_clear_errors(raw, message):
    with pytest.raises(ParamError, match=message.replace("(", r"\(")):
        parse_limits(raw)


def test_nan_stays_non_finite_only():
    assert reasons(at(frequency_hz=math.nan)) == "non_finite"
