"""Reconciliation with Eniscope's daily totals, on the simulator over real HTTP and a real warehouse.

* 45 metering channels x 7 settled days (New York's 25-hour fall-back day among them, and a
  +05:30 site) cost 45 requests, counted at the simulator, and every day matches.
* End to end with dag.test(): the ingestion fetched everything, then the source revised three
  hours of one day (after our lookback) and served a daily total inconsistent with its own
  15-minute data on another day. The validation run finds both, heals exactly those channel-days;
  after the heal runs the revised day matches and the other is judged source-inconsistent and
  never fetched again. Final daily totals equal the simulator's.

Expected numbers come from the simulator's ground truth, never from the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.validation.checks import CHECKS_BY_NAME
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.store import ensure_schema
from argo_energy.warehouse import apply_migrations
from argo_energy.warehouse.lineage import day_lineage, format_lineage
from argo_energy.warehouse.store import write_window
from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.ingest import load_dag, no_retries, states
from tests.fixtures.simulator import set_eniscope_conn

pytestmark = pytest.mark.integration

NY, KOLKATA = "America/New_York", "Asia/Kolkata"
# Settled local days at AS_OF (settle 24 h, lookback 7): 2026-10-27 .. 2026-11-02; New York falls
# back on 2026-11-01 (25 hours, 100 quarter-hours).
AS_OF = datetime(2026, 11, 4, 12, tzinfo=UTC)
FIRST, LAST = date(2026, 10, 27), date(2026, 11, 2)
DST_DAY = date(2026, 11, 1)


def midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def days(first: date = FIRST, last: date = LAST) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def truth_daily_kwh(sim: Any, channel: int, day: date) -> float:
    """The simulator's own daily total (res=86400) of a local day, in kWh."""
    tz = sim.timezone_of(channel)
    (record,) = sim.ground_truth(channel, midnight(day, tz), midnight(day + timedelta(days=1), tz),
                                 fields=["E"], resolution=86400)
    return record["E"] / 1000.0


def truth_slots_kwh(sim: Any, channel: int, day: date) -> float:
    tz = sim.timezone_of(channel)
    records = sim.ground_truth(channel, midnight(day, tz), midnight(day + timedelta(days=1), tz), fields=["E"])
    return sum(r["E"] for r in records) / 1000.0


def our_daily_kwh(dsn: str, channel: int, day: date, tz: str) -> float | None:
    with psycopg.connect(dsn) as conn:
        (kwh,) = conn.execute(
            'SELECT sum(energy_kwh::float8) FROM readings WHERE channel_id = %s AND "timestamp" >= %s '
            'AND "timestamp" < %s', (channel, midnight(day, tz), midnight(day + timedelta(days=1), tz)),
        ).fetchone()
    return kwh


def daily_requests(sim: Any) -> list[Any]:
    return [r for r in sim.requests if "/readings/" in r.path and r.query.get("res") == ["86400"]]


def slot_requests(sim: Any, channel: int) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith(f"/readings/{channel}") and r.query.get("res") != ["86400"]]


# ------------------------------------------------------------------------------------------------
# 45 channels x 7 days = 45 requests


@pytest.fixture
def planted_45(make_simulator, warehouse_dsn, monkeypatch) -> Iterator[tuple[Any, str]]:
    sites = [SiteConfig(name="Wilson Center", timezone=NY, voltage=120.0, meters=23, sensors=0, virtual=0),
             SiteConfig(name="Bengaluru Tech Park", timezone=KOLKATA, meters=22, sensors=0, virtual=0)]
    sim = make_simulator(default_config(now=AS_OF, sites=sites))
    set_eniscope_conn(monkeypatch, sim)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        ensure_schema(conn)  # the validation DAG's first task
        for org in sim.site_organization_ids():
            conn.execute("INSERT INTO organizations (organization_id, organization_name, timezone) VALUES (%s, %s, %s)",
                         (org, f"Site {org}", sim.world.orgs[int(org)].timezone))
        for channel in sim.channel_ids("meter"):
            conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id, channel_type, unit) "
                         "VALUES (%s, %s, %s, 'grid meter', 'kWh')",
                         (channel, f"Meter {channel}", str(sim.world.channels[channel].org_id)))
        conn.commit()
        for channel in sim.channel_ids("meter"):
            tz = sim.timezone_of(channel)
            start, end = midnight(FIRST, tz), midnight(LAST + timedelta(days=1), tz)
            readings = sim.ground_truth_readings(channel, start, end)
            write_window(conn, organization_id=str(sim.world.channels[channel].org_id), channel_id=channel,
                         start=start, end=end, readings=readings, rejected=[], fetched=len(readings))
    sim.reset_requests()
    return sim, warehouse_dsn


