"""The pieces the demo runs on: its folders and secrets, the PostgreSQL, the simulator, Airflow's
environment and process groups. Nothing here imports Airflow (the demo's Airflow runs in child
processes with the environment built by :func:`airflow_env`, on ``devtools.airflow_env``).

PostgreSQL, in this order (``devtools.localpg`` finds the servers and the binaries):

1. ``--database-url`` / ``ARGO_DEMO_DATABASE_URL``: that database, used as it is;
2. ``TEST_DATABASE_URL`` or the server on 127.0.0.1:5432: database ``argo_demo`` on it, created once
   and kept (never dropped), so a second run finds its data;
3. else a cluster of our own under ``.demo/pg`` made with the machine's ``initdb``, started on a
   free port for the demo's duration and stopped afterwards; its data stays for the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import psycopg
from psycopg import sql

from devtools import airflow_env as shared_env
from devtools import localpg
from devtools.airflow_env import airflow_bin  # noqa: F401 - the demo's (and its tests') import

REPO = Path(__file__).resolve().parents[1]
DEMO_DBNAME = "argo_demo"
ADMIN_USER = "admin"


@dataclass(frozen=True)
class DemoPaths:
    """Everything the demo writes lives under ``home`` (``.demo/`` of the repository by default)."""

    home: Path

    @classmethod
    def default(cls) -> DemoPaths:
        return cls(Path(os.environ.get("ARGO_DEMO_HOME") or REPO / ".demo").resolve())

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def metadata_db(self) -> Path:
        return self.airflow_home / "airflow.db"

    @property
    def pg_base(self) -> Path:
        return self.home / "pg"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    @property
    def database_file(self) -> Path:
        return self.home / "database.json"

    @property
    def summary_file(self) -> Path:
        return self.home / "summary.json"

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json.generated"

    def make(self) -> None:
        for path in (self.home, self.airflow_home, self.logs):
            path.mkdir(parents=True, exist_ok=True)


def demo_secrets(paths: DemoPaths) -> dict[str, str]:
    """The Fernet key and JWT secret of this demo home, generated once and kept (mode 0600)."""
    if paths.secrets_file.exists():
        return json.loads(paths.secrets_file.read_text(encoding="utf-8"))
    from cryptography.fernet import Fernet

    values = {
        "fernet_key": Fernet.generate_key().decode("ascii"),
        "jwt_secret": secrets.token_urlsafe(32),
    }
    paths.secrets_file.touch(mode=0o600)
    paths.secrets_file.write_text(json.dumps(values), encoding="utf-8")
    return values


def airflow_env(paths: DemoPaths, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every demo Airflow process: this home, the project's DAGs, SQLite, the
    demo's secrets and login; none of the caller's ``AIRFLOW_*`` variables."""
    keys = demo_secrets(paths)
    return shared_env.airflow_env(
        paths.airflow_home,
        drop_foreign=True,
        extra={"MPLCONFIGDIR": str(paths.home / "matplotlib"), **(extra or {})},
        core__parallelism=None,  # Airflow's default: the demo is not squeezed like the tests
        core__unit_test_mode=None,
        core__dags_are_paused_at_creation=True,
        core__fernet_key=keys["fernet_key"],
        api_auth__jwt_secret=keys["jwt_secret"],
        core__auth_manager=shared_env.SIMPLE_AUTH_MANAGER,
        core__simple_auth_manager_users=f"{ADMIN_USER}:admin",
    )


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass
class DemoDatabase:
    """The warehouse database of the demo and, for our own cluster, how to stop it."""

    dsn: str
    origin: str  # "url", "env", "local5432" or "cluster"
    cluster: DemoCluster | None = None

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


