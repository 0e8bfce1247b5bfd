"""The weekly report's power-quality section (issue 19) on planted readings in a real warehouse."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from argo_energy.report import power_quality
from argo_energy.report.queries import read_only_snapshot
from argo_energy.report.week import week_of
from argo_energy.warehouse import apply_migrations, build_views

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

MONDAY = date(2026, 11, 9)
NY = "America/New_York"


@pytest.fixture
def planted(warehouse_dsn: str) -> str:
    week = week_of(MONDAY, NY)
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn)
        build_views(conn)
        conn.execute("INSERT INTO organizations (organization_id, organization_name, timezone) VALUES "
                     "('pq', 'PQ site', %s), ('plain', 'Plain site', %s)", (NY, NY))
        conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id) VALUES "
                     "(1, 'Balanced', 'pq'), (2, 'Unbalanced', 'pq'), (3, 'Single phase', 'pq'), (4, 'Old', 'plain')")
        for i in range(8):
            ts = week.start + timedelta(hours=i)
            conn.execute('INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, frequency_hz, '
                         "current_thd_pct, voltage_v_l1, voltage_v_l2, voltage_v_l3, current_a_l1, current_a_l2, "
                         "current_a_l3, neutral_current_a, power_factor_l1, power_factor_l2, power_factor_l3) VALUES "
                         "(1, %s, 1, 4, 59.98, 4, 120, 120, 120, 10, 10, 10, 1, 0.95, 0.9, 0.85), "
                         "(2, %s, 1, 4, 60.02, 12, 123, 120, 117, 12, 10, 8, 4, 0.8, NULL, 0.7)", (ts, ts))
            conn.execute('INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, frequency_hz, '
                         "current_thd_pct) VALUES (3, %s, 1, 4, 60.0, 8)", (ts,))
            conn.execute('INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw) VALUES (4, %s, 1, 4)',
                         (ts,))
        # outside the week: must not count
        conn.execute('INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, frequency_hz) '
                     "VALUES (1, %s, 1, 4, 40.0)", (week.end,))
    return warehouse_dsn


def test_section_ranks_meters_by_unbalance_and_says_na_for_what_is_not_reported(planted):
    week = week_of(MONDAY, NY)
    with psycopg.connect(planted) as conn, read_only_snapshot(conn) as cur:
        meters = power_quality.load(cur, "pq", week)
        plain = power_quality.load(cur, "plain", week)
    assert plain is None, "a site whose meters report no power-quality field gets no section"
    assert power_quality.section_html(plain) == ""
    assert meters is not None
    assert [m.meter_id for m in meters] == [2, 1, 3], "worst voltage unbalance first, NULLs last"
    unbalanced, balanced, single = meters
    assert unbalanced.max_voltage_unbalance_pct == pytest.approx(100 * 3 / 120, rel=1e-6)
    assert unbalanced.avg_current_unbalance_pct == pytest.approx(100 * 2 / 10, rel=1e-6)
    assert unbalanced.max_neutral_ratio == pytest.approx(0.4, rel=1e-6)
    assert unbalanced.power_factor[1] is None, "phase 2 never reported its PF: n/a, not 0"
    assert balanced.max_voltage_unbalance_pct == 0.0
    assert single.max_voltage_unbalance_pct is None
    assert single.power_factor == (None, None, None)
    assert balanced.min_frequency_hz == pytest.approx(59.98, rel=1e-6), "the reading after the week is out"
    assert [m.intervals for m in meters] == [8, 8, 8]

    html = power_quality.section_html(meters)
    assert "<h2>Power quality</h2>" in html
    assert "59.98 – 60.02 Hz" in html
    assert "<span class='warn'>2.50 %</span>" in html, "unbalance above 2 % is highlighted"
    assert "data:image/png;base64," in html
    assert html.count("n/a") >= 6, "the single-phase meter's unbalance, neutral ratio and PFs"
