"""Benchmark 5, rollup upkeep: the refresh after a one-day sync vs the seed's REFRESH MATERIALIZED VIEW CONCURRENTLY.

One database whose history grows backwards through three levels (full: 100 channels x 104, 365
and 1,042 days = 1.0M, 3.5M and 10.0M readings, generated with ``generate_series``; the rollup
triggers of V009 fire for it as for any write). At each level, untimed for the comparison but
reported: the set-based full rebuild (``warehouse.rollups.rebuild_rollups``) that catches the
rollups up with the generated history, and a plain refresh of the seed's materialized view
(schema seed_legacy, include/sql/legacy/seed_views.sql). Then every round:

1. syncs one new day of 50 channels through ``store.write_window`` (the real write path, one
   window per channel, 96 readings each; the triggers append their markers) and times it;
2. times the post-sync upkeep, ``warehouse.rollups.refresh_rollups`` (claims the markers,
   recomputes the touched meter-hours and site-local meter-days of both rollups, one transaction),
   and the seed's ``REFRESH MATERIALIZED VIEW CONCURRENTLY mv_hourly_usage``, order alternated
   (at the last level the seed's refresh runs in the first round only: it takes minutes);
3. times the bare aggregation of the synced day's (meter, hour) buckets (a lower bound).

Targets (issue 15): upkeep <= 0.1 x the seed's concurrent refresh at 3.5M (paired per round);
upkeep at 10M <= 1.2 x upkeep at 1M (medians of the two levels, measured minutes apart).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench import common
from bench.common import Ratio, say

NAME = "refresh"
TITLE = "Rollup upkeep after a one-day sync vs the seed's matview refresh"

SIZES = {
    # channels, history levels in days, rounds per level
    "tiny": (2, (3, 10, 30), 1),
    "quick": (10, (35, 104, 365), 3),
    "full": (100, (104, 365, 1042), 3),
}
SYNCED_CHANNELS = 50  # the one-day sync
END = datetime(2026, 1, 1, tzinfo=UTC)  # history ends here; the one-day syncs write the days after it

_INCREMENTAL = """
SELECT c.channel_id, date_trunc('hour', c."timestamp", 'UTC') AS hour, avg(c.power_kw),
       sum(c.energy_kwh::double precision), count(*)
  FROM v_clean_readings c
 WHERE c."timestamp" >= %s AND c."timestamp" < %s
 GROUP BY 1, 2
