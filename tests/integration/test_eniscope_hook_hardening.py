"""EniscopeHook against hostile or broken servers, over real HTTP (small local ``http.server`` threads).

Redirects never carry the credentials anywhere, answers are bounded in bytes, records and
wall-clock time, absurd JSON is a malformed answer, and plain http leaves only for loopback hosts.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from airflow.sdk.exceptions import AirflowFailException

from argo_energy.eniscope import hook as hook_module
from argo_energy.eniscope.errors import EniscopeConfigError, EniscopeResponseError, EniscopeTransientError
from argo_energy.eniscope.hook import EniscopeHook

pytestmark = pytest.mark.integration

CONN_ID = "eniscope_hardening"
API_KEY = "hardening-api-key-0001"
PASSWORD = "hardening-password-0001"
ENISCOPE_HEADERS = ("x-eniscope-api", "x-eniscope-token", "authorization")
WINDOW = datetime(2026, 11, 12, 5, 0, tzinfo=UTC)

Handler = Callable[["Exchange"], None]


@dataclass
class Exchange:
    """One request as the test server saw it, and the means to answer it."""

    request: BaseHTTPRequestHandler
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.request.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}.items():
            self.request.send_header(name, value)
        self.request.end_headers()
        self.request.wfile.write(body)

    def json(self, payload: Any) -> None:
        self.reply(200, json.dumps(payload).encode())


@dataclass
class Server:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers with ``handler``."""

    handler: Handler
    seen: list[Exchange] = field(default_factory=list)
    sent_bytes: int = 0
    httpd: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    started: list[Server] = []

    def start(handler: Handler) -> Server:
        server = Server(handler)

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                exchange = Exchange(
                    self, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}
                )
                server.seen.append(exchange)
                # The client hanging up is what several tests expect.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.handler(exchange)
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        httpd.daemon_threads = True
        server.httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.httpd is not None
        server.httpd.shutdown()
        server.httpd.server_close()


