"""Helpers and fixtures of the ingestion DAG tests (no test here; imported by test_daily_sync*.py and
test_historical_backfill*.py).

The DAGs run for real with ``dag.test()`` against the Eniscope simulator (real HTTP) and a fresh
PostgreSQL warehouse; results are compared with the simulator's ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from argo_energy.models import READING_FIELDS
from eniscope_simulator import Simulator, SimulatorConfig, SiteConfig, default_config
from tests.fixtures.simulator import set_eniscope_conn

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
READING_COLUMNS = READING_FIELDS


def small_config(now: datetime, **overrides: Any) -> SimulatorConfig:
    """Two sites kept small for speed: New York (2 meters + 1 Air Sense sensor) and Kolkata (1 meter)."""
    sites = [
        SiteConfig(
            name="Wilson Center",
            timezone="America/New_York",
            country="US",
            voltage=120.0,
            meters=2,
            sensors=1,
            virtual=0,
            base_kw=20.0,
        ),
        SiteConfig(
            name="Bengaluru Tech Park",
            timezone="Asia/Kolkata",
            country="IN",
            meters=1,
            sensors=0,
            virtual=0,
            base_kw=25.0,
        ),
    ]
    return default_config(now=now, sites=sites, **overrides)


@dataclass
class IngestEnv:
    """One test's world: the simulator and the warehouse DSN (connections already point at them)."""

    sim: Simulator
    dsn: str
    monkeypatch: pytest.MonkeyPatch

    def sql(self, query: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query, params).fetchall()

    def tables(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]

    def readings_requests(self) -> list[Any]:
        return [r for r in self.sim.requests if "/readings/" in r.path]

    def set_variable(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value)


@pytest.fixture
def make_ingest_env(
    airflow_db: str,
    energy_db_conn: str,
    make_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Factory: ``make_ingest_env(now, **config)`` starts a small simulator and points the connections."""

    def make(now: datetime, **overrides: Any) -> IngestEnv:
        sim = make_simulator(small_config(now, **overrides))
        set_eniscope_conn(monkeypatch, sim)
        return IngestEnv(sim=sim, dsn=energy_db_conn, monkeypatch=monkeypatch)

    return make


def site_of(env: IngestEnv, timezone: str) -> str:
    """The organisation id of the simulator's site in ``timezone``."""
    (org,) = [o for o in env.sim.site_organization_ids() if env.sim.world.orgs[int(o)].timezone == timezone]
    return org


def load_dag(dag_id: str) -> Any:
    """The DAG as the dag-processor sees it (parsed from its file, no import errors)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert bag.import_errors == {}, f"import errors: {bag.import_errors}"
    return bag.get_dag(dag_id)


def no_retries(dag: Any) -> Any:
    """Fail tasks at once (dag.test() would otherwise wait out the retry delay)."""
    for task in dag.tasks:
        task.retries = 0
    return dag


def states(dag_run: Any) -> dict[str, list[str]]:
    """``{task_id: [state per map index]}`` of a finished run."""
    found: dict[str, list[str]] = {}
    for ti in sorted(dag_run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        found.setdefault(ti.task_id, []).append(str(ti.state))
    return found


def stored_readings(env: IngestEnv, channel_id: int, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    cols = ", ".join(READING_COLUMNS)
    return env.sql(
        f'SELECT "timestamp", {cols} FROM readings WHERE channel_id = %s '  # noqa: S608 - constant columns
        'AND "timestamp" >= %s AND "timestamp" < %s ORDER BY "timestamp"',
        (channel_id, start, end),
    )


def assert_matches_ground_truth(env: IngestEnv, channel_id: int, start: datetime, end: datetime) -> int:
    """Stored readings of ``[start, end)`` equal what the simulator serves now; returns the count."""
    truth = env.sim.ground_truth_readings(channel_id, start, end)
    stored = stored_readings(env, channel_id, start, end)
    assert [row[0] for row in stored] == [r.ts for r in truth], (
        f"channel {channel_id}: stored timestamps differ from the simulator's ground truth "
        f"({len(stored)} stored, {len(truth)} expected)"
    )
    for row, reading in zip(stored, truth, strict=True):
        for column, got, want in zip(READING_COLUMNS, row[1:], reading.values(), strict=True):
            if want is None:
                assert got is None, f"channel {channel_id} {row[0]} {column}: expected NULL, got {got}"
            else:
                # The readings table stores real (float4): about 7 significant digits.
                assert got is not None, f"channel {channel_id} {row[0]} {column}: NULL, simulator {want}"
                assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6), (
                    f"channel {channel_id} {row[0]} {column}: stored {got}, simulator {want}"
                )
    return len(truth)
