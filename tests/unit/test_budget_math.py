"""The request budget's arithmetic and its process-side behaviour, with an injected clock (issue 16)."""

from __future__ import annotations

import itertools
import logging
import sys
from types import SimpleNamespace

import pytest

from argo_energy.eniscope.budget import (
    BudgetState,
    BudgetUnavailable,
    Grant,
    SharedBudget,
    account_key,
    pause_state,
    reserve,
)
from argo_energy.eniscope.config import EniscopeSettings
from argo_energy.eniscope.errors import EniscopeConfigError, EniscopeTransientError
from argo_energy.eniscope.ratelimit import RateLimiter
from argo_energy.provider_info import get_provider_info


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class MemoryBackend:
    """The shared bucket in memory (``reserve`` on one state), on the test's clock."""

    name = "memory"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.state = BudgetState()
        self.pauses: list[float] = []
        self.unavailable: str | None = None

    def take(self, account: str, rate: float, burst: float, max_wait: float) -> Grant:
        if self.unavailable:
            raise BudgetUnavailable(self.unavailable)
        self.state, grant = reserve(self.state, self.clock(), rate, burst, max_wait)
        return grant

    def pause(self, account: str, rate: float, burst: float, seconds: float) -> None:
        self.pauses.append(seconds)
        self.state = pause_state(self.state, self.clock(), seconds, rate, burst)

    def close(self) -> None:
        pass


def sends(state: BudgetState, times: list[float], rate: float, burst: float, max_wait: float = 1e9):
    """Send times (now + wait) of takes at ``times``."""
    out = []
    for now in times:
        state, grant = reserve(state, now, rate, burst, max_wait)
        assert grant.booked
        out.append(now + grant.wait)
    return state, out


def test_burst_one_paces_exactly_at_the_rate():
    _, at = sends(BudgetState(), [0.0] * 9, rate=4, burst=1)
    assert at == pytest.approx([i * 0.25 for i in range(9)])


def test_burst_lets_b_requests_go_back_to_back_then_paces():
    _, at = sends(BudgetState(), [0.0] * 6, rate=2, burst=3)
    assert at == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0, 1.5])


def test_idle_time_refills_at_most_the_burst():
    state, _ = sends(BudgetState(), [0.0] * 3, rate=2, burst=3)
    _, at = sends(state, [100.0] * 5, rate=2, burst=3)
    assert at == pytest.approx([100.0, 100.0, 100.0, 100.5, 101.0])


def test_no_window_of_one_second_holds_more_than_rate_plus_burst():
    # Takes arriving irregularly: every 1-second window sees at most rate + burst sends.
    times = [i * 0.013 for i in range(400)]
    _, at = sends(BudgetState(), times, rate=10, burst=4)
    assert all(b >= a for a, b in itertools.pairwise(at))
    for start in at:
        assert sum(1 for t in at if start <= t < start + 1.0) <= 10 + 4


def test_pause_holds_every_take_and_restarts_without_a_burst():
    state, _ = sends(BudgetState(), [0.0], rate=10, burst=5)
    paused = pause_state(state, 1.0, 29.0, rate=10, burst=5)
    assert paused.paused_until == 30.0
    assert pause_state(paused, 2.0, 5.0, rate=10, burst=5) == paused, "a pause is never shortened"
    _, at = sends(paused, [1.0, 1.0, 1.0], rate=10, burst=5)
    assert at == pytest.approx([30.0, 30.1, 30.2])


def test_a_take_over_max_wait_books_nothing():
    state, _ = sends(BudgetState(), [0.0] * 4, rate=1, burst=1)  # booked up to t=4
    after, grant = reserve(state, 0.0, 1, 1, max_wait=2.0)
    assert (grant.booked, grant.wait) == (False, pytest.approx(4.0))
    assert after == state, "a refused take consumes no token"
    _, grant = reserve(state, 2.5, 1, 1, max_wait=2.0)
    assert grant.booked
    assert grant.wait == pytest.approx(1.5)


