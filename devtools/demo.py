"""``make demo`` and ``make demo-ui``: the whole pipeline through Airflow on embedded defaults.

``python -m devtools.demo run``
    Finds or starts a PostgreSQL (``devtools.demo_stack``), starts the Eniscope simulator in this
    process on a free port with its clock at now, prepares a demo Airflow home under
    ``.demo/airflow`` (SQLite metadata database, migrated once; connections ``eniscope_default``
    and ``energy_db``, pool ``eniscope_api``, variables), then runs for real, with ``dag.test()``:
    ``eniscope_daily_sync``, ``eniscope_historical_backfill`` over the last 30 days and
    ``eniscope_validation``. Prints each task as it finishes, then a summary read from the
    warehouse. Re-running is safe: every write is an upsert and the backfill (no ``force``) skips
    the windows already done.

``python -m devtools.demo reset``
    Drops database ``argo_demo`` and deletes ``.demo`` (never a ``--database-url`` database).

``python -m devtools.demo ui``
    The same set-up, then ``airflow standalone`` on it. Prints the URL and the login; Ctrl-C (or
    SIGTERM) stops the whole process group and the simulator and leaves nothing running.

Options: ``--home`` (default ``.demo``, or ``ARGO_DEMO_HOME``), ``--database-url`` (else
``ARGO_DEMO_DATABASE_URL``, else database ``argo_demo``), ``--sites``/``--meters`` (a smaller or
larger simulated account), ``--days`` (backfill range), ``--port`` (UI).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devtools import localpg
from devtools.demo_report import ProgressWatcher, format_summary, warehouse_summary
from devtools.demo_stack import (
    ADMIN_USER,
    DEMO_DBNAME,
    REPO,
    DemoDatabase,
    DemoPaths,
    acquire_database,
    airflow_bin,
    airflow_env,
    describe_database,
    energy_db_connection,
    eniscope_connection,
    spawn,
    stop_cluster,
    stop_group,
    terminate_on_signals,
    wait_until,
)

DAILY, BACKFILL, VALIDATION = "eniscope_daily_sync", "eniscope_historical_backfill", "eniscope_validation"
REPORT = "eniscope_weekly_report"
RUN_TIMEOUT = 30 * 60  # the demo takes minutes; this only bounds a hung run
UI_START_TIMEOUT = 300


def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# set-up shared by run and ui


def start_simulator(sites: int | None, meters: int | None) -> Any:
    """The Eniscope simulator of the demo, in this process, on a free port, clock = real time."""
    from eniscope_simulator import Simulator, default_config, scaled_config

    config = scaled_config(sites, meters or 4) if sites else default_config()
    if meters and not sites:
        for site in config.sites:
            site.meters = meters
    sim = Simulator(config)
    sim.start(host="127.0.0.1", port=0)
    return sim


def migrate_metadata(paths: DemoPaths) -> None:
    """``airflow db migrate`` the first time (and after an Airflow upgrade), never otherwise."""
    from importlib.metadata import version

    stamp = paths.airflow_home / f".migrated-{version('apache-airflow-core')}"
    if stamp.exists() and paths.metadata_db.exists():
        return
    say("Migrating the demo's Airflow metadata database (first run only, ~30 s) ...")
    log_path = paths.logs / "airflow-db-migrate.log"
    with log_path.open("w", encoding="utf-8") as log:
        result = subprocess.run(
            [airflow_bin(), "db", "migrate"], env=airflow_env(paths), stdout=log, stderr=subprocess.STDOUT,
            check=False, timeout=600,
        )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed; see {log_path}")
    stamp.touch()


def airflow_setup_spec(paths: DemoPaths, sim: Any, db: DemoDatabase) -> dict[str, Any]:
    """Connections, variables and pools of the demo, in the form ``demo_runner`` reads."""
    pools = json.loads((REPO / "include" / "pools.json").read_text(encoding="utf-8"))
    return {
        "dags_folder": str(REPO / "dags"),
        "connections": {"eniscope_default": eniscope_connection(sim), "energy_db": energy_db_connection(db.dsn)},
        "variables": {
            "eniscope_sites": (
                json.dumps(sim.site_organization_ids()),
                "Organisation ids the daily sync pulls (JSON list; unset = every site with channels)",
            ),
            "eniscope_backfill_max_days": ("366", "Longest range a historical backfill run accepts"),
            # The demo has one database login: the report may read through it (read-only transactions).
            "report_allow_writer_conn": ("true", "The weekly report may read through energy_db (no energy_db_readonly)"),
        },
        "pools": pools,
        "result": str(paths.home / "runs.json"),
        "runs": [],
    }


def _wait_watching(proc: subprocess.Popen, watcher: ProgressWatcher | None) -> None:
    """Wait for ``proc`` (at most ``RUN_TIMEOUT`` seconds), printing the watcher's progress meanwhile."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        try:
            proc.wait(timeout=0.5)
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the demo's Airflow runs took over {RUN_TIMEOUT}s") from None
        if watcher:
            watcher.tick()


