"""Shared pieces of the benchmarks: machine facts, timing, databases, generated data, results files.

Nothing here times anything by itself; each ``bench_*`` module decides what it measures. Databases
come from ``devtools.localpg.acquire()`` (the same order as the tests) and are created and dropped
by the benchmark that uses them: nothing touches a database it did not create.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql

from bench import report

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"

log = logging.getLogger("bench")

# Site zones of the generated data: a whole-hour zone with DST, a half-hour zone, a European one.
ZONES = ("America/New_York", "Asia/Kolkata", "Europe/London")
CHANNEL_BASE = 700_000  # generated channel ids: far from the simulator's and the tests' ids


# --------------------------------------------------------------------------------------------------
# command line


def arg_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes for the whole set)")
    parser.add_argument("--tiny", action="store_true", help="smallest sizes: proves the script runs (tests)")
    parser.add_argument("--repeat", type=int, default=None, help="measured rounds (median reported)")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where <name>.json and the table go"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the pipeline's own INFO lines")
    return parser


def mode_of(args: argparse.Namespace) -> str:
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.setLevel(logging.INFO)


def say(text: str) -> None:
    """Progress line on stdout (flushed: run_all streams it)."""
    print(text, flush=True)


# --------------------------------------------------------------------------------------------------
# timing


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, wall clock."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def med(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def spread(samples: Sequence[float]) -> dict[str, float]:
    """Median, min and max of the samples (seconds or rates)."""
    return {"median": med(samples), "min": float(min(samples)), "max": float(max(samples)), "n": len(samples)}


@dataclass
class Ratio:
    """One target figure: ``value`` compared with ``target`` by ``op`` ('>=' or '<=')."""

    name: str
    value: float
    target: float | None
    op: str = ">="
    note: str = ""
    met: bool | None = field(init=False)

    def __post_init__(self) -> None:
        if self.target is None:
            self.met = None
        elif self.op == ">=":
            self.met = self.value >= self.target
        elif self.op == "<=":
            self.met = self.value <= self.target
        else:
            raise ValueError(f"op must be '>=' or '<=', got {self.op!r}")

    def shown(self) -> str:
        target = "" if self.target is None else f" (target {self.op} {self.target:g}: {'met' if self.met else 'MISSED'})"
        return f"{self.name} = {self.value:.3f}{target}"


# --------------------------------------------------------------------------------------------------
# machine


def machine_info(dsn: str | None = None) -> dict[str, Any]:
    """CPU, RAM, OS, Python/psycopg/Airflow versions, PostgreSQL version and settings, load."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "platform": platform.platform(),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import psutil

        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is in the lock
        info["ram_gb"] = None
    try:
        from importlib.metadata import version

        info["airflow"] = version("apache-airflow")
    except Exception:
        info["airflow"] = None
    info["git_commit"] = _git_commit()
    if dsn:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
            info["postgresql"] = row[0] if row else None
            settings = {}
            for name in (
                "shared_buffers",
                "work_mem",
                "maintenance_work_mem",
                "effective_cache_size",
                "fsync",
                "synchronous_commit",
                "max_parallel_workers_per_gather",
                "jit",
            ):
                value = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
                settings[name] = value[0] if value else None
            info["postgresql_settings"] = settings
    return info


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


# --------------------------------------------------------------------------------------------------
# PostgreSQL


_server: Any = None
_counter = itertools.count()


def pg_server() -> Any:
    """The process's PostgreSQL server (devtools.localpg order: TEST_DATABASE_URL, :5432, throwaway)."""
    global _server
    if _server is None:
        from devtools.localpg import acquire

        _server = acquire()
    return _server


def stop_pg_server() -> None:
    """Drop every database this process created; stop a throwaway cluster."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@contextlib.contextmanager
def fresh_database(prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A new database (migrated to the current warehouse schema by default); dropped afterwards."""
    server = pg_server()
    name = f"argo_bench_{prefix}_{os.getpid()}_{next(_counter)}"
    dsn = server.create_database(name)
    try:
        if migrate:
            from argo_energy.warehouse import apply_migrations

            with psycopg.connect(dsn) as conn:
                apply_migrations(conn)
        yield dsn
    finally:
        server.drop_database(name)


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, **kwargs)


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_setting('server_version')").fetchone()
        return str(row[0]) if row else "?"


# --------------------------------------------------------------------------------------------------
# generated data (written straight to PostgreSQL: an API is not the point of these benchmarks)


def channel_ids(count: int) -> list[int]:
    return [CHANNEL_BASE + i for i in range(count)]


def site_of(index: int, channels_per_site: int) -> str:
    return f"bench-site-{index // channels_per_site + 1:03d}"


def insert_metadata(dsn: str, count: int, channels_per_site: int = 10) -> list[int]:
    """Organisations (zones cycling through ``ZONES``), one device per site, ``count`` channels."""
    from argo_energy.models import Channel, Device, Organization
    from argo_energy.warehouse import upsert_channels, upsert_devices, upsert_organizations

    ids = channel_ids(count)
    sites = sorted({site_of(i, channels_per_site) for i in range(count)})
    orgs = [
        Organization(
            organization_id=site, organization_name=f"Bench site {n + 1}", timezone=ZONES[n % len(ZONES)]
        )
        for n, site in enumerate(sites)
    ]
    devices = [
        Device(device_id=900_000 + n, device_name=f"gateway {n + 1}", organization_id=site)
        for n, site in enumerate(sites)
    ]
    device_of = {site: 900_000 + n for n, site in enumerate(sites)}
    channels = [
        Channel(
            channel_id=cid,
            channel_name=f"meter {cid}",
            device_id=device_of[site_of(i, channels_per_site)],
            organization_id=site_of(i, channels_per_site),
            channel_type="meter",
            unit="kWh",
        )
        for i, cid in enumerate(ids)
    ]
    with psycopg.connect(dsn) as conn:
        upsert_organizations(conn, orgs)
        upsert_devices(conn, devices)
        upsert_channels(conn, channels)
    return ids


