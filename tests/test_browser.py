"""The app in headless Chromium: upload, a chart, a share link opened elsewhere; hostile text stays plain text.

One ``streamlit run`` on a free localhost port serves the module; Debian's ``/usr/bin/chromium`` is driven
through Playwright. Streamlit renders over a websocket, so every check waits for what it expects.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import HOSTILE_QUEUE, HOSTILE_SUBJECTS, streamlit_server

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WAIT = 90_000  # ms: the first render of a page loads its widgets' code
STRANGER = "82bd9f8d-6e4f-5a24-a34f-290ae964f098"  # "Help needed (stranger)" of snapshot-basic
HOSTILE_FILE = "[file](https://evil.example/f) <img src=x onerror=window.__pwned=1>.zip"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "runs.sqlite"
    with streamlit_server(store, tmp_path_factory.mktemp("log") / "streamlit.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (make test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _upload(page, base: str, name: str, data: bytes) -> None:
    """Open /upload directly (on a fresh server this is the first request: it must still go through the
    router, whose navigation lists the ten pages by title), upload, wait for the overview's charts."""
    from playwright.sync_api import expect

    page.goto(f"{base}/upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=WAIT)
    navigation = page.locator('[data-testid="stSidebarNav"] a')
    expect(navigation).to_have_count(10, timeout=WAIT)
    expect(navigation.filter(has_text="How to export a snapshot")).to_have_count(1)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]',
                         files=[{"name": name, "mimeType": "application/zip", "buffer": data}])
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)


def wait_idle(page) -> None:
    """Wait for the script run to finish: a click on a widget the run is still drawing can be lost, as the
    element under the pointer is replaced between the press and the release."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=WAIT)


def click(locator) -> None:
    """Click an app's widget once the run drawing it has ended (``wait_idle`` says why)."""
    locator.wait_for(state="visible", timeout=WAIT)
    wait_idle(locator.page)
    locator.click()


def _metric(page, label: str):
    return page.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]')


def _share_link(page, button: str, name: str, link_part: str) -> str:
    """Open a share popover, fill in who shares, create the link and return it as shown."""
    from playwright.sync_api import expect

    click(page.get_by_role("button", name=button))
    page.get_by_role("textbox", name="Your name or team").fill(name)
    click(page.get_by_role("button", name="Create share link"))
    code = page.locator('[data-testid="stCode"]', has_text=link_part)
    expect(code).to_be_visible(timeout=WAIT)
    return code.inner_text().strip()


def _nav(page, path: str) -> None:
    """Go to another page inside the app (a click keeps the session; a new URL would start a new one)."""
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').click()


def test_upload_see_a_chart_share_and_open_the_link_in_a_fresh_context(server, browser, basic_zip):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _upload(page, server, "snapshot-basic.zip", basic_zip)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(_metric(page, "Incoming")).to_have_text("4", timeout=WAIT)
    expect(page.get_by_text("Diagnosed snapshot-basic.zip")).to_be_visible()

    link = _share_link(page, "Share this report", "Dana Whitfield", "?run=")
    assert link.startswith(server + "/?run=")
    page.keyboard.press("Escape")

    # a click on a bar opens the emails of that cause (the top bar: the reply working as designed is left out, and
    # of the two causes of one email each, the earlier in pipeline order comes first)
    bar = page.locator(".js-plotly-plot").first.locator(".point path").first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + box["height"] / 2)
    expect(page.locator("h1").first).to_have_text("Emails", timeout=WAIT)
    expect(page.locator('[data-testid="stMultiSelect"]', has_text="Cause")).to_contain_text(
        "(no-active-rule-for-queue)", timeout=WAIT)  # the sample's reply is threaded (third round, item 1)
    expect(page.get_by_text("of 2 emails")).to_contain_text("1 of 2 emails")  # of those not converted
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.goto(link)
    other.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    expect(_metric(other, "Incoming")).to_have_text("4", timeout=WAIT)
    expect(other.get_by_text("Shared by")).to_be_visible()
    expect(other.get_by_text("Dana Whitfield")).to_be_visible()
    expect(other.get_by_role("button", name="Download", exact=True)).to_be_visible()
    assert other.get_by_role("button", name="Share this report").count() == 0  # read-only: not shared again
    fresh.close()


def test_bogus_link_shows_a_message_and_no_data(server, browser):
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/?run=this-token-was-never-issued")
    expect(page.get_by_text("unknown, has expired or was revoked")).to_be_visible(timeout=WAIT)
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0
    context.close()


