"""The per-process request pacer (a GCRA token bucket): the fast path in front of the shared budget.

Eniscope limits an account, and every Airflow task instance is its own process, so the budget that
counts lives outside the process (``budget.py``: the warehouse PostgreSQL or Redis). This bucket
runs first in every take: a process never sends faster than the account's rate by itself, so a
wait it imposes costs no round trip to the shared state. With ``budget_backend: "process"`` it is
the only budget (one task at a time, or a test). Limiters are kept per key (``get_limiter``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from argo_energy.eniscope.budget_math import BudgetState, pause_state, reserve
from argo_energy.eniscope.errors import EniscopeTransientError

_REGISTRY: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


class RateLimiter:
    """Thread-safe request pacing: ``rate`` requests per second, bursts up to ``burst``.

    A GCRA, the same arithmetic as the shared bucket (``budget_math.reserve``): a take books the
    next send time and sleeps until it, so callers queue for consecutive turns, and a caller that
    wakes late never pushes the later turns back (a bucket re-read after each sleep loses the
    sleep's overshoot on every turn: about 0.92 of the rate with ten threads on a busy machine).
    ``rate <= 0`` disables limiting. ``pause(seconds)`` holds every take back (a 429's
    Retry-After). A take that would wait longer than ``max_wait`` seconds books nothing and raises
    ``EniscopeTransientError`` instead of sleeping. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        max_wait: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self._state = BudgetState(tat=float("-inf"), paused_until=float("-inf"))
        self.configure(rate, burst)

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change the budget (the newest connection settings win)."""
        with self._lock:
            self.rate = float(rate)
            # Default burst 1: strict pacing, so no 1-second window sees more than rate + 1 requests.
            self.burst = max(1.0, float(burst)) if burst is not None else 1.0

    def pause(self, seconds: float) -> None:
        """No take returns before ``seconds`` from now (never shortens a pause already set)."""
        with self._lock:
            if self.rate > 0:
                self._state = pause_state(self._state, self._clock(), max(0.0, seconds), self.rate, self.burst)

    def acquire(self) -> float:
        """Book the next turn and sleep until it; return the seconds waited."""
        with self._lock:
            if self.rate <= 0:
                return 0.0
            state, grant = reserve(self._state, self._clock(), self.rate, self.burst, self.max_wait)
            if grant.booked:
                self._state = state
        if not grant.booked:
            raise EniscopeTransientError(
                f"request budget: the next turn is {grant.wait:.1f}s away, more than the "
                f"longest wait allowed ({self.max_wait:g}s, extra 'budget_max_wait'); a later try will go on"
            )
        if grant.wait > 0:
            self._sleep(grant.wait)  # outside the lock: the other callers book the turns after ours
        return grant.wait


def get_limiter(key: str, rate: float, burst: float | None = None) -> RateLimiter:
    """The process-wide limiter for ``key``, created or re-configured with ``rate``."""
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = _REGISTRY[key] = RateLimiter(rate, burst)
        elif limiter.rate != float(rate) or (burst is not None and limiter.burst != max(1.0, float(burst))):
            limiter.configure(rate, burst)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (tests)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
