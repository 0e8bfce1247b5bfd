"""The one builder of the environment an Airflow process of this repository runs with.

Tests (tests/conftest.py and the multi-process integration tests), the benchmarks (bench/) and the
demo (devtools/demo_stack.py) all call :func:`airflow_env`; each passes only what differs for it
(metadata database, executor, secrets, connections, a few settings). Nothing here imports Airflow.

    env = airflow_env(home, metadata_dsn=dsn, executor="CeleryExecutor",
                      connections={"energy_db": postgres_connection(dsn)},
                      scheduler__use_job_schedule=False)
    subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
POOLS_FILE = REPO / "include" / "pools.json"
# Variables of the caller that ``drop_foreign=True`` keeps away from the child: a user's
# AIRFLOW_CONN_ENERGY_DB (production!) or AIRFLOW_HOME must not leak in by accident.
FOREIGN_PREFIXES = ("AIRFLOW_", "AIRFLOW__", "_AIRFLOW")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def airflow_bin() -> str:
    """The ``airflow`` script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("airflow"))


def sqlalchemy_url(dsn: str, scheme: str = "postgresql+psycopg2") -> str:
    """A libpq URL (``postgresql://...``) as the SQLAlchemy URL Airflow's metadata DB takes."""
    return f"{scheme}://{dsn.split('://', 1)[1]}"


def postgres_connection(dsn: str, description: str | None = None) -> dict[str, Any]:
    """An Airflow connection (JSON form, type postgres) for a libpq URL."""
    parts = urlsplit(dsn)
    conn: dict[str, Any] = {"conn_type": "postgres"}
    if description:
        conn["description"] = description
    conn.update(
        {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "login": parts.username or "postgres",
            "password": parts.password or "",
            "schema": parts.path.lstrip("/"),
        }
    )
    return conn


def _conn_value(value: str | Mapping[str, Any]) -> str:
    return value if isinstance(value, str) else json.dumps(dict(value))


def secrets_env(
    connections: Mapping[str, str | Mapping[str, Any]] | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Connections as ``AIRFLOW_CONN_<ID>`` (JSON; a dict is serialised) and Variables as
    ``AIRFLOW_VAR_<NAME>``: how Airflow's environment secrets backend finds them."""
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": _conn_value(conn) for conn_id, conn in (connections or {}).items()}
    env.update({f"AIRFLOW_VAR_{name.upper()}": value for name, value in (variables or {}).items()})
    return env


def airflow_env(
    home: Path | str,
    *,
    metadata_dsn: str | None = None,
    executor: str = "LocalExecutor",
    connections: Mapping[str, str | Mapping[str, Any]] | None = None,
    variables: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
    drop_foreign: bool = False,
    extra: Mapping[str, str] | None = None,
    **config: Any,
) -> dict[str, str]:
    """The environment of an Airflow process whose ``AIRFLOW_HOME`` is ``home``.

    * ``metadata_dsn``: a libpq URL of a PostgreSQL metadata database; None: SQLite ``home/airflow.db``.
    * ``connections``: conn id -> Airflow JSON (str or dict), set as ``AIRFLOW_CONN_<ID>``;
      ``variables``: name -> value, set as ``AIRFLOW_VAR_<NAME>``.
    * ``base``: the environment to start from (default ``os.environ``); ``drop_foreign`` removes its
      ``AIRFLOW_*`` variables first. ``PYTHONPATH`` gets the repository and ``plugins/`` in front.
    * ``config``: Airflow settings as ``section__key=value`` (``core__parallelism=8`` sets
      ``AIRFLOW__CORE__PARALLELISM``); ``None`` removes a default. ``extra``: raw variables, set last.
    """
    home = Path(home)
    start = dict(os.environ if base is None else base)
    if drop_foreign:
        start = {k: v for k, v in start.items() if not k.startswith(FOREIGN_PREFIXES)}
    python_path = [str(REPO), str(REPO / "plugins")]
    python_path += [p for p in start.get("PYTHONPATH", "").split(os.pathsep) if p and p not in python_path]
    settings: dict[str, Any] = {
        "core__dags_folder": REPO / "dags",
        # plugins/.airflowignore keeps the plugin loader out of argo_energy/ (no AirflowPlugin here).
        "core__plugins_folder": REPO / "plugins",
        "core__load_examples": False,
        "core__executor": executor,
        "core__parallelism": 4,
        "core__dags_are_paused_at_creation": False,
        "core__unit_test_mode": False,
        "database__sql_alchemy_conn": (
            sqlalchemy_url(metadata_dsn) if metadata_dsn else f"sqlite:///{home / 'airflow.db'}"
        ),
        "logging__base_log_folder": home / "logs",
        **config,
    }
    env = {
        **start,
        "AIRFLOW_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(python_path),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in settings.items():
        section, _, key = name.partition("__")
        if not key:
            raise ValueError(f"Airflow setting {name!r} is not of the form section__key")
        variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
        if value is None:
            env.pop(variable, None)
        else:
            env[variable] = str(value)  # True -> "True", as Airflow reads booleans
    env.update(secrets_env(connections, variables))
    env.update(extra or {})
    return env
