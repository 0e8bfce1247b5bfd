"""One Eniscope request budget per account, shared by every task process on every worker.

Eniscope rate-limits an account (API key + login), and in Airflow 3 every task instance is its own
process, so a bucket inside one process lets N processes send N x the rate. Here every request
takes its turn from a token bucket kept where all workers already reach:

* ``postgres`` (default): the warehouse (connection ``budget_conn_id``, default ``energy_db``),
  table ``eniscope_request_budget`` and function ``eniscope_budget_take`` of migration V008; one
  statement per take (``include/sql/budget/take.sql``), timed by the database server's clock;
* ``redis``: a hash per account updated by a Lua script (``budget_redis.py``), Redis's clock;
* ``process``: the per-process bucket only (one task at a time, tests).

The shared bucket is a GCRA (``reserve`` is its reference in Python; the SQL function and the Lua
script do the same arithmetic): a take books the account's next send time and returns how long to
wait for it, so a take costs one round trip however long the wait, and a token is consumed when it
is booked, never leased: a process killed after its take holds nothing. A take that would wait
longer than ``budget_max_wait`` books nothing and raises ``EniscopeTransientError`` (the task's
retry comes back later). A 429 with ``Retry-After`` pauses the whole account (``pause``).

The account is identified by a sha256 of base URL, API key and login: the secrets are never stored.
The per-process ``RateLimiter`` stays in front as the fast path (a process never exceeds the rate
by itself, so its own waits cost no round trip). When the shared state cannot be reached at all
(the connection is not defined, or V008 is not applied) the budget says so in a warning and in
every progress line, paces per process, and asks the store again a minute later.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from argo_energy.eniscope.budget_math import BudgetState, BudgetUnavailable, Grant, pause_state, reserve
from argo_energy.eniscope.errors import EniscopeTransientError
from argo_energy.eniscope.ratelimit import RateLimiter

if TYPE_CHECKING:
    from argo_energy.eniscope.config import EniscopeSettings

__all__ = [
    "Backend",
    "BudgetState",
    "BudgetStats",
    "BudgetUnavailable",
    "Grant",
    "PostgresBackend",
    "SharedBudget",
    "account_key",
    "budget_for",
    "pause_state",
    "reserve",
    "reset_budgets",
]

log = logging.getLogger(__name__)

MAX_PAUSE_SECONDS = 3600.0  # a Retry-After beyond an hour is taken as an hour
FALLBACK_RETRY_SECONDS = 60.0  # an unavailable shared store is asked again after this long


def account_key(settings: EniscopeSettings) -> str:
    """sha256 hex of base URL, API key and login: the account, without storing a secret."""
    raw = "\n".join((settings.base_url, settings.api_key, settings.email.strip().lower()))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class Backend(Protocol):
    """Where the shared bucket lives."""

    name: str

    def take(self, account: str, rate: float, burst: float, max_wait: float) -> Grant: ...

    def pause(self, account: str, rate: float, burst: float, seconds: float) -> None: ...

    def close(self) -> None: ...


class PostgresBackend:
    """The bucket in the warehouse: one ``eniscope_budget_take`` call per take, autocommit."""

    name = "postgres"

    def __init__(self, conn_id: str | None = None, *, dsn: str | None = None) -> None:
        self.conn_id, self.dsn = conn_id, dsn
        self._conn: Any = None
        self._lock = threading.Lock()  # one connection per process, one statement at a time

    def _connect(self) -> Any:
        import psycopg

        if self.dsn is not None:
            conn = psycopg.connect(self.dsn, autocommit=True)
        else:
            from argo_energy.settings import connection_or_none
            from argo_energy.warehouse.connection import connect

            if connection_or_none(str(self.conn_id)) is None:
                raise BudgetUnavailable(f"connection {self.conn_id!r} (extra 'budget_conn_id') is not defined")
            conn = connect(str(self.conn_id))
            conn.autocommit = True
        conn.prepare_threshold = 0  # the same two statements all run long: plan once on the server
        # A take must not wait for a WAL flush; losing the last takes in a server crash is harmless.
        conn.execute("SET synchronous_commit TO off")
        return conn

    def _run(self, path: str, params: dict[str, Any]) -> tuple[Any, ...]:
        import psycopg

        from argo_energy.warehouse.sql import sql_text

        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                row = self._conn.execute(sql_text(path), params).fetchone()
            except (psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedTable) as exc:
                raise BudgetUnavailable(f"the warehouse has no budget table (apply migration V008): {exc}") from None
            except psycopg.OperationalError as exc:
                self._drop()
                raise EniscopeTransientError(f"request budget: the warehouse is unreachable ({exc})") from None
        if row is None:  # pragma: no cover - both statements always return a row
            raise EniscopeTransientError(f"request budget: {path} returned no row")
        return tuple(row)

    def take(self, account: str, rate: float, burst: float, max_wait: float, now: float | None = None) -> Grant:
        params = {"account": account, "rate": rate, "burst": burst, "max_wait": max_wait, "now": now}
        wait, booked, taken, server_now = self._run("budget/take.sql", params)
        return Grant(float(wait), bool(booked), int(taken), float(server_now))

    def pause(self, account: str, rate: float, burst: float, seconds: float, now: float | None = None) -> None:
        params = {"account": account, "rate": rate, "burst": burst, "seconds": seconds, "now": now}
        self._run("budget/pause.sql", params)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; dropped anyway
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop()


@dataclass(frozen=True)
class BudgetStats:
    """What one process saw of its account's budget (for the readings task's progress lines)."""

    backend: str  # postgres | redis | process, with the fallback reason if it had to fall back
    rate: float
    burst: float
    requests: int  # takes by this process
    waited_s: float  # seconds this process waited for its turns
    account_rps: float | None  # booked takes/s of the whole account since this process's first take
    process_rps: float | None  # takes/s of this process over the same time
    pauses: int  # 429s with Retry-After this process reported

    def describe(self) -> str:
        """One log fragment, e.g. ``budget postgres 20/s: account 19.8 req/s, this process 5.0 req/s ...``."""
        if self.rate <= 0:
            return "budget off"
        account = f"{self.account_rps:.2f} req/s" if self.account_rps is not None else "n/a"
        own = f"{self.process_rps:.2f} req/s" if self.process_rps is not None else "n/a"
        return (
            f"budget {self.backend} {self.rate:g}/s burst {self.burst:g}: account {account}, this task {own}, "
            f"{self.requests} request(s), waited {self.waited_s:.1f}s for turns, {self.pauses} pause(s)"
        )


class SharedBudget:
    """The request budget of one account in this process: local fast path, then the shared bucket."""

    def __init__(
        self,
        account: str,
        rate: float,
        burst: float,
        max_wait: float,
        backend: Backend | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account, self.backend = account, backend
        self.rate, self.burst, self.max_wait = float(rate), max(1.0, float(burst)), float(max_wait)
        self.local = RateLimiter(self.rate, self.burst, max_wait=self.max_wait, clock=clock, sleep=sleep)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self.fallback: str | None = None
        self._retry_at = float("-inf")  # while unavailable: pace per process until then
        self.requests = self.pauses = 0
        self.waited = 0.0
        self._first: tuple[float, int] | None = None  # (shared clock, account takes) at our first take
        self._last: tuple[float, int] | None = None
        self._first_requests = 0

    def configure(self, rate: float, burst: float, max_wait: float) -> None:
        """The newest connection settings win."""
        self.rate, self.burst, self.max_wait = float(rate), max(1.0, float(burst)), float(max_wait)
        self.local.configure(self.rate, self.burst)
        self.local.max_wait = self.max_wait

    def acquire(self) -> float:
        """Wait for this account's next turn; return the seconds waited (raises when over max wait)."""
        if self.rate <= 0:
            return 0.0
        waited = self.local.acquire()
        grant = self._take()
        if grant is not None:
            if not grant.booked:
                raise EniscopeTransientError(
                    f"request budget: the account's next free turn is {grant.wait:.1f}s away, more than "
                    f"the longest wait allowed ({self.max_wait:g}s, extra 'budget_max_wait'); "
                    "other tasks or a 429 pause hold the budget: a later try will go on"
                )
            if grant.wait > 0:
                self._sleep(grant.wait)
            waited += grant.wait
        with self._lock:
            self.requests += 1
            self.waited += waited
            if grant is not None:
                self._first = self._first or (grant.now + grant.wait, grant.taken)
                self._first_requests = self._first_requests or self.requests
                self._last = (grant.now + grant.wait, grant.taken)
        return waited

    def _take(self) -> Grant | None:
        backend = self.backend
        if backend is None or self._clock() < self._retry_at:
            return None
        try:
            grant = backend.take(self.account, self.rate, self.burst, self.max_wait)
        except BudgetUnavailable as exc:
            self._fall_back(backend.name, str(exc))
            return None
        self.fallback = None
        return grant

    def _fall_back(self, name: str, reason: str) -> None:
        # Not for good: a task that runs before the migrations (validate_params) must not keep a
        # long-lived process on per-process pacing once V008 is there.
        with self._lock:
            self._retry_at = self._clock() + FALLBACK_RETRY_SECONDS
            if self.fallback is not None:
                return
            self.fallback = f"process (no {name}: {reason})"
        log.warning(
            "Eniscope request budget: the shared %s budget is unavailable (%s); pacing per process only, "
            "so several tasks at once can exceed the account's rate",
            name, reason,
        )

    def pause(self, seconds: float) -> None:
        """A 429 said ``Retry-After: seconds``: hold back every process of the account."""
        seconds = min(max(0.0, float(seconds)), MAX_PAUSE_SECONDS)
        with self._lock:
            self.pauses += 1
        backend = self.backend
        if backend is None or self.fallback is not None:
            self.local.pause(seconds)
            return
        try:
            backend.pause(self.account, max(self.rate, 1e-9), self.burst, seconds)
        except BudgetUnavailable as exc:
            self._fall_back(backend.name, str(exc))
            self.local.pause(seconds)
        except EniscopeTransientError as exc:
            log.warning("Eniscope request budget: could not record the pause of %.0fs: %s", seconds, exc)
            self.local.pause(seconds)

    def stats(self) -> BudgetStats:
        """Counters of this process (see ``BudgetStats``)."""
        with self._lock:
            first, last = self._first, self._last
            account_rps = process_rps = None
            if first and last and last[0] > first[0]:
                span = last[0] - first[0]
                account_rps = (last[1] - first[1]) / span
                process_rps = (self.requests - self._first_requests) / span
            backend = self.fallback or (self.backend.name if self.backend else "process")
            return BudgetStats(
                backend, self.rate, self.burst, self.requests, self.waited, account_rps, process_rps, self.pauses
            )

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


