"""The benchmark scripts run: the write-path benchmark at its tiny size on a real PostgreSQL.

No timing is asserted (a benchmark is not a timed test); what is checked is that every method
wrote what it should, the figures and ratios are there, and the README of the results names them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bench import bench_write_path, common, report, run_all

pytestmark = pytest.mark.integration


def test_write_path_benchmark_runs_at_tiny_size(pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmark creates (and drops) its own database on the session's server.
    monkeypatch.setattr(common, "_server", pg_server)
    args = argparse.Namespace(quick=False, tiny=True, repeat=1, results_dir=tmp_path, verbose=False)

    bench_write_path.run(args)

    result = json.loads((tmp_path / "write_path.json").read_text(encoding="utf-8"))
    channels, days, _ = bench_write_path.SIZES["tiny"]
    rows = channels * days * 96
    assert result["mode"] == "tiny"
    assert result["params"]["readings"] == rows
    # What the upsert reported for each pass (the script raises if the table count is wrong).
    assert result["outcomes"]["upsert_day"] == {"inserted": rows, "updated": 0, "unchanged": 0}
    assert result["outcomes"]["upsert_day_rerun_same"] == {"inserted": 0, "updated": 0, "unchanged": rows}
    assert result["outcomes"]["upsert_day_rerun_revised"] == {"inserted": 0, "updated": rows, "unchanged": 0}
    assert result["outcomes"]["seed_day_rerun"] == {"inserted": 0}
    rates = result["readings_per_second"]
    for method in ("upsert_day", "copy_day", "copy_day_bare", "copy_bulk", "seed_day", "upsert_long", "copy_long",
                   "upsert_day_async", "copy_day_async"):
        assert rates[method] > 0, f"{method}: no rate in {rates}"
    target = next(r for r in result["ratios"] if r["target"] is not None)
    # The reference is plain COPY into readings without the rollup triggers (issue 15).
    assert target["name"] == "upsert_day with rollup markers / copy_day_bare (first load)"
    # One round: the paired ratio is the ratio of the two rates.
    assert target["value"] == pytest.approx(rates["upsert_day"] / rates["copy_day_bare"])
    assert target["met"] == (target["value"] >= 0.7)
    assert result["machine"]["postgresql"], "the machine facts name the PostgreSQL version"

    readme = (tmp_path / report.README).read_text(encoding="utf-8")
    assert "Write path" in readme
    assert "upsert_day with rollup markers / copy_day_bare (first load)" in readme
    assert "## Machines" in readme
    assert "**What it measures.** " + bench_write_path.__doc__.splitlines()[0] in readme


def test_run_all_starts_the_backfill_benchmark_once_for_benchmarks_2_and_3(tmp_path: Path) -> None:
    args = run_all.parser().parse_args(
        ["--quick", "--only", "orchestration", "api_budget", "views", "--results-dir", str(tmp_path)]
    )

    plan = run_all.commands(args)

    labels = [label for label, _ in plan]
    assert labels == ["api_budget+orchestration", "views"]
    backfill_argv = plan[0][1]
    assert backfill_argv[2] == "bench.bench_backfill"
    assert backfill_argv[-3:] == ["--which", "api_budget", "orchestration"]
    assert "--quick" in backfill_argv
