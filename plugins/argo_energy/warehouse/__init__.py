"""Warehouse layer: every SQL write of the pipeline, the ingestion's reads, the migrations and the views.

Everything takes a DB-API connection: a ``psycopg.Connection`` (psycopg 3), which is what
``PostgresHook(postgres_conn_id=settings.ENERGY_CONN_ID).get_conn()`` returns on Airflow 3.3. Each public
function runs in its own transaction and commits it; the connection must be idle (no open
transaction) when it is called. The SQL text lives in ``include/sql/``.

By hand: ``python -m argo_energy.warehouse migrate --conn-id energy_db`` (or ``--dsn ...``);
``build-views``, ``refresh`` and ``setup`` (all three) work the same way.
"""

from __future__ import annotations

from argo_energy.warehouse.catalog import Upserted, upsert_channels, upsert_devices, upsert_organizations
from argo_energy.warehouse.connection import WarehouseError, connect, sql_dir
from argo_energy.warehouse.migrations import MigrationError, apply_migrations, current_version
from argo_energy.warehouse.quarantine import record_quarantine
from argo_energy.warehouse.reads import (
    ChannelSyncState,
    completed_windows,
    latest_channel_status,
    readings_facts,
)
from argo_energy.warehouse.store import (
    SyncStatus,
    WindowWrite,
    log_window_failure,
    record_sync_status,
    write_window,
)
from argo_energy.warehouse.views import VIEW_FILES, build_views, refresh_hourly_usage

__all__ = [
    "VIEW_FILES",
    "ChannelSyncState",
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
    "latest_channel_status",
    "log_window_failure",
    "readings_facts",
    "record_quarantine",
    "record_sync_status",
    "refresh_hourly_usage",
    "sql_dir",
    "upsert_channels",
    "upsert_devices",
    "upsert_organizations",
    "write_window",
]
