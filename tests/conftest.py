"""Test session set-up: an isolated Airflow home, then the shared fixtures.

The environment is prepared at import time, before anything imports Airflow, so that Airflow
reads this configuration and never the user's ``~/airflow``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_HOME = Path(tempfile.mkdtemp(prefix="argo-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_HOME / "logs"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MPLCONFIGDIR": str(_HOME / "matplotlib"),
        "ARGO_TEST_ARTIFACTS": os.environ.get("ARGO_TEST_ARTIFACTS", str(REPO / "test-artifacts")),
    }
)

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.airflow",
    "tests.fixtures.simulator",
    "tests.fixtures.receivers",
    "tests.fixtures.ingest",
]
