"""The team server in headless Chromium: sign-in with a stand-in for Microsoft Entra ID, links that open only
inside the creator's organisation, two servers on one PostgreSQL, and runs that last in the same browser."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

import pytest
from conftest import free_port, streamlit_server
from oidc_standin import CLIENT_ID, CLIENT_SECRET, Account, oidc_provider
from test_browser import WAIT, _metric, _nav, _upload, browser, click  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
TENANT_A = "aaaaaaaa-1111-4111-8111-00000000000a"  # Contoso
TENANT_B = "bbbbbbbb-2222-4222-8222-00000000000b"  # Fabrikam, also allowed on the server
DANA = Account("Dana Whitfield", TENANT_A, "0d0d0d0d-0000-4000-8000-00000000da7a", "dana@contoso.example")
SAM = Account("Sam Ortiz", TENANT_A, "05a05a05-0000-4000-8000-000000000005", "sam@contoso.example")
# Bo's e-mail claim says Contoso: access must not follow it
BO = Account("Bo Lind", TENANT_B, "0b0b0b0b-0000-4000-8000-00000000000b", "dana@contoso.example")
TENANT_C = "cccccccc-3333-4333-8333-00000000000c"  # Northwind: can sign in at the provider, not allowed here
CY = Account("Cy North", TENANT_C, "0c0c0c0c-0000-4000-8000-00000000000c", "cy@northwind.example")
EVE = Account("Eve Short", TENANT_A, "0e0e0e0e-0000-4000-8000-00000000000e", "eve@contoso.example", lifetime=12)
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/screens"))


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"team-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    """One app server with sign-in on: both tenants may sign in, each through its own provider section."""
    folder = tmp_path_factory.mktemp("team")
    with oidc_provider([DANA, SAM, BO, CY, EVE]) as provider:
        port = free_port()
        secrets_file = folder / "secrets.toml"
        sections = "".join(f'\n[auth.{name}]\nclient_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
                           f'server_metadata_url = "{provider.metadata_url(tid)}"\n'
                           for name, tid in (("contoso", TENANT_A), ("fabrikam", TENANT_B),
                                             ("northwind", TENANT_C)))
        secrets_file.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
                                f'cookie_secret = "{secrets.token_hex(32)}"\n{sections}')
        store = folder / "runs.sqlite"
        env = {"DIAGNOSTICS_ALLOWED_TENANTS": f"{TENANT_A}, {TENANT_B}",
               "DIAGNOSTICS_ISSUER": provider.base + "/{tid}/v2.0", "DIAGNOSTICS_ADMINS": "",
               "AUTHLIB_INSECURE_TRANSPORT": "1"}  # the stand-in speaks http on loopback
        log = folder / "streamlit.log"
        with streamlit_server(store, log, secrets=secrets_file, port=port, **env) as base:
            yield {"base": base, "store": store, "log": log, "provider": provider}


def sign_in(page, start: str, account: Account, provider: str, allowed: bool = True) -> None:
    """From the sign-in page (at ``start``) through the stand-in's account picker back into the app."""
    from playwright.sync_api import expect

    page.goto(start)
    click(page.get_by_role("button", name=f"Sign in with Microsoft ({provider})"))
    page.get_by_role("button", name=f"Sign in as {account.name}").click()  # the stand-in's page
    welcome = f"Signed in as {account.name}" if allowed else "This server is not open to the account"
    expect(page.get_by_text(welcome)).to_be_visible(timeout=WAIT)


def expect_sign_in_page(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("Sign in with your work account")).to_be_visible(timeout=WAIT)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.locator(".js-plotly-plot").count() == 0


