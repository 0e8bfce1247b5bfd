"""Runs WITHOUT a logical date through the real scheduler, and a forced dagrun_timeout (slow).

The stack of tests/fixtures/scheduler.py (dag-processor, scheduler with LocalExecutor, execution
API server, PostgreSQL metadata DB) parses the four DAG files plus a probe DAG built from our
``default_args``/``run_callbacks`` whose run is stopped by a 10 s ``dagrun_timeout``. Every DAG is
triggered with ``airflow dags trigger`` and no date, so each run has ``logical_date`` NULL.

Checked: no task fails for lack of a date (each run succeeds, or fails only in validation's
``evaluate``, a data finding); the ingestion runs' Asset events queue a validation run;
the timed-out probe run sends exactly one Slack post and one email (DAG callback in the dag-processor).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.ingest import REPO, small_config
from tests.fixtures.scheduler import AirflowStack, running_stack, wait_for
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROBE_ID = "argo_timeout_probe"
PROBE = '''
"""Probe: a run that outlives its 10 s dagrun_timeout (test_operability_scheduler)."""
from datetime import timedelta
import pendulum
from airflow.sdk import DAG, task
from argo_energy.dag_defaults import default_args, run_callbacks

with DAG("argo_timeout_probe", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
         dagrun_timeout=timedelta(seconds=10), on_failure_callback=run_callbacks(), doc_md=__doc__,
         default_args=default_args(retries=0), tags=["eniscope"]):
    @task(execution_timeout=timedelta(minutes=5))
    def stuck() -> None:
        import threading
        threading.Event().wait(300)  # the hang under test: only the run's timeout ends it

    stuck()
'''
DAG_IDS = ["eniscope_daily_sync", "eniscope_historical_backfill", "eniscope_validation", "eniscope_weekly_report"]


@pytest.fixture
def stack(
    tmp_path: Path, make_database: Callable[[str], str], energy_db_conn: str, make_simulator: Any,
    monkeypatch: pytest.MonkeyPatch, webhook_receiver: Any, smtp_receiver: Any,
) -> Iterator[AirflowStack]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sim = make_simulator(small_config(now))
    set_eniscope_conn(monkeypatch, sim)
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_id in DAG_IDS:
        (dags / f"{dag_id}.py").symlink_to(REPO / "dags" / f"{dag_id}.py")
    (dags / f"{PROBE_ID}.py").write_text(PROBE)
    with running_stack(
        tmp_path,
        make_database("af17"),
        "operability-test-jwt-secret-0123456789",
        variables={"alert_emails": '["ops@argo.test"]', "report_allow_writer_conn": "true",
                   "report_base_path": f"file://{tmp_path / 'reports'}"},
        core__dags_folder=dags,
        # A loaded CI machine can take over 30 s to import matplotlib (the report DAG): not a failure here.
        core__dagbag_import_timeout=180,
        dag_processor__dag_file_processor_timeout=300,
    ) as s:
        yield s


@pytest.mark.timeout(1800)
def test_every_dag_runs_without_a_logical_date_and_a_timed_out_run_alerts_once(
    stack: AirflowStack, webhook_receiver: Any, smtp_receiver: Any
) -> None:
    wanted = [*DAG_IDS, PROBE_ID]
    wait_for(lambda: len(stack.query("SELECT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", (wanted,)))
             == len(wanted), timeout=300, what="the dag-processor to serialize the DAGs", check=stack.check_alive)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    confs = {
        "eniscope_daily_sync": {"lookback_days": 0},
        "eniscope_historical_backfill": {"start_date": yesterday, "end_date": yesterday},
        "eniscope_validation": {"self_heal": False},
        "eniscope_weekly_report": {"deliver": False},
        PROBE_ID: {},
    }
    # The ingestion runs first: validation then sees a migrated warehouse (a data finding otherwise).
    for dag_id in ["eniscope_daily_sync", "eniscope_historical_backfill", "eniscope_validation",
                   "eniscope_weekly_report", PROBE_ID]:
        stack.cli("dags", "trigger", dag_id, "--conf", json.dumps(confs[dag_id]))

    def manual_runs_done() -> list[tuple[Any, ...]]:
        rows = stack.query("SELECT dag_id, run_id, state, logical_date FROM dag_run WHERE run_type = 'manual'")
        return rows if len(rows) == len(wanted) and all(r[2] in ("success", "failed") for r in rows) else []

    runs = {r[0]: r for r in wait_for(manual_runs_done, timeout=900, what="the five manual runs to finish",
                                      check=stack.check_alive)}
    assert all(r[3] is None for r in runs.values()), f"every run without a logical date: {runs}"
    failed = stack.query(
        "SELECT dag_id, task_id, map_index FROM task_instance ti JOIN dag_run dr USING (dag_id, run_id) "
        "WHERE dr.run_type = 'manual' AND ti.state = 'failed'"
    )
    allowed = {(PROBE_ID, "stuck"), ("eniscope_validation", "evaluate")}
    assert {(d, t) for d, t, _ in failed} <= allowed, f"tasks failed: {failed}"
    for dag_id in ["eniscope_daily_sync", "eniscope_historical_backfill", "eniscope_weekly_report"]:
        assert runs[dag_id][2] == "success", f"{dag_id}: {runs[dag_id]}\n{stack.log_tail('scheduler')}"
    assert runs[PROBE_ID][2] == "failed"

    # The ingestion runs published Asset events with their extra, and the scheduler queued a
    # validation run for them (this stack creates no runs itself: use_job_schedule is off).
    events = stack.query(
        "SELECT e.source_dag_id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'argo_energy.readings'"
    )
    assert {src for src, _ in events} == {"eniscope_daily_sync", "eniscope_historical_backfill"}, events
    assert all(extra["inserted"] > 0 and extra["sites"] and len(extra["local_days"]) == 2 for _, extra in events)
    queued = stack.query("SELECT target_dag_id FROM asset_dag_run_queue")
    assert ("eniscope_validation",) in queued, f"validation not queued by the readings event: {queued}"

    def probe_alerts() -> tuple[list[Any], list[Any]]:
        posts = [p for p in webhook_receiver.items if PROBE_ID in p.json().get("text", "")]
        mails = [m for m in smtp_receiver.items if PROBE_ID in m.subject]
        return (posts, mails) if posts and mails else ([], [])

    posts, mails = wait_for(lambda: probe_alerts() if probe_alerts()[0] else None, timeout=120,
                            what="the timed-out run's alert", check=stack.check_alive)
    webhook_receiver.wait_for(len(webhook_receiver.items) + 1, timeout=5)  # room for a duplicate to show
    posts, mails = probe_alerts()
    assert len(posts) == 1, f"one Slack post for the timed-out run, got {len(posts)}"
    assert len(mails) == 1, f"one email for the timed-out run, got {len(mails)}"
    assert "(timed out)" in posts[0].json()["text"], posts[0].json()["text"]
