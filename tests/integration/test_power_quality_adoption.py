"""V011 on a database adopted from the original system: its per-phase power_w1..3 / energy_wh1..3
(kW and kWh despite their names) become power_kw_l1..3 / energy_kwh_l1..3 unconverted, every row and
column is kept, and the old names stay readable as aliases that cannot disagree with the new columns."""

from __future__ import annotations

from datetime import UTC, timedelta

import psycopg
import pytest

from argo_energy.models import Reading
from argo_energy.warehouse import apply_migrations, write_window
from tests.fixtures.seed_legacy import build_seed_database

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

LEGACY = ("power_w1", "power_w2", "power_w3", "energy_wh1", "energy_wh2", "energy_wh3")
HONEST = ("power_kw_l1", "power_kw_l2", "power_kw_l3", "energy_kwh_l1", "energy_kwh_l2", "energy_kwh_l3")


def test_adopted_per_phase_columns_move_unconverted_and_stay_readable(warehouse_dsn):
    build_seed_database(warehouse_dsn)
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE readings " + ", ".join(f"ADD COLUMN {c} real" for c in LEGACY))
        # The original stored kW/kWh per phase: a third of each reading's power and energy.
        conn.execute("UPDATE readings SET power_w1 = power_kw / 3, power_w2 = power_kw / 3 + 0.5, "
                     "power_w3 = NULL, energy_wh1 = energy_kwh / 3, energy_wh2 = energy_kwh / 3, "
                     "energy_wh3 = energy_kwh / 3 WHERE id % 2 = 0")
        conn.execute("CREATE VIEW dashboard_phases AS SELECT id, power_w1, energy_wh2 FROM readings")
        before = {r[0]: r[1:] for r in conn.execute(
            f"SELECT id, {', '.join(LEGACY)} FROM readings").fetchall()}  # noqa: S608 - constant columns
        assert any(v[0] is not None for v in before.values()), "the seed must have readings to move"

        apply_migrations(conn)

        after = {(r[0], r[1:7]): r[7:] for r in conn.execute(
            f"SELECT id, {', '.join(HONEST)}, {', '.join(LEGACY)} FROM readings").fetchall()}  # noqa: S608
        # V004 moves readings at nonexistent New York wall-clock times to readings_rejected (adoption).
        to_rejected = conn.execute("SELECT count(*) FROM readings_rejected WHERE source = 'adoption'").fetchone()[0]
    moved = {key[0]: key[1] for key in after}
    assert len(before) - len(moved) == to_rejected, "every row kept (but V004's moves)"
    assert moved == {i: before[i] for i in moved}, "values moved unconverted (they already were kW/kWh)"
    assert all(key[1] == legacy for key, legacy in after.items()), "the old names read the new columns"

    with psycopg.connect(warehouse_dsn) as conn:
        generated = conn.execute(
            "SELECT column_name, is_generated, generation_expression FROM information_schema.columns "
            "WHERE table_name = 'readings' AND column_name = ANY(%s) ORDER BY column_name", (list(LEGACY),)
        ).fetchall()
        assert [row[1] for row in generated] == ["ALWAYS"] * 6, generated
        view = conn.execute("SELECT pg_get_viewdef('dashboard_phases')").fetchone()[0]
        assert "power_kw_l1" in view, f"the dashboard view follows the rename: {view}"
        assert "energy_kwh_l2" in view, f"the dashboard view follows the rename: {view}"
        with pytest.raises(psycopg.errors.GeneratedAlways):
            conn.execute("UPDATE readings SET power_w1 = 1")
        conn.rollback()

        # The pipeline writes the honest columns; the alias follows, nobody can fill them differently.
        channel, start = conn.execute('SELECT channel_id, max("timestamp") FROM readings GROUP BY 1 LIMIT 1').fetchone()
        start = start.astimezone(UTC).replace(minute=0, second=0) + timedelta(days=1)
        org = conn.execute("SELECT organization_id FROM channels WHERE channel_id = %s", (channel,)).fetchone()[0]
    with psycopg.connect(warehouse_dsn) as conn:
        write_window(conn, organization_id=org, channel_id=channel, start=start, end=start + timedelta(hours=1),
                     readings=[Reading(ts=start, energy_kwh=3.0, power_kw=12.0, power_kw_l1=4.25, energy_kwh_l3=1.0)],
                     rejected=[], fetched=1)
        row = conn.execute('SELECT power_kw_l1, power_w1, energy_kwh_l3, energy_wh3, power_w2 FROM readings '
                           'WHERE channel_id = %s AND "timestamp" = %s', (channel, start)).fetchone()
    assert row == (4.25, 4.25, 1.0, 1.0, None)


def test_a_fresh_warehouse_has_the_honest_columns_and_no_aliases(warehouse_dsn):
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn)
        cols = {r[0]: r[1] for r in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'readings'")}
    assert all(cols[c] == "real" for c in (*HONEST, "frequency_hz", "current_thd_pct", "neutral_current_a",
                                            "apparent_power_kva", "cost", "voltage_v_l2", "power_factor_l3"))
    assert not set(LEGACY) & set(cols)
