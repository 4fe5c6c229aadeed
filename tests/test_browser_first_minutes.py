"""The first five minutes in headless Chromium: the headline and its period (demo, upload, HTML), a partial
upload's warning, Back to the plan, a wrong file type, Compare's verdict, and the 800 px and 390 px layouts.

Screenshots go to ``$SCREENSHOTS`` (default /tmp/screens).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from conftest import BASIC, zip_folder
from test_browser import WAIT, _nav, _share_link, _upload, browser, click, server  # noqa: F401 - fixtures

from diagnostics import headline
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_uploaded

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/screens"))
HEADLINE = re.compile(r"^\d[\d,]* of [\d,]+ incoming emails \((\d+ \w{3}( \d{4})? – )?\d+ \w{3} \d{4}\) did not "
                      r"become cases;")


@pytest.fixture(scope="module")
def basic_report():
    return diagnose(load_uploaded([("basic.zip", zip_folder(BASIC))]))


def _overview(browser, server, width: int, height: int = 900, **options):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.goto(server + "/")
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WAIT)
    time.sleep(1)
    return context, page


def _headline(page) -> str:
    return page.locator('[data-testid="stMain"] h4').first.inner_text().strip()


def _numbers_fully_shown(page, width: int) -> None:
    """Every KPI's label and value are whole (not cut with an ellipsis) and inside the window."""
    cut = page.evaluate("""(width) => [...document.querySelectorAll(
            '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')]
        .map(e => [e.innerText, e.scrollWidth - e.clientWidth, e.getBoundingClientRect().right])
        .filter(([text, hidden, right]) => hidden > 1 || right > width + 1)""", width)
    assert cut == [], cut


def test_demo_overview_opens_with_the_headline_and_its_period(server, browser):  # noqa: F811
    context, page = _overview(browser, server, 1400)
    text = _headline(page)
    assert HEADLINE.match(text), text
    assert "working as designed" in text and "the first three fixes would let about" in text
    heading = page.locator('[data-testid="stMain"] h4').first.bounding_box()
    plan = page.get_by_text(re.compile(r"^Fix first: \d+ things to change")).bounding_box()
    assert heading["y"] < plan["y"]  # the sentence before the plan
    _numbers_fully_shown(page, 1400)  # "Working as designed" whole at 1400 px
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview-1400.png"))
    context.close()


