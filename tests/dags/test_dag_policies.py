"""DAG integrity as policy tests: one case per file in dags/.

Each file is parsed by Airflow's ``DagBag`` in a fresh interpreter (so that module-level code of
everything it imports really runs under the guard) where every way to reach the outside at parse
time is replaced by a tripwire: TCP/UDP sockets, psycopg/psycopg2 connections, Connection and
Variable lookups (Task SDK and core). A tripped wire is recorded and raised, so the file shows an
import error *and* the test names the access. Then the policies: no import error, at least one
DAG, tags from ``ALLOWED_TAGS``, an owner, ``retries >= 2`` by default, a ``doc_md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from argo_energy.dag_defaults import ALLOWED_TAGS, OWNER

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))

# Runs in the child interpreter: install the tripwires, parse one file, print what was found.
_PROBE = r"""
import json, socket, sys

attempts = []

def tripwire(what):
    def tripped(*args, **kwargs):
        attempts.append(what)
        raise RuntimeError(f"parse-time access forbidden: {what}")
    return tripped

socket.socket.connect = tripwire("network: socket.connect")
socket.socket.connect_ex = tripwire("network: socket.connect_ex")
socket.socket.sendto = tripwire("network: socket.sendto")
socket.create_connection = tripwire("network: socket.create_connection")
socket.getaddrinfo = tripwire("network: DNS lookup")
import psycopg
psycopg.connect = tripwire("database: psycopg.connect")
psycopg.Connection.connect = classmethod(tripwire("database: psycopg.Connection.connect"))
try:
    import psycopg2
    psycopg2.connect = tripwire("database: psycopg2.connect")
except ImportError:
    pass

import airflow.sdk
from airflow.sdk import BaseHook
from airflow.sdk.definitions.connection import Connection as SdkConnection
from airflow.sdk.definitions.variable import Variable as SdkVariable
BaseHook.get_connection = classmethod(tripwire("Connection: BaseHook.get_connection"))
SdkConnection.get = classmethod(tripwire("Connection: airflow.sdk.Connection.get"))
SdkVariable.get = staticmethod(tripwire("Variable: airflow.sdk.Variable.get"))
from airflow.models.connection import Connection as CoreConnection
from airflow.models.variable import Variable as CoreVariable
CoreConnection.get_connection_from_secrets = classmethod(tripwire("Connection: models.Connection lookup"))
CoreVariable.get = classmethod(tripwire("Variable: models.Variable.get"))

from airflow.dag_processing.dagbag import DagBag

results = {}
for path in sys.argv[1:]:
    attempts.clear()
    bag = DagBag(dag_folder=path)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tags": sorted(dag.tags or []),
            "doc_md": dag.doc_md or "",
            "default_retries": (dag.default_args or {}).get("retries"),
            "owners": sorted({task.owner for task in dag.tasks}),
            "tasks": len(dag.tasks),
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
            "dag_failure_callbacks": sorted(type(cb).__name__ for cb in (dag.on_failure_callback or [])),
            "untimed_tasks": sorted(t.task_id for t in dag.tasks if t.execution_timeout is None),
            "task_callbacks": sorted({getattr(cb, "__name__", type(cb).__name__)
                                      for t in dag.tasks for cb in (t.on_failure_callback or [])}),
        }
    results[path] = {"import_errors": bag.import_errors, "attempts": list(attempts), "dags": dags}
print("POLICY-JSON " + json.dumps(results))
"""


def parse_guarded(paths: list[Path], workdir: Path) -> dict[str, dict]:
    """Parse each file with its own ``DagBag`` in one fresh interpreter; ``{path: findings}``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("POLICY-JSON ")]
    assert done.returncode == 0, f"parsing crashed:\n{done.stderr[-3000:]}"
    assert lines, f"no result from the parse:\n{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("POLICY-JSON "))


