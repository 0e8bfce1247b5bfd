"""Completeness and freshness count only readings with a value; the original warnings are back.

A meter sending only NULLs (rows stored, energy and power NULL) fails completeness and freshness;
null_values, high_power and never_reported name it, the 1,000 kW slip and the silent channel.
Planted data on a real PostgreSQL warehouse; expected numbers counted here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from argo_energy.validation.checks import CHECKS_BY_NAME
from argo_energy.validation.config import ValidationConfig
from tests.integration.test_validation_checks import Plant, build_warehouse, midnight

pytestmark = pytest.mark.integration

NY = "America/New_York"
AS_OF = datetime(2025, 11, 4, 12, tzinfo=UTC)  # settled local days up to 2025-11-02 (25 h in New York)
GOOD, NULLS, SILENT = 11, 12, 13


def run(dsn: str, name: str, cfg: ValidationConfig | None = None):
    with psycopg.connect(dsn) as conn:
        return CHECKS_BY_NAME[name].run(conn, cfg or ValidationConfig(lookback_days=3), AS_OF)


@pytest.fixture
def world(warehouse_dsn: str) -> str:
    build_warehouse(warehouse_dsn)
    first = date(2025, 10, 30)
    with psycopg.connect(warehouse_dsn) as conn:
        plant = Plant(conn)
        plant.site("s1", NY)
        for cid in (GOOD, NULLS, SILENT):
            plant.channel(cid, "s1")
        start, end = midnight(first, NY), AS_OF - timedelta(hours=1)
        plant.readings(GOOD, start, end)
        plant.readings(NULLS, start, end, energy=lambda _ts: None)
        conn.execute("UPDATE readings SET power_kw = NULL WHERE channel_id = %s", (NULLS,))
        # one W-as-kW slip on the good meter
        conn.execute('UPDATE readings SET power_kw = 2500 WHERE channel_id = %s AND "timestamp" = %s',
                     (GOOD, midnight(date(2025, 11, 1), NY) + timedelta(hours=10)))
        plant.daily_logs(NULLS, "s1", NY, [first + timedelta(days=i) for i in range(5)])
        conn.commit()
    return warehouse_dsn


def test_a_meter_sending_only_nulls_fails_completeness_and_freshness(world):
    completeness = run(world, "completeness")
    assert completeness.status == "fail"
    nulls = [f for f in completeness.findings if f["channel_id"] == NULLS]
    assert [(f["local_date"], f["expected"], f["received"]) for f in nulls] == [
        (date(2025, 10, 31), 96, 0), (date(2025, 11, 1), 96, 0), (date(2025, 11, 2), 100, 0)]
    assert not [f for f in completeness.findings if f["channel_id"] == GOOD], "the good meter is complete"

    freshness = run(world, "freshness")
    assert freshness.status == "fail"
    assert [(f["channel_id"], f["problem"]) for f in freshness.findings] == [(NULLS, "pulled but no reading ever")]


def test_null_values_high_power_and_never_reported_are_warnings(world):
    nulls = run(world, "null_values")
    assert nulls.severity == "warn"
    assert nulls.status == "fail"
    assert {f["channel_id"] for f in nulls.findings} == {NULLS}
    assert all(f["both_null"] == f["readings"] for f in nulls.findings)

    high = run(world, "high_power")
    assert [(f["channel_id"], f["local_date"], f["max_power_kw"]) for f in high.findings] == [
        (GOOD, date(2025, 11, 1), 2500.0)]
    assert run(world, "high_power", ValidationConfig(lookback_days=3, high_power_kw=3000)).status == "pass"

    never = run(world, "never_reported")
    assert sorted((f["channel_id"], f["problem"]) for f in never.findings) == [
        (NULLS, "pulled, but no reading with energy or power ever"), (SILENT, "never pulled, no reading")]
