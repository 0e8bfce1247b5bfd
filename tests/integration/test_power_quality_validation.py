"""Power-quality checks (issue 19) on planted readings in a real warehouse (migrations + views).

Expected findings are what was planted: counted here, never taken from the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from argo_energy.validation import checks
from argo_energy.validation.config import ValidationConfig, config_from_params
from argo_energy.validation.power_quality import nominal_hz
from argo_energy.validation.results import FAIL, PASS
from argo_energy.validation.store import ensure_schema
from argo_energy.warehouse import apply_migrations, build_views

pytestmark = [pytest.mark.integration, pytest.mark.warehouse]

SLOT = timedelta(minutes=15)
DAY = datetime(2026, 11, 10, 15, tzinfo=UTC)  # 10:00 in New York, 16:00 in Berlin: one local day each
AS_OF = DAY + timedelta(days=1)
BALANCED = {"voltage_v_l1": 230.0, "voltage_v_l2": 230.0, "voltage_v_l3": 230.0,
            "current_a_l1": 10.0, "current_a_l2": 10.0, "current_a_l3": 10.0, "neutral_current_a": 1.0,
            "current_thd_pct": 5.0}
UNBALANCED_V = {"voltage_v_l1": 236.0, "voltage_v_l2": 230.0, "voltage_v_l3": 224.0}  # 6/230 = 2.6 %


def put(conn: psycopg.Connection, channel: int, index: int, **values: Any) -> None:
    row = {"energy_kwh": 1.0, "power_kw": 4.0, **BALANCED, **values}
    columns = ", ".join(row)
    conn.execute(
        f'INSERT INTO readings (channel_id, "timestamp", {columns}) '  # noqa: S608 - constant test columns
        f"VALUES (%s, %s, {', '.join(['%s'] * len(row))})",
        (channel, DAY + index * SLOT, *row.values()),
    )


@pytest.fixture
def warehouse(warehouse_dsn: str):
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        apply_migrations(conn)
        build_views(conn)
        ensure_schema(conn)
        conn.execute("INSERT INTO organizations (organization_id, organization_name, timezone, country) VALUES "
                     "('us', 'US site', 'America/New_York', 'US'), ('xx', 'No country', 'Europe/Berlin', NULL)")
        conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id) VALUES "
                     "(1, 'US main', 'us'), (2, 'Berlin main', 'xx'), (3, 'Berlin phase lost', 'xx')")
        yield conn


def run(conn: psycopg.Connection, name: str, cfg: ValidationConfig | None = None):
    return checks.CHECKS_BY_NAME[name].run(conn, cfg or ValidationConfig(), AS_OF)


def test_nominal_frequency_comes_from_the_country_else_from_the_measured_median():
    assert nominal_hz("US", 49.9) == 60.0
    assert nominal_hz("United States", None) == 60.0
    assert nominal_hz("DE", 59.9) == 50.0
    assert nominal_hz(None, 59.7) == 60.0
    assert nominal_hz("JP", 50.1) == 50.0, "Japan is split: measured"
    assert nominal_hz(None, None) is None


def test_power_quality_checks_find_what_was_planted(warehouse):
    conn = warehouse
    for i in range(12):  # US, 60 Hz: two readings below 59.4 Hz, a 75-minute unbalance, one THD spike
        put(conn, 1, i, frequency_hz=59.2 if i in (1, 2) else 60.0, current_thd_pct=25.0 if i == 9 else 5.0,
            **(UNBALANCED_V if 3 <= i < 8 else {}))
    for i in range(12):  # no country, measures 50 Hz: one at 50.6; 60 minutes unbalanced (not more); neutral 0.6
        put(conn, 2, i, frequency_hz=50.6 if i == 4 else 50.0, neutral_current_a=6.0 if i == 10 else 1.0,
            **(UNBALANCED_V if 2 <= i < 6 else {}))
    for i in range(8):  # unbalanced for 2 h, but phase 2 lost in the middle: no run longer than an hour
        lost = {"voltage_v_l2": None, "current_a_l2": None} if i == 4 else {}
        put(conn, 3, i, frequency_hz=50.0, **{**UNBALANCED_V, **lost})

    frequency = run(conn, "frequency_band")
    assert frequency.status == FAIL
    found = {(f["channel_id"], f["nominal_hz"], f["readings"]) for f in frequency.findings}
    assert found == {(1, 60.0, 2), (2, 50.0, 1)}, frequency.findings

    unbalance = run(conn, "voltage_unbalance")
    assert [(f["channel_id"], f["minutes"], f["run_start"]) for f in unbalance.findings] == [
        (1, 75, DAY + 3 * SLOT)], unbalance.findings
    assert unbalance.findings[0]["max_unbalance_pct"] == pytest.approx(100 * 6 / 230, abs=5e-4), "rounded to 3 decimals"

    thd = run(conn, "current_thd")
    assert [(f["channel_id"], f["intervals"], f["max_thd_pct"]) for f in thd.findings] == [(1, 1, 25.0)]
    neutral = run(conn, "neutral_current")
    assert [(f["channel_id"], f["intervals"]) for f in neutral.findings] == [(2, 1)]
    assert neutral.findings[0]["max_neutral_ratio"] == pytest.approx(0.6, rel=1e-6)

    relaxed = config_from_params({"frequency_tolerance_pct": 2.0, "voltage_unbalance_max_minutes": 75,
                                  "thd_max_pct": 30, "neutral_max_ratio": 0.7}, known_checks=checks.CHECK_NAMES)
    for name in ("frequency_band", "voltage_unbalance", "current_thd", "neutral_current"):
        assert run(conn, name, relaxed).status == PASS, f"{name} with the relaxed params"


def test_meters_without_power_quality_fields_pass_with_nothing_checked(warehouse):
    for i in range(8):
        warehouse.execute('INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw) VALUES (1, %s, 1, 4)',
                          (DAY + i * SLOT,))
    for name in ("frequency_band", "voltage_unbalance", "current_thd", "neutral_current"):
        assert run(warehouse, name).status == PASS, name
