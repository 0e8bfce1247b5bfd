"""``make demo`` / ``make demo-ui`` end to end: the real CLI, a real PostgreSQL, the simulator, Airflow.

The demo runs once per session on a small simulated account (2 sites x 2 meters, a 3-day backfill)
in a temporary demo home and a fresh database; the browser test (test_web_ui_browser.py) reuses that
home through :func:`small_demo`. Every number the tests expect is read from the warehouse or
computed from the simulator's own ground truth, never copied from the demo's output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import psycopg
import pytest
import requests

from devtools import localpg
from devtools.demo import main as demo_main
from devtools.demo_stack import DemoPaths, acquire_database, ensure_database, stop_group, wait_until

REPO = Path(__file__).resolve().parents[2]
SITES, METERS, DAYS, LOOKBACK = 2, 2, 3, 2
SMALL = ["--sites", str(SITES), "--meters", str(METERS)]
RUN_ARGS = [*SMALL, "--days", str(DAYS), "--lookback-days", str(LOOKBACK)]
DEMO_TIMEOUT = 600  # seconds; a cold first run takes about 1.5 min on 2 busy cores
DAG_IDS = ("eniscope_daily_sync", "eniscope_historical_backfill", "eniscope_validation")
DEMO_DAGS = (*DAG_IDS, "eniscope_weekly_report")  # the demo also writes the weekly report files


@dataclass
class DemoRun:
    returncode: int
    output: str
    summary: dict[str, Any]
    started: datetime


@dataclass
class SmallDemo:
    """A demo home after one successful ``demo run`` (shared by the tests of the session)."""

    paths: DemoPaths
    dsn: str
    first: DemoRun


_SHARED: dict[str, SmallDemo] = {}


def run_demo(paths: DemoPaths, dsn: str, *extra: str) -> DemoRun:
    """``python -m devtools.demo run`` exactly as ``make demo`` calls it, in ``paths.home``."""
    started = datetime.now(UTC)
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.demo", "run", "--home", str(paths.home), "--database-url", dsn,
         *RUN_ARGS, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=DEMO_TIMEOUT, check=False,
    )
    output = proc.stdout + proc.stderr
    summary = json.loads(paths.summary_file.read_text()) if paths.summary_file.exists() else {}
    return DemoRun(proc.returncode, output, summary, started)


def small_demo(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> SmallDemo:
    """Run the small demo once per session (fresh home, fresh database) and return it."""
    if "demo" not in _SHARED:
        home = tmp_path_factory.mktemp("demo-home")
        paths = DemoPaths(home)
        dsn = make_database("demo")
        first = run_demo(paths, dsn)
        assert first.returncode == 0, f"make demo failed (exit {first.returncode}):\n{first.output[-6000:]}"
        _SHARED["demo"] = SmallDemo(paths, dsn, first)
    return _SHARED["demo"]


pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> SmallDemo:
    return small_demo(make_database, tmp_path_factory)


def _scalar(dsn: str, query: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, args).fetchone()
    return row[0] if row else None


def _run_ids(run: DemoRun) -> dict[str, dict[str, Any]]:
    return {r["dag_id"]: r for r in run.summary["runs"]}


# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_first_run_goes_through_airflow_and_reports_what_the_warehouse_holds(demo: SmallDemo) -> None:
    out, summary = demo.first.output, demo.first.summary
    runs = _run_ids(demo.first)
    assert list(runs) == list(DEMO_DAGS), f"expected one run of each of {DEMO_DAGS}, in order, got {list(runs)}"
    for dag_id in DEMO_DAGS:
        assert runs[dag_id]["state"] == "success", f"{dag_id}: {runs[dag_id]}"
        # Progress was printed while it worked: the run's start, tasks as they finished, its end.
        assert f"> {dag_id}: run {runs[dag_id]['run_id']} started" in out
        assert f"< {dag_id}: SUCCESS" in out
    assert re.search(r"\[\d+/\d+\] sync_readings\[.+\]: ok", out), "no progress line for the mapped readings task"
    assert "Migrating the demo's Airflow metadata database" in out

    # The runs are in the demo's own metadata DB, with every task finished and none failed.
    import sqlite3

    with sqlite3.connect(demo.paths.metadata_db) as meta:
        for dag_id in DEMO_DAGS:
            states = dict(
                meta.execute(
                    "SELECT state, count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state",
                    (dag_id, runs[dag_id]["run_id"]),
                ).fetchall()
            )
            assert states.get("success", 0) > 0, f"{dag_id}: task states {states}"
            assert not {"failed", "upstream_failed", None} & set(states), f"{dag_id}: task states {states}"
            assert runs[dag_id]["tasks"] == states, "the summary's task counts differ from the metadata DB"

    # Every number of the summary is what the warehouse holds.
    wh = summary["warehouse"]
    dsn = demo.dsn
    assert wh["readings"] == _scalar(dsn, "SELECT count(*) FROM readings") > 0
    assert wh["rejected"] == _scalar(dsn, "SELECT count(*) FROM readings_rejected")
    assert len(wh["sites"]) == _scalar(dsn, "SELECT count(*) FROM organizations") == SITES
    assert wh["channels"] == _scalar(dsn, "SELECT count(*) FROM channels")
    assert wh["channels_with_readings"] == SITES * METERS, "only the meters have energy readings"
    for view, count in wh["views"].items():
        assert count == _scalar(dsn, f'SELECT count(*) FROM "{view}"'), view  # noqa: S608 - names from VIEW_FILES
    validation = {row["check"]: row for row in wh["validation"]}
    recorded = _scalar(
        dsn, "SELECT count(*) FROM validation_results WHERE run_id = %s", runs["eniscope_validation"]["run_id"]
    )
    assert len(validation) == recorded > 0
    assert not [c for c, row in validation.items() if row["severity"] == "error" and row["status"] != "pass"]
    for text in ("Demo summary", "readings stored", "Views (rows):", "Validation", "make demo-ui"):
        assert text in out, f"{text!r} missing from the demo's output"

    # One HTML report per site, written under the demo's AIRFLOW_HOME and named in the output.
    reports = [Path(p) for p in summary["reports"]]
    html = [p for p in reports if p.suffix == ".html"]
    assert len(html) == SITES, f"expected one HTML report per site, got {reports}"
    for path in reports:
        assert path.is_relative_to(demo.paths.airflow_home / "reports"), path
        assert path.stat().st_size > 0, path
        assert str(path) in out


@pytest.mark.slow
def test_stored_readings_are_the_simulators_over_the_whole_backfill_range(demo: SmallDemo) -> None:
    """Per meter: the first stored slot is local midnight of the backfill's first day, and from there
    to the last stored slot every reading is the simulator's ground truth (no hole, no other value)."""
    from eniscope_simulator import Simulator, scaled_config

    sim = Simulator(scaled_config(SITES, METERS))  # same seed and layout as the demo's simulator
    first_day = date.fromisoformat(_run_ids(demo.first)["eniscope_historical_backfill"]["conf"]["start_date"])
    with psycopg.connect(demo.dsn) as conn:
        for channel_id in sim.channel_ids("meter"):
            rows = conn.execute(
                'SELECT "timestamp", energy_kwh, power_kw FROM readings WHERE channel_id = %s ORDER BY 1',
                (channel_id,),
            ).fetchall()
            assert rows, f"channel {channel_id}: no readings"
            zone = ZoneInfo(sim.timezone_of(channel_id))
            midnight = datetime.combine(first_day, dtime(0), tzinfo=zone).astimezone(UTC)
            assert rows[0][0] == midnight, f"channel {channel_id}: first reading {rows[0][0]}, expected {midnight}"
            assert rows[-1][0] > datetime.now(UTC) - timedelta(hours=30), "the daily sync's recent days are missing"
            truth = sim.ground_truth_readings(channel_id, rows[0][0], rows[-1][0] + timedelta(minutes=15))
            assert [r.ts for r in truth] == [r[0] for r in rows], f"channel {channel_id}: slots differ"
            for reading, (ts, energy, power) in zip(truth, rows, strict=True):
                assert energy == pytest.approx(reading.energy_kwh, rel=1e-6), (channel_id, ts)
                assert power == pytest.approx(reading.power_kw, rel=1e-6), (channel_id, ts)