def create_share_link(page) -> str:
    from playwright.sync_api import expect

    click(page.get_by_role("button", name="Share this report"))
    click(page.get_by_role("button", name="Create share link"))
    code = page.locator('[data-testid="stCode"]', has_text="?run=")
    expect(code).to_be_visible(timeout=WAIT)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_link_opens_inside_the_creators_organisation_only(team_server, browser, basic_zip):  # noqa: F811
    from playwright.sync_api import expect

    base = team_server["base"]
    visitor = browser.new_context(viewport=VIEWPORT)  # signed out: the app shows nothing but the sign-in
    page = visitor.new_page()
    page.goto(base)
    expect_sign_in_page(page)

    dana = browser.new_context(viewport=VIEWPORT)
    dana_page = dana.new_page()
    sign_in(dana_page, base, DANA, "contoso")
    _upload(dana_page, base, "snapshot-basic.zip", basic_zip)
    expect(_metric(dana_page, "Incoming")).to_have_text("4", timeout=WAIT)
    link = create_share_link(dana_page)
    token = link.rsplit("=", 1)[1]
    assert link.startswith(base + "/?run=") and len(token) >= 43

    page.goto(link)  # a signed-out visitor with the link: the sign-in page, nothing of the report
    expect_sign_in_page(page)
    screenshot(page, "sign-in")
    assert "Dana" not in page.content()
    visitor.close()

    sam = browser.new_context(viewport=VIEWPORT)
    sam_page = sam.new_page()
    sign_in(sam_page, link, SAM, "contoso")  # signed in from the link: back on the link
    expect(_metric(sam_page, "Incoming")).to_have_text("4", timeout=WAIT)
    assert sam_page.url == link
    expect(sam_page.get_by_text("Shared by")).to_be_visible()
    expect(sam_page.get_by_text("Dana Whitfield")).to_be_visible()
    sam.close()

    bo = browser.new_context(viewport=VIEWPORT)
    bo_page = bo.new_page()
    sign_in(bo_page, base, BO, "fabrikam")  # allowed on the server, but another organisation than the link's
    bo_page.goto(link)
    expect(bo_page.get_by_text("This link does not open for the account you are signed in with")).to_be_visible(
        timeout=WAIT)
    time.sleep(1)  # let anything else that would render do so
    assert bo_page.locator('[data-testid="stMetric"]').count() == 0
    assert bo_page.locator(".js-plotly-plot").count() == 0
    content = bo_page.content()
    assert "Dana" not in content and "snapshot-basic" not in content and "Shared by" not in content
    screenshot(bo_page, "other-tenant")
    bo_page.goto(base + "/runs")  # and the Runs page of Fabrikam lists nothing of Contoso
    expect(bo_page.get_by_text("No run kept yet")).to_be_visible(timeout=WAIT)
    bo.close()

    cy = browser.new_context(viewport=VIEWPORT)  # a tenant the server does not let in at all
    cy_page = cy.new_page()
    sign_in(cy_page, base, CY, "northwind", allowed=False)
    cy_page.goto(link)
    expect(cy_page.get_by_text("This server is not open to the account")).to_be_visible(timeout=WAIT)
    time.sleep(1)
    assert cy_page.locator('[data-testid="stMetric"]').count() == 0
    assert "Dana" not in cy_page.content() and "Shared by" not in cy_page.content()
    assert cy_page.locator('[data-testid="stSidebarNav"]').count() == 0  # not even the pages' names
    screenshot(cy_page, "tenant-not-allowed")
    cy.close()

    _nav(dana_page, "runs")  # the creator sees who opened the link
    expect(dana_page.get_by_text(re.compile(r"Opened by Sam Ortiz on 20\d\d-"))).to_be_visible(timeout=WAIT)
    screenshot(dana_page, "runs-signed-in")
    assert "Bo Lind" not in dana_page.content() and "Cy North" not in dana_page.content()  # refused: not opened
    dana.close()

    log = team_server["log"].read_text(errors="replace")
    assert token not in log and "eyJ" not in log  # neither the link's token nor an ID token is logged
    store = team_server["store"].read_bytes()
    assert token.encode() not in store and b"eyJ" not in store


