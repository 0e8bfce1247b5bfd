"""Warehouse checks that need no database: input validation, migration files, view files, CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlparse

from argo_energy.models import Channel, Organization, Reading, Rejected
from argo_energy.warehouse import (
    MigrationError,
    SyncStatus,
    record_sync_status,
    upsert_channels,
    upsert_organizations,
    write_window,
)
from argo_energy.warehouse.__main__ import main
from argo_energy.warehouse.migrations import _check_history, load_migrations
from argo_energy.warehouse.views import VIEW_FILES, view_name

START = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
END = START + timedelta(hours=23)


class NoDatabase:
    """Stands in for a connection: any use of it means a check ran too late."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was touched ({name}) before the input was checked")


def _write(**overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "organization_id": "o1",
        "channel_id": 1,
        "start": START,
        "end": END,
        "readings": [],
        "rejected": [],
        "fetched": 0,
    }
    kwargs.update(overrides)
    write_window(NoDatabase(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start": START.replace(tzinfo=None)}, "window start must be timezone-aware"),
        ({"end": START}, "empty window"),
        ({"organization_id": ""}, "organization_id must be a non-empty string"),
        ({"fetched": -1}, "fetched must be >= 0"),
        ({"readings": [Reading(END, energy_kwh=1.0)]}, "outside the window"),
        ({"readings": [Reading(START - timedelta(minutes=15))]}, "outside the window"),
        ({"readings": [Reading(START.replace(tzinfo=None))]}, "reading timestamp must be timezone-aware"),
        (
            {"readings": [Reading(START), Reading(START + timedelta(minutes=15)),
                          Reading((START + timedelta(minutes=30)).replace(tzinfo=None))]},
            "reading timestamp must be timezone-aware",
        ),
        (
            {"readings": [Reading(START, power_kw=1.0), Reading(START, power_kw=2.0)]},
            "given twice with different values",
        ),
        ({"rejected": [Rejected(Reading(START), "")]}, "reason must be a non-empty string"),
    ],
)
def test_write_window_refuses_bad_input_before_any_sql(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _write(**overrides)


def test_window_rows_come_out_in_time_order_once_each() -> None:
    from argo_energy.warehouse.store import _dedupe_readings

    q = timedelta(minutes=15)
    ordered = [Reading(START + i * q, power_kw=float(i)) for i in range(4)]
    assert _dedupe_readings(ordered, 1) == ordered
    shuffled = [ordered[2], ordered[0], ordered[3], ordered[0], ordered[1]]  # one exact repeat
    assert _dedupe_readings(shuffled, 1) == ordered
    assert _dedupe_readings([], 1) == []


def test_metadata_and_status_refuse_bad_input_before_any_sql() -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        upsert_organizations(NoDatabase(), [Organization("o1", "Site", timezone="America/Gotham")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channel_id 3 given twice"):
        upsert_channels(NoDatabase(), [Channel(3, "a"), Channel(3, "a", unit="kWh")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="last_sync_timestamp must be timezone-aware"):
        record_sync_status(
            NoDatabase(),  # type: ignore[arg-type]
            [SyncStatus("o1", None, datetime(2024, 1, 1), None, None, "success")],
        )


def test_migration_files_are_well_formed() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1)), "no gaps in versions"
    assert migrations[3].name == "timestamptz", "V004 is the §5.2 TIMESTAMPTZ migration"
    for migration in migrations:
        text = migration.sql.upper()
        assert "BEGIN;" not in text, f"{migration.label}: the runner owns the transaction"
        assert "COMMIT;" not in text, f"{migration.label}: the runner owns the transaction"


def test_malformed_or_duplicate_migration_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "V001__ok.sql").write_text("SELECT 1;")
    (tmp_path / "v2-bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"V###__lower_snake\.sql"):
        load_migrations(tmp_path)
    (tmp_path / "v2-bad.sql").unlink()
    (tmp_path / "V0001__again.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="version 1 twice"):
        load_migrations(tmp_path)


def test_history_checks(tmp_path: Path) -> None:
    for name in ("V001__a.sql", "V002__b.sql", "V003__c.sql"):
        (tmp_path / name).write_text(f"-- {name}\n")
    files = load_migrations(tmp_path)
    applied = {m.version: (m.name, m.checksum) for m in files}
    _check_history(files, applied)  # consistent: no error
    with pytest.raises(MigrationError, match="was applied as 'x'"):
        _check_history(files, {**applied, 2: ("x", files[1].checksum)})
    with pytest.raises(MigrationError, match="older than the newest applied version"):
        _check_history(files, {1: applied[1], 3: applied[3]})


def test_view_files_are_named_after_their_view() -> None:
    names = [view_name(path) for path in VIEW_FILES]
    assert names == [
        "v_clean_readings",
        "v_sites",
        "v_meters",
        "v_readings_enriched",
        "v_latest_readings",
        "v_readings_hourly",
        "v_readings_daily",
        "v_readings_monthly",
        "v_power_quality_intervals",
        "v_power_quality_hourly",
        "v_power_quality_daily",
    ]
    for path in VIEW_FILES:
        text = (Path(__file__).resolve().parents[2] / "include" / "sql" / path).read_text()
        kind = "materialized view" if view_name(path).startswith("mv_") else "view"
        assert f"argo_build_view(\n    '{kind}',\n    '{view_name(path)}'," in text, f"{path} builds its own view"
        # One statement, however the SQL operator splits it (split_statements uses sqlparse).
        assert len([part for part in sqlparse.split(text) if part.strip()]) == 1, path


def test_cli_reports_connection_errors_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--dsn", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit):
        main(["drop-everything"])
