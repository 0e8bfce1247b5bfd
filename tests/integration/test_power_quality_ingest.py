"""Issue 19 end to end: the daily sync (dag.test, simulator over HTTP, real PostgreSQL) discovers each
channel's fields once, asks for all of them in the one request per channel-day, stores them, and the
power-quality views equal figures computed here from the simulator's truth (a missing phase and a
single-phase meter included: NULL, never 0)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from argo_energy.warehouse import build_views
from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.ingest import IngestEnv, assert_matches_ground_truth, load_dag, no_retries, states
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = pytest.mark.integration

NY = "America/New_York"
END = datetime(2026, 11, 12, 2, tzinfo=UTC)  # the 02:00 UTC run: 21:00 on Nov 11 in New York
LOOKBACK = 2  # local days Nov 9, 10 and Nov 11 until 21:00


def _env(make_simulator, monkeypatch):
    site = SiteConfig(name="Phase Lab", timezone=NY, country="US", voltage=120.0, meters=2, single_phase=1,
                      sensors=0, virtual=0, base_kw=20.0, tariff_per_kwh=0.15)
    sim = make_simulator(default_config(now=END + timedelta(minutes=30), sites=[site]))
    set_eniscope_conn(monkeypatch, sim)
    return sim


def _run(dag_id="eniscope_daily_sync"):
    dag = no_retries(load_dag(dag_id))  # dag.test() drops deadline alerts (tests/fixtures/airflow.py)
    dr = dag.test(logical_date=END, run_conf={"lookback_days": LOOKBACK})
    assert str(dr.state) == "success", f"run state {dr.state}: {states(dr)}"
    return dr


def _truth_intervals(sim, channel: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per 15-minute record of the truth: the figures the views define, computed in Python."""
    out = []
    for rec in sim.ground_truth(channel, start, end, fields=sim.fields_of(channel)):
        volts = [rec.get(f"V{n}") for n in (1, 2, 3)]
        amps = [rec.get(f"I{n}") for n in (1, 2, 3)]
        three = None not in volts and None not in amps
        v_mean = sum(volts) / 3 if three else None
        i_mean = sum(amps) / 3 if three else None
        out.append({
            "ts": datetime.fromtimestamp(rec["ts"], UTC),
            "F": rec.get("F"), "D": rec.get("D"), "S": rec["S"] / 1000.0,
            "PF": [rec.get(f"PF{n}") for n in (1, 2, 3)],
            "vu": 100 * max(abs(v - v_mean) for v in volts) / v_mean if three else None,
            "iu": 100 * max(abs(i - i_mean) for i in amps) / i_mean if three else None,
            "nr": rec["In"] / i_mean if three and rec.get("In") is not None else None,
        })
    return out


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _expected_groups(intervals, key) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for item in intervals:
        groups[key(item["ts"])].append(item)
    return {
        k: {
            "min_frequency_hz": min(i["F"] for i in rows), "avg_frequency_hz": _mean([i["F"] for i in rows]),
            "max_frequency_hz": max(i["F"] for i in rows), "avg_current_thd_pct": _mean([i["D"] for i in rows]),
            "max_current_thd_pct": max(i["D"] for i in rows),
            "avg_voltage_unbalance_pct": _mean([i["vu"] for i in rows]),
            "avg_current_unbalance_pct": _mean([i["iu"] for i in rows]),
            "avg_neutral_ratio": _mean([i["nr"] for i in rows]),
            "avg_power_factor_l1": _mean([i["PF"][0] for i in rows]),
            "avg_power_factor_l2": _mean([i["PF"][1] for i in rows]),
            "avg_power_factor_l3": _mean([i["PF"][2] for i in rows]),
            "avg_apparent_power_kva": _mean([i["S"] for i in rows]),
            "reading_count": len(rows),
        }
        for k, rows in groups.items()
    }


