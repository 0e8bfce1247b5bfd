"""The Airflow web UI in a real browser: Debian's Chromium, headless, driven by Playwright.

An ``airflow api-server`` serves the demo home of test_demo.py (``small_demo``: the project's DAGs
serialized by the demo's ``dag.test()`` runs, each run finished). SimpleAuthManager with a known
user: the test writes the passwords file and signs in through the login form. Expected texts come
from the DAG files and the metadata database, not from the pages. Screenshots go to
``$ARGO_TEST_ARTIFACTS/web_ui/``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools import localpg
from devtools.demo_stack import airflow_bin, airflow_env, spawn, stop_group, wait_until
from tests.integration.test_demo import DAG_IDS, SmallDemo, small_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless and --user-data-dir (launch_persistent_context) itself.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"  # a throwaway user of a throwaway server
WAIT_MS = 60_000  # every wait on the page is bounded by this (a busy 2-core machine needs it)


def artifacts() -> Path:
    path = Path(os.environ.get("ARGO_TEST_ARTIFACTS", REPO / "test-artifacts")) / "web_ui"
    path.mkdir(parents=True, exist_ok=True)
    return path


def doc_heading(dag_id: str) -> str:
    """The first Markdown heading of the DAG file's docstring (its ``doc_md``)."""
    doc = ast.get_docstring(ast.parse((REPO / "dags" / f"{dag_id}.py").read_text(encoding="utf-8"))) or ""
    match = re.search(r"^#+\s*(.+)$", doc, re.MULTILINE)
    assert match, f"{dag_id}: the DAG file's docstring has no Markdown heading"
    return match[1].strip()


def dag_params(dag_id: str) -> dict[str, dict[str, Any]]:
    """``{name: JSON schema + description + has_default}`` of the DAG's params, from its file
    (imported, no metadata DB)."""
    spec = importlib.util.spec_from_file_location(f"_ui_test_{dag_id}", REPO / "dags" / f"{dag_id}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params = module.dag.params
    out = {}
    for name in params:
        param = params.get_param(name)
        out[name] = {**param.schema, "description": param.description, "has_default": param.has_value}
    return out


@pytest.fixture(scope="module")
def demo(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> SmallDemo:
    return small_demo(make_database, tmp_path_factory)


@pytest.fixture(scope="module")
def api_server(demo: SmallDemo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``airflow api-server`` on a free port over the demo's metadata DB; yields its base URL."""
    port = localpg.free_port()
    url = f"http://127.0.0.1:{port}"
    passwords = tmp_path_factory.mktemp("ui-auth") / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}), encoding="utf-8")
    env = airflow_env(
        demo.paths,
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        },
    )
    log_path = artifacts() / "api-server.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = spawn([airflow_bin(), "api-server", "--port", str(port)], env, log)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"api-server exited with {proc.returncode}; see {log_path}")
            try:
                return requests.get(f"{url}/api/v2/monitor/health", timeout=3).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout=240, interval=1, what="the API server's health endpoint")
        yield url
    finally:
        stop_group(proc, timeout=10)