@pytest.mark.slow
def test_rerun_is_idempotent_and_quicker(demo: SmallDemo) -> None:
    before = _scalar(demo.dsn, "SELECT count(*) FROM readings")
    again = run_demo(demo.paths, demo.dsn)
    assert again.returncode == 0, again.output[-6000:]
    runs = _run_ids(again)
    assert {dag_id: r["state"] for dag_id, r in runs.items()} == dict.fromkeys(DEMO_DAGS, "success")
    first_ids = {r["run_id"] for r in demo.first.summary["runs"]}
    assert not first_ids & {r["run_id"] for r in runs.values()}, "the re-run must make new Airflow runs"
    assert "Migrating the demo's Airflow metadata database" not in again.output, "migrated twice"

    by_run = again.summary["warehouse"]["by_run"]
    # Backfill without force: every window of the range had a success row, nothing was fetched.
    assert runs["eniscope_historical_backfill"]["run_id"] not in by_run, by_run
    assert "no window written (every window was done already)" in again.output
    # The daily sync fetched its lookback again: same values, so nothing was rewritten.
    daily = by_run[runs["eniscope_daily_sync"]["run_id"]]
    assert daily["windows"] > 0, daily
    assert daily["failed"] == 0, daily
    assert daily["updated"] == 0, daily
    after = _scalar(demo.dsn, "SELECT count(*) FROM readings")
    assert after == before + daily["inserted"], "readings appeared that no window of the re-run inserted"
    assert again.summary["seconds"] < demo.first.summary["seconds"], (
        f"re-run {again.summary['seconds']:.0f}s, first run {demo.first.summary['seconds']:.0f}s"
    )


