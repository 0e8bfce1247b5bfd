"""The simulated account: organisation tree, devices, meters and channels as API objects.

Ids are deterministic (bases from the config, assigned in order) and every id in an API object is
a string, as the real API sends them (API.md §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eniscope_simulator.config import SimulatorConfig, SiteConfig

LINK_BASE = "https://core.eniscope.com/v1/1"
REGISTERED = 1714521600  # 2024-05-01, licence start shown on devices
EXPIRES = 1893456000  # 2030-01-01

PHASE_CODES = ("E", "P", "V", "I", "PF", "Q")  # per-phase families served as E1..E3 etc.
SINGLE_PHASE_FIELDS = frozenset(["E", "P", "V", "I", "PF", "Q", "S", "F", "D"])
METER_FIELDS = SINGLE_PHASE_FIELDS | frozenset(
    ["In"] + [f"{code}{phase}" for code in PHASE_CODES for phase in (1, 2, 3)]
)
SENSOR_FIELDS = frozenset(["T", "RH", "CO2", "VOC1"])
# Every code of the API field table the sensor check looks at: asking a sensor for one -> 500.
ELECTRICAL_CODES = METER_FIELDS | frozenset(["Ex", "RE", "AE", "Pmax", "Imax", "Vmax", "U", "C", "cost"])
UNITS = {
    "E": "Wh", "P": "W", "Q": "VAr", "S": "VA", "V": "V", "I": "A", "In": "A", "PF": "", "F": "Hz",
    "D": "%", "T": "°C", "RH": "%", "CO2": "ppm", "VOC1": "ppb",
}


def unit_of(code: str, currency: str = "") -> str:
    """Unit of a field code (phase codes share their system code's; ``cost`` is in ``currency``).

    The unit of ``cost`` is not documented (API.md §4: "currency = org currencyCode", INFERRED).
    """
    if code == "cost":
        return currency
    return UNITS.get(code) or UNITS.get(code.rstrip("123"), "")


@dataclass
class Org:
    org_id: int
    parent_id: int | None
    name: str
    timezone: str
    site: SiteConfig | None
    obj: dict[str, Any]
    sort_code: str


@dataclass
class ChannelDef:
    """A data channel and what the data generator needs to know about it."""

    channel_id: int
    name: str
    kind: str  # "meter" | "sensor" | "virtual"
    org_id: int
    device_id: int
    uuid: str
    timezone: str
    voltage: float
    base_kw: float
    index: int  # position within its site (shapes the load)
    obj: dict[str, Any] = field(default_factory=dict)
    phases: int = 3  # 3 or 1 (meters only)
    tariff: float | None = None  # price per kWh: the channel serves ``cost``
    currency: str = "USD"

    @property
    def fields(self) -> frozenset[str]:
        """The codes the channel reports (``OPTIONS /readings/{id}``); anything else is absent."""
        if self.kind != "meter":
            return SENSOR_FIELDS if self.kind == "sensor" else frozenset()
        codes = METER_FIELDS if self.phases == 3 else SINGLE_PHASE_FIELDS
        return codes | {"cost"} if self.tariff is not None else codes


class World:
    """Everything the simulated account contains, built once from the config."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.orgs: dict[int, Org] = {}
        self.devices: dict[int, dict[str, Any]] = {}
        self.meters: dict[int, dict[str, Any]] = {}  # by meterId
        self.channels: dict[int, ChannelDef] = {}
        self.children: dict[int, list[int]] = {}
        self._build(config)

    # ------------------------------------------------------------------ queries

    @property
    def root_id(self) -> int:
        return next(o.org_id for o in self.orgs.values() if o.parent_id is None)

    def subtree(self, org_id: int) -> set[int]:
        """``org_id`` and every descendant."""
        found, stack = set(), [org_id]
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self.children.get(current, []))
        return found

    def org_by_name_or_id(self, value: str | None) -> int:
        if value is None:
            return self.root_id
        for org in self.orgs.values():
            if org.name == value or str(org.org_id) == str(value):
                return org.org_id
        raise ValueError(f"no organisation named or numbered {value!r}")

    # ------------------------------------------------------------------ construction

    def _org_obj(self, org_id: int, parent: int | None, name: str, tz: str, sort_code: str,
                 site: SiteConfig | None) -> dict[str, Any]:
        links = {k: f"{LINK_BASE}/organizations/{org_id}/{k}" for k in
                 ("accounts", "devices", "meters", "metersbelow", "channels", "readings")}
        links["self"] = f"{LINK_BASE}/organizations/{org_id}"
        return {
            "organizationId": str(org_id), "links": links, "groupId": None,
            "parentId": None if parent is None else str(parent), "organizationName": name,
            "defaultEmailAddress": None, "defaultLanguageCode": "en", "status": "1", "timeZone": tz,
            "currencyCode": site.currency if site else "USD", "organizationType": None,
            "temperatureType": "Celsius", "createdBy": "1", "modifiedBy": "1",
            "createdTs": str(REGISTERED), "modifiedTs": str(REGISTERED),
            "address1": f"{100 + org_id % 900} Main Street" if site else None, "address2": None,
            "address3": None, "state": None, "city": site.city if site else None,
            "postCode": f"{10000 + org_id % 89999}" if site else None,
            "country": site.country if site else None, "lat": None, "lng": None,
            "sortCode": sort_code, "currencySymbol": "$",
        }

    def _build(self, config: SimulatorConfig) -> None:
        root_id = config.org_id_base
        root_sort = f"1-{root_id}-"
        self.orgs[root_id] = Org(root_id, None, config.root_name, config.root_timezone, None,
                                 self._org_obj(root_id, None, config.root_name, config.root_timezone,
                                               root_sort, None), root_sort)
        next_device = config.device_id_base
        next_meter = config.meter_id_base
        next_channel = config.channel_id_base
        for s_index, site in enumerate(config.sites):
            org_id = root_id + 1 + s_index
            sort = f"{root_sort}{org_id}-"
            self.orgs[org_id] = Org(org_id, root_id, site.name, site.timezone, site,
                                    self._org_obj(org_id, root_id, site.name, site.timezone, sort, site),
                                    sort)
            self.children.setdefault(root_id, []).append(org_id)
            prefix = f"{(0x44B7D0E9B3C0 + (config.seed % 4096) * 0x1000 + s_index * 0x10):012X}"
            gateway_id = next_device
            next_device += 1
            self.devices[gateway_id] = self._device_obj(
                gateway_id, None, org_id, site, sort, f"{prefix}0000", "Hybrid 8 gateway",
                type_id="20", type_code="EH_8", type_name="Eniscope Hybrid 8", metering=False,
            )
            kinds = (["meter"] * (site.meters + site.single_phase) + ["sensor"] * site.sensors
                     + ["virtual"] * site.virtual)
            counters = {"meter": 0, "sensor": 0, "virtual": 0}
            for position, kind in enumerate(kinds):
                counters[kind] += 1
                phases = 1 if kind == "meter" and counters[kind] > site.meters else 3
                number = counters[kind]
                device_id, meter_id, channel_id = next_device, next_meter, next_channel
                next_device += 1
                next_channel += 1
                if kind == "meter":
                    uuid = f"{prefix}00{number:02d}"
                    name = f"Meter {number}"
                    channel_name = f"{site.name} - Panel {chr(64 + number)}"
                    type_name, data_type = "Eniscope 8 Hybrid Metering Point", "grid meter"
                elif kind == "sensor":
                    uuid = f"{prefix}05{number:02d}"
                    name = f"Air Sense {number}"
                    channel_name = f"{site.name} - Air Sense {number}"
                    type_name, data_type = "Air Sense", "air quality"
                else:
                    uuid = f"{prefix}09{number:02d}"
                    name = f"Virtual {number}"
                    channel_name = f"{site.name} - Site total (virtual {number})"
                    type_name, data_type = "Virtual Metering Point", "virtual meter"
                self.devices[device_id] = self._device_obj(
                    device_id, gateway_id, org_id, site, sort, uuid, name,
                    type_id="20" if kind == "meter" else ("31" if kind == "sensor" else "5"),
                    type_code={"meter": "EM_8", "sensor": "AIR_1", "virtual": "VM_1"}[kind],
                    type_name=type_name, metering=kind != "sensor", phases=phases,
                )
                if kind != "sensor":
                    next_meter += 1
                    self.meters[meter_id] = self._meter_obj(
                        device_id, gateway_id, org_id, site, sort, uuid, name, meter_id, data_type
                    )
                    self.meters[meter_id]["channels"] = str(phases)
                tariff = site.tariff_per_kwh if kind == "meter" else None
                obj = self._channel_obj(
                    channel_id, channel_name, device_id, org_id, site, sort, uuid, name,
                    meter_id if kind != "sensor" else None, data_type, type_name,
                )
                if tariff is not None:
                    obj.update(tariffId=str(900 + org_id % 100), costEnabled=True)
                self.channels[channel_id] = ChannelDef(
                    channel_id=channel_id, name=channel_name, kind=kind, org_id=org_id,
                    device_id=device_id, uuid=uuid, timezone=site.timezone, voltage=site.voltage,
                    # meters of one site differ in size: the first is the largest
                    base_kw=site.base_kw * (1.0 - 0.12 * min(position, 6)), index=position, obj=obj,
                    phases=phases, tariff=tariff, currency=site.currency,
                )

    def _device_obj(self, device_id: int, parent: int | None, org_id: int, site: SiteConfig, sort: str,
                    uuid: str, name: str, *, type_id: str, type_code: str, type_name: str,
                    metering: bool, phases: int = 3) -> dict[str, Any]:
        return {
            "deviceId": str(device_id), "links": {"self": f"{LINK_BASE}/devices/{device_id}"},
            "deviceTypeId": type_id, "deviceTypeCode": type_code, "deviceTypeName": type_name,
            "meteringPoint": "1" if metering else "0",
            "singlePhaseEnabled": "1" if phases == 1 else "0",
            "timeZone": site.timezone, "uuId": uuid,
            "parentId": None if parent is None else str(parent), "organizationId": str(org_id),
            "deviceName": name, "registered": str(REGISTERED), "dataPlan": "12",
            "expires": str(EXPIRES), "renewed": None, "status": "1", "sortCode": sort,
            "isMeteringPoint": metering, "firmwareVersion": "8.4.2", "tempteratureEnabled": "0",
        }

    def _meter_obj(self, device_id: int, gateway: int, org_id: int, site: SiteConfig, sort: str,
                   uuid: str, name: str, meter_id: int, data_type: str) -> dict[str, Any]:
        return {
            "links": {"self": f"{LINK_BASE}/meters"}, "deviceId": str(device_id), "uuId": uuid,
            "parentId": str(gateway), "organizationId": str(org_id), "subscriptionId": None,
            "deviceTypeId": "20", "binaryStoreId": "2", "deviceName": name,
            "registered": str(REGISTERED), "dataPlan": "12", "expires": str(EXPIRES), "renewed": None,
            "status": "1", "meterId": str(meter_id), "deviceTypeInterfaceId": "25",
            "dataType": data_type, "ct": "250", "vs": str(int(site.voltage)), "channels": "3",
            "pulseLabel": "", "pulseRatio": None, "pulseUnits": "", "pulseEnergyRatio": None,
            "temperatureEnabled": "0", "dataReceivedTs": None, "sortCode": sort,
            "organizationName": site.name,
            "interface": {"deviceTypeInterfaceId": "25", "interfaceName": "Onboard", "deviceTypeId": "16",
                          "direction": "accept", "count": "8", "prefix": "00"},
        }

    def _channel_obj(self, channel_id: int, channel_name: str, device_id: int, org_id: int,
                     site: SiteConfig, sort: str, uuid: str, device_name: str, meter_id: int | None,
                     data_type: str, type_name: str) -> dict[str, Any]:
        return {
            "links": {"self": f"{LINK_BASE}/dataChannels"}, "deviceId": str(device_id), "uuId": uuid,
            "parentId": None, "organizationId": str(org_id), "subscriptionId": None,
            "deviceTypeId": "20" if data_type == "grid meter" else "31", "binaryStoreId": "2",
            "serviceAgreementId": None, "deviceName": device_name, "registered": str(REGISTERED),
            "dataPlan": "12", "expires": str(EXPIRES), "renewed": None, "nominalCode": None,
            "status": "1", "createdBy": "1", "modifiedBy": "1", "createdTs": str(REGISTERED),
            "modifiedTs": str(REGISTERED), "vendor": None, "vendor_id": None, "vendor_format_id": None,
            "vendor_parent_id": None, "interfaceName": "Onboard", "dataChannelId": str(channel_id),
            "tariffId": None, "timePeriodId": None, "displayedPhase": "system",
            "channelName": channel_name, "sortOrder": "0", "installedTs": str(REGISTERED),
            "uninstalledTs": None, "dataType": data_type,
            "meterId": None if meter_id is None else str(meter_id), "pulseLabel": "", "pulseUnits": "",
            "pulseRatio": None, "pulseEnergyRatio": None, "temperatureEnabled": "0", "sortCode": sort,
            "organizationName": site.name, "isMeteringPoint": data_type != "air quality",
            "costEnabled": False, "deviceTypeName": type_name, "in_tsdb": "Y",
        }