def test_shared_budget_sleeps_the_granted_wait_and_counts():
    clock = FakeClock()
    backend = MemoryBackend(clock)
    budget = SharedBudget("a" * 64, 5, 1, 60, backend, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        budget.acquire()
    assert clock.now - 1000.0 == pytest.approx(2.0), "11 takes at 5/s, burst 1 span 2 s"
    stats = budget.stats()
    assert (stats.requests, stats.backend, stats.account_rps) == (11, "memory", pytest.approx(5.0))
    assert stats.waited_s == pytest.approx(sum(clock.slept))
    assert "account 5.00 req/s" in stats.describe()


def test_shared_budget_waits_for_the_other_processes_turns():
    clock = FakeClock()
    backend = MemoryBackend(clock)
    backend.state, _ = sends(BudgetState(), [clock.now] * 10, rate=5, burst=1)  # others booked 2 s
    budget = SharedBudget("a" * 64, 5, 1, 60, backend, clock=clock, sleep=clock.sleep)
    assert budget.acquire() == pytest.approx(2.0)


def test_shared_budget_over_max_wait_raises_a_transient_error():
    clock = FakeClock()
    backend = MemoryBackend(clock)
    backend.state = BudgetState(paused_until=clock.now + 500)
    budget = SharedBudget("a" * 64, 5, 1, 30, backend, clock=clock, sleep=clock.sleep)
    with pytest.raises(EniscopeTransientError, match="budget_max_wait"):
        budget.acquire()
    assert backend.state.taken == 0


def test_pause_goes_to_the_shared_state():
    clock = FakeClock()
    backend = MemoryBackend(clock)
    budget = SharedBudget("a" * 64, 5, 1, 60, backend, clock=clock, sleep=clock.sleep)
    budget.pause(7.0)
    assert backend.pauses == [7.0]
    assert budget.acquire() == pytest.approx(7.0)
    assert budget.stats().pauses == 1


def test_unavailable_shared_state_falls_back_to_the_process_bucket(caplog):
    clock = FakeClock()
    backend = MemoryBackend(clock)
    backend.unavailable = "connection 'energy_db' is not defined"
    budget = SharedBudget("a" * 64, 4, 1, 60, backend, clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING):
        for _ in range(9):
            budget.acquire()
    assert clock.now - 1000.0 == pytest.approx(2.0), "still paced at 4/s by the process bucket"
    assert "pacing per process only" in caplog.text
    assert budget.stats().backend.startswith("process (no memory: connection 'energy_db'")
    budget.pause(3.0)
    before = clock.now
    budget.acquire()
    assert clock.now - before == pytest.approx(3.0), "the pause holds the process bucket"
    backend.unavailable = None  # V008 applied meanwhile: asked again a minute after the fallback
    clock.now += 60
    budget.acquire()
    assert budget.stats().backend == "memory"
    assert backend.state.taken == 1


def test_redis_backend_without_the_redis_package_names_it_and_paces_per_process(monkeypatch, caplog):
    from argo_energy.eniscope.budget_redis import RedisBackend

    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` raises ImportError
    with pytest.raises(BudgetUnavailable, match="package 'redis' is not installed"):
        RedisBackend(url="redis://127.0.0.1:6379/0").take("a" * 64, 5, 1, 60)
    clock = FakeClock()
    budget = SharedBudget("a" * 64, 5, 1, 60, RedisBackend(url="redis://127.0.0.1:6379/0"), clock=clock,
                          sleep=clock.sleep)
    with caplog.at_level(logging.WARNING):
        budget.acquire()
        budget.acquire()
    assert clock.now - 1000.0 == pytest.approx(0.2), "paced at 5/s by the process bucket"
    assert budget.stats().backend.startswith("process (no redis: the Python package 'redis' is not installed")
    assert "package 'redis'" in caplog.text


@pytest.mark.parametrize(
    ("rate", "windows", "expected"),
    [
        (20, 280, 10),  # R x 0.5 s: one task alone keeps 20 requests/s busy at 0.5 s per window
        (40, 280, 10),  # never more than MAX_WINDOW_WORKERS connections per task
        (5, 280, 4),  # the operator's max_workers, as before
        (1, 280, 1),  # a thread does >= 1 window/s: more would only wait for turns
        (20, 3, 3),  # never more threads than windows
        (0, 280, 4),  # no budget: max_workers
    ],
)
def test_window_threads_follow_the_budget(rate, windows, expected):
    from argo_energy.ingest.readings import MAX_WINDOW_WORKERS, WINDOW_SECONDS, window_workers

    assert (WINDOW_SECONDS, MAX_WINDOW_WORKERS) == (0.5, 10)
    assert window_workers(rate, windows, 4) == expected


def test_rate_zero_is_off():
    budget = SharedBudget("a" * 64, 0, 1, 60, None)
    assert budget.acquire() == 0.0
    assert budget.stats().describe() == "budget off"


def test_rate_limiter_pause_and_max_wait():
    clock = FakeClock()
    limiter = RateLimiter(10, max_wait=5, clock=clock, sleep=clock.sleep)
    limiter.pause(2.0)
    limiter.pause(1.0)  # never shortens
    assert limiter.acquire() == pytest.approx(2.0)
    limiter.pause(50.0)
    with pytest.raises(EniscopeTransientError):
        limiter.acquire()


def conn(**extra):
    return SimpleNamespace(
        host="http://127.0.0.1:8085", login="Ops@Example.com", password="secret-pass", schema=None, port=None,
        extra_dejson={"api_key": "key-123456", **extra},
    )


def test_budget_extras_and_defaults():
    s = EniscopeSettings.from_connection(conn(), "c")
    assert (s.requests_per_second, s.burst, s.budget_backend, s.budget_conn_id, s.budget_max_wait) == (
        5.0, 1.0, "postgres", "energy_db", 120.0
    )
    r = EniscopeSettings.from_connection(conn(budget_backend="Redis", burst=3, budget_max_wait=10), "c")
    assert (r.budget_backend, r.budget_conn_id, r.burst, r.budget_max_wait) == ("redis", "redis_default", 3.0, 10.0)
    own = EniscopeSettings.from_connection(conn(budget_conn_id="budget_db"), "c")
    assert own.budget_conn_id == "budget_db"
    with pytest.raises(EniscopeConfigError, match="budget_backend"):
        EniscopeSettings.from_connection(conn(budget_backend="memcached"), "c")
    with pytest.raises(EniscopeConfigError, match="burst"):
        EniscopeSettings.from_connection(conn(burst=0.5), "c")


def test_account_key_is_a_hash_of_the_account_never_the_secret():
    a = EniscopeSettings.from_connection(conn(), "c")
    key = account_key(a)
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert "key-123456" not in key
    assert "secret" not in key
    same = EniscopeSettings.from_connection(
        SimpleNamespace(**{**vars(conn()), "login": "ops@example.com", "password": "other-password"}), "c"
    )
    assert account_key(same) == key, "the account is key + login; the password does not change it"
    other = EniscopeSettings.from_connection(SimpleNamespace(**{**vars(conn()), "login": "b@example.com"}), "c")
    assert account_key(other) != key


def test_connection_form_describes_the_shared_budget():
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert "worker process" not in fields["requests_per_second"]["description"]
    assert "every task" in fields["requests_per_second"]["description"]
    assert fields["budget_backend"]["schema"]["enum"][:3] == ["postgres", "redis", "process"]
    for name in ("burst", "budget_conn_id", "budget_max_wait"):
        assert name in fields