def test_hostile_subjects_senders_and_names_are_plain_text(server, browser, hostile_zip):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script("window.__pwned = undefined;")
    page = context.new_page()
    dialogs, console = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))

    _upload(page, server, HOSTILE_FILE, hostile_zip)
    expect(page.get_by_text("Diagnosed [file](https://evil.example/f)")).to_be_visible(timeout=WAIT)
    # the heat map names the hostile queue literally
    expect(page.locator(".js-plotly-plot text", has_text="Help<b>desk</b>").first).to_be_attached(timeout=WAIT)

    _nav(page, "emails")
    page.get_by_role("textbox", name="Open an email by its activity id").fill(STRANGER)
    page.get_by_role("textbox", name="Open an email by its activity id").press("Enter")
    subject = HOSTILE_SUBJECTS["Help needed (stranger)"]
    detail = page.locator('[data-testid="stMarkdownContainer"]', has_text="Subject:")
    expect(detail).to_have_text(f"Subject: {subject}", timeout=WAIT)
    sender = page.locator('[data-testid="stMarkdownContainer"]', has_text="Sender:")
    expect(sender).to_contain_text("[sender link](https://evil.example/s)")

    _nav(page, "check-email")
    headers = (f"From: {subject} <x@evil.example>\nTo: {HOSTILE_QUEUE} <help@fourthcoffee.com>\n"
               f"Subject: {HOSTILE_SUBJECTS['Help needed (first)']}\nMessage-ID: <hostile@evil.example>\n"
               "Date: Wed, 4 Nov 2026 10:00:00 +0000\n")
    page.get_by_role("textbox", name="Raw headers").fill(headers)
    click(page.get_by_role("button", name="Check this email"))
    expect(page.get_by_text("What the headers say")).to_be_visible(timeout=WAIT)
    time.sleep(1)

    for where in ("check-email", "queues", ""):
        if where != "check-email":
            page.locator(f'[data-testid="stSidebarNav"] a[href$="/{where}"]').first.click() if where else \
                page.locator('[data-testid="stSidebarNav"] a').first.click()
            page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=WAIT)
            time.sleep(2)
        links = page.evaluate("""() => [...document.querySelectorAll('a')].map(
            a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')
            .filter(href => /evil|javascript:/i.test(href))""")
        assert links == [], (where, links)
        assert page.locator('img[src="x"]').count() == 0, where
        assert page.evaluate("() => window.__pwned") is None, where
        assert page.locator('[data-testid="stMain"] strong', has_text="bold").count() == 0, where
    assert dialogs == []
    assert not [line for line in console if "pwned" in line]
    context.close()


def _demo_overview(browser, server, width: int, height: int = 900, **options):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.goto(server + "/")
    expect(page.get_by_text("Fix first:")).to_be_visible(timeout=WAIT)
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WAIT)
    time.sleep(1)
    return context, page


def test_first_screen_of_the_demo_shows_the_top_of_the_fix_plan(server, browser, tmp_path):
    context, page = _demo_overview(browser, server, 1400)
    entries = page.locator('[data-testid="stLayoutWrapper"]',
                           has_text=re.compile(r"^\d+\. .*(emails blocked|never reached Dataverse)"))
    assert entries.count() >= 3
    for number in range(3):
        entry = entries.nth(number)
        text = entry.inner_text()
        assert text.startswith(f"{number + 1}. ") and "'" in text.split("\n")[0]  # named: Queue 'Sales'
        assert ("emails blocked" in text or "never reached Dataverse" in text) and "Fix:" in text
        doc = entry.locator('a[href^="https://learn.microsoft.com/"]')
        assert doc.count() == 1
        box = doc.bounding_box()
        assert box and box["y"] + box["height"] <= 900, f"entry {number + 1}'s link is below the first screen"
    assert page.get_by_text("Top cause").count() == 0
    first_screen = page.locator('[data-testid="stMain"]').inner_text()
    assert "reply-to-tracked-email" not in first_screen.split("In numbers")[0]
    page.screenshot(path=str(tmp_path / "first-screen-1400.png"))
    # the charts' toolbars keep one button each: few tab stops, and all after the fix plan
    stops = page.evaluate("""() => [...document.querySelectorAll('a[href], button, input, [tabindex]')]
        .filter(e => e.tabIndex >= 0 && !e.disabled).map(e => e.getAttribute('href') || e.className.toString())""")
    first_doc = next(index for index, stop in enumerate(stops) if stop.startswith("https://learn.microsoft.com/"))
    assert first_doc < 30, stops[:first_doc]
    assert page.locator(".modebar-btn").count() <= page.locator(".js-plotly-plot").count()
    context.close()


@pytest.mark.parametrize("path", ["", "emails", "queues", "causes"])
def test_no_page_scrolls_sideways_at_800_px(server, browser, path):
    context, page = _demo_overview(browser, server, 800)
    if path:
        _nav(page, path)
        page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=WAIT)
        time.sleep(2)
    widths = page.evaluate("""() => [...document.querySelectorAll('html, body, [data-testid="stMain"], '
        + '[data-testid="stAppViewContainer"]')].map(e => [e.scrollWidth, e.clientWidth])""")
    assert all(scroll <= client + 1 for scroll, client in widths), widths
    context.close()


def test_sidebar_collapses_on_a_narrow_screen(server, browser):
    context, page = _demo_overview(browser, server, 700)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_attribute("data-collapsed") == "true"
    assert sidebar.bounding_box()["x"] + sidebar.bounding_box()["width"] <= 0  # out of the way
    context.close()


def test_upload_then_reload_keeps_the_upload(server, browser, basic_zip):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _upload(page, server, "snapshot-basic.zip", basic_zip)
    expect(_metric(page, "Incoming")).to_have_text("4", timeout=WAIT)
    page.wait_for_url("**report=*", timeout=WAIT)
    page.reload()
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    expect(_metric(page, "Incoming")).to_have_text("4", timeout=WAIT)
    assert page.get_by_text("Demo data").count() == 0
    expect(page.get_by_role("button", name="Share this report")).to_be_visible()
    context.close()


def test_dark_theme_when_the_system_asks_for_it(server, browser):
    context, page = _demo_overview(browser, server, 1400, color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
    red, green, blue = (int(part) for part in re.findall(r"\d+", background)[:3])
    assert red + green + blue < 200, background  # the dark theme of .streamlit/config.toml
    context.close()


def test_the_admin_can_switch_to_the_dark_theme_in_the_menu(server, browser):
    context, page = _demo_overview(browser, server, 1400, color_scheme="light")
    page.locator('[data-testid="stMainMenu"]').click()
    page.locator('[data-testid="stMainMenuItem-theme-Dark"]').click()
    time.sleep(1)
    background = page.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
    assert sum(int(part) for part in re.findall(r"\d+", background)[:3]) < 200, background
    context.close()
