"""Check one email in headless Chromium: with the page's defaults on the demo, pasted headers get no verdict
made up from the fictional demo data; looked up in the demo, an older email is "not in this snapshot" and the page
says why. Server and browser as in test_browser.py."""

from __future__ import annotations

import pytest
import test_browser
from conftest import TESTS

pytestmark = pytest.mark.browser
server = test_browser.server
browser = test_browser.browser
WAIT = test_browser.WAIT
click = test_browser.click
HEADERS = (TESTS / "headers" / "corpus" / "exchange-online-inbound.txt").read_text(encoding="utf-8")


def test_pasted_headers_on_the_demo_get_no_verdict_from_the_demo_data(server, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)  # then a click: opening /check-email directly shows Streamlit's "Page not found" first
    page.locator('[data-testid="stSidebarNav"] a[href$="/check-email"]').click()
    expect(page.locator("h1").first).to_have_text("Check one email", timeout=WAIT)
    expect(page.get_by_text("A real email is not in it")).to_be_visible(timeout=WAIT)
    lookup = page.locator('[data-testid="stCheckbox"]', has_text="Look the email up in the demo snapshot")
    expect(lookup.locator("input")).not_to_be_checked()

    page.get_by_role("textbox", name="Raw headers").fill(HEADERS)
    click(page.get_by_role("button", name="Check this email"))
    expect(page.get_by_text("Nothing proven by the headers alone")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Authentication and spam filtering")).to_be_visible()
    expect(page.get_by_text("without a snapshot only what the headers prove is reported")).to_be_visible()
    main = page.locator('[data-testid="stMain"]')
    for invented in ("email-not-synced", "Not converted", "isn't syncing"):
        assert main.get_by_text(invented).count() == 0, invented
    context.close()


def test_an_email_older_than_the_demo_is_not_in_this_snapshot_and_the_page_says_why(server, browser):
    from playwright.sync_api import expect

    older = (TESTS / "headers" / "corpus" / "exchange-online-before-snapshot.txt").read_text(encoding="utf-8")
    older = older.replace(" 2026", " 2019")  # years before the demo's emails
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    page.locator('[data-testid="stSidebarNav"] a[href$="/check-email"]').click()
    expect(page.locator("h1").first).to_have_text("Check one email", timeout=WAIT)
    lookup = page.locator('[data-testid="stCheckbox"]', has_text="Look the email up in the demo snapshot")
    lookup.get_by_text("Look the email up in the demo snapshot").click()
    expect(lookup.locator("input")).to_be_checked()

    page.get_by_role("textbox", name="Raw headers").fill(older)
    click(page.get_by_role("button", name="Check this email"))
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("Not in this snapshot", exact=True)).to_be_visible(timeout=WAIT)
    expect(main.get_by_text("before the oldest email in the snapshot")).to_be_visible()
    expect(main.get_by_text("widen the period")).to_be_visible()
    assert main.get_by_text("isn't syncing").count() == 0
    context.close()
