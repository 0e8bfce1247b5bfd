"""The session's "full run with faults": two daily syncs against a simulator full of faults.

Used by test_api_faults.py, test_bad_input.py and test_secrets.py (``pytest_plugins``), so the
expensive runs happen once. What is injected, all on real HTTP responses:

* run 1 (interval ending END1, lookback 1): per-window scripts of 429s, 503s, malformed and
  truncated bodies and read timeouts; windows hit twice fail (the hook retries once, connection
  extra ``max_retries`` = 1) and are redone by Airflow's task retry; session tokens expire after
  two uses (419, re-login); the last 6 hours are not published yet (late data); planted bad
  values (every validation class) plus the simulator's own gaps, nulls and negative buckets;
* run 2 (a day later, lookback 2, same days again): the late hours are published and the last
  72 hours revised, a 429 storm long enough to need two task retries, more 503s/timeouts/bodies.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.reliability.faults import (
    ADDITIONS,
    ALTERATIONS,
    MALFORMED,
    RATE_LIMITED,
    SERVER_ERROR,
    SLOW,
    TRUNCATED,
    ScriptedSimulator,
)
from tests.reliability.helpers import (
    DAILY,
    ExecutionApi,
    TaskTry,
    daily_range,
    epoch,
    local_midnight,
    pipeline_env,
    run_dag,
    sim_config,
    small_sites,
    sql,
    task_tries,
    truth_negatives,
)

END1 = datetime(2026, 11, 10, 2, tzinfo=UTC)  # Tue; New York Mon Nov 9 21:00, Kolkata Tue 07:30
END2 = END1 + timedelta(days=1)
LOOKBACK1, LOOKBACK2 = 1, 2
LATE_HOURS = 6.0
READ_TIMEOUT, SLOW_SECONDS = 5.0, 6.0
# The hook tries each request twice (max_retries=1): two faults in a row fail the window.
CONN_EXTRA = {"max_retries": 1, "read_timeout": READ_TIMEOUT, "connect_timeout": 5}
TOKEN_MAX_USES = 2
NY, KOLKATA = "America/New_York", "Asia/Kolkata"


@dataclass
class RunInfo:
    run_id: str
    state: str
    tries: dict[str, list[TaskTry]]
    interval_end: datetime
    seconds: float


@dataclass
class FaultyRuns:
    sim: ScriptedSimulator
    dsn: str
    meters: list[int]
    zones: dict[int, str]
    runs: list[RunInfo]
    # (run index, channel, window start) -> failed tries the script must cause
    expected_failures: dict[tuple[int, int, datetime], int]
    late_range: dict[int, tuple[datetime, datetime]]  # per channel: the late hours of run 1
    late_rows_after_run1: int
    stored_before_run2: int
    served: list[dict[tuple[int, int, int], tuple[int, int]]]  # per run: window -> (records, bad)
    injected: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def final_range(self, channel_id: int) -> tuple[datetime, datetime]:
        return daily_range(END2, LOOKBACK2, self.zones[channel_id])


def removed_from_truth(runs: FaultyRuns) -> dict[int, set[datetime]]:
    """Per channel: true readings that must be rejected (altered by a plant, or negative in the data)."""
    removed: dict[int, set[datetime]] = {c: set() for c in runs.meters}
    for planted in runs.sim.planted.values():
        if not planted.added:
            removed[planted.channel_id].add(datetime.fromtimestamp(planted.ts, UTC))
    for channel in runs.meters:
        removed[channel] |= set(truth_negatives(runs.sim, channel, *runs.final_range(channel)))
    return removed


def expected_rejections(runs: FaultyRuns) -> dict[tuple[int, datetime], set[str]]:
    """``(channel, ts) -> reason codes`` of every reading that must be in readings_rejected."""
    expected: dict[tuple[int, datetime], set[str]] = {}
    for planted in runs.sim.planted.values():
        key = (planted.channel_id, datetime.fromtimestamp(planted.ts, UTC))
        expected.setdefault(key, set()).update(planted.codes)
    for channel in runs.meters:
        for ts, codes in truth_negatives(runs.sim, channel, *runs.final_range(channel)).items():
            expected.setdefault((channel, ts), set()).update(codes)
    return expected


def _day_start(day: date, zone: str) -> datetime:
    return local_midnight(day, zone)


def _clean_slots(sim: ScriptedSimulator, channel: int, start: datetime, count: int) -> list[int]:
    """``count`` epochs from ``start`` whose true record is complete, positive and in range."""
    found = []
    for record in sim.ground_truth(channel, start, start + timedelta(hours=8)):
        values = [record.get(code) for code in ("E", "P", "V", "I", "PF", "Q")]
        if all(v is not None for v in values) and record["E"] > 0 and record["P"] > 0:
            found.append(int(record["ts"]))
        if len(found) == count:
            return found
    raise AssertionError(f"channel {channel}: not {count} clean slots after {start}")


def _plant(sim: ScriptedSimulator, channel: int, zone: str, first_day: date) -> None:
    """Every alteration on the first local day (from 09:00), every addition on the second (03:00)."""
    morning = datetime.combine(first_day, clock_time(9), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    for ts, kind in zip(_clean_slots(sim, channel, morning, len(ALTERATIONS)), ALTERATIONS, strict=True):
        sim.alter(channel, ts, kind)
    night = datetime.combine(first_day + timedelta(days=1), clock_time(3), tzinfo=ZoneInfo(zone)).astimezone(
        UTC
    )
    (anchor,) = _clean_slots(sim, channel, night, 1)
    sim.add_records(channel, anchor, ADDITIONS)


def _run(api: ExecutionApi, interval_end: datetime, lookback: int) -> RunInfo:
    started = time.monotonic()
    dag_run = run_dag(DAILY, interval_end, {"lookback_days": lookback}, api=api)
    seconds = round(time.monotonic() - started, 1)
    return RunInfo(dag_run.run_id, str(dag_run.state), task_tries(dag_run), interval_end, seconds)


@pytest.fixture(scope="session")
def faulty_daily_runs(
    airflow_db: str,
    make_database: Any,
    execution_api: ExecutionApi,
) -> Any:
    dsn = make_database("relfaults")
    config = sim_config(
        END1 + timedelta(minutes=15),  # the late-data range below assumes this clock
        small_sites(ny_meters=2, kolkata_meters=1),
        token_ttl_seconds=3600.0,
    )
    faults = config.faults
    faults.scope = "readings"
    faults.retry_after = 1.0  # sent, and capped to 0 by the connection's retry_wait_max
    faults.slow_seconds = SLOW_SECONDS
    faults.token_max_uses = TOKEN_MAX_USES
    faults.gap_rate = 0.01
    faults.null_rate = 0.03
    faults.null_fields = ("V", "PF", "Q")
    faults.negative_rate = 0.01
    sim = ScriptedSimulator(config, name="faults")
    sim.start(host="127.0.0.1", port=0)
    try:
        yield _run_both(sim, dsn, execution_api)
    finally:
        sim.stop()


def _run_both(sim: ScriptedSimulator, dsn: str, api: ExecutionApi) -> FaultyRuns:
    ny_org = next(o for o in sim.site_organization_ids() if sim.world.orgs[int(o)].timezone == NY)
    kol_org = next(o for o in sim.site_organization_ids() if sim.world.orgs[int(o)].timezone == KOLKATA)
    ny_a, ny_b = sim.channel_ids("meter", ny_org)
    (kol,) = sim.channel_ids("meter", kol_org)
    meters = [ny_a, ny_b, kol]
    zones = {c: sim.timezone_of(c) for c in meters}

    def day(channel: int, offset: int) -> datetime:
        first = daily_range(END1, LOOKBACK1, zones[channel])[0].astimezone(ZoneInfo(zones[channel])).date()
        return _day_start(first + timedelta(days=offset), zones[channel])

    for channel in meters:
        _plant(sim, channel, zones[channel], day(channel, 0).astimezone(ZoneInfo(zones[channel])).date())
    sim.faults.late_hours = LATE_HOURS  # after planting: the plants are chosen on complete data

    expected: dict[tuple[int, int, datetime], int] = {}

    def script(run: int, channel: int, offset: int, faults: list[str], failed_tries: int) -> None:
        start = day(channel, offset)
        sim.add_script(channel, epoch(start), faults)
        if failed_tries:
            expected[(run, channel, start)] = failed_tries

    script(0, ny_a, 0, [RATE_LIMITED, RATE_LIMITED], 1)
    script(0, ny_a, 1, [SERVER_ERROR], 0)
    script(0, ny_b, 0, [SERVER_ERROR, SERVER_ERROR], 1)
    script(0, ny_b, 1, [MALFORMED, TRUNCATED], 1)
    script(0, kol, 0, [SLOW, SLOW], 1)
    script(0, kol, 1, [TRUNCATED], 0)

    with pipeline_env(sim, dsn, **CONN_EXTRA):
        run1 = _run(api, END1, LOOKBACK1)
    served1 = dict(sim.served)
    sim.served.clear()

    # Unpublished in run 1: buckets ending after (clock - LATE_HOURS), the clock being END1 + 15 min.
    late_from = END1 + timedelta(minutes=15) - timedelta(hours=LATE_HOURS)
    late_range = {c: (late_from, END1) for c in meters}
    late_rows = sum(
        sql(
            dsn,
            'SELECT count(*) FROM readings WHERE channel_id = %s AND "timestamp" >= %s AND "timestamp" < %s',
            (c, *late_range[c]),
        )[0][0]
        for c in meters
    )
    (stored_before,) = sql(dsn, "SELECT count(*) FROM readings")[0]

    # A day later: late hours published, recent values revised, new faults.
    sim.set_now(END2 + timedelta(minutes=15))
    sim.faults.late_hours = 0.0
    sim.faults.revision = 3
    script(1, ny_a, 2, [RATE_LIMITED] * 4, 2)
    script(1, kol, 2, [SERVER_ERROR, SERVER_ERROR], 1)
    script(1, ny_b, 0, [MALFORMED], 0)
    script(1, ny_a, 1, [SLOW], 0)
    with pipeline_env(sim, dsn, **CONN_EXTRA):
        run2 = _run(api, END2, LOOKBACK2)

    return FaultyRuns(
        sim=sim,
        dsn=dsn,
        meters=meters,
        zones=zones,
        runs=[run1, run2],
        expected_failures=expected,
        late_range=late_range,
        late_rows_after_run1=late_rows,
        stored_before_run2=stored_before,
        served=[served1, dict(sim.served)],
        injected=Counter(sim.injected),
        statuses=sim.status_counts(),
    )
