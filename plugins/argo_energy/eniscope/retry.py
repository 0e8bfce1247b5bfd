"""What is retried and how long to wait: ``Retryable`` (internal), ``BackoffWait``, ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime

import tenacity

__all__ = ["BackoffWait", "Retryable", "parse_retry_after"]

# Kinds of ``Retryable``: what the final error says and how it is classed once retries run out.
TIMEOUT = "timeout"  # socket read timeout or the request's wall-clock deadline
CONNECTION = "connection"  # refused, reset, broken chunked body
RATE_LIMITED = "rate_limited"  # 429
SERVER_ERROR = "server_error"  # 5xx other than "Invalid Parameter"
MALFORMED = "malformed"  # a 2xx body that is not JSON (truncated, garbage, nested too deep)


class Retryable(Exception):
    """Internal: a transient failure tenacity may retry (never leaves the hook)."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date); ``None`` if absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # nan is not a delay
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class BackoffWait(tenacity.wait.wait_base):
    """Exponential backoff with equal jitter, capped; a server's ``Retry-After`` wins (also capped)."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.cap)
        ceiling = min(self.cap, self.base * 2 ** (retry_state.attempt_number - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