def test_45_channels_by_7_days_cost_45_requests_and_all_match(planted_45):
    sim, dsn = planted_45
    assert len(sim.channel_ids("meter")) == 45
    with psycopg.connect(dsn) as conn:
        result = CHECKS_BY_NAME["reconciliation"].run(conn, ValidationConfig(), AS_OF)

    requests = [r for r in sim.requests if "/readings/" in r.path]
    assert len(requests) == 45, f"one request per channel, got {len(requests)}"
    assert len(daily_requests(sim)) == 45
    assert {r.path.rsplit("/", 1)[-1] for r in requests} == {
        str(c) for c in sim.channel_ids("meter")}
    assert (result.status, result.checked_count, result.failed_count) == ("pass", 45 * 7, 0), result.message
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT channel_id, local_date, verdict, our_kwh, source_kwh, our_readings, day_end - day_start "
            "FROM reconciliation_days ORDER BY channel_id, local_date").fetchall()
    assert len(rows) == 45 * 7
    assert {r[2] for r in rows} == {"match"}
    assert {r[1] for r in rows} == set(days())
    ny = sim.channel_ids("meter")[0]
    assert sim.timezone_of(ny) == NY
    (dst,) = [r for r in rows if r[0] == ny and r[1] == DST_DAY]
    assert dst[6] == timedelta(hours=25), "the fall-back day is 25 hours"
    assert dst[5] == 100, "100 quarter-hours with energy on the fall-back day"
    assert dst[4] == pytest.approx(truth_daily_kwh(sim, ny, DST_DAY), rel=1e-9), "Eniscope's total as served"
    assert dst[3] == pytest.approx(truth_slots_kwh(sim, ny, DST_DAY), rel=1e-5), "ours (float4 readings)"


def test_days_cut_elsewhere_are_refused_not_compared(planted_45):
    """A source that cut its days in UTC would not be reconciled against our local days."""
    sim, dsn = planted_45
    sim.config.daily_zone = "UTC"
    with psycopg.connect(dsn) as conn:
        result = CHECKS_BY_NAME["reconciliation"].run(conn, ValidationConfig(lookback_days=2), AS_OF)
    assert result.status == "fail"
    assert {f["verdict"] for f in result.findings} == {"not_compared"}
    assert "not at a local midnight" in result.findings[0]["error"]
    assert len(daily_requests(sim)) == 45


# ------------------------------------------------------------------------------------------------
# end to end: revision after the lookback, inconsistent source day, heal, final totals


def reconciliation_rows(dsn: str) -> dict[tuple[int, date], tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT channel_id, local_date, verdict, our_kwh, source_kwh, source_slots_kwh "
                            "FROM reconciliation_days").fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def result_of(dsn: str, run_id: str, check: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT status, failed_count, details FROM validation_results "
                            "WHERE run_id = %s AND check_name = %s", (run_id, check)).fetchone()


def heal_confs(run_id: str) -> list[dict[str, Any]]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "eniscope_historical_backfill").all()
        return [dict(r.conf) for r in sorted(runs, key=lambda r: r.run_id) if r.run_id.startswith(f"heal__{run_id}")]


def backfill() -> Any:
    return no_retries(load_dag("eniscope_historical_backfill"))


def validation() -> Any:
    """The validation DAG without retries (dag.test() drops its deadline alert: tests/fixtures/airflow.py)."""
    return no_retries(load_dag("eniscope_validation"))


