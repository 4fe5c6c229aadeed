"""The app's "Connect to Dataverse" in headless Chromium, against the local Dataverse stand-in.

The app runs with ``DATAVERSE_TOKEN`` set (no device code to type); the stand-in serves the demo on
127.0.0.1. The connect flow must end on the overview with the pulled report, offer the pulled zip for
download, and keep the token out of the share store and the server's log.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import streamlit_server
from dataverse_standin import StandIn
from test_browser import WAIT, _share_link, browser, click  # noqa: F401 - the browser fixture

from diagnostics.dataverse import pull_snapshot, sign_in
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token-0123456789"
EMAILS = 120


@pytest.fixture(scope="module")
def stand_in():
    with StandIn(demo_files(EMAILS), token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app with DATAVERSE_TOKEN set; yields (address, store file, log file)."""
    store = tmp_path_factory.mktemp("store") / "runs.sqlite"
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    with streamlit_server(store, log_path, DATAVERSE_TOKEN=TOKEN) as base:
        yield base, store, log_path


def _expected_incoming(stand_in: StandIn, tmp_path: Path) -> int:
    """What the app's default range (the last 30 days) pulls, diagnosed here."""
    today = date.today()
    summary = pull_snapshot(stand_in.url, tmp_path / "expected.zip", today - timedelta(days=30), today,
                            signin=sign_in(environ={"DATAVERSE_TOKEN": TOKEN}))
    return diagnose(load_snapshot(summary.path)).summary()["incoming"]


def _open_connect(page, base: str) -> None:
    page.goto(f"{base}/upload")
    click(page.get_by_text("Connect to Dataverse"))


def _pull(page, url: str) -> None:
    page.get_by_role("textbox", name="Organisation URL").fill(url)
    click(page.get_by_role("button", name="Sign in and pull"))


def test_connect_pulls_shows_the_report_and_offers_the_zip(app, browser, stand_in, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    base, store, log_path = app
    expected = _expected_incoming(stand_in, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    _open_connect(page, base)
    _pull(page, stand_in.url)
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    expect(page.get_by_text("Pulled and diagnosed 127.0.0.1")).to_be_visible(timeout=WAIT)
    metric = page.locator('[data-testid="stMetric"]', has_text="Incoming").locator('[data-testid="stMetricValue"]')
    expect(metric).to_have_text(f"{expected:,}", timeout=WAIT)
    assert any(request["table"] == "incidents" for request in stand_in.requests)
    page.screenshot(path=str(tmp_path / "overview-after-pull.png"))

    page.locator('[data-testid="stSidebarNav"] a[href$="/upload"]').click()
    button = page.get_by_role("button", name="Download the pulled snapshot")
    expect(button).to_be_visible(timeout=WAIT)
    with page.expect_download() as download:
        button.click()
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "emails.json" in archive.namelist() and "incidents.json" in archive.namelist()
    assert download.value.suggested_filename.startswith("127.0.0.1-")

    page.locator('[data-testid="stSidebarNav"] a').first.click()
    link = _share_link(page, "Share this report", "Dana", "?run=")
    assert TOKEN not in link and TOKEN not in page.url
    context.close()
    assert TOKEN.encode() not in store.read_bytes()  # the share store never holds the token
    assert TOKEN not in log_path.read_text(errors="replace")


def test_connect_refuses_a_foreign_host_with_one_line(app, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    base, _store, _log = app
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _open_connect(page, base)
    _pull(page, "https://evil.example")
    expect(page.get_by_text("should be a Dynamics 365 address")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Nothing was pulled")).to_be_visible()
    page.screenshot(path=str(tmp_path / "connect-refused.png"))
    context.close()


def test_a_new_attempt_clears_the_old_error_and_shows_each_tables_progress(app, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    base, _store, _log = app
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    _open_connect(page, base)
    expect(page.get_by_text("This server, not your browser, talks to Dataverse", exact=False)).to_be_visible()
    _pull(page, "https://evil.example")
    refusal = page.get_by_text("should be a Dynamics 365 address")
    expect(refusal).to_be_visible(timeout=WAIT)
    with StandIn(demo_files(EMAILS), token=TOKEN, latency=1.0) as slow:  # every answer takes a second
        _pull(page, slow.url)
        progress = page.get_by_text(re.compile(r"^emails: [\d,]+ rows, \d+ pages?, "), exact=False)
        expect(progress.first).to_be_visible(timeout=WAIT)
        expect(refusal).to_have_count(0)  # gone while the new pull runs, not only once it ends
        page.screenshot(path=str(tmp_path / "connect-progress.png"))
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    expect(page.get_by_text("Pulled and diagnosed 127.0.0.1")).to_be_visible(timeout=WAIT)
    context.close()
