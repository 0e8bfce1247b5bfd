"""The expected warehouse objects (contract §3 tables, §4 views, pipeline additions) and their check. Pure.

Columns must exist with one of the listed types (``format_type`` spelling); extra columns are
allowed (additions never break the contract). For computed view columns whose exact numeric
type is an implementation choice, any numeric type is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TEXT = frozenset({"text"})
INT = frozenset({"integer"})
BIGINT = frozenset({"bigint"})
REAL = frozenset({"real"})
TSTZ = frozenset({"timestamp with time zone"})
LOCAL_TS = frozenset({"timestamp without time zone"})
DATE = frozenset({"date"})
COUNT = frozenset({"bigint", "integer"})
NUMERIC = frozenset({"real", "double precision", "numeric"})


@dataclass(frozen=True, slots=True)
class RelationSpec:
    kind: str  # table | view | materialized view
    columns: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """An index the pipeline relies on: on ``table`` with exactly ``columns``; unique when required."""

    table: str
    columns: tuple[str, ...]
    unique: bool = False
    name: str | None = None  # required name (the contract names its indexes); None: any name


_READING_VALUES = {
    "energy_kwh": REAL, "power_kw": REAL, "voltage_v": REAL, "current_a": REAL, "power_factor": REAL,
    "reactive_power_kvar": REAL, "temperature_c": REAL, "relative_humidity": REAL,
}

EXPECTED_RELATIONS: dict[str, RelationSpec] = {
    "organizations": RelationSpec("table", {
        "organization_id": TEXT, "organization_name": TEXT, "address": TEXT, "city": TEXT,
        "postcode": TEXT, "country": TEXT, "timezone": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
    }),
    "devices": RelationSpec("table", {
        "device_id": INT, "device_name": TEXT, "organization_id": TEXT, "device_type": TEXT,
        "serial_number": TEXT, "firmware_version": TEXT, "last_seen": TSTZ, "created_at": TSTZ,
        "updated_at": TSTZ,
    }),
    "channels": RelationSpec("table", {
        "channel_id": INT, "channel_name": TEXT, "device_id": INT, "organization_id": TEXT,
        "channel_type": TEXT, "unit": TEXT, "description": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
    }),
    "readings": RelationSpec("table", {
        "id": BIGINT, "channel_id": INT, "timestamp": TSTZ, **_READING_VALUES, "created_at": TSTZ,
    }),
    "data_sync_status": RelationSpec("table", {
        "id": INT, "organization_id": TEXT, "channel_id": INT, "last_sync_timestamp": TSTZ,
        "last_reading_timestamp": TSTZ, "readings_count": INT, "sync_status": TEXT,
        "error_message": TEXT, "created_at": TSTZ,
    }),
    "ingestion_logs": RelationSpec("table", {
        "id": INT, "organization_id": TEXT, "channel_id": INT, "start_time": TSTZ, "end_time": TSTZ,
        "readings_fetched": INT, "readings_inserted": INT, "readings_rejected": INT, "status": TEXT,
        "error_message": TEXT, "created_at": TSTZ,
        # pipeline additions (migration V002)
        "readings_updated": INT,
    }),
    "readings_rejected": RelationSpec("table", {
        "channel_id": INT, "timestamp": TSTZ, "reason": TEXT, "detail": TEXT,
    }),
    "v_clean_readings": RelationSpec("view", {
        "id": BIGINT, "channel_id": INT, "timestamp": TSTZ, **_READING_VALUES, "created_at": TSTZ,
    }),
    # A table since V009 (the hourly rollup), same columns as the materialized view it replaced.
    "mv_hourly_usage": RelationSpec("table", {
        "meter_id": INT, "hour": TSTZ, "avg_kw": NUMERIC, "total_kwh": NUMERIC, "reading_count": COUNT,
    }),
    "rollup_daily_usage": RelationSpec("table", {
        "meter_id": INT, "reading_date": DATE, "total_energy_kwh": NUMERIC, "avg_power_kw": NUMERIC,
        "peak_power_kw": NUMERIC, "reading_count": COUNT, "sum_power_kw": NUMERIC,
    }),
    "v_sites": RelationSpec("view", {
        "site_id": TEXT, "site_name": TEXT, "address": TEXT, "city": TEXT, "postcode": TEXT,
        "country": TEXT, "timezone": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
    }),
    "v_meters": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT, "device_id": INT,
        "device_name": TEXT, "device_type": TEXT, "device_uuid": TEXT, "channel_type": TEXT,
        "unit": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
    }),
    "v_readings_enriched": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT, "device_id": INT,
        "device_name": TEXT, "timestamp": TSTZ, "energy_kwh": REAL, "power_kw": REAL,
    }),
    "v_latest_readings": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT, "timestamp": TSTZ,
        "energy_kwh": REAL, "power_kw": REAL, "voltage_v": REAL, "current_a": REAL, "power_factor": REAL,
    }),
    "v_readings_hourly": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT, "hour": TSTZ,
        "avg_kw": NUMERIC, "total_kwh": NUMERIC, "reading_count": COUNT,
    }),
    "v_readings_daily": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT,
        "total_energy_kwh": NUMERIC, "avg_power_kw": NUMERIC, "peak_power_kw": NUMERIC,
        "reading_count": COUNT,
    }),
    "v_readings_monthly": RelationSpec("view", {
        "meter_id": INT, "meter_name": TEXT, "site_id": TEXT, "site_name": TEXT,
        "total_energy_kwh": NUMERIC, "avg_power_kw": NUMERIC, "peak_power_kw": NUMERIC,
        "reading_count": COUNT,
    }),
}

EXPECTED_INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("readings", ("channel_id", "timestamp"), unique=True, name="idx_readings_unique"),
    IndexSpec("readings", ("channel_id", "timestamp"), name="idx_readings_channel_timestamp"),
    IndexSpec("readings", ("timestamp",), name="idx_readings_timestamp"),
    IndexSpec("channels", ("organization_id",), name="idx_channels_org"),
    IndexSpec("devices", ("organization_id",), name="idx_devices_org"),
    IndexSpec("data_sync_status", ("organization_id", "last_sync_timestamp"), name="idx_sync_status_org"),
    IndexSpec("ingestion_logs", ("organization_id", "channel_id", "start_time", "end_time"),
              name="idx_ingestion_logs_time"),
    # The rollup refresh upserts on (meter_id, hour): a unique, non-partial index on plain columns.
    IndexSpec("mv_hourly_usage", ("meter_id", "hour"), unique=True),
    IndexSpec("rollup_daily_usage", ("meter_id", "reading_date"), unique=True),
)


def evaluate_schema(
    columns: Iterable[tuple[str, str, str, str]],
    indexes: Iterable[tuple[str, str, bool, bool, bool, list[str]]],
    relations: Mapping[str, RelationSpec] = EXPECTED_RELATIONS,
    index_specs: Iterable[IndexSpec] = EXPECTED_INDEXES,
) -> tuple[list[dict[str, Any]], int]:
    """Compare catalog rows with the expectations; return (findings, number of things checked).

    ``columns``: (relation, kind, column, type) rows; ``indexes``: (index, table, unique, valid,
    partial, columns) rows, as the catalog queries return them.
    """
    found_kind: dict[str, str] = {}
    found_cols: dict[str, dict[str, str]] = {}
    for relation, kind, column, col_type in columns:
        found_kind[relation] = kind
        found_cols.setdefault(relation, {})[column] = col_type
    findings: list[dict[str, Any]] = []
    checked = 0
    for name, spec in relations.items():
        checked += 1
        if name not in found_kind:
            findings.append({"object": name, "problem": f"{spec.kind} is missing"})
            continue
        if found_kind[name] != spec.kind:
            findings.append({"object": name, "problem": f"is a {found_kind[name]}, expected a {spec.kind}"})
        for column, allowed in spec.columns.items():
            checked += 1
            actual = found_cols[name].get(column)
            if actual is None:
                findings.append({"object": f"{name}.{column}", "problem": "column is missing"})
            elif actual not in allowed:
                findings.append({
                    "object": f"{name}.{column}",
                    "problem": f"type is {actual}, expected {' or '.join(sorted(allowed))}",
                })
    index_rows = list(indexes)
    for index in index_specs:
        checked += 1
        problem = _index_problem(index, index_rows, found_kind)
        if problem:
            label = index.name or f"{index.table}({', '.join(index.columns)})"
            findings.append({"object": label, "problem": problem})
    return findings, checked


def _index_problem(
    spec: IndexSpec, rows: list[tuple[str, str, bool, bool, bool, list[str]]], found_kind: Mapping[str, str]
) -> str | None:
    if spec.table not in found_kind:
        return None  # the missing relation is reported already
    candidates = [r for r in rows if r[1] == spec.table and (spec.name is None or r[0] == spec.name)]
    if not candidates:
        return "index is missing" if spec.name else f"no index on ({', '.join(spec.columns)})"
    for _name, _table, unique, valid, partial, cols in candidates:
        if list(cols) == list(spec.columns) and valid and (unique or not spec.unique) and not partial:
            return None
    name, _table, unique, valid, partial, cols = candidates[0]
    if list(cols) != list(spec.columns):
        return f"{name} is on ({', '.join(cols)}), expected ({', '.join(spec.columns)})"
    if not valid:
        return f"{name} is INVALID (a failed concurrent build): it does not enforce or serve anything"
    if spec.unique and not unique:
        return f"{name} is not unique"
    return f"{name} is partial"
