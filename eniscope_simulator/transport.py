"""The simulator's threaded HTTP/1.1 server, including the drip and hang faults (issue 17).

One thread per connection (``ThreadingHTTPServer``), so a response that drips or hangs never
holds up another request. "drip": status and headers (with the full ``Content-Length``) at once,
then the body one byte every ``drip_seconds``. "hang": the request is read and logged (status 0)
and never answered. Both end when the client hangs up, the simulator stops or after
``stall_cap_seconds``; then the connection is closed (a drip's body stays incomplete).
"""

from __future__ import annotations

import email.utils
import json
import logging
import select
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

PREFIXES = ("/v1/1", "/v1")
POLL_SECONDS = 0.2  # how often a hang looks for the client hanging up


def path_segments(path: str) -> list[str]:
    """Segments of a request path without the ``/v1`` or ``/v1/1`` prefix and trailing slash."""
    path = path.rstrip("/") or "/"
    for prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix):] or "/"
            break
    return [s for s in path.split("/") if s]


class Raw(str):
    """A body sent verbatim (faulty JSON)."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sim: Any) -> None:
        super().__init__(address, Handler)
        self.sim = sim

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected (timeout tests); anything else is logged.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        log.exception("simulator error for %s", client_address)


def _client_gone(connection: socket.socket) -> bool:
    """Whether the peer closed the connection (readable with nothing to read)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: with Nagle on, delayed ACKs add ~40 ms per response.
    disable_nagle_algorithm = True
    server: Server

    def _serve(self) -> None:
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        stall = sim.stall_for(self.command, self.path)
        if stall is not None and stall[0] == "hang":
            sim.record_unanswered(self.command, self.path, self.headers)
            self._hang(stall[1])
            return
        status, body, extra, _auth = sim.handle(self.command, self.path, self.headers)
        if body is None:
            payload = b""
        elif isinstance(body, Raw):
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
        if self.command == "HEAD":
            return
        if stall is not None:
            self._drip(payload, stall[1])
        else:
            self.wfile.write(payload)

    def _hang(self, cap: float) -> None:
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline and not _client_gone(self.connection):
            if self.server.sim.wait_stopped(POLL_SECONDS):
                break
        self.close_connection = True

    def _drip(self, payload: bytes, seconds: float) -> None:
        deadline = time.monotonic() + self.server.sim.faults.stall_cap_seconds
        self.wfile.flush()
        for index in range(len(payload)):
            if time.monotonic() >= deadline or self.server.sim.wait_stopped(seconds if index else 0):
                self.close_connection = True
                return
            self.wfile.write(payload[index:index + 1])  # raises once the client has hung up
            self.wfile.flush()

    do_GET = do_OPTIONS = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("simulator: " + format, *args)

    def version_string(self) -> str:
        return "eniscope-simulator"
