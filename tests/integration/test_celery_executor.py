"""CeleryExecutor for real: scheduler, API server, dag-processor and a Celery worker as separate
processes, Redis on 127.0.0.1:6379 as the broker, a fresh PostgreSQL metadata database.

``eniscope_daily_sync`` is triggered through the REST API against the simulator and a fresh
warehouse; the test waits (bounded) for the run to succeed, then proves from the metadata database
and the worker's own log that every task, the mapped readings batches included, went through
Celery to this worker: each task instance carries a Celery task id (``external_executor_id``) and
the test's private queue, and the worker logged receiving exactly those Celery tasks.

Isolation from other test sessions on the same Redis: a dedicated DB number (``ARGO_CELERY_REDIS_DB``,
default 11) and a queue name unique to this test run, deleted at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from devtools import localpg
from devtools.airflow_env import (
    SIMPLE_AUTH_MANAGER,
    airflow_bin,
    airflow_env,
    postgres_connection,
    sqlalchemy_url,
)
from devtools.demo_stack import spawn, stop_group, wait_until
from eniscope_simulator import Simulator, scaled_config
from tests.fixtures.simulator import sim_conn_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "eniscope_daily_sync"
REDIS_DB = int(os.environ.get("ARGO_CELERY_REDIS_DB", "11"))
# 3 sites x 8 meters (+ 1 sensor and 1 virtual channel each) = 30 channels: two readings batches of
# at most 25, so the readings task is mapped twice. One day of lookback keeps the run short.
SITES, METERS, LOOKBACK_DAYS = 3, 8, 1
PASSWORD = "celery-test-password"  # a throwaway user of a throwaway API server
RUN_TIMEOUT = 420


def _artifacts() -> Path:
    path = Path(os.environ.get("ARGO_TEST_ARTIFACTS", REPO / "test-artifacts")) / "celery"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Stack:
    """The Airflow processes of the test and what they share."""

    def __init__(self, home: Path, env: dict[str, str], url: str, queue: str) -> None:
        self.home, self.env, self.url, self.queue = home, env, url, queue
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.token: str | None = None

    def start(self, name: str, *argv: str) -> None:
        log_path = _artifacts() / f"{name}.log"
        with log_path.open("w", encoding="utf-8") as log:
            self.procs[name] = spawn([airflow_bin(), *argv], self.env, log)
        self.logs[name] = log_path

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.logs[name].read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        for proc in self.procs.values():  # SIGTERM every group first: their shutdowns overlap
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            stop_group(proc, timeout=10)


@pytest.fixture
def celery_stack(
    make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Simulator, str, str]]:
    """Migrated PostgreSQL metadata DB + the four components; yields (stack, simulator, warehouse DSN,
    metadata DSN). Every process group is stopped and the test's Redis queue deleted afterwards."""
    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        broker.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis on 127.0.0.1:6379 is required for the Celery test: {exc}")
    meta_dsn, warehouse_dsn = make_database("afmeta"), make_database("wh")
    sim = Simulator(scaled_config(SITES, METERS))  # clock = now, as in production
    sim.start(host="127.0.0.1", port=0)

    home = tmp_path_factory.mktemp("celery-home")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}), encoding="utf-8")
    port = localpg.free_port()
    url = f"http://127.0.0.1:{port}"
    queue = f"argo-celery-test-{os.getpid()}-{secrets.token_hex(4)}"
    from cryptography.fernet import Fernet

    env = airflow_env(
        home,
        metadata_dsn=meta_dsn,
        executor="CeleryExecutor",
        drop_foreign=True,
        connections={"eniscope_default": sim_conn_json(sim), "energy_db": postgres_connection(warehouse_dsn)},
        celery__broker_url=f"redis://127.0.0.1:6379/{REDIS_DB}",
        celery__result_backend=sqlalchemy_url(meta_dsn, "db+postgresql+psycopg2"),
        celery__worker_concurrency=4,
        operators__default_queue=queue,
        # One secret and one execution-API URL for every component (apache/airflow#49646).
        api_auth__jwt_secret=secrets.token_urlsafe(32),
        core__execution_api_server_url=f"{url}/execution/",
        api__port=port,
        api__base_url=url,
        core__fernet_key=Fernet.generate_key().decode(),
        core__auth_manager=SIMPLE_AUTH_MANAGER,
        core__simple_auth_manager_users="admin:admin",
        core__simple_auth_manager_passwords_file=passwords,
        # Only the run this test triggers: no scheduled run of the latest interval besides it.
        scheduler__use_job_schedule=False,
        core__parallelism=8,
        core__unit_test_mode=None,
    )
    stack = Stack(home, env, url, queue)
    try:
        migrate_log = _artifacts() / "db-migrate.log"
        with migrate_log.open("w") as log:
            result = subprocess.run(
                [airflow_bin(), "db", "migrate"],
                env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False,
            )
        assert result.returncode == 0, migrate_log.read_text()[-3000:]
        stack.start("api-server", "api-server", "--port", str(port))
        stack.start("scheduler", "scheduler")
        stack.start("dag-processor", "dag-processor")
        stack.start("celery-worker", "celery", "worker", "--queues", queue, "--celery-hostname",
                    f"{queue}@%h", "--concurrency", "4", "--skip-serve-logs")
        yield stack, sim, warehouse_dsn, meta_dsn
    finally:
        stack.stop()
        sim.stop()
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)