def run_runner(paths: DemoPaths, spec: dict[str, Any], log_name: str, watch: bool) -> list[dict[str, Any]]:
    """Start ``demo_runner`` on ``spec``; print progress while it works; return its results."""
    spec_path = paths.home / "runner-spec.json"
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    spec_path.chmod(0o600)  # it holds the demo's connection passwords
    log_path = paths.logs / log_name
    watcher = ProgressWatcher(paths.metadata_db, emit=say) if watch else None
    with log_path.open("w", encoding="utf-8") as log:
        proc = spawn([sys.executable, "-m", "devtools.demo_runner", str(spec_path)], airflow_env(paths), log)
        try:
            _wait_watching(proc, watcher)
        finally:
            if proc.poll() is None:
                stop_group(proc)
    if watcher:
        watcher.tick()
    result_path = Path(spec["result"])
    results = json.loads(result_path.read_text(encoding="utf-8")) if result_path.exists() else []
    if proc.returncode not in (0, 1) or (not results and spec["runs"]):
        raise RuntimeError(f"the demo's Airflow process failed (exit {proc.returncode}); see {log_path}")
    if watcher:
        for run in results:
            if run.get("run_id"):
                run["tasks"] = dict(watcher.run_tasks(run["dag_id"], run["run_id"]))
    return results


def prepare(args: argparse.Namespace, paths: DemoPaths) -> tuple[DemoDatabase, Any]:
    """PostgreSQL, simulator, migrated metadata DB (the caller closes the first two)."""
    paths.make()
    db = acquire_database(paths, args.database_url)
    paths.database_file.write_text(json.dumps({"origin": db.origin}), encoding="utf-8")  # for `reset`
    say(f"PostgreSQL: {describe_database(db)}")
    try:
        sim = start_simulator(args.sites, args.meters)
    except BaseException:
        db.close()
        raise
    say(
        f"Eniscope simulator: {sim.base_url} ({len(sim.site_organization_ids())} sites, "
        f"{len(sim.channel_ids('meter'))} meter + {len(sim.channel_ids('sensor'))} sensor + "
        f"{len(sim.channel_ids('virtual'))} virtual channels, clock = now)"
    )
    say(f"Airflow home: {paths.airflow_home} (SQLite metadata, DAGs from {REPO / 'dags'})")
    try:
        migrate_metadata(paths)
    except BaseException:
        sim.stop()
        db.close()
        raise
    return db, sim


def written_reports(paths: DemoPaths, runs: list[dict[str, Any]]) -> list[Path]:
    """The weekly report files written by this demo's report run (default ``report_base_path``)."""
    run = next((r for r in runs if r["dag_id"] == REPORT and r.get("started")), None)
    folder = paths.airflow_home / "reports"
    if run is None or not folder.exists():
        return []
    since = datetime.fromisoformat(run["started"]).timestamp()
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= since)


