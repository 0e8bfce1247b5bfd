"""The shared request budget's stores: the SQL function of V008 and the Redis Lua script do the
arithmetic of ``budget.reserve`` / ``budget.pause_state`` (injected clock values), atomically (issue 16)."""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from argo_energy.eniscope.budget import (
    BudgetState,
    BudgetUnavailable,
    PostgresBackend,
    SharedBudget,
    pause_state,
    reserve,
)
from argo_energy.eniscope.budget_redis import KEY_PREFIX, RedisBackend

REPO = Path(__file__).resolve().parents[2]
V008 = REPO / "include" / "sql" / "migrations" / "V008__eniscope_request_budget.sql"
REDIS_URL = "redis://127.0.0.1:6379/0"


def budget_database(make_database) -> str:
    """A fresh database with only V008 applied (the budget does not depend on the other migrations)."""
    dsn = make_database("budget")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(V008.read_text(encoding="utf-8"))
    return dsn


def redis_or_skip() -> RedisBackend:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return RedisBackend(url=REDIS_URL)


@pytest.fixture(params=["postgres", "redis"])
def backend(request, make_database):
    made = PostgresBackend(dsn=budget_database(make_database)) if request.param == "postgres" else redis_or_skip()
    yield made
    made.close()


def random_account() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def test_the_store_agrees_with_the_reference_arithmetic(backend):
    rng = random.Random(16)
    account = random_account()
    state = BudgetState()
    now = 1_800_000_000.0
    for step in range(300):
        now += rng.choice([0.0, 0.0, 0.01, 0.05, 0.3, 2.0])
        rate, burst, max_wait = 10.0, 3.0, rng.choice([0.5, 5.0])
        if step % 37 == 36:
            seconds = rng.choice([1.0, 4.0])
            state = pause_state(state, now, seconds, rate, burst)
            backend.pause(account, rate, burst, seconds, now=now)
            continue
        state, expected = reserve(state, now, rate, burst, max_wait)
        got = backend.take(account, rate, burst, max_wait, now=now)
        assert got.booked == expected.booked, step
        assert got.wait == pytest.approx(expected.wait, abs=1e-5), step
        assert got.taken == expected.taken, step
        assert got.now == pytest.approx(now, abs=1e-5)


def test_concurrent_takes_never_book_the_same_turn(backend):
    # 8 threads x 25 takes at one injected instant: 200 distinct send times, exactly 1/rate apart.
    account = random_account()
    waits: list[float] = []
    lock = threading.Lock()
    backends = [backend] + [type(backend)(**backend_args(backend)) for _ in range(3)]

    def work(own):
        for _ in range(25):
            grant = own.take(account, 100.0, 1.0, 1e9, now=5_000.0)
            with lock:
                waits.append(grant.wait)

    threads = [threading.Thread(target=work, args=(backends[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for extra in backends[1:]:
        extra.close()
    assert sorted(round(w, 4) for w in waits) == [round(i / 100.0, 4) for i in range(200)]


def backend_args(backend) -> dict:
    return {"dsn": backend.dsn} if isinstance(backend, PostgresBackend) else {"url": backend.url}


def test_the_store_uses_its_own_clock(backend):
    account = random_account()
    first = backend.take(account, 1.0, 1.0, 60.0)
    second = backend.take(account, 1.0, 1.0, 60.0)
    assert first.wait == 0.0
    assert second.now >= first.now
    assert second.wait == pytest.approx(1.0 - (second.now - first.now), abs=1e-3)


def test_postgres_stores_only_a_hash_and_reports_status(make_database):
    dsn = budget_database(make_database)
    store = PostgresBackend(dsn=dsn)
    with pytest.raises(psycopg.errors.CheckViolation):
        store.take("api-key-in-clear:ops@example.com", 1.0, 1.0, 1.0)
    store.close()
    account = random_account()
    store.take(account, 2.0, 1.0, 10.0)
    store.pause(account, 2.0, 1.0, 30.0)
    status = (REPO / "include" / "sql" / "budget" / "status.sql").read_text(encoding="utf-8")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(status).fetchone()
    assert row[0] == account[:12]
    assert (row[3], row[6]) == (1, 1)
    assert 25 < float(row[7]) <= 30, "paused for about 30 s"
    store.close()


def test_a_database_without_v008_makes_the_budget_fall_back(make_database, caplog):
    store = PostgresBackend(dsn=make_database("nobudget"))
    with pytest.raises(BudgetUnavailable, match="V008"):
        store.take(random_account(), 1.0, 1.0, 1.0)
    budget = SharedBudget(random_account(), 50.0, 1.0, 10.0, PostgresBackend(dsn=store.dsn))
    budget.acquire()
    assert budget.stats().backend.startswith("process (no postgres")
    assert "pacing per process only" in caplog.text
    store.close()


def test_redis_keys_expire():
    import redis

    backend = redis_or_skip()
    account = random_account()
    backend.take(account, 1.0, 1.0, 1.0)
    backend.close()
    ttl = redis.Redis.from_url(REDIS_URL).ttl(KEY_PREFIX + account)
    assert 0 < ttl <= 86400
