"""V006 on a warehouse that already holds rejections in the old form ("code: detail; ...")."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from argo_energy.warehouse import apply_migrations
from argo_energy.warehouse.migrations import migrations_dir

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

TS = datetime(2026, 11, 10, 5, tzinfo=UTC)
OLD = [
    # (timestamp, reason as the old code wrote it, created_at, last_seen_at, power_kw)
    (TS, "negative_power: power_kw=-1.0", TS, TS, -1.0),
    (TS, "negative_power: power_kw=-2.5", TS + timedelta(days=1), TS + timedelta(days=1), -2.5),  # revised
    (TS, "negative_power: power_kw=-1.0; power_factor_out_of_range: power_factor=1.7", TS, TS, -1.0),
    (
        TS + timedelta(minutes=15),
        "future_timestamp: 2026-11-10T05:15:00+00:00 is after 2026-11-10T05:00:00+00:00",
        TS - timedelta(hours=2), TS - timedelta(hours=2), None,
    ),
    (
        TS + timedelta(minutes=15),
        "future_timestamp: 2026-11-10T05:15:00+00:00 is after 2026-11-10T05:10:00+00:00",
        TS - timedelta(hours=1), TS - timedelta(hours=1), None,
    ),
]


def test_old_rejections_are_keyed_on_codes_and_repeats_merged(warehouse_dsn: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    later = [p for p in directory.glob("V*.sql") if int(p.name[1:4]) >= 6]
    assert later, "V006 is missing"
    held = tmp_path / "held"
    held.mkdir()
    for path in later:
        path.rename(held / path.name)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn, directory)
        conn.execute("INSERT INTO organizations (organization_id, organization_name) VALUES ('1', 'Site')")
        conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id) VALUES (7, 'Main', '1')")
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO readings_rejected (channel_id, "timestamp", reason, created_at, last_seen_at, power_kw) '
                "VALUES (7, %s, %s, %s, %s, %s)",
                OLD,
            )
            cur.execute(
                'INSERT INTO readings_rejected (channel_id, "timestamp", reason, source) '
                "VALUES (7, %s, 'legacy reading id 9 at naive 2026-03-08 02:15: moved by V004', 'adoption')",
                (TS,),
            )
        conn.commit()
        for path in later:
            (held / path.name).rename(path)
        assert [label[:4] for label in apply_migrations(conn, directory)] == [p.name[:4] for p in sorted(later)]
        rows = conn.execute(
            'SELECT "timestamp", reason, detail, created_at, last_seen_at, power_kw, source '
            'FROM readings_rejected ORDER BY "timestamp", source DESC, reason'
        ).fetchall()
    assert rows == [
        (TS, "negative_power", "negative_power: power_kw=-2.5", TS, TS + timedelta(days=1), -2.5, "ingestion"),
        (
            TS, "negative_power; power_factor_out_of_range",
            "negative_power: power_kw=-1.0; power_factor_out_of_range: power_factor=1.7", TS, TS, -1.0, "ingestion",
        ),
        (TS, "legacy reading id 9 at naive 2026-03-08 02:15: moved by V004", None, rows[2][3], rows[2][4], None,
         "adoption"),
        (
            TS + timedelta(minutes=15), "future_timestamp", OLD[4][1],
            TS - timedelta(hours=2), TS - timedelta(hours=1), None, "ingestion",
        ),
    ]
