"""``EniscopeHook``: the only code that speaks to the Eniscope Core API.

Auth (API.md §2, §10.1): ``X-Eniscope-API`` on every request; the first request logs in with
``Authorization: Basic base64(email:md5hex(password))``; the ``X-Eniscope-Token`` the server
returns is reused until it is refused (401/419), then the hook logs in again once. Transient
trouble (connection errors, timeouts, 429, 5xx, malformed JSON) is retried with tenacity,
exponential backoff with jitter, ``Retry-After`` honoured, all bounded by connection extras.
Credentials are registered with Airflow's secrets masker and never put in URLs, logs or errors.

Connection ``eniscope_default`` (conn_type ``eniscope`` or ``http``): host = base URL with scheme
and port, login = account email, password = plain password, extra::

    {"api_key": "...",                       # required
     "connect_timeout": 10, "read_timeout": 60,   # seconds ("timeout" sets both)
     "max_retries": 4,                       # retries after the first attempt
     "retry_wait_min": 1, "retry_wait_max": 60,   # backoff base / cap, seconds (0 = never sleep)
     "requests_per_second": 5,               # shared client-side budget per base URL (0 = off)
     "page_size": 100, "max_window_hours": 24}
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook

from argo_energy.eniscope.errors import (
    ChannelUnsupportedError,
    EniscopeAuthError,
    EniscopeConfigError,
    EniscopeError,
    EniscopeNotFoundError,
    EniscopeRequestError,
    EniscopeResponseError,
    EniscopeTransientError,
)
from argo_energy.eniscope.parsing import (
    DEFAULT_FIELDS,
    list_items,
    merge_batches,
    merge_devices,
    page_count,
    parse_channel,
    parse_device,
    parse_organization,
    parse_readings,
    readings_params,
    split_window,
)
from argo_energy.eniscope.ratelimit import RateLimiter, get_limiter
from argo_energy.models import Channel, Device, Organization, ReadingsBatch

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_FIELDS", "EniscopeHook", "EniscopeSettings"]

DEFAULT_BASE_URL = "https://core.eniscope.com"
USER_AGENT = "argo-energy-airflow/0.1 (Eniscope hook; python-requests)"
MAX_PAGES = 10_000  # a server that never stops paging must not loop forever
# Collection endpoints every Eniscope Core API answers (API.md §3); a 404 there means a wrong host.
ALWAYS_THERE = frozenset({"", "organizations", "channels", "meters"})


def _mask(secret: str | None) -> None:
    """Register a secret with Airflow's masker (short values cannot be masked and are skipped)."""
    if not secret or len(secret) < 5:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


@dataclass(frozen=True)
class EniscopeSettings:
    """Everything the hook needs from its Connection, validated once."""

    base_url: str
    email: str
    api_key: str = field(repr=False)
    password: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 4
    retry_wait_min: float = 1.0
    retry_wait_max: float = 60.0
    requests_per_second: float = 5.0
    page_size: int = 100
    max_window_hours: float = 24.0

    @property
    def password_md5(self) -> str:
        # MD5 is what the Eniscope API demands for the login, not our choice of hash.
        return hashlib.md5(self.password.encode("utf-8"), usedforsecurity=False).hexdigest()

    @property
    def basic_authorization(self) -> str:
        raw = f"{self.email}:{self.password_md5}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    @classmethod
    def from_connection(cls, conn: Any, conn_id: str) -> EniscopeSettings:
        """Read host/login/password/extra of an Airflow Connection (types ``eniscope`` or ``http``)."""
        extra: Mapping[str, Any] = conn.extra_dejson or {}

        def opt(name: str) -> Any:
            for key in (name, f"extra__eniscope__{name}", f"extra__http__{name}"):
                value = extra.get(key)
                if value not in (None, ""):
                    return value
            return None

        def number(name: str, default: float, *aliases: str) -> float:
            for key in (name, *aliases):
                value = opt(key)
                if value is not None:
                    try:
                        result = float(value)
                    except (TypeError, ValueError):
                        raise EniscopeConfigError(
                            f"connection {conn_id!r}: extra {key!r} must be a number"
                        ) from None
                    if result < 0:
                        raise EniscopeConfigError(f"connection {conn_id!r}: extra {key!r} must be >= 0")
                    return result
            return default

        api_key = opt("api_key") or opt("apikey")
        if not api_key:
            raise EniscopeAuthError(
                f"connection {conn_id!r} has no API key: set extra 'api_key'", cause="api_key"
            )
        if not conn.login or not conn.password:
            raise EniscopeAuthError(
                f"connection {conn_id!r} needs login (account email) and password", cause="credentials"
            )
        timeout = opt("timeout")
        return cls(
            base_url=checked_base_url(base_url_of(conn), conn_id),
            email=str(conn.login),
            api_key=str(api_key),
            password=str(conn.password),
            connect_timeout=number("connect_timeout", float(timeout) if timeout else 10.0),
            read_timeout=number("read_timeout", float(timeout) if timeout else 60.0),
            max_retries=int(number("max_retries", 4, "retries")),
            retry_wait_min=number("retry_wait_min", 1.0, "backoff"),
            retry_wait_max=number("retry_wait_max", 60.0, "backoff_max"),
            requests_per_second=number("requests_per_second", 5.0, "rps"),
            page_size=max(1, min(100, int(number("page_size", 100)))),
            max_window_hours=number("max_window_hours", 24.0) or 24.0,
        )