# Deliberately bad DAG files: each reaches outside at module level in one way.
BAD_FILES = {
    "variable": (
        "from airflow.sdk import Variable\nVariable.get('eniscope_sites', default=None)\n",
        "Variable: airflow.sdk.Variable.get",
    ),
    "connection": (
        "from airflow.sdk import BaseHook\nBaseHook.get_connection('energy_db')\n",
        "Connection: BaseHook.get_connection",
    ),
    "database": (
        "import psycopg\npsycopg.connect('host=127.0.0.1 dbname=postgres')\n",
        "database: psycopg.connect",
    ),
    "network": (
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')\n",
        "network: socket.create_connection",
    ),
}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every DAG file, plus the bad ones that prove the tripwires fire, in one interpreter."""
    workdir = tmp_path_factory.mktemp("dag-policies")
    (workdir / "dags").mkdir()
    bad_paths = {}
    for name, (code, _) in BAD_FILES.items():
        bad_paths[name] = workdir / "dags" / f"bad_{name}.py"
        bad_paths[name].write_text(
            code
            + "from airflow.sdk import DAG\nwith DAG('bad', schedule=None, doc_md='x', tags=['eniscope']):\n    pass\n"
        )
    found = parse_guarded([*DAG_FILES, *bad_paths.values()], workdir)
    for name, path in bad_paths.items():
        found[f"<bad {name}>"] = found.pop(str(path))
    return found


def test_the_ingestion_dags_are_checked():
    names = {p.name for p in DAG_FILES}
    assert {"eniscope_daily_sync.py", "eniscope_historical_backfill.py"} <= names, names


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_policies(path: Path, parsed: dict[str, dict]):
    found = parsed[str(path)]
    assert found["attempts"] == [], f"{path.name} reaches outside at parse time: {found['attempts']}"
    assert found["import_errors"] == {}, f"{path.name} has import errors: {found['import_errors']}"
    assert found["dags"], f"{path.name} defines no DAG"
    for dag_id, dag in found["dags"].items():
        assert dag["tags"], f"{dag_id}: no tags"
        assert set(dag["tags"]) <= ALLOWED_TAGS, f"{dag_id}: tags {dag['tags']} not in {sorted(ALLOWED_TAGS)}"
        assert dag["owners"] == [OWNER], f"{dag_id}: task owners {dag['owners']}, expected only {OWNER!r}"
        assert (dag["default_retries"] or 0) >= 2, f"{dag_id}: default retries {dag['default_retries']} < 2"
        assert dag["doc_md"].strip(), f"{dag_id}: no doc_md"


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_bounded_time_and_one_alert_per_run(path: Path, parsed: dict[str, dict]):
    """Every task has an execution_timeout, every DAG a dagrun_timeout under a day; the DAG sends the
    run's one alert, tasks only record their failure (no task-level message: no alert storm)."""
    for dag_id, dag in parsed[str(path)]["dags"].items():
        assert dag["untimed_tasks"] == [], f"{dag_id}: tasks without execution_timeout: {dag['untimed_tasks']}"
        assert dag["dagrun_timeout"] is not None, f"{dag_id}: no dagrun_timeout"
        assert dag["dagrun_timeout"] <= 24 * 3600, f"{dag_id}: dagrun_timeout {dag['dagrun_timeout']}s > 1 day"
        assert dag["dag_failure_callbacks"] == ["RunFailureAlert"], f"{dag_id}: {dag['dag_failure_callbacks']}"
        assert dag["task_callbacks"] == ["record_task_failure"], f"{dag_id}: task callbacks {dag['task_callbacks']}"


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_the_guard_catches_parse_time_access(parsed: dict[str, dict], name: str):
    """The tripwires work: a DAG file that reaches outside at module level is caught and named."""
    found = parsed[f"<bad {name}>"]
    assert found["attempts"][:1] == [BAD_FILES[name][1]], found["attempts"]
    assert "parse-time access forbidden" in json.dumps(found["import_errors"])
