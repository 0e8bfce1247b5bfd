"""Find a PostgreSQL server for tests, benchmarks and the demo, or start a throwaway one.

Order (README "Testing"):

1. ``TEST_DATABASE_URL`` when set (an admin DSN: it must be allowed to CREATE DATABASE);
2. the server on 127.0.0.1:5432 when it answers (skipped when ``ARGO_SKIP_PG_PROBE=1``);
3. a throwaway cluster made with ``initdb`` + ``pg_ctl`` in a temporary directory on a free
   port; as root the server runs as the ``postgres`` user. It is stopped and deleted by ``stop()``.

Callers get an admin DSN and create their own databases with :func:`create_database`, so
nothing ever touches a database it did not create.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DEFAULT_LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class PgServer:
    """An admin DSN plus, for a throwaway cluster, what is needed to stop it."""

    admin_dsn: str
    origin: str  # "env", "local5432" or "throwaway"
    _datadir: Path | None = None
    _pg_ctl: str | None = None
    _run_as: str | None = None
    _created: list[str] = field(default_factory=list)

    def dsn_for(self, dbname: str) -> str:
        return replace_dbname(self.admin_dsn, dbname)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (dropping a leftover of the same name) and return its DSN."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self._created:
            self._created.remove(name)

    def stop(self) -> None:
        """Drop every database this object created; stop and delete a throwaway cluster."""
        for name in list(self._created):
            with contextlib.suppress(psycopg.Error):
                self.drop_database(name)
        if self._datadir is not None and self._pg_ctl:
            _run(self._run_as, [self._pg_ctl, "-D", str(self._datadir), "-m", "immediate", "-w", "stop"])
            shutil.rmtree(self._datadir.parent, ignore_errors=True)
            self._datadir = None


def replace_dbname(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def answers(dsn: str, timeout: int = 3) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(user: str | None, argv: list[str]) -> subprocess.CompletedProcess:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True)


def start_throwaway() -> PgServer:
    initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(
            "No PostgreSQL found: set TEST_DATABASE_URL, start a server on 127.0.0.1:5432, "
            "or install the PostgreSQL server binaries (initdb, pg_ctl)."
        )
    run_as = None
    base = Path(tempfile.mkdtemp(prefix="argo-pg-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: hand the directory to the postgres user.
        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = free_port()
    _run(run_as, [initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    _run(run_as, [pg_ctl, "-D", str(datadir), "-o", opts, "-l", str(base / "server.log"), "-w", "start"])
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    log.info("started throwaway PostgreSQL on port %s (%s)", port, datadir)
    return PgServer(admin_dsn=dsn, origin="throwaway", _datadir=datadir, _pg_ctl=pg_ctl, _run_as=run_as)


def acquire() -> PgServer:
    """Return a PostgreSQL server following the documented order."""
    env_dsn = os.environ.get("TEST_DATABASE_URL")
    if env_dsn:
        if not answers(env_dsn):
            raise RuntimeError("TEST_DATABASE_URL is set but the server does not answer")
        return PgServer(admin_dsn=env_dsn, origin="env")
    if os.environ.get("ARGO_SKIP_PG_PROBE") != "1" and answers(DEFAULT_LOCAL_DSN):
        return PgServer(admin_dsn=DEFAULT_LOCAL_DSN, origin="local5432")
    return start_throwaway()
