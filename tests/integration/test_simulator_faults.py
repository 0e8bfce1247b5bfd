"""Simulator transport faults of issues 16 and 17, over real HTTP: per-account rate limit, drip, hang."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from eniscope_simulator import UserConfig, default_config
from tests.fixtures.simulator import SIM_NOW, sim_get, sim_headers

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 12, 5, 0, tzinfo=UTC)


def test_account_rate_limit_answers_429_with_retry_after_past_the_burst(make_simulator):
    sim = make_simulator(default_config(now=SIM_NOW, users=[UserConfig("other@argo.example", "other-pass-1")]))
    sim.faults.account_rps = 0.2  # one token per 5 s: nothing refills during the test
    sim.faults.account_burst = 3
    statuses = [sim_get(sim, "/") for _ in range(6)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429, 429]
    for refused in statuses[3:]:
        retry = refused.headers["Retry-After"]
        assert retry.isdigit(), "HTTP delay-seconds"
        assert 1 <= int(retry) <= 5, "the wait for one token"
    other = sim_get(sim, "/", headers=sim_headers(sim, "other@argo.example", "other-pass-1"))
    assert other.status_code == 200, "another account has its own bucket"
    counters = sim.account_counters
    mine = counters[sim.config.email]
    assert (mine.requests, mine.answered, mine.limited) == (6, 3, 3)
    assert (counters["other@argo.example"].requests, counters["other@argo.example"].limited) == (1, 0)
    assert [r.account for r in sim.requests] == [sim.config.email] * 6 + ["other@argo.example"]
    assert [r.status for r in sim.requests][:6] == [200, 200, 200, 429, 429, 429]
    sim.reset_account_counters()
    assert sim_get(sim, "/").status_code == 200, "reset refills the bucket"
    assert sim.account_counters[sim.config.email].requests == 1


def test_rate_limit_is_off_by_default_but_counts(eniscope_sim):
    assert [sim_get(eniscope_sim, "/").status_code for _ in range(5)] == [200] * 5
    counted = eniscope_sim.account_counters[eniscope_sim.config.email]
    assert (counted.requests, counted.answered, counted.limited) == (5, 5, 0)


def _raw_request(sim, path: str) -> socket.socket:
    """Send a GET on a fresh connection; return the socket (the caller reads and closes)."""
    host, port = sim.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    headers = "".join(f"{k}: {v}\r\n" for k, v in sim_headers(sim).items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode())
    return sock


def _read_headers(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        assert chunk, "connection closed before the headers ended"
        data += chunk
    return data


def test_drip_sends_bytes_slowly_while_other_requests_are_answered(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    sim.faults.drip_targets = [channel]
    sim.faults.drip_seconds = 0.3
    start, end = int(DAY.timestamp()), int((DAY + timedelta(hours=1)).timestamp())
    sock = _raw_request(sim, f"/readings/{channel}?fields[]=E&daterange[]={start}&daterange[]={end}&res=900")
    try:
        head = _read_headers(sock)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        assert length > 100
        first = time.monotonic()
        body = sock.recv(1)
        # another request is answered promptly while this one drips
        other_started = time.monotonic()
        other = sim_get(sim, "/organizations")
        other_took = time.monotonic() - other_started
        assert other.status_code == 200
        assert other_took < 1.0, f"other request took {other_took:.2f} s"
        while len(body) < 4:
            body += sock.recv(1)
        dripped = time.monotonic() - first
        assert body == b'{"uu'
        assert dripped >= 2 * 0.3, f"three more bytes came in {dripped:.2f} s"
    finally:
        sock.close()
    assert sim_get(sim, "/channels").status_code == 200, "other paths are not dripped"


def test_drip_by_path_prefix(eniscope_sim):
    sim = eniscope_sim
    sim.faults.drip_targets = ["/organizations"]
    sim.faults.drip_seconds = 0.2
    started = time.monotonic()
    sock = _raw_request(sim, "/v1/organizations/")
    try:
        assert _read_headers(sock).startswith(b"HTTP/1.1 200")
        assert sock.recv(1) == b"{"
        assert time.monotonic() - started < 1.0, "status and headers come at once"
        assert sock.recv(1) == b'"'
    finally:
        sock.close()


def test_hang_never_answers_and_does_not_block_others(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[1]
    sim.faults.hang_targets = [channel]
    sock = _raw_request(sim, f"/readings/{channel}?fields[]=E")
    try:
        answered = threading.Event()

        def other() -> None:
            if sim_get(sim, "/channels").status_code == 200:
                answered.set()

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(timeout=10)
        assert answered.is_set(), "another request is answered while one hangs"
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        hung = [r for r in sim.requests if r.path == f"/readings/{channel}"]
        assert [r.status for r in hung] == [0], "logged as never answered"
    finally:
        sock.close()


def test_hang_ends_at_the_cap(eniscope_sim):
    sim = eniscope_sim
    sim.faults.hang_targets = ["/organizations"]
    sim.faults.stall_cap_seconds = 0.5
    sock = _raw_request(sim, "/organizations")
    try:
        sock.settimeout(10)
        started = time.monotonic()
        assert sock.recv(1) == b"", "closed without an answer"
        assert time.monotonic() - started < 5
    finally:
        sock.close()
