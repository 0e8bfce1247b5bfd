"""An isolated Airflow for the benchmarks that run DAGs: call ``prepare()`` before importing airflow.

Same environment as the tests (``devtools.airflow_env.airflow_env``, as tests/conftest.py): a
temporary AIRFLOW_HOME, SQLite metadata migrated with ``airflow db migrate``, the repository's dags/
and plugins/ folders, the pools of include/pools.json. Connections come from ``AIRFLOW_CONN_*``
variables in JSON form.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO
from devtools.airflow_env import POOLS_FILE, airflow_bin, airflow_env, postgres_connection

# A migrated metadata DB to copy instead of migrating again (run_all makes one for all benchmarks:
# `airflow db migrate` takes from 20 s to minutes on a busy machine).
TEMPLATE_ENV = "ARGO_BENCH_AIRFLOW_DB"


def prepare(home: Path | None = None) -> Path:
    """Create AIRFLOW_HOME, set the environment, migrate the metadata DB (or copy the template), pools."""
    if "airflow" in sys.modules:
        raise RuntimeError("bench.airflow_env.prepare() must run before airflow is imported")
    home = home or Path(tempfile.mkdtemp(prefix="argo-bench-airflow-"))
    os.environ.update(airflow_env(home))
    template = os.environ.get(TEMPLATE_ENV)
    if template and Path(template).is_file():
        shutil.copyfile(template, home / "airflow.db")
        return home
    subprocess.run([airflow_bin(), "db", "migrate"], check=True, capture_output=True, text=True)
    if POOLS_FILE.exists():
        subprocess.run(
            [airflow_bin(), "pools", "import", str(POOLS_FILE)], check=True, capture_output=True, text=True
        )
    return home


def make_template(directory: Path) -> Path:
    """Migrate a metadata DB once in a child process (airflow stays unimported here); return its path."""
    home = directory / "template-home"
    home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(home)
    env.pop(TEMPLATE_ENV, None)
    subprocess.run([airflow_bin(), "db", "migrate"], check=True, capture_output=True, text=True, env=env)
    if POOLS_FILE.exists():
        subprocess.run(
            [airflow_bin(), "pools", "import", str(POOLS_FILE)], check=True, capture_output=True, text=True, env=env
        )
    return home / "airflow.db"


def ensure_template() -> Path | None:
    """Make a template metadata DB unless one is configured; return the directory to remove later."""
    if os.environ.get(TEMPLATE_ENV):
        return None
    directory = Path(tempfile.mkdtemp(prefix="argo-bench-template-"))
    os.environ[TEMPLATE_ENV] = str(make_template(directory))
    return directory


def drop_template(directory: Path | None) -> None:
    """Undo ``ensure_template`` (nothing when the template was configured from outside)."""
    if directory is not None:
        cleanup(directory)
        os.environ.pop(TEMPLATE_ENV, None)


def cleanup(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)


# Production-like connection extras: the hook's real retry waits and timeouts (the test fixtures
# zero them); ``requests_per_second`` is set per benchmark.
REAL_EXTRA: dict[str, Any] = {"retry_wait_min": 1, "retry_wait_max": 60, "connect_timeout": 10, "read_timeout": 60}


def set_connections(energy_dsn: str, sim: Any, **eniscope_extra: Any) -> None:
    """Point ``energy_db`` and ``eniscope_default`` at this run's database and simulator."""
    from tests.fixtures.simulator import sim_conn_json

    os.environ["AIRFLOW_CONN_ENERGY_DB"] = json.dumps(postgres_connection(energy_dsn))
    os.environ["AIRFLOW_CONN_ENISCOPE_DEFAULT"] = sim_conn_json(sim, **{**REAL_EXTRA, **eniscope_extra})


def load_dag(dag_id: str, filename: str) -> Any:
    """The DAG object of ``dags/<filename>`` (parsed once, as the tests do)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / filename))
    if bag.import_errors:
        raise RuntimeError(f"cannot parse dags/{filename}: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise RuntimeError(f"dags/{filename} has no DAG {dag_id!r}")
    return dag


class _TaskInstanceStub:
    """What SyncReadingsOperator.execute uses of ``ti``: ``xcom_push`` (values kept)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def task_context(run_id: str) -> dict[str, Any]:
    """The context keys the readings operator reads when it is executed outside a DAG run."""
    from types import SimpleNamespace

    return {
        "run_id": run_id,
        "ti": _TaskInstanceStub(),
        "dag_run": SimpleNamespace(run_id=run_id, clear_number=0),
    }
