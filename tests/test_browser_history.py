"""The History page in headless Chromium: three kept watch runs; clicks on two points open Compare."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import streamlit_server
from test_browser import WAIT, browser  # noqa: F401 - fixture
from test_watch import three_watch_rounds

from diagnostics.demo import demo_files

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/screens"))


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "runs.sqlite"
    three_watch_rounds(demo_files(120), store)
    with streamlit_server(store, tmp_path_factory.mktemp("log") / "streamlit.log") as base:
        yield base


def _click_point(page, index: int) -> None:
    """A click on the share line's point ``index`` (the mouse, as a person: plotly's drag layer is on top)."""
    point = page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace").first.locator(".points path")
    box = point.nth(index).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_history_two_points_open_compare(watched, browser):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.goto(f"{watched}/history")
    chart = page.locator(".js-plotly-plot", has_text="Share of emails that became cases")
    expect(chart).to_be_visible(timeout=WAIT)
    points = chart.locator(".scatterlayer .trace").first.locator(".points path")
    expect(points).to_have_count(3)
    expect(page.get_by_text("got worse at 127.0.0.1")).to_be_visible()
    compare = page.get_by_role("button", name="Compare the two runs")
    expect(compare).to_be_disabled()

    _click_point(page, 0)
    expect(page.get_by_role("button", name="Open this run")).to_be_enabled(timeout=WAIT)
    page.wait_for_timeout(500)  # the rerun that took the first pick settles before the second click
    _click_point(page, 2)
    expect(compare).to_be_enabled(timeout=WAIT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "history-1400.png"), full_page=True)

    compare.click()
    expect(page.locator(".js-plotly-plot", has_text="Change per cause")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Two watch runs of 127.0.0.1")).to_be_visible()
    expect(page.get_by_text("New (")).to_be_visible()
    expect(page.get_by_text("Fixed (")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "history-compare-1400.png"), full_page=True)
    context.close()
