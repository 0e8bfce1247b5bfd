"""Write ``bench/README.md`` from ``bench/results/*.json`` (``python -m bench.report``).

``bench.run_all`` and every benchmark call :func:`write_readme` after writing their results, so the
README always shows the committed figures; run this module alone to regenerate it without measuring.
Per benchmark: what it measures (the module's docstring), its target, the figures and every ratio
with its verdict; then the findings (targets missed, where we are slower than the seed) and the
machines. Standard library only; imports nothing else of ``bench`` (``bench.common`` imports this).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
README = "README.md"
# result name -> module; api_budget and orchestration come from the same runs of bench_backfill.
MODULES: dict[str, str] = {
    "write_path": "bench.bench_write_path",
    "api_budget": "bench.bench_backfill",
    "orchestration": "bench.bench_backfill",
    "views": "bench.bench_views",
    "refresh": "bench.bench_refresh",
    "memory": "bench.bench_memory",
    # Not one of the six: the simulator's own throughput.
    "simulator": "bench.bench_simulator",
    # Issue 16: one request budget for the account, readings tasks in separate processes.
    "request_budget": "bench.bench_budget",
}
ORDER = ("write_path", "api_budget", "orchestration", "views", "refresh", "memory")  # the 1..6

# Why the figures are what they are: design notes that hold whatever the next run measures.
NOTES: dict[str, str] = {
    "write_path": (
        "A window without readings (every window of a first backfill, every new day of the daily sync) "
        "is COPYed straight into `readings` under the channel's advisory lock; the lock and the statement "
        "that both checks the window is empty and writes its `ingestion_logs` row share one round trip. "
        "Only a window that already has rows goes through the staging table and the "
        "`ON CONFLICT … IS DISTINCT FROM` upsert (measured alone as `staged_day`). Reruns of identical "
        "values rewrite nothing."
    ),
    "api_budget": (
        "The first measurement reached 0.92 of R: the simulator shared a process (and the GIL) with the "
        "Airflow tasks, and its own 1-second budget window turned the hook's pacing into a few 429s. The "
        "simulator now runs in its own process (`bench/sim_process.py`, as in production where Eniscope "
        "is remote). The whole run (metadata, views, refresh included) uses less than the fetch phase; "
        "two readings tasks at once in separate processes each pace themselves, which is why the pool "
        "`eniscope_api` must be sized together with `requests_per_second`."
    ),
    "request_budget": (
        "Every request takes its turn from one GCRA bucket per account in the warehouse "
        "(`eniscope_budget_take`, migration V008: an UNLOGGED row, one round trip, no WAL flush) or "
        "Redis, timed by the store's clock; the turn is booked, then slept for, so a take costs one "
        "round trip however long the wait. Before it, two readings tasks at once got 592 answers of 429 "
        "of 2,092 requests (0.63 of R). 1 task alone is bound by its 4 window threads (fetch latency "
        "plus the warehouse write of each window) when the machine is busy, not by the budget."
    ),
    "views": (
        "`v_readings_daily` and `v_readings_monthly` compute each meter's site-local days or months first "
        "(two index probes per meter) and then read only the days or months a query asks for, with one "
        "index range per meter and period. This shape was first measured as a proposal beside the old "
        "definitions (which read every reading of the meters) and then adopted. The period bounds come "
        "from `argo_local_to_utc` (migration V007), exact even where a DST change repeats local midnight "
        "(America/Havana). The full scan of `v_readings_daily` returns site-local days, which the seed's "
        "does not."
    ),
    "refresh": (
        "The rollups are tables since V009: statement-level triggers append one (channel, first hour, last "
        "hour) marker per statement and channel, and the refresh recomputes only those meter-hours and "
        "site-local meter-days with one index range each (work tables analysed first, `jit = off`). Its cost "
        "follows what changed, not history: flat from 1 M to 10 M readings, while the seed's concurrent "
        "REFRESH grows with history. The full rebuild (`rebuild-rollups`) is set-based: one GROUP BY per "
        "rollup, only differences written."
    ),
}


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every readable ``<name>.json`` of ``results_dir``, in the issue's order (others after)."""
    found = []
    for path in sorted(results_dir.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(found, key=lambda r: (rank.get(r.get("name", ""), 99), r.get("name", "")))


def readme_path(results_dir: Path) -> Path:
    """``bench/README.md`` for the committed results; ``<results_dir>/README.md`` for any other."""
    return BENCH / README if results_dir.resolve() == RESULTS_DIR.resolve() else results_dir / README


def module_doc(module: str) -> str:
    """The docstring of a ``bench`` module, read from its file (nothing is imported)."""
    path = BENCH.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        return ""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def _number(result: dict[str, Any]) -> str:
    return str(ORDER.index(result["name"]) + 1) if result.get("name") in ORDER else "-"


def _ratio_cells(ratio: dict[str, Any]) -> tuple[str, str, str]:
    value, target, met = ratio.get("value"), ratio.get("target"), ratio.get("met")
    return (
        f"{value:.3g}" if value is not None else "-",
        f"{ratio.get('op', '')} {target:g}" if target is not None else "-",
        "-" if met is None else ("yes" if met else "**no**"),
    )


def summary_table(results: list[dict[str, Any]]) -> list[str]:
    """One row per benchmark: its target ratio (or first ratio), target and verdict."""
    lines = ["| # | Benchmark | Ratio | Value | Target | Met |", "|---|---|---|---|---|---|"]
    for result in results:
        ratios = result.get("ratios") or [{}]
        main = next((r for r in ratios if r.get("target") is not None), ratios[0])
        value, target, met = _ratio_cells(main)
        title = f"[{result.get('title', result.get('name'))}](#{result.get('name')})"
        lines.append(f"| {_number(result)} | {title} | {main.get('name', '-')} | {value} | {target} | {met} |")
    return lines


def section(result: dict[str, Any]) -> list[str]:
    """The README section of one result: what, target, figures, ratios, notes."""
    name = result.get("name", "")
    doc = module_doc(MODULES.get(name, ""))
    summary, _, details = doc.partition("\n")
    lines = [f'<a id="{name}"></a>', "", f"## {_number(result)}. {result.get('title', name)}", ""]
    if summary:
        lines += [f"**What it measures.** {summary.strip()}", ""]
    if details.strip():
        script = MODULES[name].replace(".", "/") + ".py"
        lines += ["<details><summary>Method (from the docstring of " f"`{script}`)</summary>", ""]
        lines += ["```text", details.strip(), "```", "", "</details>", ""]
    targets = [r for r in result.get("ratios", []) if r.get("target") is not None]
    target_text = "; ".join(f"{r['name']} {r.get('op', '')} {r['target']:g}" for r in targets)
    lines += [f"**Target.** {target_text or 'none (measured for the record)'}.", ""]
    params = ", ".join(f"{k} {v}" for k, v in (result.get("params") or {}).items())
    lines += [f"**Run.** mode `{result.get('mode', '?')}`, {(result.get('date') or '?')[:16]} UTC; {params}.", ""]
    lines += ["**Figures (medians).**", ""] + [f"- {f}" for f in result.get("table_figures", [])] + [""]
    lines += ["| Ratio | Value | Target | Met |", "|---|---|---|---|"]
    for ratio in result.get("ratios", []):
        lines.append("| {} | {} | {} | {} |".format(ratio.get("name", ""), *_ratio_cells(ratio)))
    lines.append("")
    if name in NOTES:
        lines += [f"**Notes.** {NOTES[name]}", ""]
    return lines


def findings(results: list[dict[str, Any]]) -> list[str]:
    """Targets missed, and every comparison with the seed where ours is the slower."""
    lines = []
    for result in results:
        for ratio in result.get("ratios", []):
            value, label = ratio.get("value"), ratio.get("name", "")
            if ratio.get("met") is False:
                lines.append(f"- {result.get('title')}: target missed, {label} = {value:.3g} ({ratio['op']} {ratio['target']:g})")
            elif value is not None and re.search(r"seed[^/]*/\s*ours", label) and value < 1:
                lines.append(f"- {result.get('title')}: {label} = {value:.3g}, ours is not faster than the seed's here")
    return lines or ["- none: every target met, and ours is never slower than the seed's"]


def machines(results: list[dict[str, Any]]) -> list[str]:
    """One line per distinct machine the results were measured on."""
    seen: dict[str, dict[str, Any]] = {}
    for result in results:
        machine = result.get("machine") or {}
        key = json.dumps({k: machine.get(k) for k in ("cpu_model", "cpu_count", "ram_gb", "postgresql")}, sort_keys=True)
        seen.setdefault(key, machine)
    return [
        "- {cpu} × {n} CPU, {ram} GB RAM, PostgreSQL {pg}, Python {py}, Airflow {af}, psycopg {pc}; "
        "PostgreSQL settings {st}.".format(
            cpu=m.get("cpu_model"),
            n=m.get("cpu_count"),
            ram=m.get("ram_gb"),
            pg=m.get("postgresql"),
            py=m.get("python"),
            af=m.get("airflow"),
            pc=m.get("psycopg"),
            st=", ".join(f"{k}={v}" for k, v in (m.get("postgresql_settings") or {}).items()),
        )
        for m in seen.values()
    ]


def render(results: list[dict[str, Any]]) -> str:
    """The whole README text."""
    lines = [
        "<!-- generated by bench/report.py from bench/results/*.json; do not edit by hand -->",
        "# Benchmarks",
        "",
        "`make bench` (`python -m bench.run_all`; `--quick` for a few minutes, `--only <name>`) runs each",
        "benchmark side by side with its baseline in the same run and writes `bench/results/<name>.json`",
        "and this file. `python -m bench.report` rewrites this file from the results without measuring.",
        "Figures are medians of paired rounds; tests never assert them (`tests/integration/test_bench_smoke.py`",
        "only proves the scripts run).",
        "",
        *summary_table(results),
        "",
        *(line for result in results for line in section(result)),
        "## Findings",
        "",
        *findings(results),
        "",
        "## Machines",
        "",
        *machines(results),
    ]
    return "\n".join(lines) + "\n"


def write_readme(results_dir: Path = RESULTS_DIR, out: Path | None = None) -> Path:
    """Render the results of ``results_dir`` into ``out`` (default :func:`readme_path`); return it."""
    path = out or readme_path(results_dir)
    path.write_text(render(load_results(results_dir)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=None, help="default: bench/README.md for bench/results")
    args = parser.parse_args(argv)
    if not list(args.results_dir.glob("*.json")):
        print(f"no results in {args.results_dir}", file=sys.stderr)
        return 1
    print(write_readme(args.results_dir, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