# One statement per channel block: 15-minute readings of every channel over [start, end). Values
# follow a daily load shape with deterministic integer-hash noise (cheap to compute, the same in
# every run); about 1 % of intervals have NULL power and 0.5 % zero energy, which
# v_clean_readings excludes, as real meters produce.
_GENERATE = """
INSERT INTO readings (channel_id, "timestamp", energy_kwh, power_kw, voltage_v, current_a,
                      power_factor, reactive_power_kvar)
SELECT c.channel_id, to_timestamp(s.slot * 900),
       CASE WHEN n.u < 0.005 THEN 0 ELSE (p.kw * 0.25)::real END,
       CASE WHEN n.u > 0.99 THEN NULL ELSE p.kw::real END,
       (228 + 4 * n.v)::real,
       (p.kw * 1000 / 230 / 3)::real,
       (0.9 + 0.09 * n.v)::real,
       (p.kw * 0.3)::real
  FROM unnest(%(ids)s::integer[]) AS c (channel_id)
 CROSS JOIN generate_series(%(first_slot)s::bigint, %(last_slot)s::bigint) AS s (slot)
 CROSS JOIN LATERAL (
        SELECT ((c.channel_id::bigint * 7919 + s.slot * 104729) %% 10007) / 10007.0 AS u,
               ((c.channel_id::bigint * 104723 + s.slot * 7907) %% 9973) / 9973.0 AS v
       ) n
 CROSS JOIN LATERAL (
        SELECT (5 + c.channel_id %% 17) * (1.2 + sin(s.slot * 2 * pi() / 96)) * (0.8 + 0.4 * n.v) AS kw
       ) p
"""


def generate_readings(
    dsn: str,
    ids: Sequence[int],
    start: datetime,
    days: int,
    *,
    block: int = 10,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert ``len(ids) * days * 96`` readings with ``generate_series``; return the row count.

    The three secondary indexes of ``readings`` are dropped for the load and recreated from their
    recorded definitions afterwards (the usual bulk-load practice; the queried table is the same),
    then ``VACUUM ANALYZE``. Written in blocks of ``block`` channels, one transaction each, so that
    a 10M-row load never holds one enormous transaction.
    """
    first_slot = int(start.timestamp()) // 900
    last_slot = first_slot + days * 96 - 1
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'readings' AND indexname LIKE 'idx_readings_%' ORDER BY indexname"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(name)))
        for first in range(0, len(ids), block):
            part = list(ids[first : first + block])
            cur = conn.execute(_GENERATE, {"ids": part, "first_slot": first_slot, "last_slot": last_slot})
            total += cur.rowcount
            if progress:
                progress(total)
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM (ANALYZE) readings")
    return total


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# results


def write_result(results_dir: Path, name: str, payload: dict[str, Any]) -> Path:
    """Write ``<name>.json`` (with date and machine) and regenerate the README of the results."""
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, **payload}
    payload["ratios"] = [asdict(r) if isinstance(r, Ratio) else r for r in payload.get("ratios", [])]
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    report.write_readme(results_dir)
    return path


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def finish(args: argparse.Namespace, name: str, payload: dict[str, Any], dsn: str | None) -> dict[str, Any]:
    """Add mode, date and machine; print the ratios; write the result files."""
    payload = {
        "mode": mode_of(args),
        "date": now_iso(),
        "machine": machine_info(dsn or pg_server().admin_dsn),
        **payload,
    }
    say("")
    for ratio in payload.get("ratios", []):
        say("  " + (ratio.shown() if isinstance(ratio, Ratio) else str(ratio)))
    path = write_result(args.results_dir, name, payload)
    say(f"  -> {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return payload


def main_guard(run: Callable[[argparse.Namespace], Any], parser: argparse.ArgumentParser) -> int:
    """Parse, run, always drop the databases this process created."""
    args = parser.parse_args()
    setup_logging(args.verbose)
    try:
        run(args)
    finally:
        stop_pg_server()
    return 0


def python() -> str:
    return sys.executable


# --------------------------------------------------------------------------------------------------
# views: ours (public, include/sql/views) and the seed's (reconstructed, in their own schema)

SEED_SCHEMA = "seed_legacy"
SEED_VIEWS_SQL = REPO / "include" / "sql" / "legacy" / "seed_views.sql"


def build_our_views(dsn: str) -> dict[str, str]:
    """``warehouse.build_views``: the managed views in ``public`` (mv_hourly_usage built WITH DATA)."""
    from argo_energy.warehouse import build_views

    with psycopg.connect(dsn) as conn:
        return build_views(conn)


def build_seed_views(dsn: str, schema: str = SEED_SCHEMA) -> None:
    """The seed's own definitions (include/sql/legacy/seed_views.sql) in ``schema``, over public's tables."""
    from psycopg import sql

    text = SEED_VIEWS_SQL.read_text(encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        # The file's names are unqualified: views land in the first schema of the path, while
        # `readings`, `channels`... resolve to public's tables (there are none in `schema`).
        conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(text)


def human(count: float) -> str:
    """12_345 -> '12k', 3_504_000 -> '3.5M' (labels only)."""
    if count >= 1e6:
        return f"{count / 1e6:.1f}M"
    if count >= 1e4:
        return f"{count / 1e3:.0f}k"
    return f"{count:,.0f}"


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median over rounds of numerator / denominator, each pair measured in the same round."""
    return med([a / b for a, b in zip(numerators, denominators, strict=True)])
