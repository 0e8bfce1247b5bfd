"""The report's HTML in headless Chromium (Debian's /usr/bin/chromium via Playwright's Python API).

The page must load with no network request at all (self-contained), both charts must decode,
the load profile table must have 7 x 24 cells, and the headline must show the independently
computed total. A full-page screenshot is kept under $ARGO_TEST_ARTIFACTS.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from argo_energy.report import config, queries, tasks
from tests.integration.test_weekly_report_figures import MON_FRI_8_18, SPRING, plant
from tests.integration.test_weekly_report_figures import expected_for as independent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("ARGO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def report_file(warehouse_dsn: str, tmp_path: Path) -> Path:
    plant(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn, queries.read_only_snapshot(conn) as cur:
        result = tasks.compute_figures(cur, "ny-hq", SPRING.isoformat(), None, config.DEFAULT_BUSINESS_HOURS)
    written = tasks.write_report(result, f"file://{tmp_path / 'reports'}")
    return Path(written["html_url"].removeprefix("file://"))


def test_report_opens_in_headless_chromium(report_file: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (devtools/ensure_chromium.sh)")
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ["ARGO_TEST_ARTIFACTS"])
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"weekly-report_{report_file.stem}.png"
    requests: list[str] = []
    profile = tmp_path / "chromium-profile"  # a new, empty user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.goto(report_file.as_uri(), wait_until="load")
            images: list[dict[str, Any]] = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, w: e.naturalWidth, h: e.naturalHeight, c: e.complete}))"
            )
            page.click("details summary")
            cells = page.eval_on_selector_all("table.heat tbody tr", "rows => rows.map(r => r.cells.length)")
            total_card = page.inner_text(".card .v")
            title = page.title()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)

    exp = independent("ny-hq", SPRING, MON_FRI_8_18)
    assert title == "Weekly energy report: Argo HQ (ny-hq), week 2026-W10"
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == [], "self-contained: no network request"
    assert len(images) == 2, images
    assert all(i["c"] and i["w"] > 300 and i["h"] > 100 for i in images), f"both charts decode: {images}"
    assert cells == [1 + 24] * 7, "7 days x (label + 24 local hours)"
    assert total_card == f"{exp.total:,.1f} kWh"
    assert shot.stat().st_size > 20_000, "a screenshot of the rendered report is kept"
