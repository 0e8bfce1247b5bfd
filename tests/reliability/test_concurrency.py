"""The daily sync and a historical backfill over overlapping days, at the same time, in two processes.

Each process runs its DAG with ``dag.test()`` (its own copy of the migrated metadata DB, so that
SQLite's single writer is not what is tested) against the same warehouse. Each talks to its own
simulator; both simulators have the same seed and clock, hence the same data. A rendezvous holds
every readings request until both runs have sent one, so their writes start together and overlap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.airflow import postgres_conn_json
from tests.fixtures.simulator import sim_conn_json
from tests.reliability.faults import Rendezvous, ScriptedSimulator
from tests.reliability.helpers import (
    BACKFILL,
    DAILY,
    REPO,
    Figures,
    compare_rows,
    daily_range,
    expected_readings,
    invariants,
    local_days,
    metadata_db_path,
    sim_config,
    small_sites,
    sql,
    windows_of,
)

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.reliability.helpers"]

END = datetime(2026, 11, 13, 2, tzinfo=UTC)  # daily: interval end; lookback 2 days
LOOKBACK = 2
BACKFILL_DAYS = (date(2026, 11, 9), date(2026, 11, 11))  # overlaps the daily range on two days
TIMEOUT = 600


def deadlocks(dsn: str) -> int:
    return int(sql(dsn, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0][0])


def start_run(
    name: str,
    tmp: Path,
    sim: ScriptedSimulator,
    dsn: str,
    dag_id: str,
    logical: str | None,
    conf: dict[str, Any],
) -> tuple[subprocess.Popen[bytes], Path, Path]:
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


def test_daily_sync_and_backfill_at_once_no_deadlock_no_duplicate(
    make_database: Any, airflow_db: str, tmp_path: Path, figures: Figures
):
    dsn = make_database("relconc")
    rendezvous = Rendezvous(["daily", "backfill"], timeout=TIMEOUT)
    sims = {}
    for name in ("daily", "backfill"):
        sims[name] = ScriptedSimulator(
            sim_config(END + timedelta(minutes=30), small_sites(ny_meters=2, kolkata_meters=0)),
            name=name,
            rendezvous=rendezvous,
        )
        sims[name].start(host="127.0.0.1", port=0)
    try:
        deadlocks_before = deadlocks(dsn)
        first, last = BACKFILL_DAYS
        started = {
            "daily": start_run(
                "daily", tmp_path, sims["daily"], dsn, DAILY, END.isoformat(), {"lookback_days": LOOKBACK}
            ),
            "backfill": start_run(
                "backfill",
                tmp_path,
                sims["backfill"],
                dsn,
                BACKFILL,
                None,
                {"start_date": first.isoformat(), "end_date": last.isoformat()},
            ),
        }
        results = {}
        for name, (proc, out, result) in started.items():
            try:
                code = proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"{name} run did not finish:\n{out.read_text()[-3000:]}") from None
            assert code == 0, f"{name} runner failed ({code}):\n{out.read_text()[-4000:]}"
            results[name] = json.loads(result.read_text())
    finally:
        for sim in sims.values():
            sim.stop()

    for name, result in results.items():
        assert result["state"] == "success", f"{name}: {result}"
        ((_, state, tries),) = result["tries"]["sync_readings"]
        assert (state, tries) == ("success", 1), f"{name} sync_readings needed a retry: {result['tries']}"
    assert rendezvous.released_at is not None, "the two runs never had readings requests in flight together"
    assert deadlocks(dsn) == deadlocks_before, "PostgreSQL detected a deadlock"
    failures = sql(
        dsn, "SELECT channel_id, start_time, error_message FROM ingestion_logs WHERE status <> 'success'"
    )
    assert failures == [], failures

    run_ids = {name: result["run_id"] for name, result in results.items()}
    spans = {
        name: sql(
            dsn, "SELECT min(created_at), max(created_at) FROM ingestion_logs WHERE run_id = %s", (rid,)
        )[0]
        for name, rid in run_ids.items()
    }
    assert max(s[0] for s in spans.values()) < min(s[1] for s in spans.values()), (
        f"the two runs' window writes did not overlap in time: {spans}"
    )

    # Windows both runs wrote: their rows were inserted once, by whichever run came first.
    logs = sql(
        dsn,
        "SELECT channel_id, start_time, end_time, run_id, readings_inserted, readings_updated, "
        "readings_unchanged, readings_rejected FROM ingestion_logs",
    )
    by_window: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in logs:
        by_window[row[:3]].append(row)
    shared = {key: rows for key, rows in by_window.items() if {r[3] for r in rows} == set(run_ids.values())}
    sim = sims["daily"]
    both = {
        (channel, start, end)
        for channel in sim.channel_ids("meter")
        for start, end in set(
            windows_of(*daily_range(END, LOOKBACK, sim.timezone_of(channel)), sim.timezone_of(channel))
        )
        & set(windows_of(*local_days(first, last, sim.timezone_of(channel)), sim.timezone_of(channel)))
    }
    assert set(shared) == both, f"windows written by both runs {sorted(shared)}, expected {sorted(both)}"
    assert all(len(rows) == 2 for rows in shared.values()), "a window was written twice by one run"
    for (channel, start, end), rows in shared.items():
        served = len(sim.ground_truth(channel, start, end))
        inserted = sum(r[4] for r in rows)
        assert inserted == served, (
            f"channel {channel} [{start}, {end}): inserted {inserted} times for {served} readings"
        )
        assert all(r[5] == 0 for r in rows), f"identical data rewritten: {rows}"

    compared = 0
    for channel in sim.channel_ids("meter"):
        zone = sim.timezone_of(channel)
        start = min(daily_range(END, LOOKBACK, zone)[0], local_days(first, last, zone)[0])
        end = max(END, local_days(first, last, zone)[1])
        compared += compare_rows(dsn, channel, start, end, expected_readings(sim, channel, start, end, set()))
    broken = invariants(dsn)
    assert broken == {"readings_without_log_row": 0, "duplicate_readings": 0}, broken
    figures.record(
        "concurrency",
        description="daily sync + historical backfill, overlapping days, two processes at once",
        faults_injected=1,
        faults_survived=1,
        shared_windows=len(shared),
        run_seconds={name: r["seconds"] for name, r in results.items()},
        deadlocks=0,
        rows_compared=compared,
        rows_lost=0,
        rows_duplicated=broken["duplicate_readings"],
        readings_without_log_row=broken["readings_without_log_row"],
    )
