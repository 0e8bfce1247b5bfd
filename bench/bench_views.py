"""Benchmark 4, views at scale: our layered views vs the seed's own definitions, same data, same run.

Data: 100 channels x 365 days of 15-minute readings (3,504,000 rows; 10 sites in New York,
Kolkata and London) generated with ``generate_series`` straight into the indexed ``readings``
table, then ``VACUUM ANALYZE``. Our views are built by ``warehouse.build_views`` in ``public``; the
seed's (include/sql/legacy/seed_views.sql) in schema ``seed_legacy`` over the same tables. Session
TimeZone UTC (the seed's day and month follow the session zone; ours follow each site's zone).

Queries, each fetched completely, ours and the seed's alternated, medians of the rounds after one
warm-up run each:

* ``latest``: ``SELECT * FROM v_latest_readings`` (ours: one index probe per meter; the seed's:
  DISTINCT ON over every clean reading). Target: ours >= 20x faster.
* ``daily_meter_month``: ``v_readings_daily`` for one meter and one month (``reading_date`` range).
* ``daily_all_day``: ``v_readings_daily`` for all meters and one day (``reading_date =``).
* ``daily_all``: all of ``v_readings_daily`` (every meter, every day).
* ``monthly_all``: all of ``v_readings_monthly``; ``monthly_meter``: one meter's months.

Since V009 ``v_readings_daily`` and ``v_readings_monthly`` read ``rollup_daily_usage``: after the
load, the rollups are caught up by ``warehouse.rollups.rebuild_rollups`` (set-based, timed and
reported as ``rollup_build_seconds``), as the first refresh after a bulk load would. Targets
(issue 15): ``daily_all`` >= 10x faster than the seed's form; ``daily_meter_month`` <= 5 ms.

A proposed definition of one of our views goes to ``bench/proposed/<view>.sql`` (built in schema
bench_proposed over public's tables) with its name in ``PROPOSED_VIEWS``: the queries on that view
then also run against it, and it must return exactly our rows (checked here). The daily view's
proposal (days first, then one index range scan per meter and day) was measured this way at
3.5 M readings (one day of all meters 3,021 ms -> 77 ms) and adopted in
``include/sql/views/080_v_readings_daily.sql``; none is pending.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from bench import common
from bench.common import Ratio, say

NAME = "views"
TITLE = "Views at scale (ms per query)"

SIZES = {
    # channels, days, rounds
    "tiny": (3, 10, 1),
    "quick": (10, 365, 3),
    "full": (100, 365, 5),
}
START = date(2025, 1, 1)


def queries(days: int, meter: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (query with a {schema} placeholder, params). Dates fall inside the generated range."""
    month = date(2025, 6, 1) if days >= 200 else START
    month_end = date(month.year, month.month + 1, 1)
    one_day = date(2025, 6, 15) if days >= 200 else date(2025, 1, 5)
    return {
        "latest": ("SELECT * FROM {schema}.v_latest_readings", {}),
        "daily_meter_month": (
            "SELECT * FROM {schema}.v_readings_daily WHERE meter_id = %(meter)s "
            "AND reading_date >= %(month)s AND reading_date < %(month_end)s ORDER BY reading_date",
            {"meter": meter, "month": month, "month_end": month_end},
        ),
        "daily_all_day": (
            "SELECT * FROM {schema}.v_readings_daily WHERE reading_date = %(day)s ORDER BY meter_id",
            {"day": one_day},
        ),
        "daily_all": ("SELECT * FROM {schema}.v_readings_daily ORDER BY meter_id, reading_date", {}),
        "monthly_all": ("SELECT * FROM {schema}.v_readings_monthly ORDER BY meter_id, reading_month", {}),
        "monthly_meter": (
            "SELECT * FROM {schema}.v_readings_monthly WHERE meter_id = %(meter)s ORDER BY reading_month",
            {"meter": meter},
        ),
    }


PROPOSED_SCHEMA = "bench_proposed"
PROPOSED_DIR = common.REPO / "bench" / "proposed"
PROPOSED_VIEWS: tuple[str, ...] = ()  # e.g. ("v_readings_monthly",) with bench/proposed/v_readings_monthly.sql


