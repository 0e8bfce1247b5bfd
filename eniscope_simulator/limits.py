"""The per-account rate limit fault (issue 16): a token bucket per account, with counters.

API.md §6 "Rate limits for reads": not documented; 429 is in the status list and clients honour
``Retry-After`` "if present". So this is a configurable fault, off by default
(``FaultConfig.account_rps`` None). An account is the API key plus the login (the email of the
Basic credentials or of the session a token belongs to). Each account's bucket holds up to
``account_burst`` (B) tokens, refills at ``account_rps`` (R) tokens per second and starts full;
a request takes one token or is answered 429 with ``Retry-After`` = whole seconds until a token
is back (HTTP ``delay-seconds``, RFC 9110 §10.2.3, at least 1).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class AccountCounters:
    """What one account sent: ``requests`` = ``answered`` (let through) + ``limited`` (429)."""

    requests: int = 0
    answered: int = 0
    limited: int = 0
    first_at: float | None = None  # time.time() of the first and the last request
    last_at: float | None = None


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class AccountLimiter:
    """Token buckets and counters by account; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._counters: dict[str, AccountCounters] = {}

    def take(self, account: str, rate: float | None, burst: float) -> int | None:
        """Count a request of ``account``; None if it may pass, else the Retry-After seconds."""
        with self._lock:
            counters = self._counters.setdefault(account, AccountCounters())
            counters.requests += 1
            counters.first_at = counters.first_at or time.time()
            counters.last_at = time.time()
            if not rate:
                counters.answered += 1
                return None
            clock = time.monotonic()
            bucket = self._buckets.setdefault(account, _Bucket(tokens=burst, updated=clock))
            bucket.tokens = min(burst, bucket.tokens + (clock - bucket.updated) * rate)
            bucket.updated = clock
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                counters.answered += 1
                return None
            counters.limited += 1
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def counters(self) -> dict[str, AccountCounters]:
        """A copy of the counters by account (``"<api key>:<email>"``, key shown as ``***``)."""
        with self._lock:
            return {name: AccountCounters(**vars(c)) for name, c in self._counters.items()}

    def reset(self) -> None:
        """Forget counters and refill every bucket."""
        with self._lock:
            self._buckets.clear()
            self._counters.clear()