def report_lines(reports: list[Path]) -> list[str]:
    if not reports:
        return ["Weekly report: no file written"]
    return ["Weekly report files (open the .html in a browser):", *(f"  {path}" for path in reports), ""]


def ui_hint(paths: DemoPaths) -> list[str]:
    return [
        "Open it in the Airflow UI:  make demo-ui   (python -m devtools.demo ui)",
        f"  then the URL it prints (http://localhost:8080 when free), user '{ADMIN_USER}', "
        f"password in {paths.passwords_file}",
        f"Logs of this demo: {paths.logs}",
    ]


# ---------------------------------------------------------------------------------------------
# run


def cmd_run(args: argparse.Namespace) -> int:
    paths = DemoPaths(Path(args.home).resolve()) if args.home else DemoPaths.default()
    started = time.monotonic()
    with terminate_on_signals():
        db, sim = prepare(args, paths)
        try:
            spec = airflow_setup_spec(paths, sim, db)
            today = datetime.now(UTC).date()
            spec["runs"] = [
                {"dag_id": DAILY, "conf": {"lookback_days": args.lookback_days}},
                {
                    "dag_id": BACKFILL,
                    "conf": {
                        "start_date": (today - timedelta(days=args.days)).isoformat(),
                        "end_date": (today - timedelta(days=1)).isoformat(),
                    },
                },
                {"dag_id": VALIDATION, "conf": {}},
                # Files only: no SMTP or Slack connection exists in the demo anyway.
                {"dag_id": REPORT, "conf": {"deliver": False}},
            ]
            say(
                f"Running {DAILY} (lookback {args.lookback_days} days), {BACKFILL} "
                f"({spec['runs'][1]['conf']['start_date']}..{spec['runs'][1]['conf']['end_date']}), "
                f"{VALIDATION} and {REPORT}, for real through Airflow ..."
            )
            runs = run_runner(paths, spec, "demo-run.log", watch=True)
            validation = next((r for r in runs if r["dag_id"] == VALIDATION), {})
            run_ids = [r["run_id"] for r in runs if r.get("run_id")]
            warehouse = warehouse_summary(db.dsn, run_ids, validation.get("run_id"))
        finally:
            sim.stop()
            db.close()
    reports = written_reports(paths, runs)
    footer = [*report_lines(reports), f"Done in {time.monotonic() - started:.0f}s.", *ui_hint(paths)]
    for line in format_summary(runs, warehouse, footer):
        say(line)
    summary = {
        "runs": runs,
        "warehouse": warehouse,
        "reports": [str(path) for path in reports],
        "database": db.origin,
        "seconds": time.monotonic() - started,
    }
    paths.summary_file.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 0 if runs and all(r.get("state") == "success" for r in runs) else 1


# ---------------------------------------------------------------------------------------------
# ui