def test_an_expired_sign_in_signs_the_person_out(team_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    base = team_server["base"]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, base, EVE, "contoso")  # within the token's life
    assert any(cookie["name"].startswith("_streamlit_user") for cookie in context.cookies())
    time.sleep(EVE.lifetime + 1)  # the token was issued before the app showed her name
    page.goto(base)  # a new session reads the cookie: its ID token has expired
    expect_sign_in_page(page)
    expect(page.get_by_role("button", name="Sign in with Microsoft (contoso)")).to_be_visible()
    assert not any(cookie["name"].startswith("_streamlit_user") for cookie in context.cookies())
    context.close()


# --------------------------------------------------------------------------- two servers, one PostgreSQL

@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, postgres):
    url = postgres.database()
    folder = tmp_path_factory.mktemp("two")
    with streamlit_server(url, folder / "one.log") as one, streamlit_server(url, folder / "two.log") as two:
        yield one, two, folder


def test_two_servers_share_links_runs_and_revocations(two_servers, browser, basic_zip):  # noqa: F811
    from playwright.sync_api import expect

    one, two, folder = two_servers
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _upload(page, one, "snapshot-basic.zip", basic_zip)
    click(page.get_by_role("button", name="Share this report"))
    page.get_by_role("textbox", name="Your name or team").fill("Dana")
    click(page.get_by_role("button", name="Create share link"))
    code = page.locator('[data-testid="stCode"]', has_text="?run=")
    expect(code).to_be_visible(timeout=WAIT)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")

    elsewhere = browser.new_context(viewport=VIEWPORT)
    viewer = elsewhere.new_page()
    viewer.goto(link.replace(one, two))  # made on one, opened on two
    expect(_metric(viewer, "Incoming")).to_have_text("4", timeout=WAIT)
    expect(viewer.get_by_text("Shared by")).to_be_visible()

    _nav(page, "runs")  # keep a run on one
    page.get_by_role("textbox", name="Name of the run").fill("kept on server one")
    click(page.get_by_role("button", name="Keep this run"))
    expect(page.get_by_text("Kept as kept on server one")).to_be_visible(timeout=WAIT)

    for base in (two, one):  # a new session of the same browser, on the other server and on the same one
        later = context.new_page()
        later.goto(f"{base}/runs")
        expect(later.get_by_text("kept on server one").first).to_be_visible(timeout=WAIT)
        expect(later.get_by_text("runs kept from this browser", exact=False)).to_be_visible()
        screenshot(later, "runs-this-browser")
        later.close()
    stranger = elsewhere.new_page()  # another browser does not list it
    stranger.goto(f"{two}/runs")
    expect(stranger.get_by_text("No run kept yet")).to_be_visible(timeout=WAIT)

    later = context.new_page()  # compare, in a new session on server two: the kept run is "before"
    later.goto(f"{two}/compare")
    expect(later.get_by_role("combobox", name="Before")).to_have_value(
        re.compile("^Kept run: kept on server one"), timeout=WAIT)
    later.close()

    page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click()  # revoke on one: two sees it
    click(page.get_by_role("button", name="Share this report"))
    click(page.get_by_role("button", name="Revoke this link"))
    expect(page.get_by_text("This link no longer opens anything.")).to_be_visible(timeout=WAIT)
    viewer.goto(link.replace(one, two))
    expect(viewer.get_by_text("unknown, has expired or was revoked")).to_be_visible(timeout=WAIT)
    context.close()
    elsewhere.close()
    token = link.rsplit("=", 1)[1]
    for log in ("one.log", "two.log"):
        assert token not in (folder / log).read_text(errors="replace")


def test_the_browser_key_is_httponly_and_never_the_share_token(two_servers, browser):  # noqa: F811
    one, _, _ = two_servers
    context = browser.new_context()
    page = context.new_page()
    page.goto(one)
    page.wait_for_load_state("networkidle")
    (key,) = [cookie for cookie in context.cookies() if cookie["name"] == "diagnostics_browser"]
    assert key["httpOnly"] and key["sameSite"] == "Lax" and len(key["value"]) == 43
    assert key["expires"] > time.time() + 300 * 24 * 3600  # lasts: about 400 days
    assert page.evaluate("document.cookie").find("diagnostics_browser") == -1  # no script can read it
    context.close()
