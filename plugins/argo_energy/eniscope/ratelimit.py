"""The per-process token bucket: the fast path in front of the shared request budget.

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

from argo_energy.eniscope.errors import EniscopeTransientError

_REGISTRY: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


class RateLimiter:
    """Thread-safe token bucket: ``rate`` requests per second, bursts up to ``burst``.

    ``rate <= 0`` disables limiting. ``pause(seconds)`` holds every take back (a 429's
    Retry-After). A take that would wait longer than ``max_wait`` seconds raises
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
        self.configure(rate, burst)
        self._tokens = self.burst
        self._updated = clock()
        self._paused_until = float("-inf")

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change the budget (the newest connection settings win)."""
        with self._lock:
            self.rate = float(rate)
            # Default burst 1: strict pacing, so no 1-second window sees more than rate + 1 requests.
            self.burst = max(1.0, float(burst)) if burst is not None else 1.0

    def pause(self, seconds: float) -> None:
        """No take returns before ``seconds`` from now (never shortens a pause already set)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def _delay(self) -> float:
        """Take a token now (0.0) or say how long until one could be taken; caller holds the lock."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                if self.rate <= 0:
                    return waited
                delay = self._delay()
                if delay <= 0:
                    return waited
            if waited + delay > self.max_wait:
                raise EniscopeTransientError(
                    f"request budget: the next turn is {waited + delay:.1f}s away, more than the "
                    f"longest wait allowed ({self.max_wait:g}s, extra 'budget_max_wait'); a later try will go on"
                )
            # Sleep outside the lock so other threads can refill/inspect meanwhile.
            self._sleep(delay)
            waited += delay


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
