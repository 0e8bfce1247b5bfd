"""HTTP to the Eniscope Core API: session, auth headers, bounded reads, status classes, retries.

Auth (API.md §2, §10.1): ``X-Eniscope-API`` on every request; the first request logs in with
``Authorization: Basic base64(email:md5hex(password))``; the ``X-Eniscope-Token`` the server
returns is reused until it is refused (401/419), then the transport logs in again once.

Every request is bounded: redirects are never followed (the credential headers would go wherever
a ``Location`` points; a 3xx is a configuration error), the body is streamed and cut when the
request's wall-clock deadline passes (a server sending a byte a minute never trips a per-read
timeout) or when it exceeds the byte cap. Transient trouble (connection errors, timeouts and
deadlines, 429, 5xx, malformed JSON) is retried with tenacity, exponential backoff with jitter,
``Retry-After`` honoured, all bounded by the connection extras.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3

from argo_energy.eniscope.config import EniscopeSettings, mask_secret
from argo_energy.eniscope.errors import (
    ChannelUnsupportedError,
    EniscopeAuthError,
    EniscopeConfigError,
    EniscopeNotFoundError,
    EniscopeRequestError,
    EniscopeResponseError,
    EniscopeTransientError,
)
from argo_energy.eniscope.retry import (
    CONNECTION,
    MALFORMED,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    BackoffWait,
    Retryable,
    parse_retry_after,
)

__all__ = ["ALWAYS_THERE", "USER_AGENT", "Answer", "EniscopeTransport", "decode_json", "read_body"]

USER_AGENT = "argo-energy-airflow/0.1 (Eniscope hook; python-requests)"
# Collection endpoints every Eniscope Core API answers (API.md §3); a 404 there means a wrong host.
ALWAYS_THERE = frozenset({"", "organizations", "channels", "meters"})
CHUNK_BYTES = 64 * 1024
ERROR_BODY_BYTES = 64 * 1024  # of an error answer only its short "message" is used


class Log(Protocol):
    """The logging methods the transport uses (the hook's logger)."""

    def debug(self, msg: str, /, *args: object) -> object: ...
    def info(self, msg: str, /, *args: object) -> object: ...
    def warning(self, msg: str, /, *args: object) -> object: ...


class Limiter(Protocol):
    """The request budget (``budget.SharedBudget``, or a ``ratelimit.RateLimiter``)."""

    def acquire(self) -> float: ...

    def pause(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A fully read HTTP answer; ``body`` is ``None`` when it exceeded the byte limit."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None


def _socket_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read of ``response`` to ``seconds`` (silence past the deadline)."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.01))


def read_body(
    response: requests.Response, *, deadline_at: float, read_timeout: float, limit: int, what: str
) -> bytes | None:
    """The body of a streamed ``response``, read chunk by chunk; ``None`` past ``limit`` bytes.

    Raises ``Retryable("timeout")`` once ``time.monotonic()`` passes ``deadline_at``, checked after
    every chunk and enforced on silent sockets too, and ``Retryable("connection")`` for a broken body.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None  # do not download what will be refused
    body = bytearray()
    try:
        while True:
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise Retryable(TIMEOUT, f"{what} timed out: the answer took longer than the request deadline")
            _socket_timeout(response, min(read_timeout, remaining))
            chunk = response.raw.read1(CHUNK_BYTES)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > limit:
                return None
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        over = time.monotonic() >= deadline_at
        reason = "the request deadline passed" if over else f"no data for {read_timeout:g}s"
        raise Retryable(TIMEOUT, f"{what} timed out while reading the answer ({reason})") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Retryable(CONNECTION, f"{what} failed while reading the answer: {type(exc).__name__}") from None


def decode_json(body: bytes, what: str) -> Any:
    """``body`` as JSON; garbage, truncation and absurd nesting are ``Retryable("malformed")``."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError, OverflowError) as exc:
        # RecursionError: a deeply nested document; it must not crash the worker.
        raise Retryable(
            MALFORMED, f"{what}: body is not valid JSON ({len(body)} bytes, {type(exc).__name__})"
        ) from None


def error_message(body: bytes | None) -> str:
    """The API's ``message`` (bounded), never the raw body: it could echo request data."""
    try:
        decoded = json.loads(body) if body else None
    except (ValueError, RecursionError, OverflowError):
        return ""
    if isinstance(decoded, Mapping) and isinstance(decoded.get("message"), str):
        return decoded["message"][:200]
    return ""


class EniscopeTransport:
    """One account's HTTP conversation: session, token, rate budget, retries (used by the hook)."""

    def __init__(
        self,
        settings: EniscopeSettings,
        conn_id: str,
        *,
        limiter: Limiter,
        log: Log,
        wait: tenacity.wait.wait_base | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.conn_id = conn_id
        self.limiter = limiter
        self.log = log
        self.wait = wait
        self.sleep = sleep
        self.token: str | None = None
        self.request_count = 0  # HTTP requests sent (for logs and tests)
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """The one ``requests.Session`` (created on first use)."""
        if self._session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session and forget the session token."""
        if self._session is not None:
            self._session.close()
        self._session = None
        self.token = None

    # ------------------------------------------------------------------ one HTTP exchange

    def _headers(self) -> dict[str, str]:
        headers = {"X-Eniscope-API": self.settings.api_key}
        if self.token:
            headers["X-Eniscope-Token"] = self.token
        else:
            headers["Authorization"] = self.settings.basic_authorization
        return headers

    def _get(self, path: str, params: Sequence[tuple[str, str]] | None, deadline: float) -> requests.Response:
        """Send the GET and receive the headers; transport errors become ``Retryable``."""
        settings = self.settings
        url = f"{settings.base_url}/{path.lstrip('/')}"
        try:
            return self.session.get(
                url,
                params=list(params or ()),
                headers=self._headers(),
                timeout=(settings.connect_timeout, min(settings.read_timeout, deadline)),
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise Retryable(TIMEOUT, f"GET /{path} timed out (read timeout {settings.read_timeout}s)") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema) as exc:
            raise EniscopeConfigError(
                f"connection {self.conn_id!r}: GET {url} is not a usable URL ({type(exc).__name__}); "
                "check the connection's host",
                path=path,
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise Retryable(CONNECTION, f"GET /{path} failed: {type(exc).__name__}") from None

    def send(self, path: str, params: Sequence[tuple[str, str]] | None) -> Answer:
        """One HTTP GET, bounded in time and size, with key + token-or-Basic headers."""
        settings = self.settings
        self.limiter.acquire()  # the one call site of the request budget
        self.request_count += 1
        started = time.monotonic()
        response = self._get(path, params, settings.request_deadline)
        try:
            if 300 <= response.status_code < 400:
                raise self._redirected(response, path)
            ok = 200 <= response.status_code < 300
            body = read_body(
                response,
                deadline_at=started + settings.request_deadline,
                read_timeout=settings.read_timeout,
                limit=settings.max_response_bytes if ok else ERROR_BODY_BYTES,
                what=f"GET /{path}",
            )
        finally:
            response.close()  # a cut answer's connection must not go back to the pool
        self.log.debug("Eniscope GET /%s -> %s in %.3fs", path, response.status_code, time.monotonic() - started)
        token = response.headers.get("X-Eniscope-Token")
        if token and token != self.token and 200 <= response.status_code < 300:
            mask_secret(token)
            self.token = token
        return Answer(response.status_code, response.headers, body)

    def _redirected(self, response: requests.Response, path: str) -> EniscopeConfigError:
        target = urlsplit(response.headers.get("Location", ""))
        where = f"{target.scheme}://{target.netloc}" if target.netloc else "a path on the same host"
        return EniscopeConfigError(
            f"connection {self.conn_id!r}: GET /{path} answered HTTP {response.status_code}, a redirect to "
            f"{where}; redirects are not followed (the credentials must not reach another host): set the "
            "connection's host to the API's final base URL",
            status=response.status_code,
            path=path,
        )

    def exchange(self, path: str, params: Sequence[tuple[str, str]] | None, channel_id: int | None) -> Any:
        """One logical request: re-authenticates once when the session token is refused."""
        reauthenticated = False
        while True:
            used_token = self.token is not None
            answer = self.send(path, params)
            if answer.status in (401, 419) and used_token and not reauthenticated:
                self.log.info("Eniscope session token refused (HTTP %s); logging in again", answer.status)
                self.token = None
                reauthenticated = True
                continue
            return self.interpret(answer, path, channel_id)

    # ------------------------------------------------------------------ status classes

    def interpret(self, answer: Answer, path: str, channel_id: int | None) -> Any:
        """The decoded JSON of a 2xx answer; otherwise the classed error is raised."""
        if 200 <= answer.status < 300:
            if answer.body is None:
                mib = self.settings.max_response_bytes / (1024 * 1024)
                raise EniscopeResponseError(
                    f"GET /{path}: the answer is larger than {mib:g} MiB (extra 'max_response_mb'); "
                    "reading stopped",
                    status=answer.status,
                    path=path,
                )
            return decode_json(answer.body, f"GET /{path}")
        raise self._failure(answer, path, channel_id)

    def _failure(self, answer: Answer, path: str, channel_id: int | None) -> Exception:
        status = answer.status
        if status in (401, 419):
            self.token = None
            return EniscopeAuthError(
                f"Eniscope refused the login (HTTP {status}) of connection {self.conn_id!r}: "
                "the email (login) or password is likely wrong; the API key was accepted "
                "(a bad key answers 403)",
                cause="credentials",
                status=status,
                path=path,
            )
        if status == 403:
            return self._forbidden(path)
        if status == 404:
            return self._not_found(path)
        if status == 429:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if retry_after is not None:
                self.limiter.pause(retry_after)  # the account is limited: hold back every worker, not only us
            return Retryable(RATE_LIMITED, f"GET /{path}: rate limited (429)", status=status, retry_after=retry_after)
        message = error_message(answer.body)
        if status >= 500:
            return self._server_error(status, message, path, channel_id)
        return EniscopeRequestError(f"GET /{path}: HTTP {status} {message}".rstrip(), status=status, path=path)

    def _not_found(self, path: str) -> Exception:
        if path.strip("/") in ALWAYS_THERE:
            return EniscopeConfigError(
                f"GET /{path.strip('/')} answered 404 at {self.settings.base_url}: every Eniscope Core API "
                f"has this endpoint, so connection {self.conn_id!r} points at something else; "
                "check its host (the API's base URL, without a path)",
                status=404,
                path=path,
            )
        return EniscopeNotFoundError(f"GET /{path}: not found (404)", status=404, path=path)

    @staticmethod
    def _server_error(status: int, message: str, path: str, channel_id: int | None) -> Exception:
        if status == 500 and "invalid parameter" in message.lower():
            if channel_id is not None:
                return ChannelUnsupportedError(channel_id, f"channel {channel_id}: 500 {message}")
            return EniscopeRequestError(f"GET /{path}: 500 {message}", status=status, path=path)
        return Retryable(SERVER_ERROR, f"GET /{path}: server error {status} {message}".rstrip(), status=status)

    def _forbidden(self, path: str) -> EniscopeAuthError:
        """Name the likely cause of a 403: probe ``GET /`` (key + login only) to tell key from rights."""
        cause = "api_key"
        if path.strip("/"):
            try:
                probe: int | None = self.send("", None).status
            except Retryable:
                probe = None
            if probe == 200:
                cause = "permission"
            elif probe in (401, 419):
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
            f"Eniscope answered 403 Forbidden for GET /{path} (connection {self.conn_id!r}): {text}",
            cause=cause,
            status=403,
            path=path,
        )

    # ------------------------------------------------------------------ retries

    def request(
        self,
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
        *,
        channel_id: int | None = None,
        attempts: int | None = None,
    ) -> Any:
        """GET ``path`` with bounded retries; returns the decoded JSON."""
        settings = self.settings
        total = attempts if attempts is not None else settings.max_retries + 1
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, total)),
            wait=self.wait or BackoffWait(settings.retry_wait_min, settings.retry_wait_max),
            retry=tenacity.retry_if_exception_type(Retryable),
            sleep=self.sleep or time.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self.exchange(path, params, channel_id)
        except Retryable as exc:
            tries = retrying.statistics.get("attempt_number", total)
            if exc.kind == MALFORMED:
                raise EniscopeResponseError(f"{exc} after {tries} attempt(s)", path=path) from None
            raise EniscopeTransientError(f"{exc} after {tries} attempt(s)", status=exc.status, path=path) from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning("Eniscope attempt %d failed (%s); retrying in %.1fs", state.attempt_number, exc, wait)
