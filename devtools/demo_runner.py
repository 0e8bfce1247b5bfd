"""The demo's Airflow side: ``python -m devtools.demo_runner SPEC.json`` in the demo's environment.

One process (Airflow is imported once, which is most of a CLI call's cost) that

1. writes the connections, the variables and the pools of the spec into the metadata database
   (so that they show in the UI under Admin, unlike ``AIRFLOW_CONN_*`` variables);
2. runs each DAG of the spec for real with ``dag.test()`` (the same code path as
   ``airflow dags test``: every task through the Task SDK, in order, in this process), one after
   the other, recording each run's id and state in the spec's ``result`` file as it goes.

``devtools.demo`` starts it, watches the metadata database for progress and prints the summary.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.dagtest import without_deadline_alerts

log = logging.getLogger("devtools.demo_runner")
DEMO_RETRY_DELAY = timedelta(seconds=3)


def setup(spec: dict[str, Any]) -> None:
    """Upsert the spec's connections, variables and pools (the metadata DB is already migrated)."""
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        for conn_id, fields in spec.get("connections", {}).items():
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()
            session.add(Connection(conn_id=conn_id, **fields))
        for key, (value, description) in spec.get("variables", {}).items():
            Variable.set(key, value, description=description, session=session)
        for name, pool in spec.get("pools", {}).items():
            Pool.create_or_update_pool(
                name,
                slots=int(pool["slots"]),
                description=pool.get("description", ""),
                include_deferred=bool(pool.get("include_deferred", False)),
                session=session,
            )
    log.info(
        "demo setup: %d connection(s), %d variable(s), %d pool(s)",
        len(spec.get("connections", {})),
        len(spec.get("variables", {})),
        len(spec.get("pools", {})),
    )


def run_dag(dags_folder: Path, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """Run one DAG with ``dag.test()``; return its run id and final state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder / f"{dag_id}.py"))
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise RuntimeError(f"DAG {dag_id} not found; import errors: {bag.import_errors}")
    for task in dag.tasks:
        # Retries stay as configured, but dag.test() waits out each retry delay (2 min, then 4):
        # the demo reports a failing task in seconds instead.
        task.retry_delay = DEMO_RETRY_DELAY
        task.max_retry_delay = DEMO_RETRY_DELAY
    without_deadline_alerts(dag)  # Airflow 3.3.2's dag.test() cannot finish a run that has one
    logical_date = datetime.now(UTC)
    dag_run = dag.test(logical_date=logical_date, run_conf=conf or None)
    return {"run_id": dag_run.run_id, "state": str(dag_run.state)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result_path = Path(spec["result"])
    results: list[dict[str, Any]] = []

    def save() -> None:
        result_path.write_text(json.dumps(results, indent=2), encoding="utf-8")

    setup(spec)
    save()
    failed = False
    for run in spec.get("runs", []):
        entry: dict[str, Any] = {"dag_id": run["dag_id"], "conf": run.get("conf") or {}}
        entry["started"] = datetime.now(UTC).isoformat()
        results.append(entry)
        save()
        try:
            entry.update(run_dag(Path(spec["dags_folder"]), run["dag_id"], run.get("conf") or {}))
        except Exception as exc:  # report and go on: the demo shows what did and did not work
            traceback.print_exc()
            entry.update({"run_id": None, "state": "error", "error": f"{type(exc).__name__}: {exc}"})
        entry["ended"] = datetime.now(UTC).isoformat()
        failed = failed or entry["state"] != "success"
        save()
    return 1 if failed else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main(sys.argv))
