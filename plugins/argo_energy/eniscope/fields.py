"""The Eniscope field codes the warehouse stores, their units, and which ones to ask a channel for.

Pure, no I/O. API.md §5 lists the codes and units; a device reports a subset of them, discovered
once per channel with ``GET /fields/{deviceTypeId}`` (``EniscopeHook.get_fields``) and cached with
the channel in the warehouse (``channels.reading_fields``). ``request_fields`` turns that list into
the ``fields[]`` of the one readings request per channel and window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from argo_energy.eniscope.errors import EniscopeResponseError

# The fields asked for when a channel's list is unknown (not discovered yet, or discovery failed).
DEFAULT_FIELDS: tuple[str, ...] = ("E", "P", "V", "I", "PF", "Q", "T", "RH")
# What an environmental sensor (Air Sense) can answer; electrical codes make it return 500.
SENSOR_FIELDS: tuple[str, ...] = ("T", "RH")
# The power-quality codes the original system requested besides the defaults (API.md §7, §8).
POWER_QUALITY_FIELDS: tuple[str, ...] = (
    "S", "F", "D", "In", "cost",
    "E1", "P1", "V1", "I1", "PF1",
    "E2", "P2", "V2", "I2", "PF2",
    "E3", "P3", "V3", "I3", "PF3",
)

# API field code -> Reading attribute (one warehouse column each), in request order.
FIELD_TO_ATTR: dict[str, str] = {
    "E": "energy_kwh",
    "P": "power_kw",
    "V": "voltage_v",
    "I": "current_a",
    "PF": "power_factor",
    "Q": "reactive_power_kvar",
    "T": "temperature_c",
    "RH": "relative_humidity",
    "S": "apparent_power_kva",
    "F": "frequency_hz",
    "D": "current_thd_pct",
    "In": "neutral_current_a",
    "cost": "cost",
    **{
        f"{code}{phase}": f"{attr}_l{phase}"
        for phase in (1, 2, 3)
        for code, attr in (
            ("E", "energy_kwh"), ("P", "power_kw"), ("V", "voltage_v"), ("I", "current_a"), ("PF", "power_factor"),
        )
    },
}

# Unit the API documents for each family (§4, §5), used when a response's ``units`` map omits a field.
_FAMILY_UNITS: dict[str, str] = {
    "E": "Wh", "P": "W", "V": "V", "I": "A", "PF": "", "Q": "VAr", "T": "°C", "RH": "%",
    "S": "VA", "F": "Hz", "D": "%", "In": "A", "cost": "",
}


def family(code: str) -> str:
    """The system code a phase code belongs to: ``PF2`` -> ``PF``, ``E1`` -> ``E``, ``In`` -> ``In``."""
    return code.rstrip("123")


DOCUMENTED_UNITS: dict[str, str] = {code: _FAMILY_UNITS[family(code)] for code in FIELD_TO_ATTR}
ELECTRICAL_CORE = frozenset({"E", "P"})


def parse_field_list(payload: Any, what: str) -> tuple[str, ...]:
    """Field codes from a discovery answer, in the order given, without repeats.

    Accepts the shapes seen or documented: ``{"fields": [...]}``, ``{"filters": {"fields": [...]}}``
    (``OPTIONS /readings/{id}``), a bare list, and items that are codes or objects with a ``code``,
    ``field`` or ``name``. Anything else is an ``EniscopeResponseError`` naming ``what``.
    """
    items = payload
    if isinstance(items, Mapping) and isinstance(items.get("filters"), Mapping):
        items = items["filters"]
    if isinstance(items, Mapping):
        items = items.get("fields")
    if not isinstance(items, list):
        raise EniscopeResponseError(f"{what}: expected a list of field codes, got {type(payload).__name__}")
    codes: list[str] = []
    for item in items:
        code = _code_of(item)
        if code is None:
            raise EniscopeResponseError(f"{what}: {item!r} is not a field code")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _code_of(item: Any) -> str | None:
    if isinstance(item, Mapping):
        item = item.get("code") or item.get("field") or item.get("name")
    if isinstance(item, str) and item.strip():
        return item.strip()
    return None


def request_fields(discovered: Iterable[str] | None) -> tuple[str, ...]:
    """The ``fields[]`` to ask a channel for, given its discovered codes (None: not discovered).

    A metering channel (its list has E or P) is asked for every code it reports that the warehouse
    stores, in ``FIELD_TO_ATTR`` order. Anything else (unknown list, sensor, virtual channel) is
    asked for ``DEFAULT_FIELDS`` as before: a sensor or virtual channel answers 500 to those and is
    marked unsupported by the ingestion.
    """
    if discovered is None:
        return DEFAULT_FIELDS
    reported = set(discovered)
    if not reported & ELECTRICAL_CORE:
        return DEFAULT_FIELDS
    return tuple(code for code in FIELD_TO_ATTR if code in reported)
