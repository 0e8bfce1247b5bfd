"""Benchmark 5, refresh cost: REFRESH MATERIALIZED VIEW CONCURRENTLY mv_hourly_usage after a one-day sync.

One database whose history grows backwards through three levels (full: 100 channels x 104, 365
and 1,042 days = 1.0M, 3.5M and 10.0M readings). At each level, after an untimed refresh that
catches up with the older history just generated, every round:

1. syncs one new day for every channel through ``store.write_window`` (the real write path,
   one window per channel; 96 readings each) and times it;
2. times ``views.refresh_hourly_usage`` (our ``REFRESH ... CONCURRENTLY`` of ``mv_hourly_usage``),
   the seed's ``mv_hourly_usage`` (schema seed_legacy) refreshed CONCURRENTLY as it did, and a
   plain (blocking) ``REFRESH`` of ours for contrast;
3. times the aggregation an incremental refresh would need: only the (meter, hour) buckets of the
   synced day (the lower bound of any refresh strategy).

Reported: medians per level and how they grow with history (no target: the question is the shape).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench import common
from bench.common import Ratio, say

NAME = "refresh"
TITLE = "Refresh cost of mv_hourly_usage after a one-day sync"

SIZES = {
    # channels, history levels in days, rounds per level
    "tiny": (2, (3, 10, 30), 1),
    "quick": (10, (35, 104, 365), 3),
    "full": (100, (104, 365, 1042), 3),
}
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


def refresh_ours(dsn: str) -> str:
    from argo_energy.warehouse import refresh_hourly_usage

    with psycopg.connect(dsn) as conn:
        how = refresh_hourly_usage(conn)
    if how != "concurrent":
        raise RuntimeError(f"refresh_hourly_usage did a {how!r} refresh, expected 'concurrent'")
    return how


def _execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def incremental_bound(dsn: str, day: datetime) -> int:
    with psycopg.connect(dsn) as conn:
        return len(conn.execute(_INCREMENTAL, (day, day + timedelta(days=1))).fetchall())


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    channels, levels, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    say(
        f"[{NAME}] {channels} channels, history of {', '.join(map(str, levels))} days "
        f"(~{', '.join(f'{channels * d * 96 / 1e6:.2f}M' for d in levels)} readings), "
        f"{rounds} round(s) per level, mode {mode}"
    )
    seed_mv = f"{common.SEED_SCHEMA}.mv_hourly_usage"
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
            if level == 0:
                common.build_our_views(dsn)
                common.build_seed_views(dsn)
            # Catch up with the history generated for this level (untimed), then fresh statistics.
            _execute(dsn, "REFRESH MATERIALIZED VIEW mv_hourly_usage")
            _execute(dsn, f"REFRESH MATERIALIZED VIEW {seed_mv}")
            _execute(dsn, "VACUUM ANALYZE")
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
                total = int(row[0]) if row else 0
                row = conn.execute("SELECT count(*) FROM mv_hourly_usage").fetchone()
                mv_rows = int(row[0]) if row else 0
            say(f"  level {level + 1}: {total:,} readings ({added:,} generated in {gen_s:.0f} s), mv {mv_rows:,} rows")
            samples: dict[str, list[float]] = {
                k: [] for k in ("sync", "ours_concurrent", "seed_concurrent", "ours_plain", "incremental_bound")
            }
            for r in range(rounds):
                day = next_day
                next_day += timedelta(days=1)
                sync_s, written = common.timed(lambda d=day: one_day_sync(dsn, ids, d))
                if written != channels * 96:
                    raise RuntimeError(f"one-day sync wrote {written} readings, expected {channels * 96}")
                samples["sync"].append(sync_s)
                # Alternate which concurrent refresh runs first (caches, checkpoints).
                first, second = (("ours", "seed") if r % 2 == 0 else ("seed", "ours"))
                for which in (first, second):
                    if which == "ours":
                        samples["ours_concurrent"].append(common.timed(lambda: refresh_ours(dsn))[0])
                    else:
                        samples["seed_concurrent"].append(
                            common.timed(lambda: _execute(dsn, f"REFRESH MATERIALIZED VIEW CONCURRENTLY {seed_mv}"))[0]
                        )
                samples["ours_plain"].append(
                    common.timed(lambda: _execute(dsn, "REFRESH MATERIALIZED VIEW mv_hourly_usage"))[0]
                )
                samples["incremental_bound"].append(common.timed(lambda d=day: incremental_bound(dsn, d))[0])
                say(
                    "    round {}: sync {:.2f} s, refresh concurrent ours {:.2f} s / seed {:.2f} s, "
                    "plain {:.2f} s, incremental bound {:.3f} s".format(
                        r + 1,
                        sync_s,
                        samples["ours_concurrent"][-1],
                        samples["seed_concurrent"][-1],
                        samples["ours_plain"][-1],
                        samples["incremental_bound"][-1],
                    )
                )
            per_level.append(
                {
                    "readings": total,
                    "history_days": days,
                    "mv_rows": mv_rows,
                    "seconds": {k: common.spread(v) for k, v in samples.items()},
                    "median_s": {k: common.med(v) for k, v in samples.items()},
                    "paired_seed_over_ours": common.paired_ratio(samples["seed_concurrent"], samples["ours_concurrent"]),
                }
            )

    say("")
    for lv in per_level:
        m = lv["median_s"]
        say(
            f"  {common.human(lv['readings']):>6s} readings: refresh concurrent ours {m['ours_concurrent']:7.2f} s, "
            f"seed {m['seed_concurrent']:7.2f} s, plain {m['ours_plain']:7.2f} s, "
            f"incremental bound {m['incremental_bound']:.3f} s, one-day sync {m['sync']:.2f} s"
        )
    first, last = per_level[0], per_level[-1]
    growth = last["median_s"]["ours_concurrent"] / first["median_s"]["ours_concurrent"]
    rows_growth = last["readings"] / first["readings"]
    ratios = [
        Ratio(f"refresh growth {common.human(last['readings'])} vs {common.human(first['readings'])}", growth, None),
        Ratio("history growth (readings)", rows_growth, None),
        *(
            Ratio(
                f"{common.human(lv['readings'])}: concurrent refresh / incremental bound",
                lv["median_s"]["ours_concurrent"] / lv["median_s"]["incremental_bound"],
                None,
            )
            for lv in per_level
        ),
        *(
            Ratio(
                f"{common.human(lv['readings'])}: seed concurrent / ours concurrent",
                lv["paired_seed_over_ours"],
                None,
            )
            for lv in per_level
        ),
    ]
    payload = {
        "title": TITLE,
        "params": {"channels": channels, "history_days": list(levels), "rounds": rounds},
        "levels": per_level,
        "ratios": ratios,
        "table_figures": [
            f"{common.human(lv['readings'])}: concurrent {lv['median_s']['ours_concurrent']:.2f} s "
            f"(seed {lv['median_s']['seed_concurrent']:.2f} s, plain {lv['median_s']['ours_plain']:.2f} s, "
            f"incremental bound {lv['median_s']['incremental_bound'] * 1000:.0f} ms)"
            for lv in per_level
        ],
    }
    return common.finish(args, NAME, payload, None)


def main() -> int:
    return common.main_guard(run, common.arg_parser(__doc__.splitlines()[0]))


if __name__ == "__main__":
    raise SystemExit(main())
