"""Pure functions: Eniscope payloads -> ``argo_energy.models`` objects, request parameters, windows.

No I/O here. Readings are converted by the ``units`` map the API echoes (API.md §4, §10.5):
Wh -> kWh, W -> kW, VAr -> kvar, VA -> kVA (phase codes like their family); V, A, PF, Hz, °C,
% and cost unchanged. A value the API did not send or
sent as ``null`` stays ``None`` (never 0); a value that is not a number becomes ``nan`` so that
validation rejects it as non-finite. Records are never dropped here, not even ones outside the
window, off the grid, negative or in the future: the ingestion layer rejects them with reasons.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.fields import DEFAULT_FIELDS, DOCUMENTED_UNITS, FIELD_TO_ATTR, SENSOR_FIELDS, family
from argo_energy.escaping import CONTROL, clean_text
from argo_energy.models import Channel, Device, Organization, QuarantinedRecord, Reading, ReadingsBatch
from argo_energy.sitetime import is_iana_zone

# The field catalogue (codes, attributes, documented units) is ``fields``.
_SCALE: dict[str, dict[str, float]] = {
    # keys are unit strings lower-cased with spaces removed
    "E": {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3},
    "P": {"w": 1e-3, "kw": 1.0, "mw": 1e3},
    "Q": {"var": 1e-3, "kvar": 1.0, "mvar": 1e3},
    "V": {"v": 1.0, "kv": 1e3},
    "I": {"a": 1.0, "ma": 1e-3, "ka": 1e3},
    "PF": {"": 1.0, "-": 1.0, "pf": 1.0, "ratio": 1.0, "none": 1.0},
    "T": {"°c": 1.0, "c": 1.0, "degc": 1.0, "celsius": 1.0, "℃": 1.0},
    "RH": {"%": 1.0, "%rh": 1.0, "rh": 1.0, "percent": 1.0},
    "S": {"va": 1e-3, "kva": 1.0, "mva": 1e3},
    "F": {"hz": 1.0},
    "D": {"%": 1.0, "percent": 1.0},
    "In": {"a": 1.0, "ma": 1e-3, "ka": 1e3},
}
_FAHRENHEIT = {"°f", "f", "degf", "fahrenheit", "℉"}

Converter = Callable[[float], float]


def _identity(value: float) -> float:
    return value


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def unit_converter(field: str, unit: str | None) -> Converter:
    """The function turning a value of ``field`` given in ``unit`` into warehouse units.

    Raises ``EniscopeResponseError`` for a unit this client does not know, rather than storing
    a number in the wrong unit.
    """
    if field not in FIELD_TO_ATTR:
        raise EniscopeResponseError(f"field {field!r} has no warehouse column")
    if field == "cost":  # in the site's currency, whatever its code: stored as sent
        return _identity
    key = "" if unit is None else str(unit).strip().lower().replace(" ", "")
    if field == "T" and key in _FAHRENHEIT:
        return _fahrenheit_to_celsius
    factor = _SCALE[family(field)].get(key)
    if factor is None:
        raise EniscopeResponseError(f"unexpected unit {unit!r} for field {field}")
    if factor == 1.0:
        return _identity
    return lambda value: value * factor


def parse_number(value: Any) -> float | None:
    """A JSON value as a float: ``None``/``""`` -> ``None``; an unparseable string -> ``nan``."""
    if value is None:
        return None
    if isinstance(value, bool):  # a bool is not a measurement
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def epoch_to_utc(value: Any) -> datetime:
    """Unix seconds (int, float or numeric string) as an aware UTC datetime."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise EniscopeResponseError(f"timestamp {value!r} is not Unix seconds") from None
    if not math.isfinite(seconds):
        raise EniscopeResponseError(f"timestamp {value!r} is not finite")
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):  # past year 9999: milliseconds, most likely
        raise EniscopeResponseError(f"timestamp {value!r} is out of range for Unix seconds (milliseconds?)") from None