def test_partial_upload_warns_at_the_top_and_names_the_unchecked_causes(server, browser, basic_report,  # noqa: F811
                                                                       tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _upload(page, server, "partial.zip", zip_folder(BASIC))
    warning = page.locator('[data-testid="stAlert"]', has_text="Partial snapshot")
    expect(warning).to_be_visible(timeout=WAIT)
    text = warning.inner_text()
    causes = headline.unchecked_causes(basic_report)
    assert causes
    for cause in causes:
        assert cause.title in text
    assert "mailboxes" in text.split("upload again:")[1]
    box = warning.bounding_box()
    assert box["y"] < page.get_by_text(re.compile(r"^Fix first")).first.bounding_box()["y"]
    assert box["y"] + box["height"] < 1000  # on the first screen
    assert _headline(page) == headline.headline(basic_report).sentence
    assert HEADLINE.match(_headline(page))
    expect(page.get_by_role("link", name="How to export the missing tables")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview-partial-1400.png"))

    # a share link opens on the same sentence and the same warning
    link = _share_link(page, "Share this report", "Dana", "?run=")
    page.keyboard.press("Escape")
    viewer = context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    viewer.goto(link)
    viewer.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WAIT)
    assert _headline(viewer) == headline.headline(basic_report).sentence
    expect(viewer.locator('[data-testid="stAlert"]', has_text="Partial snapshot")).to_be_visible()
    viewer.context.close()

    # the HTML download says the same, with the period
    click(page.get_by_role("button", name="Download", exact=True))
    with page.expect_download(timeout=WAIT) as download:
        click(page.get_by_role("button", name=re.compile("Report as HTML")))
    path = tmp_path / "report.html"
    download.value.save_as(path)
    report = context.new_page()
    report.goto(path.as_uri())
    expect(report.locator("#headline")).to_have_text(headline.headline(basic_report).sentence)
    assert HEADLINE.match(report.locator("#headline").inner_text())
    expect(report.locator(".partial")).to_contain_text(causes[0].title)
    assert report.locator("script").count() == 0
    context.close()


def test_back_after_listing_a_plan_entry_returns_to_the_plan(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    context, page = _overview(browser, server, 1400)
    link = page.get_by_role("link", name=re.compile(r"^List the \d+ emails?$")).first
    link.click()
    expect(page.locator("h1").first).to_have_text("Emails", timeout=WAIT)
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ (incoming )?emails$"))).to_be_visible(timeout=WAIT)
    back = page.get_by_role("link", name="Back to the fix plan")
    expect(back).to_be_visible()
    page.go_back()
    expect(page.locator("h1").first).to_have_text("Overview", timeout=WAIT)
    expect(page.get_by_text(re.compile(r"^Fix first: \d+ things to change"))).to_be_visible(timeout=WAIT)
    assert page.url.rstrip("/") == server  # the Overview itself, not an Emails page without its filter

    page.get_by_role("link", name=re.compile(r"^List the \d+ emails?$")).first.click()
    expect(page.get_by_role("link", name="Back to the fix plan")).to_be_visible(timeout=WAIT)
    page.get_by_role("link", name="Back to the fix plan").click()
    expect(page.get_by_text(re.compile(r"^Fix first: \d+ things to change"))).to_be_visible(timeout=WAIT)
    context.close()


def test_a_text_file_gets_a_one_line_message(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=WAIT)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]',
                         files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a snapshot"}])
    error = page.locator('[data-testid="stAlert"]', has_text="notes.txt")
    expect(error).to_be_visible(timeout=WAIT)
    line = error.locator('[data-testid="stMarkdownContainer"]').inner_text().strip()
    assert line == ("notes.txt: not a snapshot file. Upload a .zip of the exported tables, the .json files "
                    "themselves, or a Configuration Migration data.zip or data.xml.")
    assert page.locator('[data-testid="stFileUploaderFile"]').count() == 0  # the uploader is empty again
    context.close()


def test_no_check_mark_while_the_causes_are_still_evaluated(server, browser):  # noqa: F811
    import io
    import zipfile

    from diagnostics.demo import demo_files

    # Big enough that the evaluation lasts about half a second: at 5,000 emails it now ends in under 0.1 s and the
    # "evaluating…" status could come and go between two of the browser's looks.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in demo_files(30000).items():
            archive.writestr(name, data)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=WAIT)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]',
                         files=[{"name": "big.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}])
    status = page.locator('[data-testid="stExpander"]', has_text="evaluating…")
    status.wait_for(state="visible", timeout=WAIT)
    icons = status.locator("summary [data-testid^=stExpanderIcon]").evaluate_all(
        "icons => icons.map(icon => icon.getAttribute('data-testid') + ':' + icon.textContent)")
    assert icons and all("check" not in icon for icon in icons), icons
    assert any(icon.startswith("stExpanderIconSpinner") for icon in icons), icons
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WAIT)  # then the overview
    context.close()


def test_compare_opens_with_a_verdict_and_warns_of_the_same_period(server, browser, basic_zip):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 2600})  # tall: the screenshot shows it all
    page = context.new_page()
    _upload(page, server, "before.zip", basic_zip)
    _nav(page, "runs")
    page.get_by_role("textbox", name="Name of the run").fill("before")
    click(page.get_by_role("button", name="Keep this run"))
    expect(page.locator('[data-testid="stCode"]', has_text="?run=")).to_be_visible(timeout=WAIT)
    _nav(page, "compare")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=WAIT)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', files=[
        {"name": "after.zip", "mimeType": "application/zip", "buffer": basic_zip}])
    click(page.get_by_role("button", name="Compare", exact=True))
    verdict = page.locator('[data-testid="stMain"] h4', has_text=re.compile(r"^Fixed \d+, new"))
    expect(verdict).to_be_visible(timeout=WAIT)
    assert re.fullmatch(r"Fixed 0, new 0, remaining \d+; the share of incoming emails not converted stayed at "
                        r"\d+%\.", verdict.inner_text().strip()), verdict.inner_text()
    expect(page.locator('[data-testid="stAlert"]', has_text="Both runs cover the same dates")).to_be_visible()
    remaining = page.locator('[data-testid="stColumn"]', has_text="Remaining").last.inner_text()
    assert not re.search(r"\b(convertrules|asyncoperations|queues|systemusers|mailboxes)\b", remaining), remaining
    page.locator(".js-plotly-plot", has_text="Change per queue").wait_for(state="visible", timeout=WAIT)
    _no_overlapping_axis_labels(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "compare-same-period-1400.png"), full_page=True)
    context.close()


