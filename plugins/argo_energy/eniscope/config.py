"""Connection -> ``EniscopeSettings``: base URL, credentials and the tuning extras, validated once.

Connection ``eniscope_default`` (conn_type ``eniscope`` or ``http``): host = base URL with scheme
and port, login = account email, password = plain password, extra::

    {"api_key": "...",                            # required
     "connect_timeout": 10, "read_timeout": 60,   # seconds per connect / socket read ("timeout" sets both)
     "request_deadline": 120,                     # wall-clock seconds for one whole request, body included
     "max_response_mb": 20,                       # body cap in MiB (decoded); larger answers are malformed
     "max_retries": 4,                            # retries after the first attempt
     "retry_wait_min": 1, "retry_wait_max": 60,   # backoff base / cap, seconds (0 = never sleep)
     "requests_per_second": 5, "burst": 1,       # the account's request budget (0 = off), see budget.py
     "budget_backend": "postgres",                # where the budget lives: postgres | redis | process
     "budget_conn_id": "energy_db",               # its connection (postgres: energy_db, redis: redis_default)
     "budget_max_wait": 120,                      # longest wait for a turn, seconds; longer = transient error
     "page_size": 100, "max_window_hours": 24,
     "allow_insecure_http": false}                # http:// to a non-loopback host (private test networks)

The base URL must be ``https`` unless its host is a loopback address (127.0.0.0/8, ::1, localhost)
or ``allow_insecure_http`` is true: credentials travel in headers on every request.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from argo_energy.eniscope.errors import EniscopeAuthError, EniscopeConfigError
from argo_energy.settings import ENERGY_CONN_ID

__all__ = [
    "DEFAULT_BASE_URL",
    "EniscopeSettings",
    "base_url_of",
    "checked_base_url",
    "is_loopback_host",
    "mask_secret",
]

DEFAULT_BASE_URL = "https://core.eniscope.com"
MIB = 1024 * 1024
BUDGET_BACKENDS = ("postgres", "redis", "process")
REDIS_CONN_ID = "redis_default"  # the budget's Redis connection unless budget_conn_id names another


class ConnectionLike(Protocol):
    """What the settings read from an Airflow ``Connection`` (tests pass a namespace)."""

    host: str | None
    login: str | None
    password: str | None
    schema: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def mask_secret(secret: str | None) -> None:
    """Register a secret with Airflow's masker (short values cannot be masked and are skipped)."""
    if not secret or len(secret) < 5:
        return
    from airflow.sdk.log import mask_secret as register

    register(secret)