def build_proposed(dsn: str) -> None:
    """The proposed definitions (bench/proposed/*.sql) in schema bench_proposed over public's objects."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(PROPOSED_SCHEMA)))
        for name in PROPOSED_VIEWS:
            conn.execute((PROPOSED_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def _build_rollups(dsn: str) -> Any:
    from argo_energy.warehouse.rollups import rebuild_rollups

    with psycopg.connect(dsn) as conn:
        return rebuild_rollups(conn)


def _fetch(conn: psycopg.Connection[Any], text: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(text, params)
        return cur.fetchall()


def _run_query(conn: psycopg.Connection[Any], text: str, params: dict[str, Any]) -> int:
    return len(_fetch(conn, text, params))


def _same_rows(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal rows; floats equal to 9 significant digits (sums in another order differ in the last bits)."""

    def norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row)

    return len(a) == len(b) and all(norm(x) == norm(y) for x, y in zip(a, b, strict=True))


def _explain(conn: psycopg.Connection[Any], text: str, params: dict[str, Any]) -> dict[str, Any]:
    """Execution time and the plan (text) of one EXPLAIN ANALYZE run."""
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text, params)
        row = cur.fetchone()
        doc = row[0][0] if row else {}
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + text, params)
        plan_text = "\n".join(r[0] for r in cur.fetchall())
        # The same query once without JIT: how much of the time is compiling, not running.
        cur.execute("SET jit = off")
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text, params)
        row = cur.fetchone()
        no_jit = row[0][0] if row else {}
        cur.execute("RESET jit")
    return {
        "execution_ms": doc.get("Execution Time"),
        # Compile time of PostgreSQL's JIT (on by default above jit_above_cost); part of execution_ms.
        "jit_ms": (doc.get("JIT") or {}).get("Timing", {}).get("Total"),
        "planning_ms": doc.get("Planning Time"),
        "execution_ms_jit_off": no_jit.get("Execution Time"),
        "top_node": doc.get("Plan", {}).get("Node Type"),
        "plan": plan_text,
    }