def _no_overlapping_axis_labels(page) -> None:
    """The tick labels of every chart's y axis (one per bar) do not overlap one another."""
    overlaps = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
        const boxes = [...plot.querySelectorAll('.yaxislayer-above .ytick text')].map(t => t.getBoundingClientRect())
            .filter(b => b.height > 0).sort((a, b) => a.top - b.top);
        return boxes.slice(1).filter((b, i) => b.top < boxes[i].bottom - 1).map(b => b.top);
    })""")
    assert overlaps == [], overlaps


def test_800_px_shows_every_number_of_the_overview_and_the_queues_table(server, browser):  # noqa: F811
    context, page = _overview(browser, server, 800)
    assert HEADLINE.match(_headline(page))
    page.get_by_text("In numbers").scroll_into_view_if_needed()
    _numbers_fully_shown(page, 800)
    page.screenshot(path=str(SCREENSHOTS / "overview-800.png"))
    _nav(page, "queues")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible", timeout=WAIT)
    time.sleep(2)
    # The grid's accessible header row lists the columns it draws: Health, after the numbers, being drawn means
    # every number column before it is whole on the screen.
    shown = page.evaluate("""() => [...document.querySelector('[data-testid="stDataFrame"]')
        .querySelectorAll('[role=columnheader]')].map(e => e.textContent.trim())""")
    assert {"Incoming", "Cases", "To fix", "By design", "Rate", "Health"} <= set(shown), shown
    frame = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    assert frame["x"] + frame["width"] <= 800
    page.screenshot(path=str(SCREENSHOTS / "queues-800.png"))
    context.close()


def test_390_px_phone_shows_the_numbers_and_closes_the_sidebar_after_a_page_is_chosen(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(**browser_phone())
    page = context.new_page()
    page.goto(server + "/")
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WAIT)
    time.sleep(1)
    assert HEADLINE.match(_headline(page))
    page.screenshot(path=str(SCREENSHOTS / "overview-390.png"))
    page.get_by_text("In numbers").scroll_into_view_if_needed()
    _numbers_fully_shown(page, 390)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] + 1, widths
    sidebar = page.locator('[data-testid="stSidebar"]')
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    expect(sidebar.locator('[data-testid="stSidebarNav"] a[href$="/queues"]')).to_be_visible(timeout=WAIT)
    sidebar.locator('[data-testid="stSidebarNav"] a[href$="/queues"]').click()
    expect(page.locator("h1").first).to_have_text("Queues & rules", timeout=WAIT)
    time.sleep(1)
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0, box  # out of the way: the page shows
    context.close()


def browser_phone() -> dict:
    """A phone as Chromium emulates it (Playwright's "iPhone 13"): 390 px wide, touch, a phone's user agent.
    Streamlit closes its sidebar after a page is chosen on a phone; a desktop window made narrow keeps it open."""
    return {"viewport": {"width": 390, "height": 664}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
            "user_agent": PHONE_AGENT}


PHONE_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/15.0 Mobile/15E148 Safari/604.1")
