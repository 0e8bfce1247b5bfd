"""Benchmark 1, write path: readings/s of the project's upsert vs plain COPY vs the seed's INSERT per row.

Same generated readings, same indexed ``readings`` table (the migrated warehouse schema: unique
(channel_id, timestamp), (channel_id, timestamp DESC), (timestamp DESC), FK to channels), emptied
(TRUNCATE) before every first load, methods rotated across rounds, medians reported.

Methods, each from the same ``Reading`` objects in Python:

* ``upsert``: ``store.write_window`` per window, one transaction each: advisory lock, then for a
  window without readings a binary COPY straight into ``readings``, otherwise binary COPY into a
  temp table and ``INSERT ... ON CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM``; then the
  ``ingestion_logs`` row. Measured on the first load (the COPY path), on a rerun of identical
  values (every row conflicts, nothing is rewritten) and on a rerun of revised values (every row
  conflicts and is updated). ``staged``: the same first load forced through the temp-table upsert
  (what every window did before the COPY path), to show what the COPY path saves.
* ``copy``: plain binary ``COPY readings FROM STDIN``, one transaction per window: the physical
  reference at the pipeline's granularity (the API gives one window per request). Also
  ``copy_bulk``: all rows in one COPY and one transaction (the client's ceiling).
* ``seed``: the seed's ``INSERT ... ON CONFLICT (channel_id, timestamp) DO NOTHING`` once per row
  plus its ``ingestion_logs`` row, one transaction per window (psycopg 3, which prepares the
  repeated statement: kinder to the seed than its psycopg2). First load and rerun.

Windows are channel-days (96 readings, what the pipeline writes); the upsert and COPY are also
measured with one window per channel over the whole range (``*_long``: 96 x days readings per
window) to separate per-window from per-row cost,
and with ``synchronous_commit = off`` on the session (``*_async``), which takes the WAL flush of
every commit (``commit_floor``: one small committed transaction per window) out of the picture.
Target: upsert first load >= 0.7 x plain COPY at the same granularity.

Since V009 every change to ``readings`` leaves a rollup marker in ``rollup_queue`` (channel, first
and last UTC hour; the rollups themselves are recomputed by the refresh step, never inside the
window's transaction). Since V015 ``write_window`` appends its window's marker itself, in the
statement that writes its ``ingestion_logs`` row, and the INSERT/UPDATE triggers skip its
transaction; every other writer is marked by the triggers. ``copy_day`` fires them;
``copy_day_bare`` is the same COPY with the rollup triggers disabled (ALTER TABLE ... DISABLE
TRIGGER around the method), the plain COPY of before V009: the issue's ratio is the upsert with its
rollup upkeep over that. History: per-hour trigger markers 0.655 of bare COPY, per-statement range
markers by trigger 0.687 (2026-12-03, both under the 0.7 target), markers by the writer since V015.

The COPY path was first measured here as a proposal (``bench/proposed/write_window.py``, 0.80 of
COPY per window against 0.60 for the staged upsert, 2026-11-25) and then adopted in the store.

Ratios are paired: each round runs every method once (order rotated), the ratio of two methods is
taken within each round, and the median over rounds is reported. On a shared machine whose load
drifts, this is far steadier than a ratio of medians taken minutes apart.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from argo_energy.models import READING_FIELDS as VALUE_COLUMNS
from bench import common
from bench.common import Ratio, say

NAME = "write_path"
TITLE = "Write path (readings/s)"

SIZES = {
    # channels, days, rounds
    "tiny": (2, 2, 1),
    "quick": (20, 7, 5),
    "full": (50, 14, 5),
}
START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, no DST change in the following 60 days (UTC anyway)
ORG = "bench-site-001"
_COLUMNS = ", ".join(VALUE_COLUMNS)
COPY_READINGS = f'COPY readings (channel_id, "timestamp", {_COLUMNS}) FROM STDIN (FORMAT BINARY)'
COPY_TYPES = ["int4", "timestamptz"] + ["float4"] * len(VALUE_COLUMNS)
SEED_INSERT = (
    f'INSERT INTO readings (channel_id, "timestamp", {_COLUMNS}) '
    f"VALUES (%s, %s, {', '.join(['%s'] * len(VALUE_COLUMNS))}) "
    'ON CONFLICT (channel_id, "timestamp") DO NOTHING'
)
SEED_LOG = (
    "INSERT INTO ingestion_logs (organization_id, channel_id, start_time, end_time, readings_fetched, "
    "readings_inserted, readings_rejected, status) VALUES (%s, %s, %s, %s, %s, %s, 0, 'success')"
)


@dataclass(frozen=True)
class Win:
    """One window of one channel with its readings."""

    channel_id: int
    start: datetime
    end: datetime
    readings: list[Any]


def _power_quality(rng: random.Random, kw: float) -> dict[str, float]:
    """Every power-quality field (issue 19): the write path is measured with all 28 value columns."""
    values = {"apparent_power_kva": round(kw / 0.93, 3), "frequency_hz": round(59.95 + 0.1 * rng.random(), 3),
              "current_thd_pct": round(3 + 5 * rng.random(), 2), "neutral_current_a": round(kw * 0.3, 3),
              "cost": round(kw * 0.25 * 0.15, 4)}
    for phase in (1, 2, 3):
        share = kw * (0.3 + 0.05 * phase)
        values |= {f"energy_kwh_l{phase}": round(share * 0.25, 4), f"power_kw_l{phase}": round(share, 3),
                   f"voltage_v_l{phase}": round(228 + 4 * rng.random(), 2),
                   f"current_a_l{phase}": round(share * 1000 / 230, 3),
                   f"power_factor_l{phase}": round(0.9 + 0.09 * rng.random(), 3)}
    return values


def make_readings(ids: Sequence[int], days: int, *, revision: float = 0.0) -> dict[int, list[Any]]:
    """Per channel, ``days * 96`` readings from START; ``revision`` scales every value (late corrections)."""
    from argo_energy.models import Reading

    out: dict[int, list[Any]] = {}
    for cid in ids:
        rng = random.Random(cid)
        rows = []
        for slot in range(days * 96):
            kw = (5 + cid % 17) * (0.6 + rng.random()) * (1 + revision)
            rows.append(
                Reading(
                    ts=START + timedelta(minutes=15 * slot),
                    energy_kwh=round(kw * 0.25, 4),
                    power_kw=round(kw, 3),
                    voltage_v=round(228 + 4 * rng.random(), 2),
                    current_a=round(kw * 1000 / 230 / 3, 3),
                    power_factor=round(0.9 + 0.09 * rng.random(), 3),
                    reactive_power_kvar=round(kw * 0.3, 3),
                    **_power_quality(rng, kw),
                )
            )
        out[cid] = rows
    return out


def windows_of(data: dict[int, list[Any]], days_per_window: int) -> list[Win]:
    """Channel windows of ``days_per_window`` days, in (day, channel) order as a backfill writes them."""
    per = 96 * days_per_window
    wins = []
    total_days = len(next(iter(data.values()))) // 96
    for first_day in range(0, total_days, days_per_window):
        for cid, rows in data.items():
            part = rows[first_day * 96 : first_day * 96 + per]
            start = START + timedelta(days=first_day)
            wins.append(Win(cid, start, start + timedelta(minutes=15 * len(part)), part))
    return wins


# --------------------------------------------------------------------------------------------------
# the methods (each writes every window through one connection)


def upsert(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    from argo_energy.warehouse import write_window

    totals = {"inserted": 0, "updated": 0, "unchanged": 0}
    for w in wins:
        done = write_window(
            conn,
            organization_id=ORG,
            channel_id=w.channel_id,
            start=w.start,
            end=w.end,
            readings=w.readings,
            rejected=[],
            fetched=len(w.readings),
            run_id="bench",
        )
        totals["inserted"] += done.inserted
        totals["updated"] += done.updated
        totals["unchanged"] += done.unchanged
    return totals


def copy_per_window(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    for w in wins:
        with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_READINGS) as copy:
            copy.set_types(COPY_TYPES)
            for r in w.readings:
                copy.write_row((w.channel_id, r.ts, *r.values()))
    return {"inserted": sum(len(w.readings) for w in wins)}


def copy_bulk(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_READINGS) as copy:
        copy.set_types(COPY_TYPES)
        for w in wins:
            for r in w.readings:
                copy.write_row((w.channel_id, r.ts, *r.values()))
    return {"inserted": sum(len(w.readings) for w in wins)}


ROLLUP_TRIGGERS = ("argo_rollup_readings_insert", "argo_rollup_readings_update", "argo_rollup_readings_delete")


def copy_bare(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    """``copy_per_window`` with the rollup triggers of V009 disabled: COPY as it was before them."""
    from psycopg import sql

    def toggle(action: str) -> None:
        for name in ROLLUP_TRIGGERS:
            conn.execute(sql.SQL("ALTER TABLE readings {} TRIGGER {}").format(sql.SQL(action), sql.Identifier(name)))
        conn.commit()

    toggle("DISABLE")
    try:
        return copy_per_window(conn, wins)
    finally:
        toggle("ENABLE")


def staged(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    """``upsert`` with the empty-window probe never answering "empty": the temp-table path only."""
    from argo_energy.warehouse import store

    probe = store._LOG_NEW_WINDOW
    store._LOG_NEW_WINDOW = "SELECT %(channel_id)s::int WHERE false"  # never "empty": always staged
    try:
        return upsert(conn, wins)
    finally:
        store._LOG_NEW_WINDOW = probe


def commit_floor(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    """One committed one-row transaction per window: what durability alone costs (WAL flush)."""
    for w in wins:
        with conn.transaction():
            conn.execute(SEED_LOG, (ORG, w.channel_id, w.start, w.end, 0, 0))
    return {"inserted": 0}


def seed_per_row(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
    inserted = 0
    for w in wins:
        with conn.transaction(), conn.cursor() as cur:
            count = 0
            for r in w.readings:
                cur.execute(SEED_INSERT, (w.channel_id, r.ts, *r.values()))
                count += cur.rowcount
            cur.execute(SEED_LOG, (ORG, w.channel_id, w.start, w.end, len(w.readings), count))
        inserted += count
    return {"inserted": inserted}


# --------------------------------------------------------------------------------------------------


def asynchronous(method: Callable[[psycopg.Connection[Any], Sequence[Win]], dict[str, int]]) -> Callable[
    [psycopg.Connection[Any], Sequence[Win]], dict[str, int]
]:
    """``method`` with ``synchronous_commit = off`` for its session: commits do not wait for the WAL flush."""

    def run(conn: psycopg.Connection[Any], wins: Sequence[Win]) -> dict[str, int]:
        conn.execute("SET synchronous_commit = off")
        conn.commit()
        try:
            return method(conn, wins)
        finally:
            conn.execute("RESET synchronous_commit")
            conn.commit()

    return run


def _reset(conn: psycopg.Connection[Any]) -> None:
    conn.execute("TRUNCATE readings, ingestion_logs, readings_rejected RESTART IDENTITY")
    conn.commit()
    with psycopg.connect(conn.info.dsn, autocommit=True) as admin:
        admin.execute("CHECKPOINT")


def _count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM readings").fetchone()
    conn.commit()
    return int(row[0]) if row else 0


Plan = list[tuple[str, Callable[[psycopg.Connection[Any], Sequence[Win]], dict[str, int]], str]]


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    channels, days, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    rows = channels * days * 96
    say(f"[{NAME}] {channels} channels x {days} days = {rows:,} readings, {rounds} round(s), mode {mode}")

    ids = common.channel_ids(channels)
    data = make_readings(ids, days)
    revised = make_readings(ids, days, revision=0.01)
    day_wins = windows_of(data, 1)
    day_revised = windows_of(revised, 1)
    long = days  # one window per channel: the whole range
    long_wins = windows_of(data, long)

    # A group = a first load on an empty table, then reruns over the data it left.
    groups: list[tuple[str, Plan]] = [
        ("copy_day", [("copy_day", lambda c: copy_per_window(c, day_wins), "first")]),
        ("copy_day_bare", [("copy_day_bare", lambda c: copy_bare(c, day_wins), "first")]),
        ("copy_bulk", [("copy_bulk", lambda c: copy_bulk(c, day_wins), "first")]),
        (
            "upsert_day",
            [
                ("upsert_day", lambda c: upsert(c, day_wins), "first"),
                ("upsert_day_rerun_same", lambda c: upsert(c, day_wins), "rerun"),
                ("upsert_day_rerun_revised", lambda c: upsert(c, day_revised), "rerun"),
            ],
        ),
        (
            "seed_day",
            [
                ("seed_day", lambda c: seed_per_row(c, day_wins), "first"),
                ("seed_day_rerun", lambda c: seed_per_row(c, day_wins), "rerun"),
            ],
        ),
        ("copy_long", [("copy_long", lambda c: copy_per_window(c, long_wins), "first")]),
        ("commit_floor", [("commit_floor", lambda c: commit_floor(c, day_wins), "floor")]),
        ("copy_day_async", [("copy_day_async", lambda c: asynchronous(copy_per_window)(c, day_wins), "first")]),
        ("upsert_day_async", [("upsert_day_async", lambda c: asynchronous(upsert)(c, day_wins), "first")]),
        ("staged_day", [("staged_day", lambda c: staged(c, day_wins), "first")]),
        (
            "upsert_long",
            [
                ("upsert_long", lambda c: upsert(c, long_wins), "first"),
                ("upsert_long_rerun_same", lambda c: upsert(c, long_wins), "rerun"),
            ],
        ),
    ]
    samples: dict[str, list[float]] = {name: [] for _, plan in groups for name, _, _ in plan}
    # commit_floor writes no readings: its rate is meaningless, only its per-commit time counts.
    outcomes: dict[str, dict[str, int]] = {}

    with common.fresh_database("write") as dsn:
        common.insert_metadata(dsn, channels, channels_per_site=channels)
        with psycopg.connect(dsn) as conn:
            # Warm-up (not measured): first use of the temp table, prepared statements, caches.
            upsert(conn, day_wins[: min(4, len(day_wins))])
            for r in range(rounds):
                shift = r % len(groups)
                for _label, plan in groups[shift:] + groups[:shift]:
                    _reset(conn)
                    for name, fn, kind in plan:
                        seconds, outcome = common.timed(lambda fn=fn: fn(conn))
                        stored = _count(conn)
                        if kind != "floor" and stored != rows:
                            raise RuntimeError(f"{name}: {stored} readings stored, expected {rows}")
                        samples[name].append(seconds)
                        outcomes[name] = outcome
                        shown = (
                            f"{1000 * seconds / len(day_wins):8.2f} ms per commit"
                            if kind == "floor"
                            else f"{rows / seconds:12,.0f} readings/s"
                        )
                        say(f"  round {r + 1} {name:26s} {seconds:8.3f} s  {shown}")
        rates = {name: rows / common.med(s) for name, s in samples.items() if name != "commit_floor"}

    _check_outcomes(outcomes, rows)
    say("")
    for name, rate in rates.items():
        say(f"  {name:26s} median {rows / rate:8.3f} s  {rate:12,.0f} readings/s")
    commit_ms = 1000 * common.med(samples["commit_floor"]) / len(day_wins)
    say(f"  commit of one small transaction: {commit_ms:.2f} ms -> at most {96 / commit_ms * 1000:,.0f} "
        "readings/s for one-day windows on one connection")

    def paired(a: str, b: str) -> float:
        """Median over rounds of (rate of a / rate of b) = median of (seconds of b / seconds of a)."""
        return common.med([tb / ta for ta, tb in zip(samples[a], samples[b], strict=True)])

    ratios = [
        Ratio("upsert_day with rollup markers / copy_day_bare (first load)", paired("upsert_day", "copy_day_bare"), 0.7),
        Ratio("upsert_day / copy_day (first load, both with rollup markers)", paired("upsert_day", "copy_day"), None),
        Ratio("copy_day / copy_day_bare (what the rollup triggers cost COPY)", paired("copy_day", "copy_day_bare"), None),
        Ratio("upsert_day / copy_bulk (first load)", paired("upsert_day", "copy_bulk"), None),
        Ratio("upsert_long / copy_long (first load)", paired("upsert_long", "copy_long"), None),
        Ratio("upsert_day_async / copy_day_async (first load)", paired("upsert_day_async", "copy_day_async"), None),
        Ratio("upsert_day_async / upsert_day", paired("upsert_day_async", "upsert_day"), None),
        Ratio("staged_day / copy_day (first load, temp-table upsert only)", paired("staged_day", "copy_day"), None),
        Ratio("upsert_day / staged_day (first load: what the COPY path saves)", paired("upsert_day", "staged_day"), None),
        Ratio("upsert_day / seed_day (first load)", paired("upsert_day", "seed_day"), None),
        Ratio("upsert_day_rerun_same / seed_day_rerun", paired("upsert_day_rerun_same", "seed_day_rerun"), None),
        Ratio("upsert_day_rerun_revised / upsert_day", paired("upsert_day_rerun_revised", "upsert_day"), None),
    ]
    payload = {
        "title": TITLE,
        "params": {"channels": channels, "days": days, "readings": rows, "rounds": rounds, "long_days": long},
        "readings_per_second": rates,
        "seconds": {name: common.spread(s) for name, s in samples.items()},
        "outcomes": outcomes,
        "commit_ms": commit_ms,
        "day_window_ceiling_readings_per_second": 96 / commit_ms * 1000,
        "ratios": ratios,
        "table_figures": [
            f"{rows:,} readings; upsert {rates['upsert_day']:,.0f}/s (rerun same {rates['upsert_day_rerun_same']:,.0f}/s, "
            f"revised {rates['upsert_day_rerun_revised']:,.0f}/s)",
            f"COPY per window {rates['copy_day']:,.0f}/s (without the rollup triggers {rates['copy_day_bare']:,.0f}/s), "
            f"bulk {rates['copy_bulk']:,.0f}/s",
            f"seed per-row {rates['seed_day']:,.0f}/s (rerun {rates['seed_day_rerun']:,.0f}/s)",
            f"long windows: upsert {rates['upsert_long']:,.0f}/s vs COPY {rates['copy_long']:,.0f}/s",
            f"synchronous_commit off: upsert {rates['upsert_day_async']:,.0f}/s vs COPY {rates['copy_day_async']:,.0f}/s",
            f"first load forced through the staged upsert {rates['staged_day']:,.0f}/s",
            f"one commit {commit_ms:.1f} ms (ceiling {96 / commit_ms * 1000:,.0f}/s at 96 readings per window)",
        ],
    }
    return common.finish(args, NAME, payload, None)


def _check_outcomes(outcomes: dict[str, dict[str, int]], rows: int) -> None:
    """The upsert reported what happened: all inserted, then all unchanged, then all updated."""
    expected = {
        "upsert_day": {"inserted": rows, "updated": 0, "unchanged": 0},
        "upsert_day_rerun_same": {"inserted": 0, "updated": 0, "unchanged": rows},
        "upsert_day_rerun_revised": {"inserted": 0, "updated": rows, "unchanged": 0},
        "staged_day": {"inserted": rows, "updated": 0, "unchanged": 0},
        "seed_day": {"inserted": rows},
        "seed_day_rerun": {"inserted": 0},
    }
    for name, want in expected.items():
        if outcomes.get(name) != want:
            raise RuntimeError(f"{name}: outcome {outcomes.get(name)}, expected {want}")


def main() -> int:
    return common.main_guard(run, common.arg_parser(__doc__.splitlines()[0]))


if __name__ == "__main__":
    raise SystemExit(main())