@pytest.fixture(scope="module")
def page(api_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A signed-in Chromium page (new empty profile)."""
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (devtools/ensure_chromium.sh)")
    profile = str(tmp_path_factory.mktemp("chromium-profile"))  # a new, empty profile
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)  # page assertions poll up to WAIT_MS (Playwright's default: 5 s)
        tab = context.new_page()
        tab.goto(f"{api_server}/")
        tab.get_by_label("Username").fill("admin")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(lambda u: "/auth/login" not in u)
        try:
            yield tab
        finally:
            context.close()


def _background_rgb(locator: Any) -> tuple[int, int, int]:
    """The first non-transparent background colour of the element or its ancestors."""
    css = locator.evaluate(
        """el => { for (let e = el; e; e = e.parentElement) {
               const c = getComputedStyle(e).backgroundColor;
               if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }
           return null; }"""
    )
    assert css, "no background colour found"
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return r, g, b


def test_the_three_dags_are_listed_with_their_documentation(page: Any, api_server: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{api_server}/dags")
    for dag_id in DAG_IDS:
        expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible()
    page.screenshot(path=str(artifacts() / "01-dag-list.png"), full_page=True)

    for number, dag_id in enumerate(DAG_IDS, start=2):
        page.goto(f"{api_server}/dags/{dag_id}")
        page.get_by_role("button", name="Dag Docs").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Dag Documentation")
        # The heading of doc_md, rendered as a heading (Markdown, not raw '###' text).
        expect(dialog.get_by_role("heading", name=doc_heading(dag_id))).to_be_visible()
        assert "###" not in dialog.inner_text(), "doc_md shown as raw Markdown"
        page.screenshot(path=str(artifacts() / f"{number:02d}-docs-{dag_id}.png"))
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()


def test_backfill_trigger_form_shows_its_typed_params(page: Any, api_server: str) -> None:
    from playwright.sync_api import expect

    dag_id = "eniscope_historical_backfill"
    params = dag_params(dag_id)
    assert len(params) >= 6, f"expected the backfill's params, got {sorted(params)}"

    page.goto(f"{api_server}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Run Parameters")
    checked = 0
    for name, schema in params.items():
        # The label is the title, followed by " *" when the param is required.
        label = re.compile(rf"^\s*{re.escape(schema['title'])}\s*\*?\s*$")
        expect(dialog.get_by_text(label)).to_be_visible()
        expect(dialog.get_by_text(schema["description"], exact=True)).to_be_visible()
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        field = dialog.locator(f'input[name="element_{name}"]')
        if schema.get("format") == "date":
            expect(field).to_have_attribute("type", "date")
            checked += 1
        elif kinds == ["boolean"]:
            expect(field).to_have_attribute("type", "checkbox")
            checked += 1
    assert checked >= 4, "the date and boolean params should each have a typed input"
    page.screenshot(path=str(artifacts() / "05-backfill-trigger-form.png"), full_page=True)

    # start_date is null by default (Airflow 3.3.2's dag.test() builds the failure callback's context
    # without the run's conf, so a Param without a default would break the alert of a failed run):
    # the form says it is required in its title, and validate_params fails the run without it.
    assert "null" in params["start_date"]["type"]
    expect(dialog.get_by_text("Start date (required)", exact=True)).to_be_visible()
    start = dialog.locator('input[name="element_start_date"]')
    start.fill("2026-01-05")
    expect(start).to_have_value("2026-01-05")
    page.screenshot(path=str(artifacts() / "06-backfill-trigger-form-filled.png"), full_page=True)
    page.keyboard.press("Escape")  # never triggered: the form is what is under test


def test_finished_demo_runs_show_green_tasks(page: Any, api_server: str, demo: SmallDemo) -> None:
    from playwright.sync_api import expect

    runs = {r["dag_id"]: r["run_id"] for r in demo.first.summary["runs"]}
    with sqlite3.connect(demo.paths.metadata_db) as meta:
        for number, dag_id in enumerate(DAG_IDS, start=7):
            states = dict(
                meta.execute(
                    "SELECT state, count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state",
                    (dag_id, runs[dag_id]),
                ).fetchall()
            )
            total, success = sum(states.values()), states.get("success", 0)
            assert success > 0, f"{dag_id}: the demo run has no successful task ({states})"

            page.goto(f"{api_server}/dags/{dag_id}/runs/{runs[dag_id]}")
            expect(page.get_by_role("heading", name=f"{total} Task Instances")).to_be_visible()
            rows = page.locator("table tbody tr")
            expect(rows).to_have_count(total)
            green = rows.filter(has=page.get_by_text("Success", exact=True))
            expect(green).to_have_count(success)
            expect(rows.filter(has=page.get_by_text("Failed", exact=True))).to_have_count(0)
            r, g, b = _background_rgb(green.first.get_by_text("Success", exact=True))
            assert g > max(r, b) + 40, f"{dag_id}: a success badge is rgb({r}, {g}, {b}), not green"
            page.screenshot(path=str(artifacts() / f"{number:02d}-run-{dag_id}.png"), full_page=True)
