"""Plain data passed between the three layers (hook -> pure functions -> warehouse).

No I/O here and no Airflow import: these types are the contract every module codes against.
All datetimes are timezone-aware UTC; ranges are half-open ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter

# A site whose organisation has no time zone is in this one: the contract's column default
# (organizations.timezone, seed §3.2), which the warehouse stores and the views, validation,
# ingestion and report all use to decide what a site's day is.
DEFAULT_SITE_TIMEZONE = "America/New_York"

# Reading value columns, in the order of the ``readings`` table (seed §3.5).
READING_FIELDS: tuple[str, ...] = (
    "energy_kwh",
    "power_kw",
    "voltage_v",
    "current_a",
    "power_factor",
    "reactive_power_kvar",
    "temperature_c",
    "relative_humidity",
    # Power quality (issue 19, migration V011): honest names, units in the name.
    "apparent_power_kva",
    "frequency_hz",
    "current_thd_pct",
    "neutral_current_a",
    "cost",
    "energy_kwh_l1", "power_kw_l1", "voltage_v_l1", "current_a_l1", "power_factor_l1",
    "energy_kwh_l2", "power_kw_l2", "voltage_v_l2", "current_a_l2", "power_factor_l2",
    "energy_kwh_l3", "power_kw_l3", "voltage_v_l3", "current_a_l3", "power_factor_l3",
)
# All of them in that order, in one C call: Reading.values() runs once per row written.
_reading_values = attrgetter(*READING_FIELDS)


@dataclass(frozen=True, slots=True)
class Reading:
    """One 15-minute interval of one channel, already in warehouse units (kWh, kW, kvar...).

    ``ts`` is the interval start in UTC. A value the API did not send is ``None``, never 0.
    """

    ts: datetime
    energy_kwh: float | None = None
    power_kw: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    power_factor: float | None = None
    reactive_power_kvar: float | None = None
    temperature_c: float | None = None
    relative_humidity: float | None = None
    apparent_power_kva: float | None = None  # S
    frequency_hz: float | None = None  # F
    current_thd_pct: float | None = None  # D, current total harmonic distortion
    neutral_current_a: float | None = None  # In
    cost: float | None = None  # in the site's currency (only channels with a tariff)
    energy_kwh_l1: float | None = None  # E1..3, P1..3, V1..3 (line to neutral), I1..3, PF1..3
    power_kw_l1: float | None = None
    voltage_v_l1: float | None = None
    current_a_l1: float | None = None
    power_factor_l1: float | None = None
    energy_kwh_l2: float | None = None
    power_kw_l2: float | None = None
    voltage_v_l2: float | None = None
    current_a_l2: float | None = None
    power_factor_l2: float | None = None
    energy_kwh_l3: float | None = None
    power_kw_l3: float | None = None
    voltage_v_l3: float | None = None
    current_a_l3: float | None = None
    power_factor_l3: float | None = None

    def values(self) -> tuple[float | None, ...]:
        return _reading_values(self)


@dataclass(frozen=True, slots=True)
class ReadingsBatch:
    """What the hook returns for one channel and one requested window."""

    channel_id: int
    start: datetime
    end: datetime
    resolution: int  # seconds, as echoed by the API (the coarsest one when the hook split the window)
    readings: list[Reading] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A reading that failed validation, kept with the reason (never silently dropped).

    ``reason`` is stable: the failed checks' codes joined by ``"; "`` (the warehouse keys on it,
    so a rerun refreshes the row). ``detail`` says why in words, with the values and bounds.
    """

    reading: Reading
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """A fetch window: one site-local calendar day, clipped to the requested range."""

    start: datetime
    end: datetime
    local_date: date


@dataclass(frozen=True, slots=True)
class Organization:
    organization_id: str
    organization_name: str
    address: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    device_id: int
    device_name: str | None = None
    organization_id: str | None = None
    device_type: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """A catalog record (organisation, device or channel) left out of the sync, and why.

    ``reason`` is a stable code (``malformed``, ``depends_on_quarantined``); ``detail`` says what
    was wrong in words; ``record`` is the API object as received (JSON, cut), for whoever fixes it.
    """

    kind: str  # 'organization' | 'device' | 'channel'
    record_id: str
    reason: str
    detail: str
    organization_id: str | None = None
    record: str | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: int
    channel_name: str
    device_id: int | None = None
    organization_id: str | None = None
    channel_type: str | None = None
    unit: str | None = None
    description: str | None = None
    device_type_id: str | None = None  # ``deviceTypeId``: what the channel's fields were discovered for