"""


def _day_readings(day: datetime, channel: int) -> list[Any]:
    from argo_energy.models import Reading

    rows = []
    for slot in range(96):
        kw = (5 + channel % 17) * (1.0 + 0.5 * ((channel * 31 + slot * 17) % 13) / 13)
        rows.append(
            Reading(
                ts=day + timedelta(minutes=15 * slot),
                energy_kwh=round(kw * 0.25, 4),
                power_kw=round(kw, 3),
                voltage_v=230.0,
                current_a=round(kw * 1000 / 230 / 3, 3),
                power_factor=0.95,
            )
        )
    return rows


def one_day_sync(dsn: str, ids: list[int], day: datetime) -> int:
    """Write one day of every channel as the daily sync does (one write_window per channel)."""
    from argo_energy.warehouse import write_window

    written = 0
    with psycopg.connect(dsn) as conn:
        for cid in ids:
            rows = _day_readings(day, cid)
            done = write_window(
                conn,
                organization_id=common.site_of(cid - common.CHANNEL_BASE, 10),
                channel_id=cid,
                start=day,
                end=day + timedelta(days=1),
                readings=rows,
                rejected=[],
                fetched=len(rows),
                run_id="bench-refresh",
            )
            written += done.inserted + done.updated
    return written


def upkeep(dsn: str, expected_hours: int) -> Any:
    """The post-sync refresh of both rollups; it must have recomputed exactly the synced meter-hours."""
    from argo_energy.warehouse.rollups import refresh_rollups

    with psycopg.connect(dsn) as conn:
        done = refresh_rollups(conn)
    if done.hours != expected_hours or done.everything:
        raise RuntimeError(f"refresh recomputed {done}, expected {expected_hours} meter-hours")
    return done


def full_rebuild(dsn: str) -> Any:
    from argo_energy.warehouse.rollups import rebuild_rollups

    with psycopg.connect(dsn) as conn:
        return rebuild_rollups(conn)


def _execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def incremental_bound(dsn: str, day: datetime) -> int:
    with psycopg.connect(dsn) as conn:
        return len(conn.execute(_INCREMENTAL, (day, day + timedelta(days=1))).fetchall())


def _level(dsn: str, ids: list[int], days: int, level: int, last: bool, rounds: int,
           next_day: datetime) -> tuple[dict[str, Any], datetime]:
    """Measure one history level (the data already generated); return its figures and the next free day."""
    seed_mv = f"{common.SEED_SCHEMA}.mv_hourly_usage"
    synced = ids[:SYNCED_CHANNELS]
    rebuild_s, rebuilt = common.timed(lambda: full_rebuild(dsn))
    seed_plain_s, _ = common.timed(lambda: _execute(dsn, f"REFRESH MATERIALIZED VIEW {seed_mv}"))
    _execute(dsn, "VACUUM ANALYZE")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM mv_hourly_usage), "
                           "(SELECT count(*) FROM rollup_daily_usage)").fetchone()
    total, hour_rows, day_rows = (int(x) for x in row) if row else (0, 0, 0)
    say(f"  level {level + 1}: {total:,} readings; full rebuild {rebuild_s:.1f} s ({hour_rows:,} meter-hours, "
        f"{day_rows:,} meter-days; {rebuilt.hours_written:,} hours written), seed plain refresh {seed_plain_s:.1f} s")
    samples: dict[str, list[float]] = {k: [] for k in ("sync", "upkeep", "seed_concurrent", "incremental_bound")}
    paired: list[float] = []
    for r in range(rounds):
        day = next_day
        next_day += timedelta(days=1)
        sync_s, written = common.timed(lambda d=day: one_day_sync(dsn, synced, d))
        if written != len(synced) * 96:
            raise RuntimeError(f"one-day sync wrote {written} readings, expected {len(synced) * 96}")
        samples["sync"].append(sync_s)
        with_seed = not last or r == 0
        order = ("ours", "seed") if r % 2 == 0 else ("seed", "ours")
        round_s: dict[str, float] = {}
        for which in order:
            if which == "ours":
                round_s["ours"] = common.timed(lambda: upkeep(dsn, len(synced) * 24))[0]
                samples["upkeep"].append(round_s["ours"])
            elif with_seed:
                round_s["seed"] = common.timed(
                    lambda: _execute(dsn, f"REFRESH MATERIALIZED VIEW CONCURRENTLY {seed_mv}"))[0]
                samples["seed_concurrent"].append(round_s["seed"])
        if "seed" in round_s:
            paired.append(round_s["ours"] / round_s["seed"])
        samples["incremental_bound"].append(common.timed(lambda d=day: incremental_bound(dsn, d))[0])
        say(f"    round {r + 1}: sync {sync_s:.2f} s, upkeep {round_s['ours'] * 1000:.0f} ms, seed concurrent "
            + (f"{round_s['seed']:.2f} s" if "seed" in round_s else "-")
            + f", incremental bound {samples['incremental_bound'][-1] * 1000:.0f} ms")
    figures = {
        "readings": total, "history_days": days, "hour_rows": hour_rows, "day_rows": day_rows,
        "full_rebuild_s": rebuild_s, "seed_plain_refresh_s": seed_plain_s,
        "seconds": {k: common.spread(v) for k, v in samples.items() if v},
        "median_s": {k: common.med(v) for k, v in samples.items() if v},
        "paired_upkeep_over_seed": common.med(paired) if paired else None,
    }
    return figures, next_day


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    channels, levels, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    say(
        f"[{NAME}] {channels} channels, history of {', '.join(map(str, levels))} days "
        f"(~{', '.join(f'{channels * d * 96 / 1e6:.2f}M' for d in levels)} readings), one-day sync of "
        f"{min(SYNCED_CHANNELS, channels)} channels, {rounds} round(s) per level, mode {mode}"
    )
    per_level: list[dict[str, Any]] = []
    next_day = END
    with common.fresh_database("refresh") as dsn:
        ids = common.insert_metadata(dsn, channels)
        have_days = 0
        for level, days in enumerate(levels):
            gen_s, added = common.timed(
                lambda d=days, h=have_days: common.generate_readings(dsn, ids, END - timedelta(days=d), d - h)
            )
            have_days = days
            say(f"  generated {added:,} readings in {gen_s:.0f} s")
            if level == 0:
                common.build_our_views(dsn)
                common.build_seed_views(dsn)
            figures, next_day = _level(dsn, ids, days, level, level == len(levels) - 1, rounds, next_day)
            per_level.append(figures)

    say("")
    for lv in per_level:
        m = lv["median_s"]
        say(f"  {common.human(lv['readings']):>6s} readings: upkeep {m['upkeep'] * 1000:7.1f} ms, seed concurrent "
            f"{m.get('seed_concurrent', float('nan')):7.2f} s, full rebuild {lv['full_rebuild_s']:6.1f} s, "
            f"one-day sync {m['sync']:.2f} s")
    first, mid, last = per_level[0], per_level[1], per_level[-1]
    ratios = [
        Ratio(f"{common.human(mid['readings'])}: upkeep / seed concurrent refresh (paired)",
              mid["paired_upkeep_over_seed"], 0.1, "<="),
        Ratio(f"upkeep growth {common.human(last['readings'])} vs {common.human(first['readings'])}",
              last["median_s"]["upkeep"] / first["median_s"]["upkeep"], 1.2, "<="),
        Ratio("history growth (readings)", last["readings"] / first["readings"], None),
        *(
            Ratio(f"{common.human(lv['readings'])}: upkeep / seed concurrent refresh (paired)",
                  lv["paired_upkeep_over_seed"], None, "<=")
            for lv in (first, last)
        ),
        *(
            Ratio(f"{common.human(lv['readings'])}: upkeep / incremental bound",
                  lv["median_s"]["upkeep"] / lv["median_s"]["incremental_bound"], None)
            for lv in per_level
        ),
    ]
    payload = {
        "title": TITLE,
        "params": {"channels": channels, "synced_channels": min(SYNCED_CHANNELS, channels),
                   "history_days": list(levels), "rounds": rounds},
        "levels": per_level,
        "ratios": ratios,
        "table_figures": [
            f"{common.human(lv['readings'])}: upkeep {lv['median_s']['upkeep'] * 1000:.0f} ms "
            f"(seed concurrent {lv['median_s'].get('seed_concurrent', float('nan')):.2f} s, full rebuild "
            f"{lv['full_rebuild_s']:.1f} s, incremental bound {lv['median_s']['incremental_bound'] * 1000:.0f} ms)"
            for lv in per_level
        ],
    }
    return common.finish(args, NAME, payload, None)


def main() -> int:
    return common.main_guard(run, common.arg_parser(__doc__.splitlines()[0]))


if __name__ == "__main__":
    raise SystemExit(main())