def to_unix(moment: datetime) -> int:
    """An aware datetime as whole Unix seconds; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment!r} must be timezone-aware (UTC)")
    return int(moment.timestamp())


def to_int_id(value: Any, what: str = "id") -> int:
    """An id sent as ``"59155"`` or ``59155`` as an int."""
    if isinstance(value, bool) or value is None:
        raise EniscopeResponseError(f"{what} {value!r} is not an id")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise EniscopeResponseError(f"{what} {value!r} is not an integer id") from None


def to_str_id(value: Any, what: str = "id") -> str:
    """An organisation id normalised to its decimal string (``17158`` and ``"17158"`` agree)."""
    if value is None or isinstance(value, bool):
        raise EniscopeResponseError(f"{what} {value!r} is not an id")
    text = str(value).strip()
    if not text:
        raise EniscopeResponseError(f"{what} is empty")
    if CONTROL.search(text):
        raise EniscopeResponseError(f"{what} {value!r} contains control characters")
    return str(int(text)) if text.isdigit() else text


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = clean_text(str(value))
    return text or None


def _opt_str_id(value: Any) -> str | None:
    return None if _opt_str(value) is None else to_str_id(value)


def _opt_int_id(value: Any) -> int | None:
    return None if _opt_str(value) is None else to_int_id(value)


# ----------------------------------------------------------------------------- readings


SLOT_SECONDS = 900  # the warehouse grid: what a readings window is expected to hold at most
RECORDS_PER_SLOT = 2  # more records than twice the window's slots is not a readings answer


def max_records(start: datetime, end: datetime, resolution: int | str = SLOT_SECONDS) -> int:
    """Most records a sane answer for ``[start, end)`` can hold: twice its slots (of at most 15 min)."""
    step = min(resolution, SLOT_SECONDS) if isinstance(resolution, int) and resolution > 0 else SLOT_SECONDS
    slots = math.ceil((end - start).total_seconds() / step)
    return RECORDS_PER_SLOT * max(1, slots)


def _records(payload: Mapping[str, Any], channel_id: int, max_count: int | None) -> list[Any]:
    """The ``records`` list of a readings envelope, checked against the echoed channel and the cap."""
    if not isinstance(payload, Mapping):
        raise EniscopeResponseError(f"readings payload is a {type(payload).__name__}, not an object")
    records = payload.get("records")
    if not isinstance(records, list):
        raise EniscopeResponseError(f"readings payload for channel {channel_id} has no 'records' list")
    if max_count is not None and len(records) > max_count:
        raise EniscopeResponseError(
            f"readings payload for channel {channel_id} has {len(records)} records, more than the "
            f"{max_count} (twice the 15-minute slots) its window can hold"
        )
    echoed = payload.get("channel")
    if echoed is not None and to_int_id(echoed, "channel") != channel_id:
        raise EniscopeResponseError(f"asked for channel {channel_id}, the API answered for {echoed}")
    return records


def _resolution(payload: Mapping[str, Any]) -> int:
    resolution = payload.get("resolution")
    if isinstance(resolution, bool) or not isinstance(resolution, int | float | str):
        raise EniscopeResponseError(f"resolution {resolution!r} is not a number of seconds")
    try:
        return int(resolution)
    except (TypeError, ValueError, OverflowError):
        raise EniscopeResponseError(f"resolution {resolution!r} is not a number of seconds") from None


def _converters(payload: Mapping[str, Any]) -> dict[str, tuple[str, Converter]]:
    """Field code -> (Reading attribute, converter to warehouse units) from the echoed ``units``."""
    units = payload.get("units") or {}
    if not isinstance(units, Mapping):
        raise EniscopeResponseError("'units' is not an object")
    return {
        code: (attr, unit_converter(code, units.get(code, DOCUMENTED_UNITS[code])))
        for code, attr in FIELD_TO_ATTR.items()
    }


def _reading(record: Any, index: int, channel_id: int, converters: Mapping[str, tuple[str, Converter]]) -> Reading:
    if not isinstance(record, Mapping):
        raise EniscopeResponseError(f"record {index} of channel {channel_id} is not an object")
    if "ts" not in record:
        raise EniscopeResponseError(f"record {index} of channel {channel_id} has no 'ts'")
    values: dict[str, float | None] = {}
    for code, (attr, convert) in converters.items():
        number = parse_number(record.get(code))
        # nan stays nan (validation rejects it); None stays None.
        values[attr] = None if number is None else convert(number)
    return Reading(ts=epoch_to_utc(record["ts"]), **values)


def parse_readings(
    payload: Mapping[str, Any],
    channel_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    max_records: int | None = None,
) -> ReadingsBatch:
    """One ``/readings`` envelope as a ``ReadingsBatch`` in warehouse units.

    ``start``/``end`` default to the echoed ``from``/``to``. Every record becomes a ``Reading``
    (``ts`` = interval start, UTC); values of fields absent from a record are ``None``. More than
    ``max_records`` records (see ``max_records()``) is a malformed answer.
    """
    records = _records(payload, channel_id, max_records)
    resolution_s = _resolution(payload)
    converters = _converters(payload)
    readings = [_reading(record, index, channel_id, converters) for index, record in enumerate(records)]
    return ReadingsBatch(
        channel_id=channel_id,
        start=start if start is not None else epoch_to_utc(payload.get("from")),
        end=end if end is not None else epoch_to_utc(payload.get("to")),
        resolution=resolution_s,
        readings=readings,
    )


def merge_batches(
    channel_id: int, start: datetime, end: datetime, batches: Sequence[ReadingsBatch]
) -> ReadingsBatch:
    """Concatenate the batches of one split window; the resolution is the coarsest echoed one."""
    readings: list[Reading] = []
    for batch in batches:
        readings.extend(batch.readings)
    resolution = max((batch.resolution for batch in batches), default=0)
    return ReadingsBatch(
        channel_id=channel_id, start=start, end=end, resolution=resolution, readings=readings
    )


def readings_params(
    fields: Sequence[str], start: datetime, end: datetime, resolution: int | str
) -> list[tuple[str, str]]:
    """Query parameters of ``GET /readings/{id}``, repeated array params in a stable order."""
    if not fields:
        raise ValueError("fields must not be empty: the API answers 500 without fields[]")
    params: list[tuple[str, str]] = [("action", "summarize")]
    params.extend(("fields[]", str(code)) for code in fields)
    params.append(("daterange[]", str(to_unix(start))))
    params.append(("daterange[]", str(to_unix(end))))
    params.append(("res", str(resolution)))
    return params


def split_window(
    start: datetime, end: datetime, max_span: timedelta
) -> list[tuple[datetime, datetime]]:
    """Half-open ``[start, end)`` cut into consecutive pieces of at most ``max_span``."""
    if end <= start:
        raise ValueError(f"empty or reversed window {start.isoformat()} .. {end.isoformat()}")
    if max_span <= timedelta(0):
        raise ValueError("max_span must be positive")
    pieces: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        upper = min(cursor + max_span, end)
        pieces.append((cursor, upper))
        cursor = upper
    return pieces


def fields_for_channel(channel: Channel) -> tuple[str, ...]:
    """The fields to request for a channel: T/RH for environmental sensors, else the defaults."""
    kind = f"{channel.channel_type or ''} {channel.description or ''}".lower()
    if "air sense" in kind or "sensor" in kind:
        return SENSOR_FIELDS
    return DEFAULT_FIELDS


# ----------------------------------------------------------------------------- lists


def list_items(payload: Any, key: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The items and ``meta`` of a list envelope ``{"<key>": [...], "meta": {...}}``."""
    if not isinstance(payload, Mapping):
        raise EniscopeResponseError(f"list payload for {key!r} is not an object")
    items = payload.get(key)
    if items is None:
        items = []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise EniscopeResponseError(f"'{key}' is not a list of objects")
    meta = payload.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise EniscopeResponseError("'meta' is not an object")
    return [dict(item) for item in items], dict(meta)


