"""Run the benchmarks (``make bench`` = ``python -m bench.run_all``): each in its own process.

    python -m bench.run_all                    # full sizes (tens of minutes)
    python -m bench.run_all --quick            # small sizes, a few minutes
    python -m bench.run_all --only views refresh --repeat 5

A benchmark that crashes is reported and the others still run (exit status 1 at the end); a
missed target is a finding, printed and written to the results, not an error. Results:
``bench/results/<name>.json`` and ``bench/README.md`` (written by ``bench/report.py``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import airflow_env, common, report

# name -> module; api_budget and orchestration come from the same runs of bench_backfill.
BENCHMARKS: dict[str, str] = report.MODULES
NEEDS_AIRFLOW = {"api_budget", "orchestration", "memory", "request_budget"}
# Modules that may be missing from a checkout (run when present).
OPTIONAL = {"bench.bench_simulator"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes: the whole set in a few minutes")
    size.add_argument("--tiny", action="store_true", help="smallest sizes: proves the scripts run")
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    p.add_argument("--repeat", type=int, default=None, help="rounds per benchmark (default: per size)")
    p.add_argument("--results-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("-v", "--verbose", action="store_true", help="the pipeline's own INFO logs")
    return p


def commands(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(label, argv) per process to start, in the documented order; backfill once for 2 and 3."""
    selected = [
        name
        for name in BENCHMARKS
        if (not args.only or name in args.only)
        and (BENCHMARKS[name] not in OPTIONAL or (common.REPO / (BENCHMARKS[name].replace(".", "/") + ".py")).exists())
    ]
    common_flags = ["--results-dir", str(args.results_dir)]
    if args.quick:
        common_flags.append("--quick")
    if args.tiny:
        common_flags.append("--tiny")
    if args.repeat:
        common_flags += ["--repeat", str(args.repeat)]
    if args.verbose:
        common_flags.append("-v")
    out: list[tuple[str, list[str]]] = []
    backfill = [n for n in selected if BENCHMARKS[n] == "bench.bench_backfill"]
    for name in selected:
        module = BENCHMARKS[name]
        if module == "bench.bench_backfill":
            if name != backfill[0]:
                continue
            out.append(("+".join(backfill), [sys.executable, "-m", module, *common_flags, "--which", *backfill]))
        else:
            out.append((name, [sys.executable, "-m", module, *common_flags]))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    plan = commands(args)
    selected = {n for label, _ in plan for n in label.split("+")}
    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="argo-bench-"))
    failed: list[str] = []
    started_all = time.perf_counter()
    try:
        if selected & NEEDS_AIRFLOW and not env.get(airflow_env.TEMPLATE_ENV):
            common.say("[run_all] migrating one Airflow metadata DB for the Airflow benchmarks ...")
            seconds, template = common.timed(lambda: airflow_env.make_template(workdir))
            env[airflow_env.TEMPLATE_ENV] = str(template)
            common.say(f"[run_all] done in {seconds:.0f} s")
        for label, argv_ in plan:
            common.say(f"\n[run_all] {label}: {' '.join(argv_[1:])}")
            seconds, code = common.timed(lambda a=argv_: subprocess.run(a, cwd=common.REPO, env=env).returncode)
            common.say(f"[run_all] {label}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s")
            if code != 0:
                failed.append(label)
    finally:
        airflow_env.cleanup(workdir)
    readme = report.write_readme(args.results_dir)
    common.say(f"\n[run_all] {len(plan) - len(failed)}/{len(plan)} ran in {time.perf_counter() - started_all:.0f} s")
    common.say(f"[run_all] results: {readme}")
    common.say("\n".join(report.summary_table(report.load_results(args.results_dir))))
    if failed:
        common.say(f"[run_all] FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
