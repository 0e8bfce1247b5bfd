"""Real processes sharing one Eniscope request budget against the simulator's per-account limit (issue 16).

Each child is a forked process (``child``): it builds an ``EniscopeHook`` from the inherited
connections (``eniscope_default`` at the simulator, ``energy_db`` at a database with V008), says
ready, waits for the go event, sends ``GET /`` n times and puts its budget stats on a queue. The simulator enforces R requests/s with burst B per account and
answers 429 + Retry-After beyond it (``sim.account_counters``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from argo_energy.eniscope.errors import EniscopeTransientError
from argo_energy.eniscope.hook import EniscopeHook  # imported once here: the forked children share it
from tests.fixtures.airflow import postgres_conn_json
from tests.fixtures.simulator import sim_conn_json

REPO = Path(__file__).resolve().parents[2]
V008 = REPO / "include" / "sql" / "migrations" / "V008__eniscope_request_budget.sql"
RATE = 20.0  # the simulator's per-account limit R and the connection's requests_per_second
SIM_BURST = 5.0  # the simulator's bucket: 250 ms of arrival jitter (a busy 2-core CI machine) is tolerated


@pytest.fixture
def shared(make_simulator, make_database, monkeypatch, tmp_path):
    """(simulator enforcing R, env for the children, the budget database's DSN)."""
    dsn = make_database("budgetproc")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(V008.read_text(encoding="utf-8"))
    sim = make_simulator()
    sim.faults.account_rps = RATE
    sim.faults.account_burst = SIM_BURST
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json(dsn))
    set_budget_conn(monkeypatch, sim)
    return sim, dsn


def set_budget_conn(monkeypatch, sim, **extra) -> None:
    settings = {"requests_per_second": RATE, "burst": 1, "retry_wait_max": 5, "max_retries": 2, **extra}
    conn = sim_conn_json(sim, **settings)
    monkeypatch.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", conn)


# Real processes, forked from this one so that each does not import Airflow again (seconds each on a
# busy 2-core machine); the budget module forgets its parent's store connections after a fork.
FORK = multiprocessing.get_context("fork")


class Children:
    """``count`` forked processes, each ``child(...)``: ready events, one go event, a result queue."""

    def __init__(self, count: int, requests: int) -> None:
        self.go = FORK.Event()
        self.ready = [FORK.Event() for _ in range(count)]
        self.out = FORK.Queue()
        self.procs = [
            FORK.Process(target=child, args=(self.go, ready, requests, self.out), daemon=True) for ready in self.ready
        ]
        for proc in self.procs:
            proc.start()
        for ready, proc in zip(self.ready, self.procs, strict=True):
            assert ready.wait(timeout=60), f"child {proc.pid} not ready"

    def results(self, alive: int | None = None, timeout: float = 120) -> list[dict]:
        wanted = len(self.procs) if alive is None else alive
        out = [self.out.get(timeout=timeout) for _ in range(wanted)]
        for proc in self.procs:
            proc.join(timeout=30)
        return out


def wait_for(condition, seconds: float, what: str) -> None:
    """Poll ``condition`` until true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def account_counters(sim):
    (counters,) = sim.account_counters.values()
    return counters


def test_processes_share_one_budget_at_the_accounts_rate(shared, tmp_path):
    sim, dsn = shared
    children = Children(count=4, requests=40)
    sim.reset_account_counters()
    children.go.set()
    stats = children.results()
    c = account_counters(sim)
    seconds = c.last_at - c.first_at
    assert c.requests >= 160
    assert c.limited <= 0.01 * c.requests, f"{c.limited} x 429 of {c.requests}"
    assert c.answered <= SIM_BURST + RATE * seconds + 1, "never above R + burst"
    assert c.answered / seconds >= 0.9 * RATE, f"{c.answered / seconds:.1f} req/s of R = {RATE}"
    assert all(child["errors"] == 0 for child in stats)
    assert sum(child["requests"] for child in stats) == c.requests, "every send took its turn (retries too)"
    with psycopg.connect(dsn) as conn:
        (taken,) = conn.execute("SELECT taken FROM eniscope_request_budget").fetchone()
    assert taken == c.requests, "one shared take per request sent"


def test_without_the_shared_budget_the_same_processes_are_refused(shared, tmp_path, monkeypatch):
    # The control: per-process pacing lets 2 processes send 2 R, and the account refuses the excess.
    sim, _ = shared
    set_budget_conn(monkeypatch, sim, budget_backend="process", max_retries=0)
    children = Children(count=2, requests=30)
    sim.reset_account_counters()
    children.go.set()
    children.results()
    c = account_counters(sim)
    assert c.limited > 0.01 * c.requests, "the 1 % bound of the shared-budget test would fail"


def test_a_429_seen_by_one_process_pauses_the_others(shared, tmp_path, monkeypatch):
    sim, dsn = shared
    children = Children(count=1, requests=1)
    set_budget_conn(monkeypatch, sim, max_retries=0)
    sim.faults.retry_after = 3
    sim.faults.rate_limit_next = 1
    with pytest.raises(EniscopeTransientError, match="429"):
        EniscopeHook().get_account()  # this process gets the 429 with Retry-After: 3
    limited_at = next(r.at for r in sim.requests if r.status == 429)
    children.go.set()
    (child,) = children.results()
    (sent,) = [r for r in sim.requests if r.at > limited_at]
    assert sent.status == 200
    assert sent.at - limited_at >= 2.9, "the other process waited for the account's Retry-After"
    assert child["waited_s"] > 0, "its wait was the budget's pause, not a 429 of its own"
    with psycopg.connect(dsn) as conn:
        (pauses,) = conn.execute("SELECT pauses FROM eniscope_request_budget").fetchone()
    assert pauses == 1


def test_a_process_killed_mid_run_does_not_starve_the_others(shared, tmp_path):
    sim, _ = shared
    children = Children(count=3, requests=50)
    sim.reset_account_counters()
    children.go.set()
    wait_for(lambda: sim.account_counters and account_counters(sim).answered >= 30, 60, "30 answers")
    os.kill(children.procs[0].pid, signal.SIGKILL)
    killed_at = time.time()
    survivors = children.results(alive=2)
    assert children.procs[0].exitcode == -signal.SIGKILL
    assert [s["requests"] for s in survivors] == [50, 50]
    after = sorted(r.at for r in sim.requests if r.at > killed_at + 0.2)
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert after, "the survivors kept sending"
    assert max(gaps) < 0.5, "no turn was held by the dead process"
    assert (len(after) - 1) / (after[-1] - after[0]) >= 0.85 * RATE
    assert account_counters(sim).limited <= 2


def child(go, ready, requests: int, out) -> None:
    """A child process: one hook, ``requests`` x ``GET /`` once ``go`` is set; its stats to ``out``."""
    hook = EniscopeHook()
    _ = hook.settings
    ready.set()
    if not go.wait(timeout=120):
        return
    errors = 0
    for _ in range(requests):
        try:
            hook.get_account()
        except EniscopeTransientError:
            errors += 1
    stats = hook.budget_stats()
    out.put({"requests": stats.requests, "waited_s": stats.waited_s, "errors": errors, "backend": stats.backend})
