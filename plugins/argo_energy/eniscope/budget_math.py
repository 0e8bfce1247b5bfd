"""The shared request budget's arithmetic (GCRA) and its answer types. Pure, no I/O.

Below both stores (``budget.py``'s PostgreSQL backend and ``budget_redis.py``): the SQL function of
V008 and the Lua script implement exactly ``reserve`` and ``pause_state``, and tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class BudgetUnavailable(RuntimeError):
    """The shared state cannot be used at all (no connection, no V008): the budget paces per process."""


class Grant(NamedTuple):
    """The answer to one take: wait ``wait`` seconds, then send (only when ``booked``)."""

    wait: float
    booked: bool
    taken: int  # the account's booked takes so far (every process)
    now: float  # the shared clock the answer is relative to (epoch seconds)


@dataclass(frozen=True)
class BudgetState:
    """One account's bucket: theoretical arrival time and pause end, both on the shared clock."""

    tat: float = 0.0
    paused_until: float = 0.0
    taken: int = 0


def reserve(
    state: BudgetState, now: float, rate: float, burst: float, max_wait: float
) -> tuple[BudgetState, Grant]:
    """The bucket arithmetic (GCRA): book the next send time at ``now``, unless it is over ``max_wait``.

    Emission interval T = 1/rate, tolerance tau = (burst - 1) T; send = max(now, max(tat, now) - tau,
    paused_until); booked: tat = max(tat, now, send) + T.
    """
    interval = 1.0 / rate
    tolerance = (max(burst, 1.0) - 1.0) * interval
    send = max(now, max(state.tat, now) - tolerance, state.paused_until)
    wait = send - now
    if wait > max_wait:
        return state, Grant(wait, False, state.taken, now)
    booked = BudgetState(max(state.tat, now, send) + interval, state.paused_until, state.taken + 1)
    return booked, Grant(wait, True, booked.taken, now)


def pause_state(state: BudgetState, now: float, seconds: float, rate: float, burst: float) -> BudgetState:
    """A 429 said ``Retry-After: seconds``: no send before ``now + seconds``, and no burst after it
    (the server's bucket is empty then): tat = max(tat, until + tau)."""
    until = now + seconds
    tolerance = (max(burst, 1.0) - 1.0) / rate
    return BudgetState(max(state.tat, until + tolerance), max(state.paused_until, until), state.taken)
