"""The simulator's HTTP server: auth, routing, paging, readings envelopes and transport faults.

Implements API.md §9 with the standard library only (``ThreadingHTTPServer``, HTTP/1.1
keep-alive). ``Simulator`` runs it in a background thread for tests and as a command for the demo.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from eniscope_simulator.config import FaultConfig, SimulatorConfig
from eniscope_simulator.data import build_records, now_epoch, total_record
from eniscope_simulator.model import ELECTRICAL_CODES, ChannelDef, World, unit_of

log = logging.getLogger(__name__)

ALLOWED_RES = (60, 900, 1800, 3600, 86400)
SECRET_HEADERS = {"x-eniscope-api", "authorization", "x-eniscope-token", "cookie"}
PREFIXES = ("/v1/1", "/v1")
DEFAULT_INSTALLED = datetime(2024, 1, 1, tzinfo=UTC)
MAX_TOKENS = 10_000  # sessions kept; a client sending Basic on every request creates one each time


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


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator received (secret header values replaced by ``***``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    headers: dict[str, str]
    auth: str  # "basic" | "token" | "none"
    at: float = field(default_factory=time.time)


@dataclass
class _User:
    email: str
    md5: str
    org_id: int
    account_id: int


@dataclass
class _Token:
    user: _User
    last_used: float
    uses: int = 0


class _Reply(Exception):
    """Internal: stop handling and send this response."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class Simulator:
    """A faithful local Eniscope Core API. Start with ``start()``; also a context manager."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        from eniscope_simulator.config import default_config

        self.config = config or default_config()
        self.world = World(self.config)
        self._lock = threading.RLock()
        self._tokens: dict[str, _Token] = {}
        self._recent: deque[float] = deque()
        self._requests: list[RequestRecord] = []
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._users = self._make_users()

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (``port=0`` picks a free port)."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._stop.clear()
        server = _Server((host, port), _Handler)
        server.sim = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="eniscope-sim", daemon=True)
        self._thread.start()
        bound_port = server.server_address[1]
        shown = host if host not in ("0.0.0.0", "") else "127.0.0.1"  # a wildcard bind is reached locally
        self.base_url = f"http://{shown}:{bound_port}"
        log.info("Eniscope simulator listening on %s (%d channels)", self.base_url, len(self.world.channels))
        return self.base_url

    def stop(self) -> None:
        """Stop serving (delayed responses are cut short) and release the port."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    @property
    def faults(self) -> FaultConfig:
        return self.config.faults

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests received so far (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def expire_tokens(self) -> None:
        """Make every issued session token answer 419 from now on."""
        with self._lock:
            for token in self._tokens.values():
                token.last_used = -1e12

    def now(self) -> datetime:
        """The simulator clock (``config.now`` or real UTC time)."""
        return self.config.now or datetime.now(UTC)

    def set_now(self, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.config.now = moment

    def channel_ids(self, kind: str | None = None, organization_id: str | int | None = None) -> list[int]:
        """Channel ids, optionally only ``kind`` ("meter", "sensor", "virtual") of one organisation."""
        return [
            c.channel_id
            for c in self.world.channels.values()
            if (kind is None or c.kind == kind)
            and (organization_id is None or c.org_id == int(organization_id))
        ]

    def site_organization_ids(self) -> list[str]:
        return [str(o.org_id) for o in self.world.orgs.values() if o.site is not None]

    def timezone_of(self, channel_id: int) -> str:
        return self.world.channels[channel_id].timezone

    def ground_truth(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        fields: Sequence[str] | None = None,
        resolution: int = 900,
    ) -> list[dict[str, Any]]:
        """The records a complete fetch of ``[start, end)`` would return now (raw API units).

        Data faults apply (gaps, nulls, negatives, late data, revisions); transport faults do
        not. The resolution is the one asked for, as when a client splits long windows into
        pieces the API serves at that resolution. ``fields`` default to the hook's defaults
        restricted to what the channel supports (T/RH for a sensor; none for a virtual channel).
        """
        channel = self.world.channels[channel_id]
        wanted = fields if fields is not None else ("E", "P", "V", "I", "PF", "Q", "T", "RH")
        served = [code for code in wanted if code in channel.fields]
        if channel.kind == "virtual":
            return []
        with self._lock:
            return build_records(
                channel, int(start.timestamp()), int(end.timestamp()), resolution, served,
                now=now_epoch(self.config.now), seed=self.config.seed, faults=self.faults,
                installed=int((self.config.installed or DEFAULT_INSTALLED).timestamp()),
                missing_as_null=self.config.missing_as_null,
                complete_only=self.config.complete_buckets_only,
            )

    def ground_truth_readings(
        self, channel_id: int, start: datetime, end: datetime, resolution: int = 900
    ) -> list[Any]:
        """``ground_truth`` as ``argo_energy.models.Reading`` objects in warehouse units."""
        from argo_energy.eniscope.parsing import parse_readings

        records = self.ground_truth(channel_id, start, end, resolution=resolution)
        fields = sorted({key for record in records for key in record if key != "ts"})
        payload = {
            "channel": channel_id, "resolution": resolution, "records": records,
            "units": {code: unit_of(code) for code in fields},
        }
        return parse_readings(payload, channel_id, start=start, end=end).readings

    # ------------------------------------------------------------------ users and auth

    def _make_users(self) -> dict[str, _User]:
        users = {}
        entries = [(self.config.email, self.config.password, None)] + [
            (u.email, u.password, u.organization) for u in self.config.users
        ]
        for number, (email_address, password, org) in enumerate(entries, start=1):
            md5 = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()
            users[email_address.lower()] = _User(
                email_address, md5, self.world.org_by_name_or_id(org), number
            )
        return users

    def _authenticate(self, headers: Any) -> tuple[_User, str, str | None]:
        """(user, auth kind, new token) or ``_Reply`` 401/403/419 (API.md §9 Auth)."""
        if headers.get("X-Eniscope-API") != self.config.api_key:
            raise _Reply(403, self.config.forbidden_body or None)
        token_value = headers.get("X-Eniscope-Token")
        if token_value:
            with self._lock:
                token = self._tokens.get(token_value)
                if token is None:
                    raise _Reply(401, {"message": "Unauthorised"})
                clock = time.monotonic()
                max_uses = self.faults.token_max_uses
                if clock - token.last_used > self.config.token_ttl_seconds or (
                    max_uses is not None and token.uses >= max_uses
                ):
                    del self._tokens[token_value]
                    raise _Reply(419, {"message": "Session expired"})
                token.uses += 1
                token.last_used = clock
            return token.user, "token", token_value if self.config.token_on_token_auth else None
        authorization = headers.get("Authorization") or ""
        if not authorization.startswith("Basic "):
            raise _Reply(401, {"message": "Unauthorised"})
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _Reply(401, {"message": "Unauthorised"}) from None
        email_address, _, md5 = decoded.partition(":")
        user = self._users.get(email_address.lower())
        if user is None or not secrets.compare_digest(user.md5, md5.lower()):
            raise _Reply(401, {"message": "Unauthorised"})
        new_token = secrets.token_hex(20)
        with self._lock:
            if len(self._tokens) >= MAX_TOKENS:
                self._prune_tokens()
            self._tokens[new_token] = _Token(user, time.monotonic())
        return user, "basic", new_token

    def _prune_tokens(self) -> None:
        """Forget idle-expired tokens, then the least recently used half (clients that log in every time)."""
        clock = time.monotonic()
        ttl = self.config.token_ttl_seconds
        self._tokens = {k: t for k, t in self._tokens.items() if clock - t.last_used <= ttl}
        if len(self._tokens) >= MAX_TOKENS:
            keep = sorted(self._tokens.items(), key=lambda item: item[1].last_used)[MAX_TOKENS // 2:]
            self._tokens = dict(keep)

    # ------------------------------------------------------------------ faults

    def _take(self, name: str) -> bool:
        """Consume one unit of the ``*_next`` fault counter ``name``."""
        with self._lock:
            remaining = getattr(self.faults, name)
            if remaining > 0:
                setattr(self.faults, name, remaining - 1)
                return True
            return False

    def _over_budget(self) -> bool:
        budget = self.faults.budget_rps
        if not budget:
            return False
        with self._lock:
            clock = time.monotonic()
            while self._recent and clock - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= budget:
                return True
            self._recent.append(clock)
            return False

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def _transport_faults(self, resource: str) -> None:
        self._pause(self.config.latency_seconds + self.faults.delay_seconds)
        if self.faults.scope == "readings" and resource != "readings":
            return
        if self._take("slow_next"):
            self._pause(self.faults.slow_seconds)
        retry = self.faults.retry_after
        headers = {} if retry is None else {"Retry-After": f"{retry:g}"}
        if self._take("rate_limit_next") or self._over_budget():
            raise _Reply(429, {"message": "Too Many Requests"}, headers)
        if self._take("error_next"):
            status = self.faults.error_status
            raise _Reply(status, {"message": "Service Unavailable" if status == 503 else "Server Error"})

    # ------------------------------------------------------------------ routing

    def handle(self, method: str, raw_path: str, headers: Any) -> tuple[int, Any, dict[str, str], str]:
        """Answer one request: (status, body, headers, auth kind). Records it."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path.rstrip("/") or "/"
        for prefix in PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                path = path[len(prefix):] or "/"
                break
        segments = [s for s in path.split("/") if s]
        # What the client presented (also recorded when it is refused).
        auth = "token" if headers.get("X-Eniscope-Token") else (
            "basic" if headers.get("Authorization") else "none")
        try:
            self._transport_faults(segments[0] if segments else "")
            user, auth, token = self._authenticate(headers)
            extra = {"X-Eniscope-Token": token} if token else {}
            status, body = self._route(method, segments, query, user)
            return self._finish(method, parts.path, query, status, body, extra, headers, auth, segments)
        except _Reply as reply:
            return self._finish(method, parts.path, query, reply.status, reply.body, reply.headers,
                                headers, auth, segments)

    def _finish(self, method: str, path: str, query: dict[str, list[str]], status: int, body: Any,
                extra: dict[str, str], headers: Any, auth: str,
                segments: list[str]) -> tuple[int, Any, dict[str, str], str]:
        if status == 200 and segments[:1] == ["readings"] and method == "GET":
            if self._take("malformed_next"):
                text = json.dumps(body)
                body = _Raw(text.replace('"records": [', '"records": [,', 1) if '"records": [' in text
                            else text[:-1])
            elif self._take("truncated_next"):
                text = json.dumps(body)
                body = _Raw(text[: len(text) // 2])
        shown = {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
        with self._lock:
            self._requests.append(RequestRecord(method, path, query, status, shown, auth))
        return status, body, extra, auth

    def _route(self, method: str, segments: list[str], query: dict[str, list[str]],
               user: _User) -> tuple[int, Any]:
        visible = self.world.subtree(user.org_id)
        if method == "OPTIONS" and len(segments) == 2 and segments[0] == "readings":
            channel = self._channel(segments[1], visible)
            return 200, {"filters": {"fields": sorted(channel.fields)}}
        if method != "GET":
            raise _Reply(405, {"message": "Method Not Allowed"})
        if not segments:
            root = self.world.orgs[user.org_id]
            return 200, {
                "accountId": str(user.account_id), "accountName": user.email.split("@")[0],
                "emailAddress": user.email, "organizationId": str(root.org_id),
                "organizationName": root.name, "status": "1",
                "links": {"self": "https://core.eniscope.com/v1/1/accounts/" + str(user.account_id)},
            }
        resource, rest = segments[0], segments[1:]
        if resource == "organizations":
            return self._organizations(rest, query, visible)
        if resource == "devices":
            items = [d for d in self.world.devices.values() if int(d["organizationId"]) in visible]
            return self._collection("devices", items, rest, query, "deviceId",
                                    {"organization": "organizationId", "uuid": "uuId",
                                     "deviceTypeId": "deviceTypeId", "device": "deviceId"})
        if resource == "meters":
            items = [m for m in self.world.meters.values() if int(m["organizationId"]) in visible]
            return self._collection("meters", items, rest, query, "meterId",
                                    {"organization": "organizationId", "uuid": "uuId", "device": "deviceId"})
        if resource == "channels":
            items = [c.obj for c in self.world.channels.values() if c.org_id in visible]
            return self._collection("channels", items, rest, query, "dataChannelId",
                                    {"organization": "organizationId", "deviceId": "deviceId",
                                     "device": "deviceId", "uuid": "uuId", "name": "channelName"})
        if resource == "readings" and len(rest) == 1:
            return self._readings(rest[0], query, visible)
        if resource == "fields" and len(rest) <= 1:
            type_id = rest[0] if rest else None
            kinds = {"20": "meter", "31": "sensor"}
            codes = set()
            for channel in self.world.channels.values():
                if type_id is None or kinds.get(type_id) == channel.kind:
                    codes |= channel.fields
            return 200, {"fields": sorted(codes)}
        raise _Reply(404, {"message": "Not Found"})

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
        raise _Reply(404, {"message": "Not Found"})

    def _org(self, raw: str, visible: set[int]) -> Any:
        return self._visible(self.world.orgs, raw, visible, lambda org: org.org_id)

    def _visible(self, table: dict[int, Any], raw: str, visible: set[int], org_of: Any) -> Any:
        """``table[int(raw)]``: 404 if unknown, 403 if outside the user's organisation tree."""
        try:
            item = table[int(raw)]
        except (ValueError, KeyError):
            raise _Reply(404, {"message": "Not Found"}) from None
        if org_of(item) not in visible:
            raise _Reply(403, self.config.forbidden_body or None)
        return item

    def _collection(self, key: str, items: list[dict[str, Any]], rest: list[str],
                    query: dict[str, list[str]], id_key: str,
                    filters: dict[str, str]) -> tuple[int, Any]:
        if rest:
            if len(rest) == 1:
                for item in items:
                    if str(item.get(id_key)) == rest[0]:
                        return 200, item
            raise _Reply(404, {"message": "Not Found"})
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
            raise _Reply(400, {"message": "Invalid Parameter"}) from None
        if limit < 0 or page < 1:
            raise _Reply(400, {"message": "Invalid Parameter"})
        total = len(items)
        if limit == 0:
            return {key: items, "meta": {"currentPage": 1, "recordsPerPage": total,
                                         "recordCount": total, "pageCount": 0}}
        if limit > self.config.max_page_size:
            if not self.config.clamp_limit:
                raise _Reply(400, {"message": "Invalid Parameter"})
            limit = self.config.max_page_size
        pages = (total + limit - 1) // limit
        chunk = items[(page - 1) * limit: page * limit]
        return {key: chunk, "meta": {"currentPage": page, "recordsPerPage": limit,
                                     "recordCount": total, "pageCount": pages}}

    def _channel(self, raw: str, visible: set[int]) -> ChannelDef:
        return self._visible(self.world.channels, raw, visible, lambda channel: channel.org_id)

    def _readings(self, raw: str, query: dict[str, list[str]], visible: set[int]) -> tuple[int, Any]:
        channel = self._channel(raw, visible)
        invalid = _Reply(500, {"message": "Invalid Parameter"})
        if channel.kind == "virtual":
            raise invalid
        requested = [f for f in query.get("fields[]", []) + query.get("fields", []) if f and f != "ts"]
        if not requested:
            raise invalid
        if channel.kind == "sensor" and any(code in ELECTRICAL_CODES for code in requested):
            raise invalid
        served = [code for code in dict.fromkeys(requested) if code in channel.fields]
        start, end = self._daterange(query, channel)
        if start >= end:
            raise _Reply(400, {"message": "The start time must be before the end time"})
        res_raw = (query.get("res") or ["auto"])[-1]
        floor = min_resolution(end - start)
        if res_raw == "auto":
            resolution = floor
        else:
            try:
                asked = int(res_raw)
            except ValueError:
                raise _Reply(400, {"message": "Invalid Parameter"}) from None
            if asked not in ALLOWED_RES:
                raise _Reply(400, {"message": "Invalid Parameter"})
            resolution = max(asked, floor)
        action = (query.get("action") or ["summarize"])[-1]
        if action not in ("summarize", "summarise", "total"):
            raise _Reply(400, {"message": "Invalid Parameter"})
        records = build_records(
            channel, start, end, resolution, served, now=now_epoch(self.config.now),
            seed=self.config.seed, faults=self.faults,
            installed=int((self.config.installed or DEFAULT_INSTALLED).timestamp()),
            missing_as_null=self.config.missing_as_null,
            complete_only=self.config.complete_buckets_only,
        )
        if action == "total":
            records = [total_record(records, served, start)] if records else []
        units = {"ts": "Unix Time", **{code: unit_of(code) for code in served}}
        return 200, {
            "uuid": channel.uuid, "name": channel.name, "channel": channel.channel_id,
            "organization": channel.org_id, "timeZone": channel.timezone, "from": start, "to": end,
            "resolution": resolution, "action": "summarize" if action != "total" else "total",
            "units": units, "recordCount": len(records), "records": records, "operatingHours": {},
        }

    def _daterange(self, query: dict[str, list[str]], channel: ChannelDef) -> tuple[int, int]:
        values = query.get("daterange[]", [])
        zone = ZoneInfo(channel.timezone)
        if len(values) == 2:
            return self._instant(values[0], zone), self._instant(values[1], zone)
        if values:
            raise _Reply(400, {"message": "Invalid Parameter"})
        named = (query.get("daterange") or ["today"])[-1]
        today = self.now().astimezone(zone).date()
        spans = {"today": (0, 1), "yesterday": (-1, 0), "daybefore": (-2, -1), "7days": (-6, 1),
                 "previous7days": (-7, 0), "28days": (-27, 1), "30days": (-29, 1)}
        if named not in spans:
            raise _Reply(400, {"message": "Invalid Parameter"})
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
            raise _Reply(400, {"message": "Invalid Parameter"}) from None
        return self._midnight(day, zone)


class _Raw(str):
    """A body sent verbatim (faulty JSON)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    sim: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected (timeout tests); anything else is logged.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        log.exception("simulator error for %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: with Nagle on, delayed ACKs add ~40 ms per response.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body, extra, _auth = sim.handle(self.command, self.path, self.headers)
        if body is None:
            payload = b""
        elif isinstance(body, _Raw):
            payload = str(body).encode("utf-8")
        else:
            payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", sim.config.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_OPTIONS = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("simulator: " + format, *args)

    def version_string(self) -> str:
        return "eniscope-simulator"