def page_count(meta: Mapping[str, Any]) -> int:
    """``meta.pageCount`` as an int (0 when absent: everything came in one page)."""
    try:
        return int(meta.get("pageCount") or 0)
    except (TypeError, ValueError):
        raise EniscopeResponseError(f"pageCount {meta.get('pageCount')!r} is not a number") from None


def parse_organization(obj: Mapping[str, Any]) -> Organization:
    """An organisation object (``organizationId``/``organizationName``; ids may be strings)."""
    if "organizationId" not in obj:
        raise EniscopeResponseError("organization object has no 'organizationId'")
    address = ", ".join(
        text for text in (_opt_str(obj.get(k)) for k in ("address1", "address2", "address3")) if text
    )
    org_id = to_str_id(obj["organizationId"], "organizationId")
    zone = _opt_str(obj.get("timeZone"))
    if zone is not None and not is_iana_zone(zone):
        # The zone cuts the site's days: a guess would file readings under the wrong dates.
        raise EniscopeResponseError(f"organization {org_id}: timeZone {zone!r} is not an IANA time zone")
    return Organization(
        organization_id=org_id,
        organization_name=_opt_str(obj.get("organizationName")) or f"Organization {org_id}",
        address=address or None,
        city=_opt_str(obj.get("city")),
        postcode=_opt_str(obj.get("postCode")),
        country=_opt_str(obj.get("country")),
        timezone=zone,
    )