def _assert_view_equals(view_rows: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]], what: str):
    assert sorted(view_rows) == sorted(expected), f"{what}: groups differ"
    for key, want in expected.items():
        got = view_rows[key]
        for column, value in want.items():
            if value is None:
                assert got[column] is None, f"{what} {key} {column}: expected NULL, got {got[column]}"
            else:
                assert got[column] is not None, f"{what} {key} {column}: NULL, expected {value}"
                # stored as real: ~7 significant digits, and unbalance subtracts close numbers
                assert math.isclose(got[column], value, rel_tol=2e-4, abs_tol=1e-4), (
                    f"{what} {key} {column}: view {got[column]}, computed {value}"
                )


def _view(dsn: str, view: str, channel: int, key: str) -> dict[Any, dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(f"SELECT * FROM {view} WHERE meter_id = %s", (channel,)).fetchall()  # noqa: S608
    return {row[key]: row for row in rows}


def test_daily_sync_stores_every_field_with_one_request_per_channel_day(make_simulator, monkeypatch,
                                                                     energy_db_conn, airflow_db):
    sim = _env(make_simulator, monkeypatch)
    three = sim.channel_ids("meter")[:2]
    (single,) = [c for c in sim.channel_ids("meter") if sim.world.channels[c].phases == 1]
    missing = three[1]
    sim.faults.phase_missing = [(missing, 2)]

    _run()
    readings = [r for r in sim.requests if "/readings/" in r.path]
    discovery = [r for r in sim.requests if "/fields/" in r.path]
    local_days = LOOKBACK + 1  # Nov 9, 10, 11 in New York
    channels = len(sim.channel_ids("meter"))
    assert len(readings) / (channels * local_days) == 1.0, "readings requests per channel-day"
    assert len(discovery) == 1, "one discovery request for the one device type, not one per channel"
    asked = {r.path.rsplit("/", 1)[-1]: set(r.query["fields[]"]) for r in readings}
    assert set(sim.fields_of(three[0])) - {"Q1", "Q2", "Q3"} <= asked[str(three[0])], "every stored field asked"

    start = datetime(2026, 11, 9, tzinfo=ZoneInfo(NY)).astimezone(UTC)
    env = IngestEnv(sim=sim, dsn=energy_db_conn, monkeypatch=monkeypatch)
    for channel in [*three, single]:
        assert assert_matches_ground_truth(env, channel, start, END) > 0
    stored = env.sql("SELECT count(frequency_hz), count(voltage_v_l2), count(*) FROM readings WHERE channel_id = %s",
                     (missing,))[0]
    assert stored[0] == stored[2] > 0, f"frequency stored for every reading ({stored})"
    assert stored[1] == 0, f"phase 2 missing: NULL, not 0 ({stored})"

    with psycopg.connect(energy_db_conn) as conn:
        build_views(conn)
    for channel in [*three, single]:
        intervals = _truth_intervals(sim, channel, start, END)
        hourly = _expected_groups(intervals, lambda ts: ts.replace(minute=0))
        _assert_view_equals(_view(energy_db_conn, "v_power_quality_hourly", channel, "hour"), hourly,
                            f"hourly channel {channel}")
        daily = _expected_groups(intervals, lambda ts: ts.astimezone(ZoneInfo(NY)).date())
        _assert_view_equals(_view(energy_db_conn, "v_power_quality_daily", channel, "reading_date"), daily,
                            f"daily channel {channel}")
    single_rows = _view(energy_db_conn, "v_power_quality_hourly", single, "hour")
    assert all(row["avg_voltage_unbalance_pct"] is None and row["three_phase_count"] == 0
               for row in single_rows.values()), "a single-phase meter has no unbalance (NULL, not 0)"
    missing_rows = _view(energy_db_conn, "v_power_quality_hourly", missing, "hour")
    assert all(row["avg_power_factor_l2"] is None for row in missing_rows.values()), "missing phase: NULL"

    # A second run asks nothing again: the field lists are cached with the device type.
    before = len([r for r in sim.requests if "/fields/" in r.path])
    _run()
    assert len([r for r in sim.requests if "/fields/" in r.path]) == before