def connect(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> EniscopeHook:
    """A hook whose connection points at ``host``; no retry waits, no client-side rate limit."""
    conn = {
        "conn_type": "eniscope",
        "host": host,
        "login": "ops@example.com",
        "password": PASSWORD,
        "extra": {"api_key": API_KEY, "retry_wait_max": 0, "requests_per_second": 0,
                  "connect_timeout": 5, "read_timeout": 10, **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return EniscopeHook(CONN_ID)


def envelope(channel: int, start: datetime, end: datetime, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": channel, "from": int(start.timestamp()), "to": int(end.timestamp()),
            "resolution": 900, "units": {"ts": "Unix Time", "E": "Wh", "P": "W"},
            "recordCount": len(records), "records": records}


def grid(start: datetime, end: datetime) -> list[dict[str, Any]]:
    step = 900
    return [{"ts": ts, "E": 250.0, "P": 1000.0} for ts in range(int(start.timestamp()), int(end.timestamp()), step)]


# ----------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_a_config_error_and_no_credential_leaves(serve, monkeypatch, status):
    elsewhere = serve(lambda ex: ex.json({"organizations": [], "meta": {"pageCount": 1}}))
    # "localhost" is another host name than 127.0.0.1: exactly where credentials must not follow.
    redirector = serve(lambda ex: ex.reply(status, headers={"Location": f"http://localhost:{elsewhere.port}{ex.request.path}"}))
    hook = connect(monkeypatch, redirector.url)
    with pytest.raises(EniscopeConfigError) as failed:
        hook.list_organizations()
    assert isinstance(failed.value, AirflowFailException), "a redirect cannot get better with retries"
    assert CONN_ID in str(failed.value)
    assert f"localhost:{elsewhere.port}" in str(failed.value)
    assert len(redirector.seen) == 1, "a redirect is not retried"
    leaked = [(ex.path, name) for ex in elsewhere.seen for name in ENISCOPE_HEADERS if name in ex.headers]
    assert leaked == []
    assert elsewhere.seen == [], "the redirect was followed"
    for secret in (API_KEY, PASSWORD):
        assert secret not in str(failed.value)


# ----------------------------------------------------------------------------- size caps


def test_oversized_answer_fails_one_window_cleanly_with_bounded_memory(serve, monkeypatch):
    """50 MB streamed (chunked, no Content-Length) for one window: refused at the 1 MiB cap, next window fine."""
    big = WINDOW

    def answer(ex: Exchange) -> None:
        start = datetime.fromtimestamp(int(ex.query["daterange[]"][0]), UTC)
        end = datetime.fromtimestamp(int(ex.query["daterange[]"][1]), UTC)
        if start != big:
            ex.json(envelope(7, start, end, grid(start, end)))
            return
        ex.request.send_response(200)
        ex.request.send_header("Content-Type", "application/json")
        ex.request.send_header("Transfer-Encoding", "chunked")
        ex.request.end_headers()
        piece = b" " * (256 * 1024)
        for _ in range(200):  # 50 MiB of JSON whitespace
            ex.request.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            server.sent_bytes += len(piece)
        ex.request.wfile.write(b"0\r\n\r\n")

    server = serve(answer)
    hook = connect(monkeypatch, server.url, max_response_mb=1, max_retries=2)
    tracemalloc.start()
    try:
        with pytest.raises(EniscopeResponseError, match="larger than 1 MiB") as failed:
            hook.get_readings(7, big, big + timedelta(hours=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not isinstance(failed.value, AirflowFailException), "one window fails, not the task"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB: the answer was not streamed"
    assert len(server.seen) == 1, "an oversized answer is not fetched again"
    later = big + timedelta(hours=1)
    batch = hook.get_readings(7, later, later + timedelta(hours=1))
    assert len(batch.readings) == 4, "the hook keeps working after a refused answer"
    assert server.sent_bytes < 50 * 1024 * 1024, "the client read the whole answer"


def test_declared_oversized_answer_is_refused_without_reading(serve, monkeypatch):
    size = 50 * 1024 * 1024

    def answer(ex: Exchange) -> None:
        ex.request.send_response(200)
        ex.request.send_header("Content-Length", str(size))
        ex.request.end_headers()
        piece = b" " * (1024 * 1024)
        for _ in range(50):
            ex.request.wfile.write(piece)
            server.sent_bytes += len(piece)

    server = serve(answer)
    hook = connect(monkeypatch, server.url)  # the default cap, 20 MiB
    with pytest.raises(EniscopeResponseError, match="larger than 20 MiB"):
        hook.list_organizations()
    assert len(server.seen) == 1


def test_more_records_than_the_window_can_hold_is_malformed(serve, monkeypatch):
    def answer(ex: Exchange) -> None:
        start = datetime.fromtimestamp(int(ex.query["daterange[]"][0]), UTC)
        records = [{"ts": int(start.timestamp()) + i, "E": 1.0} for i in range(9)]  # 9 > 2 x 4 slots
        ex.json(envelope(7, start, start + timedelta(hours=1), records))

    server = serve(answer)
    hook = connect(monkeypatch, server.url)
    with pytest.raises(EniscopeResponseError, match="9 records, more than the 8"):
        hook.get_readings(7, WINDOW, WINDOW + timedelta(hours=1))
    assert len(server.seen) == 1


def test_deeply_nested_json_is_a_malformed_answer(serve, monkeypatch):
    depth = 200_000
    server = serve(lambda ex: ex.reply(200, b"[" * depth + b"]" * depth))
    hook = connect(monkeypatch, server.url, max_retries=1)
    with pytest.raises(EniscopeResponseError, match="not valid JSON") as failed:
        hook.get_readings(7, WINDOW, WINDOW + timedelta(hours=1))
    assert "RecursionError" in str(failed.value)
    assert len(server.seen) == 2, "malformed answers are retried like truncated ones, boundedly"


def test_endless_paging_stops_at_the_page_limit(serve, monkeypatch):
    def answer(ex: Exchange) -> None:
        page = int(ex.query["page"][0])
        ex.json({"channels": [{"dataChannelId": str(page)}], "meta": {"pageCount": 10**9, "currentPage": page}})

    monkeypatch.setattr(hook_module, "MAX_PAGES", 5)
    server = serve(answer)
    hook = connect(monkeypatch, server.url)
    with pytest.raises(EniscopeResponseError, match="still more pages after 5 pages"):
        hook.list_channels()
    assert [ex.query["page"] for ex in server.seen] == [["1"], ["2"], ["3"], ["4"], ["5"]]


# ----------------------------------------------------------------------------- wall-clock deadline


def test_dripping_server_is_cut_at_the_deadline_and_retried_boundedly(serve, monkeypatch):
    """Headers, then one byte per second: every socket read succeeds, only a deadline can stop it."""
    body = json.dumps({"organizations": [], "meta": {"pageCount": 1}}).encode()

    def drip(ex: Exchange) -> None:
        ex.request.send_response(200)
        ex.request.send_header("Content-Length", str(len(body)))
        ex.request.end_headers()
        ex.request.wfile.flush()
        for byte in body:
            ex.request.wfile.write(bytes([byte]))
            ex.request.wfile.flush()
            time.sleep(1.0)  # the drip itself, not test synchronisation

    server = serve(drip)
    hook = connect(monkeypatch, server.url, read_timeout=5, request_deadline=1.5, max_retries=1)
    started = time.monotonic()
    with pytest.raises(EniscopeTransientError, match="timed out") as failed:
        hook.list_organizations()
    elapsed = time.monotonic() - started
    assert "deadline" in str(failed.value)
    assert "after 2 attempt(s)" in str(failed.value)
    assert len(server.seen) == 2
    assert 2 * 1.5 <= elapsed < 2 * 1.5 + 2.0, f"{elapsed:.1f}s for two attempts of 1.5 s"


def test_silence_after_the_headers_is_cut_at_the_deadline_not_the_read_timeout(serve, monkeypatch):
    release = threading.Event()

    def silent(ex: Exchange) -> None:
        ex.request.send_response(200)
        ex.request.send_header("Content-Length", "100")
        ex.request.end_headers()
        ex.request.wfile.flush()
        release.wait(10)  # silent until the test is over

    server = serve(silent)
    hook = connect(monkeypatch, server.url, read_timeout=8, request_deadline=1, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(EniscopeTransientError, match="timed out"):
            hook.list_organizations()
    finally:
        release.set()
    assert time.monotonic() - started < 4, "the 8 s read timeout, not the 1 s deadline, ended the request"
    assert len(server.seen) == 1


# ----------------------------------------------------------------------------- plain http


def test_plain_http_to_a_remote_host_is_refused_before_any_request(serve, monkeypatch):
    hook = connect(monkeypatch, "http://eniscope.example.invalid:8085")
    with pytest.raises(EniscopeConfigError, match="plain http") as failed:
        hook.list_organizations()
    assert isinstance(failed.value, AirflowFailException)
    assert CONN_ID in str(failed.value)
    assert hook.request_count == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_is_allowed(serve, monkeypatch, host):
    server = serve(lambda ex: ex.json({"organizations": [{"organizationId": "1"}], "meta": {"pageCount": 1}}))
    hook = connect(monkeypatch, f"http://{host}:{server.port}")
    assert [o.organization_id for o in hook.list_organizations()] == ["1"]
    assert server.seen[0].headers["x-eniscope-api"] == API_KEY
