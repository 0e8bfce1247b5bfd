"""The layered views of contract §4: build them from ``include/sql/views/``; refresh the rollups under them.

Each file ``views/NNN_<view name>.sql`` is one standalone statement, ``SELECT argo_build_view(...)``
(a function created by migration V003), so a DAG can run the files one by one as
``SQLExecuteQueryOperator`` tasks (``template_searchpath=include/sql``, ``sql=VIEW_FILES[i]``) or call
``build_views`` once. Either way a file whose definition hash is recorded and unchanged does nothing.

``mv_hourly_usage`` is a table since migration V009 (kept by ``warehouse.rollups``, not built here);
``refresh_hourly_usage`` is the rollup refresh of what changed since the last one.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from argo_energy.warehouse.connection import Connection, WarehouseError, own_transaction
from argo_energy.warehouse.rollups import RollupRefresh, refresh_rollups
from argo_energy.warehouse.sql import sql_text

log = logging.getLogger(__name__)

# Paths relative to include/sql, in dependency order (the number prefix is that order).
VIEW_FILES: tuple[str, ...] = (
    "views/010_v_clean_readings.sql",
    "views/030_v_sites.sql",
    "views/040_v_meters.sql",
    "views/050_v_readings_enriched.sql",
    "views/060_v_latest_readings.sql",
    "views/070_v_readings_hourly.sql",
    "views/080_v_readings_daily.sql",
    "views/090_v_readings_monthly.sql",
    "views/100_v_power_quality_intervals.sql",
    "views/110_v_power_quality_hourly.sql",
    "views/120_v_power_quality_daily.sql",
)
_NAME_RE = re.compile(r"^\d{3}_(?P<name>[a-z0-9_]+)\.sql$")


def view_name(relative_path: str) -> str:
    """``views/070_v_readings_hourly.sql`` -> ``v_readings_hourly``."""
    match = _NAME_RE.match(Path(relative_path).name)
    if not match:
        raise WarehouseError(f"{relative_path}: view files are named NNN_<view name>.sql")
    return match["name"]


def build_views(conn: Connection) -> dict[str, str]:
    """Run every view file in order, in one transaction; return {view: action}.

    Actions: 'unchanged' (nothing done), 'created', 'replaced' (CREATE OR REPLACE), 'recreated'
    (a view whose columns changed, dropped and created) and 'rebuilt' (a materialized view,
    dropped and created WITH DATA; none is left since V009). A view dropped because something it
    depends on was rebuilt is recreated by its own file and reported with that file's action.
    """
    texts = [(view_name(rel), sql_text(rel)) for rel in VIEW_FILES]
    actions: dict[str, str] = {}
    with own_transaction(conn) as cur:
        cur.execute("SELECT to_regprocedure('argo_build_view(text, text, text, text[], text)') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            raise WarehouseError(
                "argo_build_view() is missing: apply the migrations first "
                "(python -m argo_energy.warehouse migrate)"
            )
        for name, text in texts:
            cur.execute(text)
            result = cur.fetchone()
            actions[name] = str(result[0]) if result else "unknown"
    changed = {name: action for name, action in actions.items() if action != "unchanged"}
    log.info(
        "views: %s unchanged, %s changed%s",
        len(actions) - len(changed),
        len(changed),
        f" ({', '.join(f'{n}={a}' for n, a in changed.items())})" if changed else "",
    )
    return actions


def refresh_hourly_usage(conn: Connection) -> RollupRefresh:
    """Refresh ``mv_hourly_usage`` and the daily rollup for what changed since the last refresh.

    The name the DAGs and callers have always used; see ``warehouse.rollups.refresh_rollups``.
    """
    return refresh_rollups(conn)
