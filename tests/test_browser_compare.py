"""Compare in headless Chromium: keep a run, upload a second snapshot, compare, share, open in a fresh context."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import BASIC, zip_folder
from test_app_compare import sales_converted
from test_browser import WAIT, _nav, _share_link, _upload, browser, click, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/screens"))


def test_keep_compare_share_and_open_the_comparison_elsewhere(server, browser, basic_zip):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _upload(page, server, "before.zip", basic_zip)
    _nav(page, "runs")
    page.get_by_role("textbox", name="Name of the run").fill("fourth coffee before")
    click(page.get_by_role("button", name="Keep this run"))
    expect(page.locator('[data-testid="stCode"]', has_text="?run=")).to_be_visible(timeout=WAIT)

    _nav(page, "compare")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=WAIT)
    expect(page.get_by_role("button", name="Compare", exact=True)).to_be_visible(timeout=WAIT)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', files=[
        {"name": "after.zip", "mimeType": "application/zip", "buffer": zip_folder(BASIC, sales_converted)}])
    click(page.get_by_role("button", name="Compare", exact=True))
    chart = page.locator(".js-plotly-plot", has_text="Change per cause")
    expect(chart).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Fixed (1)")).to_be_visible()
    expect(page.get_by_text("New (0)")).to_be_visible()
    expect(page.get_by_text("Remaining (")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "compare-1400.png"), full_page=True)

    link = _share_link(page, "Share this comparison", "Dana", "compare?compare=")
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    viewer = fresh.new_page()
    viewer.goto(link)
    expect(viewer.locator(".js-plotly-plot", has_text="Change per cause")).to_be_visible(timeout=WAIT)
    expect(viewer.get_by_text("A shared comparison, read-only.")).to_be_visible()
    expect(viewer.get_by_text("Fixed (1)")).to_be_visible()
    expect(viewer.get_by_role("button", name="Share this comparison")).to_have_count(0)
    fresh.close()
