"""Test session set-up: an isolated Airflow home, then the shared fixtures.

The environment is prepared at import time, before anything imports Airflow, so that Airflow
reads this configuration and never the user's ``~/airflow``. Subprocesses (``airflow db migrate``,
``python -m tests.reliability.run_dag``) inherit it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devtools.airflow_env import airflow_env

REPO = Path(__file__).resolve().parents[1]

_HOME = Path(tempfile.mkdtemp(prefix="argo-airflow-home-"))
os.environ.update(airflow_env(_HOME))
os.environ.setdefault("ARGO_TEST_ARTIFACTS", str(REPO / "test-artifacts"))

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.airflow",
    "tests.fixtures.simulator",
    "tests.fixtures.receivers",
    "tests.fixtures.ingest",
]
