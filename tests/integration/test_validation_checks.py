"""Each validation check's SQL and judgement on planted data, on a real PostgreSQL warehouse.

The warehouse is built by the warehouse's own migrations and views. Expected values are computed
here independently (zoneinfo arithmetic, counting what was planted), never taken from the code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from argo_energy.validation import checks
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.operators import duplicates_check
from argo_energy.validation.store import RunInfo, ensure_schema
from argo_energy.validation.tasks import CheckFailed
from argo_energy.warehouse import apply_migrations, build_views, refresh_hourly_usage
from tests.fixtures.airflow import postgres_conn_json

pytestmark = pytest.mark.integration

SLOT = timedelta(minutes=15)
NY, KOLKATA = "America/New_York", "Asia/Kolkata"


def midnight(day: date, tz: str) -> datetime:
    """Local midnight as a UTC instant, by zoneinfo (independent of argo_energy code)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def slots(start: datetime, end: datetime) -> list[datetime]:
    out, ts = [], start
    while ts < end:
        out.append(ts)
        ts += SLOT
    return out


def power_at(ts: datetime) -> float:
    """A varying, positive load (never flat, never zero)."""
    return round(2.0 + ((int(ts.timestamp()) // 900) % 11) * 0.25, 3)


class Plant:
    """Writes test data straight into the warehouse tables (including data the pipeline refuses)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def site(self, org_id: str, tz: str | None) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO organizations (organization_id, organization_name, timezone) VALUES (%s, %s, %s)",
                (org_id, f"Site {org_id}", tz),
            )

    def channel(self, channel_id: int, org_id: str) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO channels (channel_id, channel_name, organization_id) VALUES (%s, %s, %s)",
                (channel_id, f"Channel {channel_id}", org_id),
            )

    def readings(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        *,
        skip: Iterable[datetime] = (),
        energy: Callable[[datetime], float | None] | None = None,
        voltage: float = 230.0,
        pf: float = 0.9,
        table: str = "readings",
    ) -> int:
        skipped = set(skip)
        rows = []
        for ts in slots(start, end):
            if ts in skipped:
                continue
            p = power_at(ts)
            e = energy(ts) if energy else p * 0.25
            rows.append((channel_id, ts, e, p, voltage, pf))
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                psycopg.sql.SQL(
                    "INSERT INTO {} (channel_id, \"timestamp\", energy_kwh, power_kw, voltage_v, power_factor) "
                    "VALUES (%s, %s, %s, %s, %s, %s)"
                ).format(psycopg.sql.Identifier(table)),
                rows,
            )
        return len(rows)

    def one(self, channel_id: int, ts: datetime, energy: float | None, power: float | None,
            voltage: float | None = 230.0, pf: float | None = 0.9) -> None:
        with self.conn.transaction():
            self.conn.execute(
                'INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, voltage_v, power_factor) '
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (channel_id, ts, energy, power, voltage, pf),
            )

    def log(self, channel_id: int, org_id: str, start: datetime, end: datetime, *, status: str = "success",
            created_at: datetime, error: str | None = None) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO ingestion_logs (organization_id, channel_id, start_time, end_time, status, "
                "error_message, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (org_id, channel_id, start, end, status, error, created_at),
            )

    def daily_logs(self, channel_id: int, org_id: str, tz: str, days: Iterable[date]) -> None:
        for day in days:
            end = midnight(day + timedelta(days=1), tz)
            self.log(channel_id, org_id, midnight(day, tz), end, created_at=end + timedelta(hours=3))


WAREHOUSE_TABLES = (
    "validation_heal_requests, validation_results, readings_rejected, readings, ingestion_logs, "
    "data_sync_status, channels, devices, organizations"
)


def build_warehouse(dsn: str) -> None:
    """The warehouse exactly as the pipeline builds it: migrations, views, validation tables."""
    with psycopg.connect(dsn) as conn:
        apply_migrations(conn)
        build_views(conn)
        ensure_schema(conn)


@pytest.fixture(scope="module")
def shared_dsn(make_database) -> str:
    """One warehouse for this module's tests (emptied before each): far cheaper than one per test."""
    dsn = make_database("val")
    build_warehouse(dsn)
    return dsn


@pytest.fixture
def wh(shared_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection]:
    """The shared warehouse, emptied, with connection energy_db pointing at it; autocommit off."""
    monkeypatch.setenv("AIRFLOW_CONN_ENERGY_DB", postgres_conn_json(shared_dsn))
    with psycopg.connect(shared_dsn) as conn:
        with conn.transaction():
            conn.execute(f"TRUNCATE {WAREHOUSE_TABLES} RESTART IDENTITY CASCADE")
            conn.execute("DROP TABLE IF EXISTS readings_copy")
        refresh_hourly_usage(conn)
        yield conn


@pytest.fixture
def plant(wh: psycopg.Connection) -> Plant:
    return Plant(wh)


CFG = ValidationConfig(lookback_days=7, settle_hours=24)


def test_schema_passes_on_the_warehouse_and_names_what_breaks(warehouse_dsn):
    build_warehouse(warehouse_dsn)  # its own database: this test breaks the schema
    with psycopg.connect(warehouse_dsn) as conn:
        assert checks.check_schema(conn, CFG, datetime.now(UTC)).status == "pass"
        with conn.transaction():
            conn.execute("DROP VIEW v_readings_monthly")
            conn.execute("DROP INDEX idx_readings_timestamp")
            conn.execute("ALTER TABLE data_sync_status ALTER COLUMN readings_count TYPE bigint")
        result = checks.check_schema(conn, CFG, datetime.now(UTC))
    problems = {f["object"]: f["problem"] for f in result.findings}
    assert result.status == "fail"
    assert problems == {
        "v_readings_monthly": "view is missing",
        "idx_readings_timestamp": "index is missing",
        "data_sync_status.readings_count": "type is bigint, expected integer",
    }


def test_completeness_counts_dst_days_92_and_100_in_new_york(plant, wh):
    plant.site("ny", NY)
    plant.channel(1, "ny")
    spring, fall = date(2024, 3, 10), date(2024, 11, 3)
    for first in (spring - timedelta(days=2), fall - timedelta(days=2)):
        plant.readings(1, midnight(first, NY), midnight(first + timedelta(days=5), NY))
    cfg = replace(CFG, lookback_days=3)
    for dst_day, expected in ((spring, 92), (fall, 100)):
        # Judged two days after: days dst_day-1 .. dst_day+1 are the three settled ones.
        as_of = midnight(dst_day + timedelta(days=3), NY)
        result = checks.check_completeness(wh, cfg, as_of)
        assert result.status == "pass", result.log_lines()
        assert result.checked_count == 3
        # Independent: hours of the local day x 4.
        hours = (midnight(dst_day + timedelta(days=1), NY) - midnight(dst_day, NY)) / timedelta(hours=1)
        assert hours * 4 == expected

    # Remove 2 slots of the spring day (in its 02:00-03:00 gap there are none to remove: take 05:00).
    gap = [midnight(spring, NY) + timedelta(hours=4), midnight(spring, NY) + timedelta(hours=4, minutes=15)]
    with wh.transaction():
        wh.execute('DELETE FROM readings WHERE channel_id = 1 AND "timestamp" = ANY(%s)', (gap,))
    result = checks.check_completeness(wh, cfg, midnight(spring + timedelta(days=3), NY))
    assert result.status == "fail"
    assert [(f["channel_id"], f["local_date"], f["expected"], f["received"]) for f in result.findings] == [
        (1, spring, 92, 90)
    ]
    assert result.affected_days == [spring]


def test_completeness_cuts_kolkata_days_at_local_midnight(plant, wh):
    plant.site("in", KOLKATA)
    plant.channel(2, "in")
    day = date(2024, 6, 3)
    start = midnight(day - timedelta(days=1), KOLKATA)
    assert start.time() == time(18, 30), "a +05:30 day starts at 18:30 UTC the day before"
    plant.readings(2, start, midnight(day + timedelta(days=2), KOLKATA),
                   skip=[midnight(day, KOLKATA)])  # the first slot of the local day (18:30 UTC)
    result = checks.check_completeness(wh, replace(CFG, lookback_days=3), midnight(day + timedelta(days=3), KOLKATA))
    assert [(f["local_date"], f["expected"], f["received"]) for f in result.findings] == [(day, 96, 95)], (
        "the missing 18:30 UTC slot belongs to the next Kolkata day, not to the UTC day it falls in"
    )


def test_completeness_starts_at_first_data_and_respects_settle_hours(plant, wh):
    plant.site("ny", NY)
    plant.channel(3, "ny")
    first = date(2024, 5, 6)
    plant.readings(3, midnight(first, NY) + timedelta(hours=12), midnight(first + timedelta(days=3), NY))
    as_of = midnight(first + timedelta(days=3), NY) + timedelta(hours=30)
    result = checks.check_completeness(wh, CFG, as_of)
    # Day `first` began at noon (first data): it is incomplete; nothing before it is checked.
    assert [(f["local_date"], f["received"]) for f in result.findings] == [(first, 48)]
    assert result.checked_count == 3
    # With settle_hours=48 the newest local day (first+2) has not settled yet.
    assert checks.check_completeness(wh, replace(CFG, settle_hours=48), as_of).checked_count == 2


def test_completeness_ignores_ignored_and_unsupported_channels(plant, wh):
    plant.site("ny", NY)
    for cid in (4, 5, 6):
        plant.channel(cid, "ny")
        plant.readings(cid, midnight(date(2024, 5, 6), NY), midnight(date(2024, 5, 7), NY))
    with wh.transaction():
        wh.execute(
            "INSERT INTO data_sync_status (organization_id, channel_id, last_sync_timestamp, sync_status) "
            "VALUES ('ny', 6, '2024-05-08T00:00Z', 'unsupported')"
        )
    as_of = midnight(date(2024, 5, 10), NY)
    result = checks.check_completeness(wh, replace(CFG, ignore_channel_ids=(5,)), as_of)
    assert result.affected_channels == [4]
    assert "1 ignored" in result.message
    assert "1 unsupported by the API" in result.message


def test_freshness_flags_stale_and_never_delivering_channels(plant, wh):
    as_of = datetime(2024, 5, 10, 6, tzinfo=UTC)
    plant.site("ny", NY)
    for cid in (7, 8, 9):
        plant.channel(cid, "ny")
    plant.readings(7, as_of - timedelta(hours=3), as_of)
    plant.readings(8, as_of - timedelta(hours=60), as_of - timedelta(hours=40))
    plant.log(9, "ny", as_of - timedelta(days=1), as_of, created_at=as_of)  # pulled, no data ever
    result = checks.check_freshness(wh, CFG, as_of)
    found = {f["channel_id"]: f for f in result.findings}
    assert sorted(found) == [8, 9]
    assert found[8]["age_hours"] == pytest.approx(40.25)  # newest slot starts 40 h 15 min before
    assert found[9]["newest_reading"] is None


def test_windows_never_pulled_and_failures_without_later_success(plant, wh):
    plant.site("ny", NY)
    plant.channel(10, "ny")
    days = [date(2024, 5, 6) + timedelta(days=i) for i in range(4)]
    plant.readings(10, midnight(days[0], NY), midnight(days[-1] + timedelta(days=1), NY))
    plant.daily_logs(10, "ny", NY, [days[0], days[1], days[3]])  # days[2] never asked
    as_of = midnight(days[-1] + timedelta(days=2), NY)
    never = checks.check_windows_never_pulled(wh, replace(CFG, lookback_days=4), as_of)
    assert [(f["channel_id"], f["local_date"]) for f in never.findings] == [(10, days[2])]

    w0 = (midnight(days[0], NY), midnight(days[1], NY))
    w1 = (midnight(days[1], NY), midnight(days[2], NY))
    t = as_of - timedelta(hours=20)
    # Window 0: failed twice, then a success covering it -> closed.
    plant.log(10, "ny", *w0, status="failure", created_at=t, error="HTTP 500\ntrace")
    plant.log(10, "ny", *w0, status="failure", created_at=t + timedelta(minutes=1), error="HTTP 500")
    plant.log(10, "ny", w0[0], w1[1], created_at=t + timedelta(hours=1))
    # Window 1: failed after its only success -> open.
    plant.log(10, "ny", *w1, status="failure", created_at=t + timedelta(hours=2), error="timeout\nmore")
    result = checks.check_ingestion_failures(wh, CFG, as_of)
    assert [(f["window_start"], f["attempts"], f["error"], f["local_date"]) for f in result.findings] == [
        (w1[0], 1, "timeout", days[1])
    ]
    assert result.status == "fail"
    assert result.severity == "error"


def test_energy_power_consistency(plant, wh):
    plant.site("ny", NY)
    plant.channel(11, "ny")
    good, bad = date(2024, 5, 6), date(2024, 5, 7)
    plant.readings(11, midnight(good, NY), midnight(bad, NY))
    off = {midnight(bad, NY) + SLOT * i for i in range(5)}  # 5 of 96 intervals E = 2 x P x 0.25
    plant.readings(11, midnight(bad, NY), midnight(bad + timedelta(days=1), NY),
                   energy=lambda ts: power_at(ts) * (0.5 if ts in off else 0.25))
    result = checks.check_energy_power(wh, CFG, midnight(date(2024, 5, 9), NY))
    assert [(f["local_date"], f["inconsistent"], f["intervals"]) for f in result.findings] == [(bad, 5, 96)]
    relaxed = replace(CFG, energy_power_max_share=0.06)  # 5/96 = 5.2 % is allowed now
    assert checks.check_energy_power(wh, relaxed, midnight(date(2024, 5, 9), NY)).status == "pass"


def test_flatline_finds_identical_runs_but_not_zero_runs(plant, wh):
    plant.site("ny", NY)
    plant.channel(12, "ny")
    start = midnight(date(2024, 5, 6), NY)
    stuck = set(slots(start + timedelta(hours=10), start + timedelta(hours=17)))  # 28 intervals
    zero = set(slots(start + timedelta(hours=20), start + timedelta(hours=31)))  # 44 intervals of 0
    plant.readings(12, start, start + timedelta(days=2),
                   energy=lambda ts: 1.234 if ts in stuck else 0.0 if ts in zero else power_at(ts) * 0.25)
    result = checks.check_flatline(wh, CFG, start + timedelta(days=3))
    assert [(f["run_start"], f["intervals"], f["value_kwh"]) for f in result.findings] == [
        (min(stuck), 28, pytest.approx(1.234))
    ]
    assert result.affected_days == [date(2024, 5, 6)]
    assert checks.check_flatline(wh, replace(CFG, flatline_min_intervals=29), start + timedelta(days=3)).status == "pass"


def _render_and_run(op, as_of: datetime, lookback_days: int = 7) -> None:
    """Render the templates and bind the window from the run like the recorder's execute, then run
    the operator's own check (the window is no longer a template: operators.window_clause)."""
    context = {"data_interval_end": as_of, "dag_run": None, "params": {"lookback_days": lookback_days}}
    op.render_template_fields(context)
    op.bind(RunInfo("test_validation_checks", "manual__test", as_of), replace(CFG, lookback_days=lookback_days))
    type(op).__mro__[2].execute(op, context)  # the common-sql operator's execute, not the recorder's


def test_duplicates_found_on_a_table_without_the_unique_index(plant, wh):
    """With idx_readings_unique the exact duplicate cannot exist; this copy of readings lacks it."""
    plant.site("ny", NY)
    plant.channel(13, "ny")
    with wh.transaction():
        wh.execute("CREATE TABLE readings_copy (LIKE readings INCLUDING DEFAULTS)")
    start = midnight(date(2024, 5, 6), NY)
    plant.readings(13, start, start + timedelta(hours=6), table="readings_copy")
    plant.readings(13, start + timedelta(hours=2), start + timedelta(hours=3), table="readings_copy")  # 4 twice
    as_of = start + timedelta(days=1)
    with pytest.raises(CheckFailed, match="unique_channel_timestamp"):
        _render_and_run(duplicates_check(table="readings_copy", task_id="dup"), as_of)
    details = checks.details_duplicates(wh, CFG, as_of, table="readings_copy")
    assert [(d["slot"], d["readings"]) for d in details] == [
        (start + timedelta(hours=2) + SLOT * i, 2) for i in range(4)
    ]
    assert {d["local_date"] for d in details} == {date(2024, 5, 6)}


def test_off_grid_duplicate_slips_past_the_unique_index_but_not_the_check(plant, wh):
    plant.site("ny", NY)
    plant.channel(14, "ny")
    start = midnight(date(2024, 5, 6), NY)
    plant.readings(14, start, start + timedelta(hours=2))
    _render_and_run(duplicates_check(task_id="dup"), start + timedelta(days=1))  # passes: no raise
    plant.one(14, start + timedelta(minutes=37), 0.5, 2.0)  # legacy off-grid row inside slot 00:30
    with pytest.raises(CheckFailed, match="one_reading_per_slot"):
        _render_and_run(duplicates_check(task_id="dup"), start + timedelta(days=1))
    details = checks.details_duplicates(wh, CFG, start + timedelta(days=1))
    assert [(d["slot"], d["readings"], d["distinct_timestamps"]) for d in details] == [
        (start + timedelta(minutes=30), 2, 2)
    ]


def test_value_range_details_name_channels_and_days(plant, wh):
    plant.site("ny", NY)
    plant.channel(15, "ny")
    day = date(2024, 5, 6)
    t = midnight(day, NY) + timedelta(hours=9)
    plant.one(15, t, -0.5, 2.0)  # negative energy
    plant.one(15, t + SLOT, 0.5, 2.0, pf=1.2)  # power factor out of range
    plant.one(15, t + 2 * SLOT, 0.5, 2.0, voltage=20.0)  # 20 V under load
    plant.one(15, t + 3 * SLOT, 0.0, 0.0, voltage=0.0)  # outage: 0 V at 0 kW is fine
    as_of = midnight(day + timedelta(days=1), NY)
    assert checks.details_value_ranges(wh, CFG, as_of) == [
        {"channel_id": 15, "local_date": day, "negative_energy": 1, "negative_power": 0,
         "power_factor_out_of_range": 1}
    ]
    assert checks.details_voltage_band(wh, CFG, as_of) == [
        {"channel_id": 15, "local_date": day, "voltage_out_of_band": 1, "band_v": "100-600"}
    ]


def test_mv_staleness_details_until_the_view_is_refreshed(plant, wh):
    plant.site("ny", NY)
    plant.channel(16, "ny")
    start = midnight(date(2024, 5, 6), NY)
    plant.readings(16, start, start + timedelta(hours=3))
    refresh_hourly_usage(wh)
    as_of = start + timedelta(days=1)
    assert checks.details_mv_staleness(wh, CFG, as_of) == []
    plant.readings(16, start + timedelta(hours=5), start + timedelta(hours=6))  # ingested after the refresh
    stale = checks.details_mv_staleness(wh, CFG, as_of)
    assert [(d["hour"], d["readings_now"], d["readings_in_view"]) for d in stale] == [
        (start + timedelta(hours=5), 4, None)
    ]
    refresh_hourly_usage(wh)
    assert checks.details_mv_staleness(wh, CFG, as_of) == []


def test_freshness_fails_on_a_warehouse_without_any_data(wh):
    result = checks.check_freshness(wh, CFG, datetime(2025, 1, 1, tzinfo=UTC))
    assert result.status == "fail"
    assert "has the ingestion run" in result.findings[0]["problem"]
