"""The simulator: auth, transport faults, the request log and test helpers (truth, counters).

Implements API.md §9 with the standard library only; routing is in ``routes``, readings in
``readings``, the threaded HTTP server (one thread per connection, so a dripping or hanging
response never blocks another request) in ``transport``. ``Simulator`` runs it in a background
thread for tests and as a command for the demo.

Transport faults (``sim.faults``, all off by default): ``rate_limit_next``, ``budget_rps`` (one
budget for everybody), ``account_rps``/``account_burst`` (a token bucket per account, counted in
``sim.account_counters``), ``error_next``, ``slow_next``, ``delay_seconds``, ``malformed_next``,
``truncated_next``, ``token_max_uses``, ``drip_targets`` (headers, then one body byte every
``drip_seconds``) and ``hang_targets`` (never answered; logged with status 0), both ended after
``stall_cap_seconds`` or when the client hangs up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eniscope_simulator.config import SimulatorConfig
from eniscope_simulator.limits import AccountCounters, AccountLimiter
from eniscope_simulator.model import World, unit_of
from eniscope_simulator.readings import build_records
from eniscope_simulator.routes import Reply, Routes
from eniscope_simulator.transport import Raw, Server, path_segments

log = logging.getLogger(__name__)

SECRET_HEADERS = {"x-eniscope-api", "authorization", "x-eniscope-token", "cookie"}
MAX_TOKENS = 10_000  # sessions kept; a client sending Basic on every request creates one each time


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
    account: str | None = None  # login of an authenticated request (the rate limit's account)


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


class Simulator(Routes):
    """A faithful local Eniscope Core API. Start with ``start()``; also a context manager."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        from eniscope_simulator.config import default_config

        self.config = config or default_config()
        self.world = World(self.config)
        self._lock = threading.RLock()
        self._tokens: dict[str, _Token] = {}
        self._recent: deque[float] = deque()
        self._requests: list[RequestRecord] = []
        self._limiter = AccountLimiter()
        self._stop = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._users = self._make_users()

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (``port=0`` picks a free port)."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._stop.clear()
        server = Server((host, port), self)
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
                self.source(channel_id), int(start.timestamp()), int(end.timestamp()), resolution, served,
                missing_as_null=self.config.missing_as_null, complete_only=self.config.complete_buckets_only,
            )

    def fields_of(self, channel_id: int) -> list[str]:
        """The codes a channel reports (what ``OPTIONS /readings/{id}`` lists), for ``ground_truth``."""
        return sorted(self.world.channels[channel_id].fields)

    @property
    def account_counters(self) -> dict[str, AccountCounters]:
        """Requests, answered requests and 429s of the per-account rate limit, by login (a copy).

        Every authenticated request in the fault ``scope`` counts, also while ``account_rps`` is
        off; overshoot = ``answered`` beyond ``account_burst + account_rps * seconds``.
        """
        return self._limiter.counters()

    def reset_account_counters(self) -> None:
        """Zero the counters and refill every account's bucket."""
        self._limiter.reset()

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
            raise Reply(403, self.config.forbidden_body or None)
        token_value = headers.get("X-Eniscope-Token")
        if token_value:
            with self._lock:
                token = self._tokens.get(token_value)
                if token is None:
                    raise Reply(401, {"message": "Unauthorised"})
                clock = time.monotonic()
                max_uses = self.faults.token_max_uses
                if clock - token.last_used > self.config.token_ttl_seconds or (
                    max_uses is not None and token.uses >= max_uses
                ):
                    del self._tokens[token_value]
                    raise Reply(419, {"message": "Session expired"})
                token.uses += 1
                token.last_used = clock
            return token.user, "token", token_value if self.config.token_on_token_auth else None
        authorization = headers.get("Authorization") or ""
        if not authorization.startswith("Basic "):
            raise Reply(401, {"message": "Unauthorised"})
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Reply(401, {"message": "Unauthorised"}) from None
        email_address, _, md5 = decoded.partition(":")
        user = self._users.get(email_address.lower())
        if user is None or not secrets.compare_digest(user.md5, md5.lower()):
            raise Reply(401, {"message": "Unauthorised"})
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
            raise Reply(429, {"message": "Too Many Requests"}, headers)
        if self._take("error_next"):
            status = self.faults.error_status
            raise Reply(status, {"message": "Service Unavailable" if status == 503 else "Server Error"})

    # ------------------------------------------------------------------ routing

    def handle(self, method: str, raw_path: str, headers: Any) -> tuple[int, Any, dict[str, str], str]:
        """Answer one request: (status, body, headers, auth kind). Records it."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        segments = path_segments(parts.path)
        # What the client presented (also recorded when it is refused).
        auth = "token" if headers.get("X-Eniscope-Token") else (
            "basic" if headers.get("Authorization") else "none")
        account = None
        try:
            self._transport_faults(segments[0] if segments else "")
            user, auth, token = self._authenticate(headers)
            account = user.email
            self._account_limit(account, segments[0] if segments else "")
            extra = {"X-Eniscope-Token": token} if token else {}
            status, body = self._route(method, segments, query, user)
            return self._finish(method, parts.path, query, status, body, extra, headers, auth, segments,
                                account)
        except Reply as reply:
            return self._finish(method, parts.path, query, reply.status, reply.body, reply.headers,
                                headers, auth, segments, account)

    def _account_limit(self, account: str, resource: str) -> None:
        """The per-account token bucket (``limits``); the simulator has one API key, so the login
        identifies the account (API key + login)."""
        if self.faults.scope == "readings" and resource != "readings":
            return
        retry = self._limiter.take(account, self.faults.account_rps, self.faults.account_burst)
        if retry is not None:
            raise Reply(429, {"message": "Too Many Requests"}, {"Retry-After": str(retry)})

    def stall_for(self, method: str, raw_path: str) -> tuple[str, float] | None:
        """``("hang", cap)`` or ``("drip", seconds per byte)`` if the request matches a stall fault.

        A target is a channel id (matches ``/readings/{id}``) or a path prefix such as
        ``"/organizations"`` (compared without the ``/v1``/``/v1/1`` prefix).
        """
        path = "/" + "/".join(path_segments(urlsplit(raw_path).path))

        def matches(targets: list[int | str]) -> bool:
            return any(path == f"/readings/{t}" if isinstance(t, int) else path.startswith(str(t))
                       for t in targets)

        if matches(self.faults.hang_targets):
            return "hang", self.faults.stall_cap_seconds
        if matches(self.faults.drip_targets):
            return "drip", self.faults.drip_seconds
        return None

    def record_unanswered(self, method: str, raw_path: str, headers: Any) -> None:
        """Log a hung request (status 0: it is never answered)."""
        parts = urlsplit(raw_path)
        self._finish(method, parts.path, parse_qs(parts.query, keep_blank_values=True), 0, None, {}, headers,
                     "token" if headers.get("X-Eniscope-Token") else "basic", [], None)

    def wait_stopped(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if the simulator is stopping."""
        return self._stop.wait(seconds)

    def _finish(self, method: str, path: str, query: dict[str, list[str]], status: int, body: Any,
                extra: dict[str, str], headers: Any, auth: str, segments: list[str],
                account: str | None = None) -> tuple[int, Any, dict[str, str], str]:
        if status == 200 and segments[:1] == ["readings"] and method == "GET":
            if self._take("malformed_next"):
                text = json.dumps(body)
                body = Raw(text.replace('"records": [', '"records": [,', 1) if '"records": [' in text
                            else text[:-1])
            elif self._take("truncated_next"):
                text = json.dumps(body)
                body = Raw(text[: len(text) // 2])
        shown = {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
        with self._lock:
            self._requests.append(RequestRecord(method, path, query, status, shown, auth, account=account))
        return status, body, extra, auth