@dataclass(frozen=True)
class EniscopeSettings:
    """Everything the hook needs from its Connection, validated once."""

    base_url: str
    email: str
    api_key: str = field(repr=False)
    password: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    request_deadline: float = 120.0
    max_response_bytes: int = 20 * MIB
    max_retries: int = 4
    retry_wait_min: float = 1.0
    retry_wait_max: float = 60.0
    requests_per_second: float = 5.0
    burst: float = 1.0
    budget_backend: str = "postgres"
    budget_conn_id: str = ENERGY_CONN_ID
    budget_max_wait: float = 120.0
    page_size: int = 100
    max_window_hours: float = 24.0
    allow_insecure_http: bool = False

    @property
    def password_md5(self) -> str:
        # MD5 is what the Eniscope API demands for the login, not our choice of hash.
        return hashlib.md5(self.password.encode("utf-8"), usedforsecurity=False).hexdigest()

    @property
    def basic_authorization(self) -> str:
        raw = f"{self.email}:{self.password_md5}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        """Every credential-bearing string (for the log masker)."""
        return (
            self.password,
            self.password_md5,
            self.api_key,
            self.basic_authorization.split(" ", 1)[1],
        )

    @classmethod
    def from_connection(cls, conn: ConnectionLike, conn_id: str) -> EniscopeSettings:
        """Read host/login/password/extra of an Airflow Connection (types ``eniscope`` or ``http``)."""
        extra = _Extra(conn.extra_dejson or {}, conn_id)
        api_key = extra.get("api_key") or extra.get("apikey")
        if not api_key:
            raise EniscopeAuthError(
                f"connection {conn_id!r} has no API key: set extra 'api_key'", cause="api_key"
            )
        if not conn.login or not conn.password:
            raise EniscopeAuthError(
                f"connection {conn_id!r} needs login (account email) and password", cause="credentials"
            )
        timeout = extra.number("timeout", 0.0)
        insecure = extra.flag("allow_insecure_http")
        return cls(
            base_url=checked_base_url(base_url_of(conn), conn_id, allow_insecure_http=insecure),
            email=str(conn.login),
            api_key=str(api_key),
            password=str(conn.password),
            connect_timeout=extra.number("connect_timeout", timeout or 10.0),
            read_timeout=extra.number("read_timeout", timeout or 60.0),
            request_deadline=extra.positive("request_deadline", 120.0),
            max_response_bytes=int(extra.positive("max_response_mb", 20.0) * MIB),
            max_retries=int(extra.number("max_retries", 4, "retries")),
            retry_wait_min=extra.number("retry_wait_min", 1.0, "backoff"),
            retry_wait_max=extra.number("retry_wait_max", 60.0, "backoff_max"),
            requests_per_second=extra.number("requests_per_second", 5.0, "rps"),
            **extra.budget(),
            page_size=max(1, min(100, int(extra.number("page_size", 100)))),
            max_window_hours=extra.number("max_window_hours", 24.0) or 24.0,
            allow_insecure_http=insecure,
        )


class _Extra:
    """Typed access to a connection's extra (plain keys or the ``extra__<type>__`` form)."""

    def __init__(self, extra: Mapping[str, Any], conn_id: str) -> None:
        self.extra = extra
        self.conn_id = conn_id

    def get(self, name: str) -> Any:
        for key in (name, f"extra__eniscope__{name}", f"extra__http__{name}"):
            value = self.extra.get(key)
            if value not in (None, ""):
                return value
        return None

    def number(self, name: str, default: float, *aliases: str) -> float:
        """The first of ``name``/``aliases`` that is set, as a number >= 0; else ``default``."""
        for key in (name, *aliases):
            value = self.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                raise self._error(key, "must be a number")
            try:
                result = float(value)
            except (TypeError, ValueError):
                raise self._error(key, "must be a number") from None
            if not result >= 0 or result == float("inf"):  # also refuses nan
                raise self._error(key, "must be >= 0")
            return result
        return default

    def positive(self, name: str, default: float) -> float:
        value = self.number(name, default)
        if value <= 0:
            raise self._error(name, "must be > 0")
        return value

    def budget(self) -> dict[str, Any]:
        """``burst``, ``budget_backend``, ``budget_conn_id``, ``budget_max_wait`` (see ``budget.py``)."""
        backend = self.choice("budget_backend", BUDGET_BACKENDS)
        burst = self.number("burst", 1.0)
        if burst < 1:
            raise self._error("burst", "must be >= 1 (requests that may go back to back)")
        default_conn = REDIS_CONN_ID if backend == "redis" else ENERGY_CONN_ID
        return {
            "burst": burst,
            "budget_backend": backend,
            "budget_conn_id": str(self.get("budget_conn_id") or default_conn),
            "budget_max_wait": self.number("budget_max_wait", 120.0),
        }

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        """The value of ``name`` (lower case), one of ``allowed``; the first of them when unset."""
        value = self.get(name)
        text = allowed[0] if value is None else str(value).strip().lower()
        if text not in allowed:
            raise self._error(name, f"must be one of {', '.join(allowed)}")
        return text

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise self._error(name, "must be true or false")

    def _error(self, key: str, problem: str) -> EniscopeConfigError:
        return EniscopeConfigError(f"connection {self.conn_id!r}: extra {key!r} {problem}")


def base_url_of(conn: ConnectionLike) -> str:
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


def is_loopback_host(hostname: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (also IPv4-mapped): traffic never leaves the machine."""
    name = hostname.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _url_problem(url: str, allow_insecure_http: bool) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https"
    if not parts.hostname:
        return "it has no host"
    if any(ch.isspace() for ch in url):
        return "it contains whitespace"
    if parts.query or parts.fragment:
        return "it has a query or fragment"
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        return (
            "plain http to a host other than this machine would send the credentials unencrypted; "
            "use https (set extra 'allow_insecure_http' only for a private test network)"
        )
    return None


def checked_base_url(url: str, conn_id: str, *, allow_insecure_http: bool = False) -> str:
    """``url`` if it is a usable absolute URL (https, or http to loopback), else ``EniscopeConfigError``."""
    problem = _url_problem(url, allow_insecure_http)
    if problem:
        raise EniscopeConfigError(
            f"connection {conn_id!r} has an unusable base URL {url!r}: {problem}; "
            f"set its host to the API's base URL, e.g. {DEFAULT_BASE_URL}"
        )
    return url