def _measure_query(
    conn: psycopg.Connection[Any], name: str, template: str, params: Any, rounds: int
) -> tuple[dict[str, list[float]], dict[str, int], dict[str, Any]]:
    """One query against ours, the seed's (and the proposed) views: per-form timings, row counts, plans."""
    schemas = [("ours", "public"), ("seed", common.SEED_SCHEMA)]
    if any(f"{v} " in template for v in PROPOSED_VIEWS):
        schemas.append(("proposed", PROPOSED_SCHEMA))
    forms = {
        form: sql.SQL(template).format(schema=sql.Identifier(schema)).as_string(conn) for form, schema in schemas
    }
    timings: dict[str, list[float]] = {form: [] for form in forms}
    counts: dict[str, int] = {}
    first_rows = {}
    for form, text in forms.items():  # warm-up: caches and plans, not measured
        first_rows[form] = _fetch(conn, text, params)
        counts[form] = len(first_rows[form])
    if "proposed" in forms and not _same_rows(first_rows["ours"], first_rows["proposed"]):
        raise RuntimeError(f"{name}: the proposed view does not return the rows of ours")
    for r in range(rounds):
        order = list(forms) if r % 2 == 0 else list(forms)[::-1]
        for form in order:
            seconds, n = common.timed(lambda t=forms[form], p=params: _run_query(conn, t, p))
            if n != counts[form]:
                raise RuntimeError(f"{name} ({form}): {n} rows, first run gave {counts[form]}")
            timings[form].append(seconds)
    plans = {form: _explain(conn, text, params) for form, text in forms.items()}
    ours_ms = 1000 * common.med(timings["ours"])
    seed_ms = 1000 * common.med(timings["seed"])
    proposed = (
        f"   proposed {1000 * common.med(timings['proposed']):9.1f} ms (same rows)" if "proposed" in forms else ""
    )
    say(
        f"  {name:18s} ours {ours_ms:10.1f} ms ({counts['ours']} rows)   "
        f"seed {seed_ms:10.1f} ms ({counts['seed']} rows)   speed-up x{seed_ms / ours_ms:.1f}"
        + proposed
    )
    return timings, counts, plans


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    channels, days, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    expected = channels * days * 96
    say(f"[{NAME}] {channels} channels x {days} days = {expected:,} readings, {rounds} round(s), mode {mode}")

    with common.fresh_database("views") as dsn:
        ids = common.insert_metadata(dsn, channels)
        load_s, rows = common.timed(
            lambda: common.generate_readings(dsn, ids, common.day_start(START), days, block=10)
        )
        if rows != expected:
            raise RuntimeError(f"generated {rows} readings, expected {expected}")
        say(f"  generated {rows:,} readings in {load_s:.1f} s (with the table's indexes, then VACUUM ANALYZE)")
        build_ours_s, _ = common.timed(lambda: common.build_our_views(dsn))
        rollups_s, _ = common.timed(lambda: _build_rollups(dsn))
        say(f"  rollups caught up (set-based rebuild) in {rollups_s:.1f} s")
        build_seed_s, _ = common.timed(lambda: common.build_seed_views(dsn))
        build_proposed(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('readings'))").fetchone()
        say(f"  views built: ours {build_ours_s:.1f} s, seed's {build_seed_s:.1f} s; readings {size[0] if size else '?'}")

        timings: dict[str, dict[str, list[float]]] = {}
        counts: dict[str, dict[str, int]] = {}
        plans: dict[str, dict[str, Any]] = {}
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            for name, (template, params) in queries(days, ids[len(ids) // 2]).items():
                timings[name], counts[name], plans[name] = _measure_query(conn, name, template, params, rounds)

    ms = {
        name: {form: 1000 * common.med(samples) for form, samples in forms.items()}
        for name, forms in timings.items()
    }
    # Paired: seed and ours (and the proposal) ran in the same round; the median of per-round ratios.
    speedup = {name: common.paired_ratio(t["seed"], t["ours"]) for name, t in timings.items()}
    for name, forms_ in plans.items():
        for form, plan in forms_.items():
            if plan.get("jit_ms"):
                say(
                    f"  JIT compile in {name} ({form}): {plan['jit_ms']:.0f} ms of {plan['execution_ms']:.0f} ms; "
                    f"with jit = off {plan['execution_ms_jit_off']:.0f} ms"
                )
    ratios = [
        Ratio("latest: seed / ours", speedup["latest"], 20.0),
        Ratio("daily_all: seed / ours", speedup["daily_all"], 10.0),
        Ratio("daily_meter_month: ours (ms)", ms["daily_meter_month"]["ours"], 5.0, "<="),
        *(Ratio(f"{name}: seed / ours", speedup[name], None) for name in ms if name not in ("latest", "daily_all")),
        *(
            Ratio(f"{name}: ours / proposed", common.paired_ratio(t["ours"], t["proposed"]), None)
            for name, t in timings.items()
            if "proposed" in t
        ),
    ]
    payload = {
        "title": TITLE,
        "params": {"channels": channels, "days": days, "readings": rows, "rounds": rounds},
        "load_seconds": load_s,
        "build_seconds": {"ours": build_ours_s, "seed": build_seed_s},
        "rollup_build_seconds": rollups_s,
        "ms": ms,
        "seconds": {n: {f: common.spread(s) for f, s in forms.items()} for n, forms in timings.items()},
        "rows": counts,
        "speedup_seed_over_ours": speedup,
        "plans": plans,
        "ratios": ratios,
        "table_figures": [f"{rows:,} readings"]
        + [
            f"{name} ours {v['ours']:,.1f} ms vs seed {v['seed']:,.1f} ms"
            + (f" (proposed {v['proposed']:,.1f} ms)" if "proposed" in v else "")
            for name, v in ms.items()
        ],
    }
    return common.finish(args, NAME, payload, None)


def main() -> int:
    return common.main_guard(run, common.arg_parser(__doc__.splitlines()[0]))


if __name__ == "__main__":
    raise SystemExit(main())