def _login(url: str, password: str) -> str:
    resp = requests.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    assert resp.status_code in (200, 201), f"login refused: {resp.status_code} {resp.text[:200]}"
    return resp.json()["access_token"]


def _get(url: str, token: str) -> Any:
    resp = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    resp.raise_for_status()
    return resp.json()


@pytest.mark.slow
def test_demo_ui_serves_the_dags_and_sigterm_leaves_no_process(demo: SmallDemo, tmp_path: Path) -> None:
    port = localpg.free_port()
    log_path = tmp_path / "demo-ui.out"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.demo", "ui", "--home", str(demo.paths.home),
             "--database-url", demo.dsn, *SMALL, "--port", str(port)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    family: list[psutil.Process] = []
    try:
        wait_until(
            lambda: proc.poll() is not None or "Press Ctrl-C" in log_path.read_text(),
            timeout=400, interval=1, what="the demo UI's ready message",
        )
        output = log_path.read_text()
        assert proc.poll() is None, f"demo ui exited early ({proc.returncode}):\n{output[-4000:]}"
        url = re.search(r"Airflow UI: (http://\S+)", output)[1]
        password = re.search(r"login: user 'admin', password '([^']+)'", output)[1]
        assert url == f"http://localhost:{port}"
        token = _login(url, password)  # the printed login works
        dags = {d["dag_id"] for d in _get(f"{url}/api/v2/dags?limit=100", token)["dags"]}
        assert set(DAG_IDS) <= dags, f"DAGs served: {sorted(dags)}"
        pools = {p["name"] for p in _get(f"{url}/api/v2/pools", token)["pools"]}
        assert "eniscope_api" in pools
        connections = {c["connection_id"] for c in _get(f"{url}/api/v2/connections", token)["connections"]}
        assert {"eniscope_default", "energy_db"} <= connections

        family = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family if p.is_running())
        for component in ("standalone", "scheduler", "dag-processor", "api_server", "triggerer"):
            assert component in names, f"{component} not running under the demo: {names[:500]}"

        proc.send_signal(signal.SIGTERM)  # to the demo process only: it must take its children down
        proc.wait(timeout=90)
        assert proc.returncode == 0, log_path.read_text()[-3000:]
        _gone, alive = psutil.wait_procs(family, timeout=10)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3)
        assert "Stopped: airflow standalone" in log_path.read_text()
    finally:
        if proc.poll() is None:
            stop_group(proc, timeout=10)
        for leftover in family:
            if leftover.is_running():
                leftover.kill()


# ---------------------------------------------------------------------------------------------
# PostgreSQL choices of the demo (fast; no Airflow)


def test_own_cluster_is_created_under_the_demo_home_kept_and_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a server on :5432 the demo makes its own cluster in .demo/pg: data survives a stop."""
    if not localpg.find_pg_bin("initdb"):
        pytest.fail("the PostgreSQL server binaries (initdb) are required; install Debian's postgresql")
    home = Path(tempfile.mkdtemp(prefix="argo-demo-pg-"))
    home.chmod(0o755)  # the postgres user (when running as root) must reach home/pg
    monkeypatch.setenv("ARGO_SKIP_PG_PROBE", "1")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("ARGO_DEMO_DATABASE_URL", raising=False)
    paths = DemoPaths(home)
    db = acquire_database(paths)
    try:
        assert db.origin == "cluster"
        assert db.cluster is not None
        assert (home / "pg" / "data" / "PG_VERSION").exists()
        assert db.dsn.endswith("/argo_demo")
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        pid = int((home / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    finally:
        db.close()
    assert not (home / "pg" / "data" / "postmaster.pid").exists(), "the server was not stopped"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    again = acquire_database(paths)
    try:
        assert again.origin == "cluster"
        assert _scalar(again.dsn, "SELECT x FROM kept") == 42, "the second run lost the first run's data"
    finally:
        again.close()
    # Running again leaves the server up once more (as a killed demo would); reset stops it and
    # deletes the home, and drops nothing elsewhere (this home never used a shared server).
    third = acquire_database(paths)
    assert third.cluster is not None
    third.cluster.started_here = False  # leave it running, for reset to find
    server = psutil.Process(int((home / "pg" / "data" / "postmaster.pid").read_text().split()[0]))
    paths.database_file.write_text(json.dumps({"origin": "cluster"}))
    assert demo_main(["reset", "--home", str(home)]) == 0
    assert not home.exists(), "reset left the demo home"
    _gone, alive = psutil.wait_procs([server], timeout=10)
    assert not alive, "reset left the demo's PostgreSQL running"


def test_ensure_database_creates_once_and_never_drops(pg_server: Any) -> None:
    name = f"argo_demo_keep_{os.getpid()}_{int(time.time())}"
    try:
        dsn = ensure_database(pg_server.admin_dsn, name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        assert ensure_database(pg_server.admin_dsn, name) == dsn
        assert _scalar(dsn, "SELECT x FROM kept") == 7
    finally:
        pg_server.drop_database(name)
