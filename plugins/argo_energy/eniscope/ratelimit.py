"""Client-side request budget shared by every hook of a process.

The Airflow pool ``eniscope_api`` bounds how many tasks talk to Eniscope at once; this token
bucket bounds how fast they talk inside one worker process. Limiters are kept per base URL so
that two hooks for the same server share one budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_REGISTRY: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


class RateLimiter:
    """Thread-safe token bucket: ``rate`` requests per second, bursts up to ``burst``.

    ``rate <= 0`` disables limiting. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.configure(rate, burst)
        self._tokens = self.burst
        self._updated = clock()

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change the budget (the newest connection settings win)."""
        with self._lock:
            self.rate = float(rate)
            # Default burst 1: strict pacing, so no 1-second window sees more than rate + 1 requests.
            self.burst = float(burst) if burst is not None else 1.0

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                if self.rate <= 0:
                    return waited
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self.rate
            # Sleep outside the lock so other threads can refill/inspect meanwhile.
            self._sleep(delay)
            waited += delay


def get_limiter(key: str, rate: float, burst: float | None = None) -> RateLimiter:
    """The process-wide limiter for ``key`` (a base URL), created or re-configured with ``rate``."""
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = _REGISTRY[key] = RateLimiter(rate, burst)
        elif limiter.rate != float(rate) or (burst is not None and limiter.burst != float(burst)):
            limiter.configure(rate, burst)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (tests)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
