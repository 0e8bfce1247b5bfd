"""Warehouse layer: every SQL write of the pipeline, the migrations and the layered views.

Everything takes a DB-API connection: a ``psycopg.Connection`` (psycopg 3), which is what
``PostgresHook(postgres_conn_id="energy_db").get_conn()`` returns on Airflow 3.3. Each public
function runs in its own transaction and commits it; the connection must be idle (no open
transaction) when it is called. The SQL text lives in ``include/sql/``.

By hand: ``python -m argo_energy.warehouse migrate --conn-id energy_db`` (or ``--dsn ...``);
``build-views``, ``refresh`` and ``setup`` (all three) work the same way.
"""

from __future__ import annotations

from argo_energy.warehouse.connection import WarehouseError, connect, sql_dir
from argo_energy.warehouse.migrations import MigrationError, apply_migrations, current_version
from argo_energy.warehouse.store import (
    SyncStatus,
    Upserted,
    WindowWrite,
    completed_windows,
    log_window_failure,
    record_sync_status,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
    write_window,
)
from argo_energy.warehouse.views import VIEW_FILES, build_views, refresh_hourly_usage

__all__ = [
    "VIEW_FILES",
    "MigrationError",
    "SyncStatus",
    "Upserted",
    "WarehouseError",
    "WindowWrite",
    "apply_migrations",
    "build_views",
    "completed_windows",
    "connect",
    "current_version",
    "log_window_failure",
    "record_sync_status",
    "refresh_hourly_usage",
    "sql_dir",
    "upsert_channels",
    "upsert_devices",
    "upsert_organizations",
    "write_window",
]
