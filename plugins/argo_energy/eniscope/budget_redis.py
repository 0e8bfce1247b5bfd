"""The shared Eniscope request budget in Redis (extra ``budget_backend: "redis"``).

Same arithmetic as ``budget_math.reserve`` and the SQL function of V008, in a Lua script that Redis runs
atomically: one round trip per take, Redis's own clock (``TIME``) so that workers with skewed clocks
agree. State per account: hash ``argo:eniscope_budget:<sha256>`` (``tat``, ``paused_until``,
``taken``, ``refused``, ``waited_s``, ``pauses``), expiring a day after its last use.

Connection ``budget_conn_id`` (default ``redis_default``, type ``redis``): host, port, password,
extra ``db`` (or the schema) = database number.

The ``redis`` client package is imported only when a deployment selects this backend. It is in the
runtime lock through the Celery provider (``kombu``); a deployment without it gets a warning naming
the package and paces per process (``BudgetUnavailable``), like one whose Redis connection is missing.
"""

from __future__ import annotations

import threading
from typing import Any

from argo_energy.eniscope.budget_math import BudgetUnavailable, Grant
from argo_energy.eniscope.errors import EniscopeTransientError

__all__ = ["KEY_PREFIX", "RedisBackend"]

KEY_PREFIX = "argo:eniscope_budget:"
TTL_SECONDS = 86400

_NOW = """
local now
if ARGV[#ARGV] ~= '' then
  now = tonumber(ARGV[#ARGV])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS[1] = account hash; ARGV = rate, burst, max_wait, now ('' = Redis's clock)
TAKE = _NOW + """
local rate = tonumber(ARGV[1])
local burst = math.max(tonumber(ARGV[2]), 1)
local max_wait = tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tat', 'paused_until', 'taken')
local tat = tonumber(s[1]) or 0
local paused = tonumber(s[2]) or 0
local taken = tonumber(s[3]) or 0
local send = math.max(now, math.max(tat, now) - (burst - 1) / rate, paused)
local wait = send - now
local booked = 0
if wait <= max_wait then
  booked = 1
  taken = taken + 1
  redis.call('HSET', KEYS[1], 'tat', string.format('%.6f', math.max(tat, now, send) + 1 / rate),
             'taken', taken, 'rate', ARGV[1], 'burst', burst)
  redis.call('HINCRBYFLOAT', KEYS[1], 'waited_s', string.format('%.6f', wait))
else
  redis.call('HINCRBY', KEYS[1], 'refused', 1)
end
redis.call('EXPIRE', KEYS[1], """ + str(TTL_SECONDS) + """)
return {string.format('%.6f', wait), booked, taken, string.format('%.6f', now)}
"""

# KEYS[1] = account hash; ARGV = seconds, rate, burst, now ('' = Redis's clock); as budget_math.pause_state
PAUSE = _NOW + """
local until_at = now + tonumber(ARGV[1])
local tau = (math.max(tonumber(ARGV[3]), 1) - 1) / tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tat', 'paused_until')
local tat = tonumber(s[1]) or 0
local current = tonumber(s[2]) or 0
redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', math.max(until_at, current)),
           'tat', string.format('%.6f', math.max(tat, until_at + tau)))
redis.call('HINCRBY', KEYS[1], 'pauses', 1)
redis.call('EXPIRE', KEYS[1], """ + str(TTL_SECONDS) + """)
return string.format('%.6f', math.max(until_at, current))
"""


def _redis_module() -> Any:
    """The ``redis`` package, or ``BudgetUnavailable`` naming it (imported lazily: only this backend needs it)."""
    try:
        import redis
    except ImportError as exc:
        raise BudgetUnavailable(
            "the Python package 'redis' is not installed (budget_backend 'redis' needs it: install "
            f"apache-airflow-providers-celery, which pulls it in, or 'redis' itself): {exc}"
        ) from None
    return redis


class RedisBackend:
    """The bucket in Redis: one ``EVALSHA`` per take."""

    name = "redis"

    def __init__(self, conn_id: str | None = None, *, url: str | None = None) -> None:
        self.conn_id, self.url = conn_id, url
        self._client: Any = None
        self._scripts: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        redis = _redis_module()
        if self.url is not None:
            return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        from argo_energy.settings import connection_or_none

        conn = connection_or_none(str(self.conn_id))
        if conn is None:
            raise BudgetUnavailable(f"connection {self.conn_id!r} (extra 'budget_conn_id') is not defined")
        extra = conn.extra_dejson or {}
        db = extra.get("db", conn.schema or 0)
        return redis.Redis(
            host=conn.host or "localhost",
            port=int(conn.port or 6379),
            db=int(db or 0),
            password=conn.password or None,
            socket_timeout=5,
            socket_connect_timeout=5,
        )

    def _call(self, which: int, account: str, args: list[Any]) -> Any:
        redis = _redis_module()
        with self._lock:
            if self._client is None or self._scripts is None:
                self._client = self._connect()
                self._scripts = (self._client.register_script(TAKE), self._client.register_script(PAUSE))
            script = self._scripts[which]
        try:
            return script(keys=[KEY_PREFIX + account], args=args)
        except redis.RedisError as exc:
            raise EniscopeTransientError(f"request budget: Redis is unreachable ({type(exc).__name__}: {exc})") from None

    def take(self, account: str, rate: float, burst: float, max_wait: float, now: float | None = None) -> Grant:
        wait, booked, taken, server_now = self._call(0, account, [rate, burst, max_wait, "" if now is None else now])
        return Grant(float(wait), bool(booked), int(taken), float(server_now))

    def pause(self, account: str, rate: float, burst: float, seconds: float, now: float | None = None) -> None:
        self._call(1, account, [seconds, rate, burst, "" if now is None else now])

    def close(self) -> None:
        with self._lock:
            client, self._client, self._scripts = self._client, None, None
        if client is not None:
            client.close()
