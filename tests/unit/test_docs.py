"""Documentation and layout checks: the README is a short front door, every relative link of the
docs resolves, no dated run figures; the import-cycle checker and the Airflow environment builder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools import import_cycles
from devtools.airflow_env import airflow_env, postgres_connection, secrets_env, sqlalchemy_url

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
LINKED_DOCS = [README, *DOCS, REPO / "bench" / "README.md", REPO / "tests" / "reliability" / "README.md"]
# Figures of one particular run belong in CI's output, not in the docs: test counts, durations of
# runs, times of day of a run.
DATED_FIGURES = [
    re.compile(r"\b\d[\d,]* passed\b"),
    re.compile(r"\b\d+ min \d+ s\b"),
    # A date with a time of day ("2026-12-03 16:30 UTC"); an ISO instant with its offset is a
    # command's input in an example (--from 2025-03-01T00:00+00:00), not the time of a run.
    re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?!(?::\d{2})?(?:[+-]\d{2}:\d{2}|Z))"),
    re.compile(r"\b\d+(\.\d+)? ?s of test time\b"),
    re.compile(r"fresh-clone"),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move details to docs/"
    text = "\n".join(lines)
    for must in ("make demo", "make test", "## Connections and secrets", "## The DAGs"):
        assert must in text, must


@pytest.mark.parametrize("doc", LINKED_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # URLs, mailto:, anchors within the page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)}: links to missing files {broken}"


@pytest.mark.parametrize("doc", [README, *DOCS, REPO / "tests" / "reliability" / "README.md"], ids=lambda p: p.name)
def test_no_dated_run_figures(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    found = [m.group(0) for pattern in DATED_FIGURES for m in pattern.finditer(text)]
    assert not found, f"{doc.relative_to(REPO)}: figures of a particular run {found} (CI prints them)"


def test_dated_figure_patterns_catch_what_they_are_for() -> None:
    sample = "516 passed in 8 min 5 s (2026-11-25 16:30 UTC); 2 min 17 s of test time"
    assert all(pattern.search(sample) for pattern in DATED_FIGURES[:4])
    assert not any(p.search("Tuesdays 08:00 UTC; --from-date 2026-03-01") for p in DATED_FIGURES)


# --------------------------------------------------------------------------------------------
# devtools/import_cycles.py


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_import_cycles_finds_a_planted_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    _write(tmp_path, "bench/__init__.py", "")
    _write(tmp_path, "bench/a.py", "from bench.b import thing\n")
    _write(tmp_path, "bench/b.py", "def thing():\n    from bench import a\n    return a\n")
    _write(tmp_path, "bench/c.py", "from . import a\n")  # relative, one way: no cycle
    _write(tmp_path, "plugins/argo_energy/__init__.py", "")
    _write(
        tmp_path,
        "plugins/argo_energy/x.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from argo_energy import y\n",
    )
    _write(tmp_path, "plugins/argo_energy/y.py", "import argo_energy.x\n")
    graph = import_cycles.import_graph(tmp_path)
    assert graph["bench.c"] == {"bench.a"}
    assert graph["argo_energy.x"] == set(), "an import under TYPE_CHECKING does not count"
    found = import_cycles.cycles(graph)
    assert found == [["bench.a", "bench.b"]]
    assert import_cycles.example_path(graph, found[0]) == ["bench.a", "bench.b", "bench.a"]


def test_the_repository_has_no_import_cycle(capsys: pytest.CaptureFixture[str]) -> None:
    assert import_cycles.main([]) == 0, capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# devtools/airflow_env.py


def test_airflow_env_defaults_sqlite_home_and_repository_folders(tmp_path: Path) -> None:
    env = airflow_env(tmp_path, base={"PATH": "/bin", "PYTHONPATH": "/elsewhere", "AIRFLOW_CONN_X": "kept"})
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["PYTHONPATH"].split(":") == [str(REPO), str(REPO / "plugins"), "/elsewhere"]
    assert env["PATH"] == "/bin"
    assert env["AIRFLOW_CONN_X"] == "kept"


def test_airflow_env_overrides_secrets_and_foreign_variables(tmp_path: Path) -> None:
    dsn = "postgresql://u:pw@127.0.0.1:5433/meta"
    env = airflow_env(
        tmp_path,
        metadata_dsn=dsn,
        executor="CeleryExecutor",
        base={"AIRFLOW_CONN_ENERGY_DB": "production!", "AIRFLOW__CORE__PARALLELISM": "64", "HOME": "/root"},
        drop_foreign=True,
        connections={"energy_db": postgres_connection("postgresql://w@127.0.0.1/wh"), "raw": '{"conn_type": "http"}'},
        variables={"alert_emails": '["a@example.com"]'},
        extra={"MPLCONFIGDIR": "/tmp/mpl"},
        scheduler__use_job_schedule=False,
        core__parallelism=None,
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://u:pw@127.0.0.1:5433/meta"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert "AIRFLOW__CORE__PARALLELISM" not in env, "None removes the default, and the caller's was dropped"
    assert '"schema": "wh"' in env["AIRFLOW_CONN_ENERGY_DB"], "the caller's production connection was replaced"
    assert env["AIRFLOW_CONN_RAW"] == '{"conn_type": "http"}'
    assert env["AIRFLOW_VAR_ALERT_EMAILS"] == '["a@example.com"]'
    assert env["MPLCONFIGDIR"] == "/tmp/mpl"
    assert env["HOME"] == "/root"
    assert sqlalchemy_url(dsn, "db+postgresql+psycopg2") == "db+postgresql+psycopg2://u:pw@127.0.0.1:5433/meta"
    assert secrets_env(variables={"x": "1"}) == {"AIRFLOW_VAR_X": "1"}
    with pytest.raises(ValueError, match="section__key"):
        airflow_env(tmp_path, parallelism=4)