@pytest.mark.timeout(900)
def test_revision_is_healed_and_an_inconsistent_source_day_stops_being_fetched(make_ingest_env):
    env = make_ingest_env(AS_OF)
    ny_meter = next(c for c in env.sim.channel_ids("meter") if env.sim.timezone_of(c) == NY)
    in_meter = next(c for c in env.sim.channel_ids("meter") if env.sim.timezone_of(c) == KOLKATA)
    ingest = backfill().test(run_conf={"start_date": (FIRST - timedelta(days=1)).isoformat(),
                                     "end_date": (LAST + timedelta(days=1)).isoformat()})
    assert str(ingest.state) == "success", states(ingest)

    # After our pulls: the source revises 09:00-12:00 of Oct 30 (New York) and serves an Oct 31
    # daily total for the Kolkata meter that disagrees with its own 15-minute data.
    revised_day, odd_day = date(2026, 10, 30), date(2026, 10, 31)
    rev_start = midnight(revised_day, NY) + timedelta(hours=9)
    env.sim.faults.source_revisions = [(ny_meter, rev_start, rev_start + timedelta(hours=3), AS_OF + timedelta(hours=1))]
    env.sim.faults.inconsistent_days = [(in_meter, odd_day.isoformat())]
    env.sim.set_now(AS_OF + timedelta(hours=2))
    env.sim.reset_requests()

    first = validation().test(logical_date=AS_OF + timedelta(hours=2))
    status, failed, details = result_of(env.dsn, first.run_id, "reconciliation")
    assert (status, failed) == ("fail", 2), details
    found = {(f["channel_id"], f["local_date"]): f for f in details}
    assert set(found) == {(ny_meter, revised_day.isoformat()), (in_meter, odd_day.isoformat())}
    assert {f["verdict"] for f in details} == {"mismatch"}
    ny_finding = found[(ny_meter, revised_day.isoformat())]
    assert ny_finding["source_kwh"] == pytest.approx(truth_daily_kwh(env.sim, ny_meter, revised_day), rel=1e-9)
    assert ny_finding["our_kwh"] < ny_finding["source_kwh"], "the revision raised the source's values by 5 %"
    assert len(daily_requests(env.sim)) == 3, "one daily-totals request per metering channel (3)"
    confs = heal_confs(first.run_id)
    assert sorted((c["channel_ids"], c["start_date"]) for c in confs) == sorted(
        [([ny_meter], revised_day.isoformat()), ([in_meter], odd_day.isoformat())])
    assert all(c["force"] and c["start_date"] == c["end_date"] for c in confs)

    # The scheduler would run the heal backfills: run them.
    for conf in confs:
        healed = backfill().test(run_conf=conf)
        assert str(healed.state) == "success", states(healed)

    env.sim.reset_requests()
    second = validation().test(logical_date=AS_OF + timedelta(hours=8))
    assert result_of(env.dsn, second.run_id, "reconciliation")[:2] == ("pass", 0)
    status, failed, details = result_of(env.dsn, second.run_id, "source_totals")
    assert (status, failed) == ("fail", 1)
    (odd,) = details
    assert (odd["channel_id"], odd["local_date"]) == (in_meter, odd_day.isoformat())
    assert odd["source_kwh"] == pytest.approx(truth_daily_kwh(env.sim, in_meter, odd_day), rel=1e-9)
    assert odd["source_slots_kwh"] == pytest.approx(truth_slots_kwh(env.sim, in_meter, odd_day), rel=1e-9)
    assert odd["source_kwh"] == pytest.approx(odd["source_slots_kwh"] * 1.03, rel=1e-9)
    assert heal_confs(second.run_id) == [], "nothing is healed twice"
    assert len(slot_requests(env.sim, in_meter)) >= 1, "its 15-minute data was fetched once to judge it"
    verdicts = reconciliation_rows(env.dsn)
    assert verdicts[(ny_meter, revised_day)][0] == "match"
    assert verdicts[(in_meter, odd_day)][0] == "source_inconsistent"

    env.sim.reset_requests()
    third = validation().test(logical_date=AS_OF + timedelta(hours=14))
    assert result_of(env.dsn, third.run_id, "reconciliation")[:2] == ("pass", 0)
    assert result_of(env.dsn, third.run_id, "source_totals")[:2] == ("fail", 1)
    assert slot_requests(env.sim, in_meter) == [], "a source-inconsistent day is not fetched again"
    assert len(daily_requests(env.sim)) == 3

    # Final daily totals equal the simulator's (the inconsistent day equals its 15-minute data).
    for channel in env.sim.channel_ids("meter"):
        tz = env.sim.timezone_of(channel)
        for day in days():
            want = (truth_slots_kwh(env.sim, channel, day) if (channel, day) == (in_meter, odd_day)
                    else truth_daily_kwh(env.sim, channel, day))
            assert our_daily_kwh(env.dsn, channel, day, tz) == pytest.approx(want, rel=1e-5), (channel, day)

    # The lineage of the revised day names both pulls, the 12 revised readings and the verdict.
    with psycopg.connect(env.dsn) as conn:
        lineage = day_lineage(conn, ny_meter, revised_day)
    assert [p["status"] for p in lineage.pulls] == ["success", "success"]
    assert lineage.pulls[1]["readings_updated"] == 12
    assert lineage.pulls[1]["readings_now_from_it"] == 12
    assert lineage.pulls[0]["readings_now_from_it"] == 96 - 12
    assert lineage.readings["updated_later"] == 12
    assert lineage.readings["without_pull"] == 0
    assert lineage.reconciliation is not None
    assert lineage.reconciliation["verdict"] == "match"
    assert [h["reason"] for h in lineage.heals] == ["reconciliation"]
    assert any("reconciliation: match" in line for line in format_lineage(lineage))