def _wait_ready(stack: Stack) -> None:
    def healthy() -> bool:
        stack.check_alive()
        try:
            return stack.api("GET", "/api/v2/monitor/health").status_code == 200
        except requests.RequestException:
            return False

    wait_until(healthy, timeout=240, interval=1, what="the API server")
    resp = stack.api("POST", "/auth/token", json={"username": "admin", "password": PASSWORD})
    assert resp.status_code in (200, 201), resp.text
    stack.token = resp.json()["access_token"]

    def parsed() -> bool:
        stack.check_alive()
        try:
            return stack.api("GET", f"/api/v2/dags/{DAG_ID}").status_code == 200
        except requests.RequestException:
            return False

    wait_until(parsed, timeout=240, interval=1, what=f"{DAG_ID} parsed by the dag-processor")


def test_daily_sync_runs_on_a_celery_worker(celery_stack: tuple[Stack, Simulator, str, str]) -> None:
    stack, sim, warehouse_dsn, meta_dsn = celery_stack
    _wait_ready(stack)
    pools = json.loads((REPO / "include" / "pools.json").read_text())
    for name, pool in pools.items():
        resp = stack.api("POST", "/api/v2/pools", json={"name": name, "slots": pool["slots"],
                                                         "description": pool["description"]})
        assert resp.status_code in (200, 201), resp.text
    assert stack.api("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200

    resp = stack.api(
        "POST",
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        json={"logical_date": datetime.now(UTC).isoformat(), "conf": {"lookback_days": LOOKBACK_DAYS}},
    )
    assert resp.status_code in (200, 201), resp.text
    run_id = resp.json()["dag_run_id"]

    def finished() -> str | None:
        stack.check_alive()
        try:
            state = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        except requests.RequestException:  # a slow answer on a busy machine: ask again, within the deadline
            return None
        return state if state in ("success", "failed") else None

    state = wait_until(finished, timeout=RUN_TIMEOUT, interval=2, what=f"{DAG_ID} run {run_id} finished")

    with psycopg.connect(meta_dsn) as conn:
        tis = conn.execute(
            "SELECT task_id, map_index, state, queue, external_executor_id, executor, hostname "
            "FROM task_instance WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index",
            (DAG_ID, run_id),
        ).fetchall()
    summary = [(t, m, s) for t, m, s, *_ in tis]
    assert state == "success", f"run {run_id} ended {state}: {summary}\n" + stack.logs[
        "celery-worker"
    ].read_text(errors="replace")[-4000:]

    ran = [ti for ti in tis if ti[2] == "success"]
    mapped = [ti for ti in ran if ti[0] == "sync_readings"]
    assert len(mapped) == 2, f"expected the readings task mapped over 2 batches, got {summary}"
    assert {ti[1] for ti in mapped} == {0, 1}
    for task_id, map_index, _state, queue, celery_id, executor, _host in ran:
        assert queue == stack.queue, f"{task_id}[{map_index}] was queued on {queue!r}"
        assert celery_id, f"{task_id}[{map_index}] has no Celery task id: it did not go through Celery"
        assert executor in (None, "CeleryExecutor"), executor

    # The worker (and only our worker consumes this queue) logged receiving each of those Celery tasks.
    worker_log = stack.logs["celery-worker"].read_text(errors="replace")
    received = set(re.findall(r"execute_workload\[([0-9a-f-]{36})\] received", worker_log))
    missing = {ti[4] for ti in ran} - received
    assert not missing, f"Celery tasks not received by the worker: {missing}"
    assert f"{stack.queue}@" in worker_log, "the worker's log does not name the worker"

    # And the work was real: every meter of the simulator has readings in the warehouse.
    with psycopg.connect(warehouse_dsn) as conn:
        channels = {r[0] for r in conn.execute("SELECT DISTINCT channel_id FROM readings").fetchall()}
        windows = conn.execute(
            "SELECT count(*) FROM ingestion_logs WHERE run_id = %s AND status = 'success'", (run_id,)
        ).fetchone()[0]
    assert channels == set(sim.channel_ids("meter")), f"channels with readings: {sorted(channels)}"
    assert windows >= len(channels), f"{windows} windows for {len(channels)} channels"