def _ui_port(wanted: int | None) -> int:
    if wanted:
        return wanted
    return 8080 if _port_free(8080) else localpg.free_port()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3) as resp:  # noqa: S310 - http://localhost
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def ui_env(paths: DemoPaths, port: int) -> dict[str, str]:
    base_url = f"http://localhost:{port}"
    env = airflow_env(
        paths,
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            # A laptop-sized scheduler: 4 task slots (Airflow's default is 32 worker processes).
            "AIRFLOW__CORE__PARALLELISM": "4",
        },
    )
    # standalone starts its components as plain `airflow ...`: this environment's bin must come first.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def cmd_ui(args: argparse.Namespace) -> int:
    paths = DemoPaths(Path(args.home).resolve()) if args.home else DemoPaths.default()
    with terminate_on_signals():
        db, sim = prepare(args, paths)
        proc = None
        try:
            run_runner(paths, airflow_setup_spec(paths, sim, db), "demo-ui-setup.log", watch=False)
            port = _ui_port(args.port)
            url = f"http://localhost:{port}"
            log_path = paths.logs / "standalone.log"
            say(f"Starting airflow standalone on {url} (log: {log_path}) ...")
            with log_path.open("a", encoding="utf-8") as log:
                proc = spawn([airflow_bin(), "standalone"], ui_env(paths, port), log)
            (paths.home / "standalone.pid").write_text(str(proc.pid), encoding="utf-8")
            wait_until(
                lambda: proc.poll() is not None or _healthy(f"http://127.0.0.1:{port}"),
                UI_START_TIMEOUT,
                what="the API server's health endpoint",
            )
            if proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited with {proc.returncode}; see {log_path}")
            wait_until(paths.passwords_file.exists, 60, what="the generated password file")
            password = json.loads(paths.passwords_file.read_text(encoding="utf-8")).get(ADMIN_USER, "?")
            say("")
            say(f"Airflow UI: {url}")
            say(f"  login: user '{ADMIN_USER}', password '{password}'")
            say(f"  (SimpleAuthManager; the password is generated once into {paths.passwords_file})")
            say(f"  DAGs are paused: unpause or trigger them in the UI. Eniscope = {sim.base_url}")
            say("Press Ctrl-C to stop everything.")
            proc.wait()
            say(f"airflow standalone exited with {proc.returncode}")
            return 1
        except KeyboardInterrupt:
            say("\nStopping ...")
            return 0
        finally:
            if proc is not None:
                killed = stop_group(proc, timeout=10)
                if killed:
                    say(f"  killed {len(killed)} process(es) that ignored SIGTERM")
                (paths.home / "standalone.pid").unlink(missing_ok=True)
            sim.stop()
            db.close()
            say("Stopped: airflow standalone, the simulator and the demo's PostgreSQL (if it started one).")


# ---------------------------------------------------------------------------------------------
# reset


def cmd_reset(args: argparse.Namespace) -> int:
    """Forget the demo: drop database argo_demo (only ours, on the server the demo used) and
    delete the demo home (its own cluster, stopped first, included)."""
    paths = DemoPaths(Path(args.home).resolve()) if args.home else DemoPaths.default()
    if (paths.home / "standalone.pid").exists():
        say("A `demo ui` seems to be running (standalone.pid): stop it with Ctrl-C first.")
        return 1
    used = json.loads(paths.database_file.read_text()) if paths.database_file.exists() else {}
    # Only the database this home created on a shared server; a --database-url one is never ours.
    admin = {"env": os.environ.get("TEST_DATABASE_URL"), "local5432": localpg.DEFAULT_LOCAL_DSN}.get(
        used.get("origin", "")
    )
    if admin and localpg.answers(admin):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DBNAME)))
        say(f"Dropped database {DEMO_DBNAME} on {admin.rsplit('@', 1)[-1]}")
    stop_cluster(paths.pg_base)
    if paths.home.exists():
        shutil.rmtree(paths.home)
        say(f"Deleted {paths.home}")
    return 0


# ---------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("reset", help="drop database argo_demo and delete the demo home").add_argument(
        "--home", help="demo folder (default .demo, or ARGO_DEMO_HOME)"
    )
    for name, text in (("run", "run the DAGs and print a summary"), ("ui", "airflow standalone")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--home", help="demo folder (default .demo, or ARGO_DEMO_HOME)")
        s.add_argument("--database-url", help="warehouse database to use as it is (else argo_demo)")
        s.add_argument("--sites", type=int, help="simulated sites (default: the simulator's 3 sites)")
        s.add_argument("--meters", type=int, help="meters per site (default: the simulator's)")
    run = sub.choices["run"]
    run.add_argument("--days", type=int, default=30, help="backfill range: the last N days (default 30)")
    run.add_argument("--lookback-days", type=int, default=7, help="daily sync lookback (default 7)")
    sub.choices["ui"].add_argument("--port", type=int, help="UI port (default 8080, else a free one)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return {"run": cmd_run, "ui": cmd_ui, "reset": cmd_reset}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
