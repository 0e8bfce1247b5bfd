"""PostgreSQL 17 from the pinned npm binaries: the pg17 fixture, the [local]/[pg17] variants of
warehouse-tier modules, and localpg's path for a machine with Python but no PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from devtools.localpg import PgServer, server_version_num
from devtools.pgbinaries import MARKER, install_dir, load_pin

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]
REPO = Path(__file__).resolve().parents[2]


def test_pg17_server_runs_the_pinned_release(pg17_server: PgServer) -> None:
    pin = load_pin(17)
    with psycopg.connect(pg17_server.admin_dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    assert version.split()[0] == pin.server_version, f"server says {version}, the pin is {pin.version}"
    assert (install_dir(pin) / MARKER).read_text().strip() == pin.integrity, "cache made from the pinned tarball"
    assert pg17_server.origin == "throwaway"


def test_warehouse_modules_run_on_both_servers(warehouse_dsn: str, pg_major: str, pg_server: PgServer) -> None:
    version = server_version_num(warehouse_dsn)
    if pg_major == "pg17":
        assert version >= 170000
    else:
        assert pg_major == "local"
        assert version == server_version_num(pg_server.admin_dsn), "[local] is the session's pg_server"


def test_python_only_machine_path_starts_pg17_and_cleans_up(pg17_server: PgServer) -> None:
    """``ARGO_PG_FORCE_EMBEDDED=1``: localpg ignores TEST_DATABASE_URL, :5432 and Debian's binaries.

    Runs in a fresh process (as ``make test`` would start) on the cache the fixture filled.
    """
    script = textwrap.dedent(
        """
        import json, sys
        from devtools import localpg
        server = localpg.acquire()
        dsn = server.create_database("argo_forced_embedded")
        datadir = server._datadir
        out = {"origin": server.origin, "dsn": server.admin_dsn, "version": localpg.server_version_num(dsn),
               "pg_ctl": server._pg_ctl, "datadir": str(datadir)}
        server.stop()
        out["datadir_left"] = datadir.exists()
        print(json.dumps(out))
        """
    )
    env = {
        **os.environ,
        "ARGO_PG_FORCE_EMBEDDED": "1",
        "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",  # must be ignored
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["origin"] == "throwaway"
    assert ":5432/" not in out["dsn"]
    assert out["version"] >= 170000
    assert Path(out["pg_ctl"]).parent == install_dir(load_pin(17)) / "bin"
    assert out["datadir_left"] is False, "stop() deletes the throwaway cluster"