def base_url_of(conn: Any) -> str:
    """Base URL from a Connection: ``host`` with scheme (and port), else ``schema://host:port``."""
    host = (conn.host or "").strip()
    if not host.rstrip("/"):
        return DEFAULT_BASE_URL
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    if host.endswith("://"):
        return host  # no host at all: ``checked_base_url`` says so
    host = host.rstrip("/")
    if conn.port and host.count(":") < 2:  # "scheme://host" has one colon; add the port once
        host = f"{host}:{conn.port}"
    return host


def checked_base_url(url: str, conn_id: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else ``EniscopeConfigError`` (terminal)."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https"):
            problem = f"scheme {parts.scheme!r} is not http or https"
        elif not parts.hostname:
            problem = "it has no host"
        elif any(ch.isspace() for ch in url):
            problem = "it contains whitespace"
        elif parts.query or parts.fragment:
            problem = "it has a query or fragment"
    if problem:
        raise EniscopeConfigError(
            f"connection {conn_id!r} has an unusable base URL {url!r}: {problem}; "
            f"set its host to the API's base URL, e.g. {DEFAULT_BASE_URL}"
        )
    return url


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date); ``None`` if absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class _Retryable(Exception):
    """Internal: a transient failure tenacity may retry (never leaves the hook)."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class BackoffWait(tenacity.wait.wait_base):
    """Exponential backoff with equal jitter, capped; a server's ``Retry-After`` wins (also capped)."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.cap)
        ceiling = min(self.cap, self.base * 2 ** (retry_state.attempt_number - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class EniscopeHook(BaseHook):
    """Eniscope Core API client returning ``argo_energy.models`` objects.

    ``wait`` replaces the tenacity wait strategy (tests pass ``tenacity.wait_none()``); ``sleep``
    replaces the sleep function used between retries (tests record the requested waits).
    """

    conn_name_attr = "eniscope_conn_id"
    default_conn_name = "eniscope_default"
    conn_type = "eniscope"
    hook_name = "Eniscope Core API"

    def __init__(
        self,
        eniscope_conn_id: str = default_conn_name,
        *,
        wait: tenacity.wait.wait_base | None = None,
        sleep: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.eniscope_conn_id = eniscope_conn_id
        self.wait = wait
        self.sleep = sleep
        self._settings: EniscopeSettings | None = None
        self._session: requests.Session | None = None
        self._limiter: RateLimiter | None = None
        self._token: str | None = None
        self._channel_cache: dict[str | None, list[dict[str, Any]]] = {}
        self.request_count = 0  # HTTP requests sent by this hook (for logs and tests)

    # ------------------------------------------------------------------ connection and session

    @property
    def settings(self) -> EniscopeSettings:
        """Connection settings, read lazily on first use; secrets registered with the masker."""
        if self._settings is None:
            conn = self.get_connection(self.eniscope_conn_id)
            settings = EniscopeSettings.from_connection(conn, self.eniscope_conn_id)
            for secret in (
                settings.password,
                settings.password_md5,
                settings.api_key,
                settings.basic_authorization.split(" ", 1)[1],
            ):
                _mask(secret)
            self._settings = settings
        return self._settings

    def get_conn(self) -> requests.Session:
        """The hook's one ``requests.Session`` (created on first use)."""
        if self._session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._session = session
        return self._session

    def _limiter_for(self, settings: EniscopeSettings) -> RateLimiter:
        if self._limiter is None:
            self._limiter = get_limiter(settings.base_url, settings.requests_per_second)
        return self._limiter

    def close(self) -> None:
        """Close the HTTP session and forget the session token."""
        if self._session is not None:
            self._session.close()
        self._session = None
        self._token = None

    def __enter__(self) -> EniscopeHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/{path.lstrip('/')}"

    def _send(self, path: str, params: Sequence[tuple[str, str]] | None) -> requests.Response:
        """One HTTP GET with key + token-or-Basic headers; transport errors become ``_Retryable``."""
        settings = self.settings
        session = self.get_conn()
        self._limiter_for(settings).acquire()
        headers = {"X-Eniscope-API": settings.api_key}
        if self._token:
            headers["X-Eniscope-Token"] = self._token
        else:
            headers["Authorization"] = settings.basic_authorization
        self.request_count += 1
        started = time.monotonic()
        try:
            response = session.get(
                self._url(path),
                params=list(params or ()),
                headers=headers,
                timeout=(settings.connect_timeout, settings.read_timeout),
            )
        except requests.Timeout:
            raise _Retryable("timeout", f"GET /{path} timed out (read timeout {settings.read_timeout}s)") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema) as exc:
            raise EniscopeConfigError(
                f"connection {self.eniscope_conn_id!r}: GET {settings.base_url}/{path.lstrip('/')} is not a "
                f"usable URL ({type(exc).__name__}); check the connection's host",
                path=path,
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Retryable("connection", f"GET /{path} failed: {type(exc).__name__}") from None
        self.log.debug(
            "Eniscope GET /%s -> %s in %.3fs", path, response.status_code, time.monotonic() - started
        )
        token = response.headers.get("X-Eniscope-Token")
        if token and token != self._token and response.status_code < 400:
            _mask(token)
            self._token = token
        return response

    def _exchange(self, path: str, params: Sequence[tuple[str, str]] | None, channel_id: int | None) -> Any:
        """One logical request: re-authenticates once when the session token is refused."""
        reauthenticated = False
        while True:
            used_token = self._token is not None
            response = self._send(path, params)
            if response.status_code in (401, 419) and used_token and not reauthenticated:
                self.log.info(
                    "Eniscope session token refused (HTTP %s); logging in again", response.status_code
                )
                self._token = None
                reauthenticated = True
                continue
            return self._interpret(response, path, channel_id)

    def _interpret(self, response: requests.Response, path: str, channel_id: int | None) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise _Retryable(
                    "malformed", f"GET /{path}: body is not valid JSON ({len(response.content)} bytes)"
                ) from None
        message = _error_message(response)
        if status in (401, 419):
            self._token = None
            raise EniscopeAuthError(
                f"Eniscope refused the login (HTTP {status}) of connection {self.eniscope_conn_id!r}: "
                "the email (login) or password is likely wrong; the API key was accepted "
                "(a bad key answers 403)",
                cause="credentials",
                status=status,
                path=path,
            )
        if status == 403:
            raise self._forbidden(path)
        if status == 404 and path.strip("/") in ALWAYS_THERE:
            raise EniscopeConfigError(
                f"GET /{path.strip('/')} answered 404 at {self.settings.base_url}: every Eniscope Core API "
                f"has this endpoint, so connection {self.eniscope_conn_id!r} points at something else; "
                "check its host (the API's base URL, without a path)",
                status=status,
                path=path,
            )
        if status == 404:
            raise EniscopeNotFoundError(f"GET /{path}: not found (404)", status=status, path=path)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable("rate_limited", f"GET /{path}: rate limited (429)", status=status, retry_after=retry_after)
        if status == 500 and "invalid parameter" in message.lower():
            if channel_id is not None:
                raise ChannelUnsupportedError(channel_id, f"channel {channel_id}: 500 {message}")
            raise EniscopeRequestError(f"GET /{path}: 500 {message}", status=status, path=path)
        if status >= 500:
            raise _Retryable("server_error", f"GET /{path}: server error {status} {message}".rstrip(), status=status)
        raise EniscopeRequestError(f"GET /{path}: HTTP {status} {message}".rstrip(), status=status, path=path)

    def _forbidden(self, path: str) -> EniscopeAuthError:
        """Name the likely cause of a 403: probe ``GET /`` (key + login only) to tell key from rights."""
        cause = "api_key"
        if path.strip("/"):
            try:
                probe = self._send("", None)
            except _Retryable:
                probe = None
            if probe is not None and probe.status_code == 200:
                cause = "permission"
            elif probe is not None and probe.status_code in (401, 419):
                cause = "credentials"
        text = {
            "api_key": "the API key (extra 'api_key') is likely invalid or not enabled for this account",
            "credentials": "the email (login) or password is likely wrong",
            "permission": (
                "the key and login are valid but the account has no permission for this resource "
                "(it is outside the account's organisation tree)"
            ),
        }[cause]
        return EniscopeAuthError(
            f"Eniscope answered 403 Forbidden for GET /{path} (connection {self.eniscope_conn_id!r}): {text}",
            cause=cause,
            status=403,
            path=path,
        )

    def _request(
        self,
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
        *,
        channel_id: int | None = None,
        attempts: int | None = None,
    ) -> Any:
        """GET ``path`` with retries; returns the decoded JSON."""
        settings = self.settings
        total = attempts if attempts is not None else settings.max_retries + 1
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, total)),
            wait=self.wait or BackoffWait(settings.retry_wait_min, settings.retry_wait_max),
            retry=tenacity.retry_if_exception_type(_Retryable),
            sleep=self.sleep or time.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._exchange(path, params, channel_id)
        except _Retryable as exc:
            tries = retrying.statistics.get("attempt_number", total)
            if exc.kind == "malformed":
                raise EniscopeResponseError(f"{exc} after {tries} attempt(s)", path=path) from None
            raise EniscopeTransientError(
                f"{exc} after {tries} attempt(s)", status=exc.status, path=path
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning("Eniscope attempt %d failed (%s); retrying in %.1fs", state.attempt_number, exc, wait)

    def _paged(self, path: str, key: str, params: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``meta.pageCount``."""
        size = self.settings.page_size
        items: list[dict[str, Any]] = []
        expected: int | None = None
        page = 1
        while page <= MAX_PAGES:
            payload = self._request(path, [*params, ("limit", str(size)), ("page", str(page))])
            got, meta = list_items(payload, key)
            items.extend(got)
            if meta.get("recordCount") is not None:
                expected = int(meta["recordCount"])
            if not got or page >= page_count(meta):
                break
            page += 1
        if expected is not None and expected != len(items):
            self.log.warning("Eniscope /%s: meta.recordCount=%d but %d %s received", path, expected, len(items), key)
        self.log.info("Eniscope /%s: %d %s in %d page(s)", path, len(items), key, page)
        return items

    # ------------------------------------------------------------------ public API

    def list_organizations(self) -> list[Organization]:
        """Every organisation visible to the account (all pages)."""
        return [parse_organization(obj) for obj in self._paged("organizations", "organizations")]

    def get_organization(self, org_id: str) -> Organization:
        """One organisation by id."""
        return parse_organization(self._request(f"organizations/{org_id}"))

    def _raw_channels(self, organization_id: str | None, *, refresh: bool) -> list[dict[str, Any]]:
        if refresh or organization_id not in self._channel_cache:
            params = [("organization", str(organization_id))] if organization_id is not None else []
            self._channel_cache[organization_id] = self._paged("channels", "channels", params)
        return self._channel_cache[organization_id]

    def list_channels(self, organization_id: str | None = None) -> list[Channel]:
        """Channels (``dataChannelId``) of one organisation, or every visible one."""
        return [parse_channel(obj) for obj in self._raw_channels(organization_id, refresh=True)]

    def list_devices(self, organization_id: str | None = None) -> list[Device]:
        """Metering devices the channels refer to: ``/meters`` plus any only seen on a channel."""
        params = [("organization", str(organization_id))] if organization_id is not None else []
        meters = [parse_device(obj) for obj in self._paged("meters", "meters", params)]
        from_channels = [
            parse_device(obj)
            for obj in self._raw_channels(organization_id, refresh=False)
            if obj.get("deviceId") not in (None, "")
        ]
        devices = merge_devices(meters, from_channels)
        self.log.info(
            "Eniscope devices: %d (%d from /meters, %d only on channels)",
            len(devices), len(meters), len(devices) - len(meters),
        )
        return devices

    def get_readings(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        fields: Sequence[str] = DEFAULT_FIELDS,
        resolution: int = 900,
    ) -> ReadingsBatch:
        """Readings of ``[start, end)`` in warehouse units; long windows are fetched in pieces.

        The API coarsens the resolution of windows longer than a day (a 25-hour DST day at 900 s
        would come back at 1800 s), so the window is cut into pieces of ``max_window_hours``;
        a piece that still comes back coarser than asked is halved and fetched again.
        Raises ``ChannelUnsupportedError`` for 500 "Invalid Parameter" (sensor or virtual channel).
        """
        for name, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware UTC, got {moment!r}")
        if end <= start:
            raise ValueError(f"empty window: start {start.isoformat()} >= end {end.isoformat()}")
        fields = tuple(fields)
        span = timedelta(hours=self.settings.max_window_hours)
        sent_before = self.request_count
        batches = [
            self._fetch_piece(channel_id, lo, hi, fields, resolution, depth=0)
            for lo, hi in split_window(start, end, span)
        ]
        batch = merge_batches(channel_id, start, end, [b for group in batches for b in group])
        self.log.info(
            "Eniscope channel %s: %d readings for %s..%s at %ss (%d request(s))",
            channel_id, len(batch.readings), start.isoformat(), end.isoformat(),
            batch.resolution, self.request_count - sent_before,
        )
        return batch

    def _fetch_piece(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        fields: tuple[str, ...],
        resolution: int,
        depth: int,
    ) -> list[ReadingsBatch]:
        try:
            payload = self._request(
                f"readings/{channel_id}",
                readings_params(fields, start, end, resolution),
                channel_id=channel_id,
            )
        except ChannelUnsupportedError as exc:
            raise ChannelUnsupportedError(
                channel_id,
                f"channel {channel_id} answered 500 'Invalid Parameter' for fields {list(fields)}: "
                "a sensor (answers T/RH only) or a virtual channel without metering data",
                fields=fields,
            ) from exc
        batch = parse_readings(payload, channel_id, start=start, end=end)
        step = timedelta(seconds=resolution) if isinstance(resolution, int) else None
        if step is not None and batch.resolution > resolution and depth < 6 and end - start > step:
            # Coarsened by the server: halve the piece on the requested grid and fetch again.
            half = (end - start) / 2
            middle = start + step * max(1, int(half / step))
            self.log.warning(
                "Eniscope channel %s: asked %ss for %s..%s, got %ss; splitting",
                channel_id, resolution, start.isoformat(), end.isoformat(), batch.resolution,
            )
            return [
                *self._fetch_piece(channel_id, start, middle, fields, resolution, depth + 1),
                *self._fetch_piece(channel_id, middle, end, fields, resolution, depth + 1),
            ]
        return [batch]

    def get_account(self) -> dict[str, Any]:
        """``GET /``: the logged-in account (also the cheapest credentials check)."""
        payload = self._request("")
        if not isinstance(payload, Mapping):
            raise EniscopeResponseError("GET / did not return an object")
        return dict(payload)

    def test_connection(self) -> tuple[bool, str]:
        """Log in once (``GET /``, no retries) and say whether it worked; for the UI's Test button."""
        try:
            account = self._request("", attempts=1)
            name = account.get("accountName") if isinstance(account, Mapping) else None
            org = account.get("organizationId") if isinstance(account, Mapping) else None
            return True, (
                f"Connected to Eniscope Core API at {self.settings.base_url}"
                + (f" as account {name!r}" if name else "")
                + (f" (organization {org})" if org else "")
            )
        except EniscopeError as exc:
            return False, str(exc)
        except Exception as exc:  # the UI must get a message, whatever went wrong
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.close()


def _error_message(response: requests.Response) -> str:
    """The API's ``message`` (bounded), never the raw body: it could echo request data."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"][:200]
    return ""
