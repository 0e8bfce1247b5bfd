"""Routing of the simulated API (API.md §9 "Endpoints"): lists, paging, field discovery, readings.

``Routes`` is a mixin of ``Simulator`` (it reads ``world``, ``config``, ``faults`` and ``now()``).
Field discovery answers both ways API.md §3.7 documents: ``OPTIONS /readings/{id}`` ->
``{"filters": {"fields": [...]}}`` (CONFIRMED [ANF]; the codes that channel reports, so a
single-phase meter lists no per-phase codes) and ``GET /fields/{deviceTypeId}`` (body shape
unknown: ``{"fields": [...]}``, the codes of every channel of that device type).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eniscope_simulator.config import FaultConfig, SimulatorConfig
from eniscope_simulator.data import now_epoch
from eniscope_simulator.model import ELECTRICAL_CODES, ChannelDef, World, unit_of
from eniscope_simulator.readings import Source, build_records, total_record

ALLOWED_RES = (60, 900, 1800, 3600, 86400)
DEFAULT_INSTALLED = datetime(2024, 1, 1, tzinfo=UTC)
DEVICE_KINDS = {"20": "meter", "31": "sensor"}


def min_resolution(window_seconds: int) -> int:
    """Finest resolution served for a window (API.md §9; only "60 over 7 d -> 1800" is known)."""
    day = 86400
    if window_seconds <= day:
        return 60
    if window_seconds <= 7 * day:
        return 1800
    if window_seconds <= 31 * day:
        return 3600
    return 86400


class Reply(Exception):
    """Internal: stop handling and send this response."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class Routes:
    """Request routing; mixed into ``Simulator`` (which provides these attributes)."""

    world: World
    config: SimulatorConfig

    @property
    def faults(self) -> FaultConfig:
        return self.config.faults

    def now(self) -> datetime:
        """The simulator clock (``config.now`` or real UTC time)."""
        return self.config.now or datetime.now(UTC)

    def _route(self, method: str, segments: list[str], query: dict[str, list[str]],
               user: Any) -> tuple[int, Any]:
        visible = self.world.subtree(user.org_id)
        if method == "OPTIONS" and len(segments) == 2 and segments[0] == "readings":
            channel = self._channel(segments[1], visible)
            return 200, {"filters": {"fields": sorted(channel.fields)}}
        if method != "GET":
            raise Reply(405, {"message": "Method Not Allowed"})
        if not segments:
            root = self.world.orgs[user.org_id]
            return 200, {
                "accountId": str(user.account_id), "accountName": user.email.split("@")[0],
                "emailAddress": user.email, "organizationId": str(root.org_id),
                "organizationName": root.name, "status": "1",
                "links": {"self": "https://core.eniscope.com/v1/1/accounts/" + str(user.account_id)},
            }
        handlers = {"organizations": self._organizations, "devices": self._devices, "meters": self._meters,
                    "channels": self._channels, "readings": self._readings_route, "fields": self._fields}
        handler = handlers.get(segments[0])
        if handler is None:
            raise Reply(404, {"message": "Not Found"})
        return handler(segments[1:], query, visible)

    def _devices(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        items = [d for d in self.world.devices.values() if int(d["organizationId"]) in visible]
        return self._collection("devices", items, rest, query, "deviceId",
                                {"organization": "organizationId", "uuid": "uuId",
                                 "deviceTypeId": "deviceTypeId", "device": "deviceId"})

    def _meters(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        items = [m for m in self.world.meters.values() if int(m["organizationId"]) in visible]
        return self._collection("meters", items, rest, query, "meterId",
                                {"organization": "organizationId", "uuid": "uuId", "device": "deviceId"})

    def _channels(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        items = [c.obj for c in self.world.channels.values() if c.org_id in visible]
        return self._collection("channels", items, rest, query, "dataChannelId",
                                {"organization": "organizationId", "deviceId": "deviceId",
                                 "device": "deviceId", "uuid": "uuId", "name": "channelName"})

    def _readings_route(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        if len(rest) != 1:
            raise Reply(404, {"message": "Not Found"})
        return self._readings(rest[0], query, visible)

    def _fields(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        """``GET /fields[/{deviceTypeId}]``: every code reported by channels of that device type."""
        if len(rest) > 1:
            raise Reply(404, {"message": "Not Found"})
        type_id = rest[0] if rest else None
        codes: set[str] = set()
        for channel in self.world.channels.values():
            if type_id is None or DEVICE_KINDS.get(type_id) == channel.kind:
                codes |= channel.fields
        return 200, {"fields": sorted(codes)}

    def _organizations(self, rest: list[str], query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        orgs = [o for o in self.world.orgs.values() if o.org_id in visible]
        if not rest:
            items = [o.obj for o in orgs]
            return self._collection("organizations", items, [], query, "organizationId",
                                    {"id": "organizationId", "name": "organizationName", "parent": "parentId"})
        org = self._org(rest[0], visible)
        if len(rest) == 1:
            return 200, org.obj
        sub = self.world.subtree(org.org_id)
        collections = {
            "channels": [c.obj for c in self.world.channels.values() if c.org_id == org.org_id],
            "devices": [d for d in self.world.devices.values() if int(d["organizationId"]) == org.org_id],
            "meters": [m for m in self.world.meters.values() if int(m["organizationId"]) == org.org_id],
            "metersbelow": [m for m in self.world.meters.values() if int(m["organizationId"]) in sub],
        }
        if len(rest) == 2 and rest[1] in collections:
            return 200, {**org.obj, rest[1]: collections[rest[1]]}
        raise Reply(404, {"message": "Not Found"})

    def _org(self, raw: str, visible: set[int]) -> Any:
        return self._visible(self.world.orgs, raw, visible, lambda org: org.org_id)

    def _visible(self, table: dict[int, Any], raw: str, visible: set[int], org_of: Any) -> Any:
        """``table[int(raw)]``: 404 if unknown, 403 if outside the user's organisation tree."""
        try:
            item = table[int(raw)]
        except (ValueError, KeyError):
            raise Reply(404, {"message": "Not Found"}) from None
        if org_of(item) not in visible:
            raise Reply(403, self.config.forbidden_body or None)
        return item

    def _collection(self, key: str, items: list[dict[str, Any]], rest: list[str],
                    query: dict[str, list[str]], id_key: str,
                    filters: dict[str, str]) -> tuple[int, Any]:
        if rest:
            if len(rest) == 1:
                for item in items:
                    if str(item.get(id_key)) == rest[0]:
                        return 200, item
            raise Reply(404, {"message": "Not Found"})
        for param, attr in filters.items():
            wanted = query.get(param)
            if not wanted:
                continue
            if param == "organization" and self.config.organization_filter_descendants:
                orgs = set()
                for value in wanted:
                    if value.isdigit():
                        orgs |= {str(o) for o in self.world.subtree(int(value))}
                items = [i for i in items if str(i.get(attr)) in orgs]
            else:
                lowered = {w.lower() for w in wanted}
                items = [i for i in items if str(i.get(attr)).lower() in lowered]
        return 200, self._page(key, items, query)

    def _page(self, key: str, items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", [self.config.default_page_size])[-1])
            page = int(query.get("page", ["1"])[-1])
        except ValueError:
            raise Reply(400, {"message": "Invalid Parameter"}) from None
        if limit < 0 or page < 1:
            raise Reply(400, {"message": "Invalid Parameter"})
        total = len(items)
        if limit == 0:
            return {key: items, "meta": {"currentPage": 1, "recordsPerPage": total,
                                         "recordCount": total, "pageCount": 0}}
        if limit > self.config.max_page_size:
            if not self.config.clamp_limit:
                raise Reply(400, {"message": "Invalid Parameter"})
            limit = self.config.max_page_size
        pages = (total + limit - 1) // limit
        chunk = items[(page - 1) * limit: page * limit]
        return {key: chunk, "meta": {"currentPage": page, "recordsPerPage": limit,
                                     "recordCount": total, "pageCount": pages}}

    def _channel(self, raw: str, visible: set[int]) -> ChannelDef:
        return self._visible(self.world.channels, raw, visible, lambda channel: channel.org_id)

    def _readings(self, raw: str, query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        channel = self._channel(raw, visible)
        invalid = Reply(500, {"message": "Invalid Parameter"})
        if channel.kind == "virtual":
            raise invalid
        requested = [f for f in query.get("fields[]", []) + query.get("fields", []) if f and f != "ts"]
        if not requested:
            raise invalid
        if channel.kind == "sensor" and any(code in ELECTRICAL_CODES for code in requested):
            raise invalid
        # codes the channel does not report are ignored (API.md §5: unknown codes mixed with valid ones)
        served = [code for code in dict.fromkeys(requested) if code in channel.fields]
        start, end = self._daterange(query, channel)
        if start >= end:
            raise Reply(400, {"message": "The start time must be before the end time"})
        resolution = self._resolution(query, end - start)
        action = (query.get("action") or ["summarize"])[-1]
        if action not in ("summarize", "summarise", "total"):
            raise Reply(400, {"message": "Invalid Parameter"})
        source = self.source(channel.channel_id)
        if action == "total":
            records = total_record(source, start, end, resolution, served,
                                   complete_only=self.config.complete_buckets_only)
        else:
            records = build_records(source, start, end, resolution, served,
                                    missing_as_null=self.config.missing_as_null,
                                    complete_only=self.config.complete_buckets_only)
        units = {"ts": "Unix Time", **{code: unit_of(code, channel.currency) for code in served}}
        return 200, {
            "uuid": channel.uuid, "name": channel.name, "channel": channel.channel_id,
            "organization": channel.org_id, "timeZone": channel.timezone, "from": start, "to": end,
            "resolution": resolution, "action": "summarize" if action != "total" else "total",
            "units": units, "recordCount": len(records), "records": records, "operatingHours": {},
        }

    @staticmethod
    def _resolution(query: dict[str, list[str]], window: int) -> int:
        """The effective resolution: the one asked for, coarsened to ``min_resolution(window)``."""
        res_raw = (query.get("res") or ["auto"])[-1]
        floor = min_resolution(window)
        if res_raw == "auto":
            return floor
        try:
            asked = int(res_raw)
        except ValueError:
            raise Reply(400, {"message": "Invalid Parameter"}) from None
        if asked not in ALLOWED_RES:
            raise Reply(400, {"message": "Invalid Parameter"})
        return max(asked, floor)

    def source(self, channel_id: int) -> Source:
        """What the API knows about a channel at the simulator clock (data faults included)."""
        return Source(
            self.world.channels[channel_id], self.config.seed, self.faults, now_epoch(self.config.now),
            int((self.config.installed or DEFAULT_INSTALLED).timestamp()), self.config.daily_zone,
        )

    def _daterange(self, query: dict[str, list[str]], channel: ChannelDef) -> tuple[int, int]:
        values = query.get("daterange[]", [])
        zone = ZoneInfo(channel.timezone)
        if len(values) == 2:
            return self._instant(values[0], zone), self._instant(values[1], zone)
        if values:
            raise Reply(400, {"message": "Invalid Parameter"})
        named = (query.get("daterange") or ["today"])[-1]
        today = self.now().astimezone(zone).date()
        spans = {"today": (0, 1), "yesterday": (-1, 0), "daybefore": (-2, -1), "7days": (-6, 1),
                 "previous7days": (-7, 0), "28days": (-27, 1), "30days": (-29, 1)}
        if named not in spans:
            raise Reply(400, {"message": "Invalid Parameter"})
        lo, hi = spans[named]
        return (self._midnight(today + timedelta(days=lo), zone), self._midnight(today + timedelta(days=hi), zone))

    @staticmethod
    def _midnight(day: Any, zone: ZoneInfo) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())

    def _instant(self, raw: str, zone: ZoneInfo) -> int:
        if raw.lstrip("-").isdigit():
            return int(raw)
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").date()  # noqa: DTZ007 - a date, zone applied next
        except ValueError:
            raise Reply(400, {"message": "Invalid Parameter"}) from None
        return self._midnight(day, zone)