_BUDGETS: dict[tuple[str, str, str], SharedBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def _backend(settings: EniscopeSettings) -> Backend | None:
    if settings.budget_backend == "postgres":
        return PostgresBackend(settings.budget_conn_id)
    if settings.budget_backend == "redis":
        from argo_energy.eniscope.budget_redis import RedisBackend

        return RedisBackend(settings.budget_conn_id)
    return None


def budget_for(settings: EniscopeSettings) -> SharedBudget:
    """The process-wide budget of the connection's account (created, or re-configured by newer settings)."""
    account = account_key(settings)
    key = (account, settings.budget_backend, settings.budget_conn_id)
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None:
            budget = _BUDGETS[key] = SharedBudget(
                account,
                settings.requests_per_second,
                settings.burst,
                settings.budget_max_wait,
                _backend(settings) if settings.requests_per_second > 0 else None,
            )
        elif (budget.rate, budget.burst, budget.max_wait) != (
            settings.requests_per_second, settings.burst, settings.budget_max_wait
        ):
            budget.configure(settings.requests_per_second, settings.burst, settings.budget_max_wait)
            if budget.backend is None and settings.requests_per_second > 0:
                budget.backend = _backend(settings)
        return budget


def _forget_after_fork() -> None:
    """A forked child (LocalExecutor, Celery prefork) must not use its parent's store connections."""
    global _BUDGETS_LOCK
    _BUDGETS_LOCK = threading.Lock()
    _BUDGETS.clear()  # not closed: the sockets belong to the parent


os.register_at_fork(after_in_child=_forget_after_fork)


def reset_budgets() -> None:
    """Close and forget every budget of this process (tests, benchmarks)."""
    with _BUDGETS_LOCK:
        for budget in _BUDGETS.values():
            budget.close()
        _BUDGETS.clear()