def parse_channel(obj: Mapping[str, Any]) -> Channel:
    """A channel ("data channel") object; its id is ``dataChannelId``."""
    if "dataChannelId" not in obj:
        raise EniscopeResponseError("channel object has no 'dataChannelId'")
    channel_id = to_int_id(obj["dataChannelId"], "dataChannelId")
    data_type = _opt_str(obj.get("dataType"))
    phase = _opt_str(obj.get("displayedPhase"))
    unit = _opt_str(obj.get("pulseUnits"))
    if unit is None and data_type and "meter" in data_type.lower():
        unit = "kWh"
    description = data_type if phase is None else f"{data_type or 'channel'} ({phase})"
    return Channel(
        channel_id=channel_id,
        channel_name=_opt_str(obj.get("channelName")) or f"Channel {channel_id}",
        device_id=_opt_int_id(obj.get("deviceId")),
        organization_id=_opt_str_id(obj.get("organizationId")),
        channel_type=_opt_str(obj.get("deviceTypeName")) or data_type,
        unit=unit,
        description=description,
        device_type_id=_opt_str(obj.get("deviceTypeId")),
    )


def parse_device(obj: Mapping[str, Any]) -> Device:
    """A device, meter or channel object as the metering ``Device`` it refers to (``deviceId``)."""
    if "deviceId" not in obj:
        raise EniscopeResponseError("device object has no 'deviceId'")
    received = obj.get("dataReceivedTs")
    return Device(
        device_id=to_int_id(obj["deviceId"], "deviceId"),
        device_name=_opt_str(obj.get("deviceName")),
        organization_id=_opt_str_id(obj.get("organizationId")),
        device_type=_opt_str(obj.get("deviceTypeName")) or _opt_str(obj.get("dataType")),
        serial_number=_opt_str(obj.get("uuId")),
        firmware_version=_opt_str(obj.get("firmwareVersion")),
        last_seen=None if _opt_str(received) is None else epoch_to_utc(received),
    )


_T = TypeVar("_T")
# What a bad record raises in a parse function (anything else is a bug and propagates).
_RECORD_ERRORS = (EniscopeResponseError, ValueError, TypeError, OverflowError, RecursionError)
RECORD_CHARS = 4096  # the raw record kept with a quarantine row, at most


def parse_each(
    items: Iterable[Mapping[str, Any]], parse: Callable[[Mapping[str, Any]], _T], kind: str, id_key: str
) -> tuple[list[_T], list[QuarantinedRecord]]:
    """Parse catalog records one by one: the good ones, and each bad one quarantined with its error."""
    good: list[_T] = []
    bad: list[QuarantinedRecord] = []
    for obj in items:
        try:
            good.append(parse(obj))
        except _RECORD_ERRORS as exc:
            org = obj.get("organizationId")
            bad.append(QuarantinedRecord(
                kind=kind,
                record_id=clean_text(str(obj.get(id_key)))[:100] or "(none)",
                reason="malformed",
                detail=f"{kind} record: {exc}"[:1000],
                organization_id=None if org is None else clean_text(str(org))[:100] or None,
                record=json.dumps(obj, default=str, ensure_ascii=True)[:RECORD_CHARS],
            ))
    return good, bad


def merge_devices(*sources: Iterable[Device]) -> list[Device]:
    """Devices by id, first source first; later sources only fill in ids not seen yet."""
    seen: dict[int, Device] = {}
    for source in sources:
        for device in source:
            seen.setdefault(device.device_id, device)
    return list(seen.values())