@dataclass
class DemoCluster:
    """A PostgreSQL cluster under ``.demo/pg`` (data kept between runs, server stopped after each)."""

    base: Path
    port: int
    pg_ctl: str
    run_as: str | None
    started_here: bool

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.started_here:
            _run_pg(self.run_as, [self.pg_ctl, "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
            self.started_here = False


def _run_pg(user: str | None, argv: list[str]) -> None:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")


def _running_port(datadir: Path) -> int | None:
    """The port of a server still running on ``datadir`` (a previous demo killed hard), else None."""
    pid_file = datadir / "postmaster.pid"
    try:
        lines = pid_file.read_text(encoding="utf-8").splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    return port if psutil.pid_exists(pid) else None


def start_cluster(base: Path) -> DemoCluster:
    """Start (creating it the first time) the demo's own cluster under ``base``."""
    initdb, pg_ctl = localpg.find_pg_bin("initdb"), localpg.find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(
            "No PostgreSQL found: start a server on 127.0.0.1:5432, set ARGO_DEMO_DATABASE_URL, "
            "or install the PostgreSQL server binaries (Debian: apt-get install postgresql)."
        )
    run_as = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    datadir = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    if run_as:
        pw = pwd.getpwnam(run_as)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    if not (datadir / "PG_VERSION").exists():
        print(f"  creating a PostgreSQL cluster in {datadir} (initdb) ...", flush=True)
        _run_pg(run_as, [initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    port = _running_port(datadir)
    if port is not None and localpg.answers(f"postgresql://postgres@127.0.0.1:{port}/postgres"):
        return DemoCluster(base, port, pg_ctl, run_as, started_here=False)
    port = localpg.free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=100"
    _run_pg(run_as, [pg_ctl, "-D", str(datadir), "-o", opts, "-l", str(base / "server.log"), "-w", "start"])
    return DemoCluster(base, port, pg_ctl, run_as, started_here=True)


def stop_cluster(base: Path) -> None:
    """Stop the demo's own cluster under ``base`` if a server still runs on it (else nothing)."""
    datadir = base / "data"
    pg_ctl = localpg.find_pg_bin("pg_ctl")
    if pg_ctl and _running_port(datadir) is not None:
        run_as = "postgres" if os.geteuid() == 0 else None
        _run_pg(run_as, [pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"])


def ensure_database(admin_dsn: str, name: str) -> str:
    """Create database ``name`` unless it exists (it is never dropped); return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return localpg.replace_dbname(admin_dsn, name)


def acquire_database(paths: DemoPaths, url: str | None = None, dbname: str = DEMO_DBNAME) -> DemoDatabase:
    """The demo's warehouse database following the order of the module docstring."""
    url = url or os.environ.get("ARGO_DEMO_DATABASE_URL")
    if url:
        if not localpg.answers(url):
            raise RuntimeError(f"the demo database {_redact(url)} does not answer")
        return DemoDatabase(url, "url")
    env_dsn = os.environ.get("TEST_DATABASE_URL")
    if env_dsn and localpg.answers(env_dsn):
        return DemoDatabase(ensure_database(env_dsn, dbname), "env")
    if os.environ.get("ARGO_SKIP_PG_PROBE") != "1" and localpg.answers(localpg.DEFAULT_LOCAL_DSN):
        return DemoDatabase(ensure_database(localpg.DEFAULT_LOCAL_DSN, dbname), "local5432")
    cluster = start_cluster(paths.pg_base)
    try:
        return DemoDatabase(ensure_database(cluster.admin_dsn, dbname), "cluster", cluster)
    except BaseException:
        cluster.stop()
        raise


def _redact(dsn: str) -> str:
    """A DSN without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe_database(db: DemoDatabase) -> str:
    where = {
        "url": "the database given by --database-url / ARGO_DEMO_DATABASE_URL",
        "env": "database argo_demo on TEST_DATABASE_URL's server",
        "local5432": "database argo_demo on the PostgreSQL server at 127.0.0.1:5432",
        "cluster": "database argo_demo in the demo's own cluster (.demo/pg)",
    }[db.origin]
    return f"{where}: {_redact(db.dsn)}"


# ---------------------------------------------------------------------------------------------
# Airflow connections for the demo


def energy_db_connection(dsn: str) -> dict[str, Any]:
    """Connection ``energy_db`` (Airflow JSON form) for a libpq URL."""
    return shared_env.postgres_connection(dsn, description="Demo energy warehouse (make demo)")


def eniscope_connection(sim: Any) -> dict[str, Any]:
    """Connection ``eniscope_default`` (Airflow JSON form) for a started simulator."""
    return {
        "conn_type": "eniscope",
        "description": "Eniscope simulator of the demo (python -m eniscope_simulator)",
        "host": sim.base_url,
        "login": sim.config.email,
        "password": sim.config.password,
        "extra": {
            "api_key": sim.config.api_key,
            # The simulator is local: a higher budget than the real API's keeps the demo short.
            "requests_per_second": 25,
            "retry_wait_max": 5,
            "read_timeout": 30,
        },
    }


# ---------------------------------------------------------------------------------------------
# processes


def spawn(argv: list[str], env: Mapping[str, str], log_file: IO[str], cwd: Path = REPO) -> subprocess.Popen:
    """Start ``argv`` as the leader of a new process group (so the group can be stopped as one)."""
    return subprocess.Popen(
        argv, env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )


def _family(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_group(proc: subprocess.Popen, timeout: float = 20.0) -> list[int]:
    """SIGTERM the process group of ``proc`` (and any descendant that left it), SIGKILL what is left
    after ``timeout`` seconds; return the pids that had to be killed."""
    family = _family(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()  # descendants that called setsid() are not in the group
    _gone, alive = psutil.wait_procs(family, timeout=timeout)
    killed = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
            killed.append(member.pid)
    psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return killed


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the duration, so one cleanup path serves both."""

    def _raise(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_until(condition: Any, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(interval)
