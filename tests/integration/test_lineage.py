"""Lineage of a number: which pulls wrote a meter's local day, what was revised and rejected, the
reconciliation verdict; through the store's real write path and the CLI, on a real warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.models import Reading, Rejected
from argo_energy.warehouse import apply_migrations
from argo_energy.warehouse.__main__ import main
from argo_energy.warehouse.lineage import day_lineage
from argo_energy.warehouse.store import write_window

pytestmark = pytest.mark.integration

NY = "America/New_York"
DAY = date(2026, 3, 8)  # spring forward: 23 hours, 92 quarter-hours
METER = 59155


def quarter_hours(start: datetime, end: datetime, kwh: float) -> list[Reading]:
    out, ts = [], start
    while ts < end:
        out.append(Reading(ts=ts, energy_kwh=kwh, power_kw=kwh * 4))
        ts += timedelta(minutes=15)
    return out


@pytest.fixture
def day_written(warehouse_dsn: str) -> tuple[str, datetime, datetime]:
    start = datetime.combine(DAY, time(0), tzinfo=ZoneInfo(NY)).astimezone(UTC)
    end = datetime.combine(DAY + timedelta(days=1), time(0), tzinfo=ZoneInfo(NY)).astimezone(UTC)
    with psycopg.connect(warehouse_dsn) as conn:
        apply_migrations(conn)
        conn.execute("INSERT INTO organizations (organization_id, organization_name, timezone) "
                     "VALUES ('17159', 'Wilson Center', %s)", (NY,))
        conn.execute("INSERT INTO channels (channel_id, channel_name, organization_id) VALUES (%s, 'Main', '17159')",
                     (METER,))
        conn.commit()
        first = quarter_hours(start, end, 0.5)
        bad = Rejected(Reading(ts=start, energy_kwh=-1.0, power_kw=-4.0), "negative_energy", "energy_kwh=-1.0")
        write_window(conn, organization_id="17159", channel_id=METER, start=start, end=end,
                     readings=first[1:], rejected=[bad], fetched=92, run_id="scheduled__first")
        # A later pull: 8 readings revised, the rest unchanged, the first slot now valid.
        second = [Reading(ts=r.ts, energy_kwh=0.75, power_kw=3.0) if i < 9 else r for i, r in enumerate(first)]
        write_window(conn, organization_id="17159", channel_id=METER, start=start, end=end,
                     readings=second, rejected=[], fetched=92, run_id="manual__heal")
    return warehouse_dsn, start, end


def test_lineage_names_the_pulls_revisions_and_rejects(day_written):
    dsn, start, end = day_written
    with psycopg.connect(dsn) as conn:
        lin = day_lineage(conn, METER, DAY)
    assert (lin.day_start, lin.day_end, lin.expected_slots) == (start, end, 92)
    assert [(p["run_id"], p["readings_inserted"], p["readings_updated"], p["readings_unchanged"],
             p["readings_rejected"], p["readings_now_from_it"]) for p in lin.pulls] == [
        ("scheduled__first", 91, 0, 0, 1, 83),  # 91 COPYed; 8 of them later revised
        ("manual__heal", 1, 8, 83, 0, 9),  # the first slot inserted, 8 updated
    ]
    assert lin.readings["readings"] == 92
    assert lin.readings["updated_later"] == 8
    assert lin.readings["kwh"] == pytest.approx(83 * 0.5 + 9 * 0.75)
    assert lin.readings["without_pull"] == 0
    assert [(x["reason"], x["readings"], x["last_pull_id"]) for x in lin.rejected] == [
        ("negative_energy", 1, lin.pulls[0]["id"])]
    assert lin.reconciliation is None
    assert lin.heals == []


def test_cli_prints_the_lineage_and_refuses_an_unknown_meter(day_written, capsys):
    dsn, _, _ = day_written
    assert main(["lineage", "--meter", str(METER), "--day", DAY.isoformat(), "--dsn", dsn]) == 0
    out = capsys.readouterr().out
    assert "local day 2026-03-08 in America/New_York" in out
    assert "92 quarter-hours" in out
    assert "run=manual__heal" in out
    assert "updated=8" in out
    assert "1 x negative_energy" in out
    assert "reconciliation: not checked yet" in out
    assert main(["lineage", "--meter", "1", "--day", DAY.isoformat(), "--dsn", dsn]) == 1
    assert "meter 1 is not in the channels table" in capsys.readouterr().err
