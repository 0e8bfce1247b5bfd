"""Pure parsing of Eniscope payloads, including the real captured responses (API.md §3)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.parsing import (
    DEFAULT_FIELDS,
    SENSOR_FIELDS,
    epoch_to_utc,
    fields_for_channel,
    list_items,
    merge_batches,
    merge_devices,
    page_count,
    parse_channel,
    parse_device,
    parse_number,
    parse_organization,
    parse_readings,
    readings_params,
    split_window,
    to_int_id,
    to_str_id,
    unit_converter,
)
from argo_energy.models import Channel, Reading

CAPTURED = Path(__file__).resolve().parents[2] / "eniscope_simulator" / "captured"


def load(name: str) -> dict:
    return json.loads((CAPTURED / name).read_text(encoding="utf-8"))


def envelope(records, units=None, **extra):
    return {"channel": 7, "from": 0, "to": 3600, "resolution": 900,
            "units": units if units is not None else {"ts": "Unix Time", "E": "Wh", "P": "W"},
            "records": records, **extra}


# ----------------------------------------------------------------------------- captured responses


def test_captured_readings_convert_to_kwh_and_kw():
    payload = load("readings-59155.json")
    batch = parse_readings(payload, 59155)
    raw = payload["records"]
    assert batch.channel_id == 59155
    assert batch.resolution == 1800, "the echoed (coarsened) resolution is trusted"
    assert len(batch.readings) == 336
    assert batch.start == datetime(2020, 7, 1, tzinfo=UTC)
    assert batch.end == datetime(2020, 7, 8, tzinfo=UTC)
    first = batch.readings[0]
    assert first.ts == datetime(2020, 7, 1, 0, 0, tzinfo=UTC)
    assert first.energy_kwh == pytest.approx(14.326112052649)
    assert first.power_kw == pytest.approx(28.648906184896)
    assert first.current_a == pytest.approx(75.255677541097)
    for reading, record in zip(batch.readings, raw, strict=True):
        assert reading.ts.timestamp() == record["ts"]
        assert reading.energy_kwh == pytest.approx(record["E"] / 1000)
        assert reading.power_kw == pytest.approx(record["P"] / 1000)
        assert reading.current_a == pytest.approx(record["I"])
        # fields that were not requested stay None, never 0
        assert (reading.voltage_v, reading.power_factor, reading.temperature_c) == (None, None, None)
    # E is per-interval energy: kWh = kW x 0.5 h at 1800 s
    ratio = sum(r.energy_kwh / (r.power_kw * 0.5) for r in batch.readings) / 336
    assert ratio == pytest.approx(1.0, abs=1e-3)


def test_captured_channel_string_ids():
    items, meta = list_items(load("data-view-ids-5410eca8722e0001.json"), "channels")
    assert page_count(meta) == 1
    channel = parse_channel(items[0])
    assert channel.channel_id == 59155
    assert channel.device_id == 41281
    assert channel.organization_id == "17159"
    assert channel.channel_name == "TAB TAE PISO-VENTA"
    assert channel.unit == "kWh"


def test_captured_meters_and_organization():
    payload = load("meters-below-17158.json")
    org = parse_organization(payload)
    assert (org.organization_id, org.organization_name, org.timezone) == ("17158", "SORIANA", "America/Mexico_City")
    devices = [parse_device(m) for m in payload["metersbelow"]]
    assert len(devices) == 42
    assert all(isinstance(d.device_id, int) for d in devices)
    assert devices[0].device_id == 41281
    assert devices[0].serial_number == "5410ECA8722E0001"
    assert devices[0].organization_id == "17159"


# ----------------------------------------------------------------------------- values and units


@pytest.mark.parametrize(
    ("field", "unit", "value", "expected"),
    [
        ("E", "Wh", 1500.0, 1.5),
        ("E", "kWh", 1.5, 1.5),
        ("P", "W", 2500.0, 2.5),
        ("Q", "VAr", 1200.0, 1.2),
        ("Q", "var", 1200.0, 1.2),
        ("V", "V", 230.1, 230.1),
        ("I", "A", 12.5, 12.5),
        ("PF", "", 0.91, 0.91),
        ("PF", None, 0.91, 0.91),
        ("T", "°C", 21.5, 21.5),
        ("T", "°F", 212.0, 100.0),
        ("RH", "%", 45.0, 45.0),
    ],
)
def test_unit_conversion(field, unit, value, expected):
    assert unit_converter(field, unit)(value) == pytest.approx(expected)


def test_unknown_unit_is_an_error():
    with pytest.raises(EniscopeResponseError, match="unexpected unit 'BTU' for field E"):
        unit_converter("E", "BTU")


def test_readings_use_the_echoed_units():
    batch = parse_readings(envelope([{"ts": 0, "E": 2.0, "P": 8.0}], units={"E": "kWh", "P": "kW"}), 7)
    assert (batch.readings[0].energy_kwh, batch.readings[0].power_kw) == (2.0, 8.0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), (12, 12.0), (1.5, 1.5), ("12.5", 12.5), ("abc", "nan"), (True, "nan"), ([], "nan")],
)
def test_parse_number(raw, expected):
    result = parse_number(raw)
    if expected == "nan":
        assert math.isnan(result)
    else:
        assert result == expected


def test_nulls_missing_fields_and_garbage():
    batch = parse_readings(
        envelope([{"ts": 0, "E": None, "P": 1000.0}, {"ts": 900, "P": "n/a"}, {"ts": 1800, "E": "250"}]), 7
    )
    first, second, third = batch.readings
    assert first.energy_kwh is None, "null stays None, never 0"
    assert first.power_kw == 1.0
    assert second.energy_kwh is None, "a field missing from a record is None"
    assert math.isnan(second.power_kw), "an unparseable value becomes nan for validation to reject"
    assert third.energy_kwh == 0.25


def test_suspicious_records_are_kept_for_validation():
    records = [
        {"ts": -900, "E": 1.0},  # before the window
        {"ts": 450, "E": -5000.0},  # off the grid and negative
        {"ts": 7200, "E": 1.0},  # after the window
        {"ts": 4102444800, "P": 1.0},  # far future
        {"ts": 900, "E": 1.0},
        {"ts": 900, "E": 1.0},  # duplicate
    ]
    batch = parse_readings(envelope(records), 7)
    assert [int(r.ts.timestamp()) for r in batch.readings] == [r["ts"] for r in records]
    assert batch.readings[1].energy_kwh == -5.0


def test_empty_records_give_an_empty_batch():
    batch = parse_readings(envelope([]), 7, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
    assert batch.readings == []
    assert batch.start == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "not an object"),
        ({"resolution": 900}, "no 'records' list"),
        (envelope([{"E": 1.0}]), "has no 'ts'"),
        (envelope([{"ts": "soon"}]), "not Unix seconds"),
        (envelope([], channel=8), "answered for 8"),
        (envelope([], resolution=None), "resolution"),
        (envelope(["x"]), "not an object"),
    ],
)
def test_malformed_payloads_raise(payload, message):
    with pytest.raises(EniscopeResponseError, match=message):
        parse_readings(payload, 7)


def test_string_channel_echo_is_accepted():
    assert parse_readings(envelope([], channel="7"), 7).channel_id == 7


# ----------------------------------------------------------------------------- ids, lists, misc


def test_ids():
    assert to_int_id("59155") == 59155
    assert to_int_id(59155) == 59155
    assert to_str_id(17158) == "17158"
    assert to_str_id(" 17158 ") == "17158"
    for bad in (None, True, "abc"):
        with pytest.raises(EniscopeResponseError):
            to_int_id(bad)


def test_list_items_rejects_wrong_shapes():
    assert list_items({"meta": {"pageCount": 0}}, "channels") == ([], {"pageCount": 0})
    with pytest.raises(EniscopeResponseError):
        list_items({"channels": "nope"}, "channels")
    with pytest.raises(EniscopeResponseError):
        page_count({"pageCount": "many"})


def test_readings_params_are_explicit_and_ordered():
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)
    params = readings_params(("E", "P"), start, start + timedelta(hours=1), 900)
    assert params == [
        ("action", "summarize"), ("fields[]", "E"), ("fields[]", "P"),
        ("daterange[]", "1793505600"), ("daterange[]", "1793509200"), ("res", "900"),
    ]
    with pytest.raises(ValueError, match="fields"):
        readings_params((), start, start + timedelta(hours=1), 900)
    with pytest.raises(ValueError, match="timezone-aware"):
        readings_params(("E",), datetime(2026, 1, 1), datetime(2026, 1, 2), 900)


def test_split_window_cuts_a_25_hour_day():
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)
    end = start + timedelta(hours=25)
    pieces = split_window(start, end, timedelta(hours=24))
    assert pieces == [(start, start + timedelta(hours=24)), (start + timedelta(hours=24), end)]
    assert split_window(start, start + timedelta(hours=23), timedelta(hours=24)) == [
        (start, start + timedelta(hours=23))
    ]
    with pytest.raises(ValueError, match="empty"):
        split_window(end, start, timedelta(hours=24))


def test_merge_batches_keeps_everything_and_the_coarsest_resolution():
    a = parse_readings(envelope([{"ts": 0, "E": 1.0}]), 7)
    b = parse_readings(envelope([{"ts": 900, "E": 2.0}], resolution=1800), 7)
    merged = merge_batches(7, a.start, b.end, [a, b])
    assert [r.energy_kwh for r in merged.readings] == [0.001, 0.002]
    assert merged.resolution == 1800


def test_devices_merge_and_channel_fields():
    meter = parse_device({"deviceId": "5", "deviceName": "Meter", "dataReceivedTs": "1700000000"})
    assert meter.last_seen == epoch_to_utc(1700000000)
    sensor = parse_device({"deviceId": 6, "deviceTypeName": "Air Sense"})
    assert [d.device_id for d in merge_devices([meter], [sensor, meter])] == [5, 6]
    assert fields_for_channel(Channel(1, "x", channel_type="Air Sense")) == SENSOR_FIELDS
    assert fields_for_channel(Channel(1, "x", channel_type="Eniscope 8 Hybrid Metering Point")) == DEFAULT_FIELDS


def test_reading_type_is_the_shared_model():
    batch = parse_readings(envelope([{"ts": 0, "E": 1.0}]), 7)
    assert isinstance(batch.readings[0], Reading)
