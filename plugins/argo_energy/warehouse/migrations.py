"""Versioned schema migrations: ``include/sql/migrations/V###__name.sql``, recorded in ``schema_migrations``.

A small recorded runner rather than Alembic: the migrations are plain SQL files (reviewable, and
the same text a DBA would run), there is one linear history, and Alembic's ``alembic_version``
table and env.py machinery would add nothing but a second place to look.

``apply_migrations`` runs every pending file in one transaction that holds an advisory lock, so
two DAG runs starting at once are safe (the second waits, then finds nothing to do) and a failing
migration leaves the database exactly as it was. Each applied version is recorded with the
sha256 of its file; a recorded file that was edited afterwards stops the runner.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from argo_energy.warehouse.connection import (
    LOCK_MIGRATIONS,
    Connection,
    WarehouseError,
    own_transaction,
    sql_dir,
)

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^V(?P<version>\d{3,})__(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    applied_by  text        NOT NULL DEFAULT current_user,
    duration_ms integer     NOT NULL,
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
)
"""
_OUR_COLUMNS = {"version", "name", "checksum", "applied_at", "applied_by", "duration_ms"}


class MigrationError(WarehouseError):
    """The migration files and the database's record disagree, or a file is malformed."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path
    sql: str
    checksum: str

    @property
    def label(self) -> str:
        return f"V{self.version:03d}__{self.name}"


def migrations_dir() -> Path:
    return sql_dir() / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files of ``directory`` in version order; a malformed name is an error.

    Reads each file itself rather than through ``warehouse.sql.sql_text``: ``directory`` may be any
    folder (tests and adoption runs copy the history elsewhere), and the checksum must be of the
    file as it is on disk now, not of a text the loader cached earlier in the process, or an
    applied migration edited afterwards would slip through.
    """
    directory = directory or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named V###__lower_snake.sql")
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        migration = Migration(
            version=int(match["version"]),
            name=match["name"],
            path=path,
            sql=text,
            checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )
        if migration.version in found:
            raise MigrationError(f"version {migration.version} twice: {found[migration.version].path.name}, {path.name}")
        found[migration.version] = migration
    if not found:
        raise MigrationError(f"no migration files in {directory}")
    return [found[v] for v in sorted(found)]


def current_version(conn: Connection) -> int | None:
    """The highest applied version, or None when the database was never migrated by this runner."""
    with own_transaction(conn) as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return None
        cur.execute("SELECT max(version) FROM schema_migrations")
        row = cur.fetchone()
        return row[0] if row else None


def apply_migrations(conn: Connection, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations in one locked transaction; return the labels applied (may be empty)."""
    migrations = load_migrations(directory)
    # The migrations report what they did (e.g. rows V004 moved) as NOTICEs: log them.
    conn.add_notice_handler(_log_notice)
    try:
        with own_transaction(conn) as cur:
            applied_now = _apply_pending(cur, migrations)
    finally:
        conn.remove_notice_handler(_log_notice)
    log.info(
        "migrations: %s applied now, %s already applied, database at version %s",
        len(applied_now),
        len(migrations) - len(applied_now),
        migrations[-1].version,
    )
    return applied_now


def _log_notice(diag: psycopg.errors.Diagnostic) -> None:
    log.info("postgres: %s", diag.message_primary)


def _apply_pending(cur: psycopg.Cursor[Any], migrations: list[Migration]) -> list[str]:
    applied_now: list[str] = []
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_MIGRATIONS,))
    cur.execute("SELECT to_regclass('schema_migrations') IS NULL")
    row = cur.fetchone()
    if row and row[0]:
        cur.execute(_CREATE_TABLE)
    cur.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
    )
    columns = {r[0] for r in cur.fetchall()}
    if _OUR_COLUMNS - columns:
        raise MigrationError(
            f"a schema_migrations table of another tool exists (columns {sorted(columns)}); "
            "refusing to guess which of its versions mean what"
        )
    cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    recorded = {version: (name, checksum) for version, name, checksum in cur.fetchall()}
    _check_history(migrations, recorded)
    for migration in migrations:
        if migration.version in recorded:
            continue
        started = time.monotonic()
        cur.execute(migration.sql)
        duration_ms = round((time.monotonic() - started) * 1000)
        cur.execute(
            "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (%s, %s, %s, %s)",
            (migration.version, migration.name, migration.checksum, duration_ms),
        )
        log.info("applied migration %s in %s ms", migration.label, duration_ms)
        applied_now.append(migration.label)
    return applied_now


def _check_history(migrations: list[Migration], recorded: dict[int, tuple[str, str]]) -> None:
    by_version = {m.version: m for m in migrations}
    unknown = sorted(v for v in recorded if v not in by_version)
    if unknown:
        raise MigrationError(
            f"the database has versions {unknown} that these files do not know "
            f"(newest file: V{migrations[-1].version:03d}): this code is older than the database"
        )
    for version, (name, checksum) in recorded.items():
        migration = by_version[version]
        if checksum != migration.checksum:
            raise MigrationError(
                f"{migration.label} was applied with checksum {checksum[:12]}… but the file now has "
                f"{migration.checksum[:12]}…: never edit an applied migration, add a new one"
            )
        if name != migration.name:
            raise MigrationError(f"version {version} was applied as {name!r}, the file is {migration.name!r}")
    missing = [m.label for m in migrations if m.version not in recorded and m.version < max(recorded, default=0)]
    if missing:
        raise MigrationError(f"{missing} are older than the newest applied version: renumber them after it")
