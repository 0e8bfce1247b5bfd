"""A daily sync and a historical backfill over overlapping days, at the same time, in two processes.

Each process runs its DAG with ``dag.test()`` (``tests.reliability.run_dag``, its own copy of the
migrated metadata DB, so that SQLite's single writer is not what is tested) against the same
warehouse. Each talks to its own simulator; both simulators have the same seed and clock, hence the
same data. A rendezvous holds every readings request until both runs have sent one, so their writes
start together and overlap. Used by tests/reliability/test_concurrency.py (no deadlock, no
duplicate) and tests/integration/test_rollups_dags.py (exact rollups).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from eniscope_simulator import SiteConfig
from tests.fixtures.airflow import postgres_conn_json
from tests.fixtures.simulator import sim_conn_json
from tests.reliability.faults import Rendezvous, ScriptedSimulator
from tests.reliability.helpers import BACKFILL, DAILY, REPO, metadata_db_path, sim_config, sql

TIMEOUT = 600  # seconds for each run, and for the rendezvous


@dataclass
class TwoRuns:
    """What the two runs returned (``run_dag``'s result per name) and the simulators that served them."""

    results: dict[str, dict[str, Any]]
    sims: dict[str, ScriptedSimulator]
    rendezvous: Rendezvous

    def assert_writes_overlapped(self, dsn: str) -> None:
        """Both succeeded, met at the rendezvous, and wrote windows during the same span of time."""
        for name, result in self.results.items():
            assert result["state"] == "success", f"{name}: {result}"
        assert self.rendezvous.released_at is not None, "the two runs never had readings requests in flight together"
        spans = {
            name: sql(dsn, "SELECT min(created_at), max(created_at) FROM ingestion_logs WHERE run_id = %s",
                      (result["run_id"],))[0]
            for name, result in self.results.items()
        }
        assert max(s[0] for s in spans.values()) < min(s[1] for s in spans.values()), (
            f"the two runs' window writes did not overlap in time: {spans}"
        )


def start_run(
    name: str,
    tmp: Path,
    sim: ScriptedSimulator,
    dsn: str,
    dag_id: str,
    logical: str | None,
    conf: dict[str, Any],
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start ``run_dag`` for ``dag_id`` in its own process and AIRFLOW_HOME; (process, log, result file)."""
    home = tmp / name
    home.mkdir(parents=True)
    db = home / "airflow.db"
    # A consistent copy of the migrated metadata DB (the WAL included).
    with sqlite3.connect(metadata_db_path()) as source, sqlite3.connect(db) as target:
        source.backup(target)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW_CONN_ENISCOPE_DEFAULT": sim_conn_json(sim),
        "AIRFLOW_CONN_ENERGY_DB": postgres_conn_json(dsn),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
    }
    out, result = home / "output.log", home / "result.json"
    args = [sys.executable, "-m", "tests.reliability.run_dag", "--dag-id", dag_id, "--conf", json.dumps(conf)]
    args += ["--out", str(result)] + (["--logical-date", logical] if logical else [])
    with open(out, "wb") as sink:
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    return proc, out, result


def daily_and_backfill_at_once(
    dsn: str,
    tmp: Path,
    sites: list[SiteConfig],
    *,
    end: datetime,
    lookback_days: int,
    backfill_days: tuple[date, date],
) -> TwoRuns:
    """Run the daily sync (interval end ``end``) and a backfill of ``backfill_days`` at once; wait for both."""
    rendezvous = Rendezvous(["daily", "backfill"], timeout=TIMEOUT)
    sims: dict[str, ScriptedSimulator] = {}
    for name in ("daily", "backfill"):
        sims[name] = ScriptedSimulator(sim_config(end + timedelta(minutes=30), list(sites)), name=name, rendezvous=rendezvous)
        sims[name].start(host="127.0.0.1", port=0)
    first, last = backfill_days
    try:
        started = {
            "daily": start_run("daily", tmp, sims["daily"], dsn, DAILY, end.isoformat(),
                               {"lookback_days": lookback_days}),
            "backfill": start_run("backfill", tmp, sims["backfill"], dsn, BACKFILL, None,
                                  {"start_date": first.isoformat(), "end_date": last.isoformat()}),
        }
        results = {}
        for name, (proc, out, result) in started.items():
            try:
                code = proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"{name} run did not finish in {TIMEOUT} s:\n{out.read_text()[-3000:]}") from None
            assert code == 0, f"{name} runner failed ({code}):\n{out.read_text()[-4000:]}"
            results[name] = json.loads(result.read_text())
    finally:
        for sim in sims.values():
            sim.stop()
    return TwoRuns(results, sims, rendezvous)
