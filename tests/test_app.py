"""The app through Streamlit's AppTest: every page, upload, header check, share links, isolation."""

from __future__ import annotations

import re

import pytest
from conftest import APP, HEADERS, HOSTILE_QUEUE, HOSTILE_SUBJECTS
from streamlit.testing.v1 import AppTest

from diagnostics.causes import BY_ID

TIMEOUT = 120
PAGES = {
    "pages/overview.py": "Overview",
    "pages/upload.py": "Upload snapshot",
    "pages/check_email.py": "Check one email",
    "pages/emails.py": "Emails",
    "pages/queues.py": "Queues & rules",
    "pages/causes.py": "Causes",
    "pages/runs.py": "Runs",
    "pages/compare.py": "Compare two runs",
    "pages/export_guide.py": "How to export a snapshot",
}
# tests/fixtures/snapshot-basic/EXPECTED.md
EXPECTED = {
    "Help needed (first)": ("converted", None),
    "Help needed (stranger)": ("not-converted", "unknown-sender-not-allowed"),
    "Help needed (sales)": ("not-converted", "no-active-rule-for-queue"),
    "Help needed (reply)": ("converted", None),
}


def new_app(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def plain(value: str) -> str:
    """Markdown-escaped text as it reads on screen."""
    return re.sub(r"\\(.)", r"\1", value)


def texts(at: AppTest) -> str:
    """Everything the page wrote as text, Markdown, alerts, captions and code, in one string, unescaped."""
    parts = [element.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "code",
                                        "title", "subheader", "text")
             for element in getattr(at, kind)]
    return plain("\n".join(str(part) for part in parts))


def no_exception(at: AppTest) -> None:
    assert not at.exception, [exception.value for exception in at.exception]


def snapshot_uploader(at: AppTest):  # an AppTest FileUploader
    """The upload page's uploader: its key changes after each diagnosed upload (a fresh, empty one)."""
    return next(widget for widget in at.file_uploader if widget.key.startswith("snapshot_files"))


def upload(at: AppTest, name: str, data: bytes, mime: str = "application/zip") -> AppTest:
    at.switch_page("pages/upload.py").run()
    snapshot_uploader(at).set_value([(name, data, mime)])
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(item.value for item in at.metric if item.label == label)


def share(at: AppTest, name: str = "Dana", mask: bool = False) -> str:
    """Create a share link on the overview; return its token."""
    at.switch_page("pages/overview.py").run()
    next(widget for widget in at.text_input if widget.label == "Your name or team").input(name)
    next(widget for widget in at.checkbox if widget.label.startswith("Mask")).set_value(mask)
    next(button for button in at.button if button.label == "Create share link").click()
    at.run()
    no_exception(at)
    links = [code.value for code in at.code if "?run=" in code.value]
    assert links, "no share link shown"
    return links[-1].rsplit("?run=", 1)[1]


@pytest.fixture(autouse=True)
def _own_store(store_path):
    """Every test shares links in its own store, never in ./data of the working directory."""
    return store_path


@pytest.fixture(scope="module")
def demo() -> AppTest:
    return new_app()


def test_demo_overview_renders_labelled_with_kpis_and_four_charts(demo):
    no_exception(demo)
    assert demo.title[0].value == "Overview"
    assert any("Demo data" in (info.proto.title or "") or "Demo data" in info.value for info in demo.info)
    assert int(metric(demo, "Incoming").replace(",", "")) > 0
    assert metric(demo, "Conversion rate").endswith("%")
    charts = demo.get("plotly_chart")
    assert len(charts) == 4
    # every cause named with its title and contract id: the top cause, the drill-down links, the findings
    page = texts(demo)
    top = re.search(r"`([a-z-]+)`", page)
    assert top and top.group(1) in BY_ID and BY_ID[top.group(1)].title in page
    downloads = [button.label for button in demo.get("download_button")]
    assert any("HTML" in label for label in downloads) and any("CSV" in label for label in downloads)
    assert any("JSON" in label for label in downloads)
    links = [link.label for link in demo.get("page_link") if "emails:" in link.label]
    assert links and all(re.search(r"\(([a-z-]+)\)$", label).group(1) in BY_ID for label in links)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo(demo, page):
    demo.switch_page(page).run()
    no_exception(demo)
    assert demo.title[0].value == PAGES[page]


def test_upload_of_the_basic_sample_gives_its_expected_causes(basic_zip, store_path):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    no_exception(at)
    assert at.title[0].value == "Overview"  # the upload switches to the overview
    assert metric(at, "Incoming") == "4"
    assert metric(at, "Converted") == "2"  # the reply regards a case whose state the sample lacks: threaded
    assert "Diagnosed snapshot-basic.zip" in texts(at)
    report = at.session_state["current"].report
    found = {row.subject: (row.verdict, row.primary_cause if isinstance(row.primary_cause, str) else None)
             for row in report.emails.itertuples()}
    assert found == EXPECTED
    # the emails page lists them with their causes named by title and id
    at.switch_page("pages/emails.py").run()
    table = at.dataframe[0].value
    assert set(table["Subject"]) == set(EXPECTED)
    causes = dict(zip(table["Subject"], table["Primary cause"], strict=True))
    for subject, (_, cause) in EXPECTED.items():
        if cause:
            assert causes[subject] == f"{BY_ID[cause].title} ({cause})"
    assert "Demo data" not in texts(at)


def test_several_json_files_upload_like_a_zip(store_path):
    from conftest import BASIC

    at = new_app()
    at.switch_page("pages/upload.py").run()
    files = [(path.name, path.read_bytes(), "application/json") for path in sorted(BASIC.glob("*.json"))]
    snapshot_uploader(at).set_value(files)
    at.run()
    no_exception(at)
    assert metric(at, "Incoming") == "4"


def test_bad_upload_shows_an_error_and_the_app_goes_on(basic_zip):
    at = new_app()
    upload(at, "emails.json", b"this is not JSON", "application/json")
    no_exception(at)
    assert at.title[0].value == "Upload snapshot"
    errors = [plain(error.value) for error in at.error]
    assert errors and "emails" in errors[0] and "JSON" in errors[0]
    assert "still shows the demo report" in texts(at)
    at.switch_page("pages/overview.py").run()
    no_exception(at)
    assert len(at.get("plotly_chart")) == 4
    assert any("Demo data" in info.value for info in at.info)
    # and a good upload afterwards works
    upload(at, "snapshot-basic.zip", basic_zip)
    assert metric(at, "Incoming") == "4"


def test_an_empty_zip_is_refused_with_a_message():
    import io
    import zipfile

    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    at = new_app()
    upload(at, "empty.zip", buffer.getvalue())
    no_exception(at)
    assert at.error and "empty.zip: the zip file is empty" in plain(at.error[0].value)


def test_header_page_with_the_sample_reply_against_the_uploaded_snapshot(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    at.switch_page("pages/check_email.py").run()
    at.text_area[0].input((HEADERS / "exchange-online-reply.txt").read_text(encoding="utf-8"))
    next(widget for widget in at.checkbox if widget.label.startswith("Look the email up")).check()
    next(b for b in at.button if b.label == "Check this email").click()
    at.run()
    no_exception(at)
    page = texts(at)
    # the reply regards a case whose state the sample lacks: converted and threaded (third round, item 1)
    assert "its state was not checked" in page
    facts = at.dataframe[0].value
    assert "reply@mail.tailspin.com" in " ".join(map(str, facts["Value"]))


def test_header_page_without_snapshot_proves_bcc_from_the_headers_alone():
    at = new_app()
    at.switch_page("pages/check_email.py").run()
    at.text_area[0].input((HEADERS / "pasted-lost-indentation.txt").read_text(encoding="latin-1"))
    next(widget for widget in at.text_input if widget.label.startswith("Queue address")).input(
        "help@fourthcoffee.com")
    next(widget for widget in at.checkbox if widget.label.startswith("Look the email up")).uncheck()
    next(b for b in at.button if b.label == "Check this email").click()
    at.run()
    no_exception(at)
    assert "`queue-only-in-bcc`" in texts(at)


def test_header_page_reports_garbage_and_carries_on():
    at = new_app()
    at.switch_page("pages/check_email.py").run()
    at.text_area[0].input("\x00\x01\x02 not headers at all \x00")
    next(b for b in at.button if b.label == "Check this email").click()
    at.run()
    no_exception(at)
    assert at.error
    at.switch_page("pages/overview.py").run()
    no_exception(at)


def test_share_link_is_saved_and_reopened_through_the_query_parameter(basic_zip, store_path):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    token = share(at, "Dana Whitfield")
    assert len(token) >= 22  # 128 bits or more in URL-safe base64
    assert store_path.exists()

    other = new_app(run=token)
    no_exception(other)
    banner = " ".join(info.value for info in other.info)
    assert "Dana Whitfield" in banner and "Read-only" in banner and "expires on" in banner
    assert metric(other, "Incoming") == "4"
    assert len(other.get("plotly_chart")) == 4
    assert "Create share link" not in [button.label for button in other.button]  # read-only
    assert other.session_state["current"].kind == "shared"
    other.switch_page("pages/emails.py").run()
    assert set(other.dataframe[0].value["Subject"]) == set(EXPECTED)
    assert other.query_params.get("run") == token  # the address bar keeps the link while browsing


def test_bogus_and_revoked_tokens_show_a_friendly_message_and_no_data(basic_zip, store_path):
    for token in ("bogus-token-that-was-never-issued", "x"):
        at = new_app(run=token)
        no_exception(at)
        assert any("unknown, has expired or was revoked" in warning.value for warning in at.warning)
        assert not at.metric and not at.get("plotly_chart")
        at.switch_page("pages/emails.py").run()
        assert not at.dataframe and at.warning

    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    token = share(at)
    next(button for button in at.button if button.label == "Revoke this link").click()
    at.run()
    assert "This link no longer opens anything." in texts(at)
    gone = new_app(run=token)
    assert gone.warning and not gone.metric


def test_a_dead_link_can_go_back_to_the_demo():
    at = new_app(run="bogus-token-that-was-never-issued")
    next(button for button in at.button if button.label == "Open the demo report").click()
    at.run()
    no_exception(at)
    assert at.metric and "run" not in at.query_params


def test_masked_share_hides_addresses_and_subjects(basic_zip, store_path):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    token = share(at, mask=True)
    other = new_app(run=token)
    assert "masked" in " ".join(info.value for info in other.info)
    emails = other.session_state["current"].report.emails
    assert not set(emails["subject"]) & set(EXPECTED)
    assert all("***@" in sender for sender in emails["sender"])


def test_sessions_never_see_each_others_reports(basic_zip):
    first = new_app()
    upload(first, "snapshot-basic.zip", basic_zip)
    second = new_app()
    assert metric(first, "Incoming") == "4"
    assert metric(second, "Incoming") != "4"
    assert second.session_state["current"].kind == "demo" if "current" in second.session_state else True
    assert any("Demo data" in info.value for info in second.info)


def test_emails_page_applies_filters_from_a_link(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    at.query_params["cause"] = "unknown-sender-not-allowed"
    at.switch_page("pages/emails.py").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["Subject"]) == ["Help needed (stranger)"]
    assert at.multiselect(key="f_causes").value == ["unknown-sender-not-allowed"]
    # applied once: the link stays in the address bar (so the browser's Back skips no history entry) but the
    # filters changed below are not reset by it on the next run
    assert at.query_params.get("cause") == "unknown-sender-not-allowed"
    # the text search narrows further, the verdict filter too
    at.multiselect(key="f_causes").set_value([])
    at.text_input(key="f_text").input("sales")
    at.run()
    assert list(at.dataframe[0].value["Subject"]) == ["Help needed (sales)"]
    at.text_input(key="f_text").input("")
    at.multiselect(key="f_verdicts").set_value(["converted"])
    at.run()
    assert sorted(at.dataframe[0].value["Subject"]) == ["Help needed (first)", "Help needed (reply)"]


def test_one_email_shows_every_cause_evidence_fix_notes_unchecked_and_ids(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    report = at.session_state["current"].report
    stranger = report.emails.loc[report.emails["subject"] == "Help needed (stranger)", "activityid"].iloc[0]
    at.query_params["email"] = stranger
    at.switch_page("pages/emails.py").run()
    no_exception(at)
    page = texts(at)
    assert "**Primary cause:** **The email is coming from an unknown sender** `unknown-sender-not-allowed`" in page
    assert "**Evidence**" in page and "**Fix:**" in page
    assert "Not checked for this email" in page and "activitymonitors" in page
    assert any(stranger in code.value for code in at.code)


def test_queues_page_shows_the_health_matrix_and_findings(demo):
    demo.switch_page("pages/queues.py").run()
    no_exception(demo)
    table = demo.dataframe[0].value
    assert {"health", "queue", "active_rules", "emails", "converted", "rate", "top_cause"} <= set(table.columns)
    assert set(table["health"]) <= {"Problem", "Check", "OK"} and "Problem" in set(table["health"])
    assert len(demo.get("plotly_chart")) == 1


def test_causes_page_lists_the_nine_causes_with_counts(demo):
    demo.switch_page("pages/causes.py").run()
    page = texts(demo)
    for cause in BY_ID.values():
        assert f"`{cause.id}`" in page
    assert len([item for item in demo.metric if item.label == "Primary cause of"]) == len(BY_ID)


def test_export_guide_fills_in_the_organisation_url(demo):
    demo.switch_page("pages/export_guide.py").run()
    demo.text_input(key="guide_org").input("fabrikam.crm4.dynamics.com/main.aspx")
    demo.run()
    urls = [code.value for code in demo.code if code.value.startswith("https://")]
    assert len(urls) >= 16 and all(url.startswith("https://fabrikam.crm4.dynamics.com/api/data/v9.2/")
                                   for url in urls)
    demo.text_input(key="guide_org").input("javascript:alert(1)")
    demo.run()
    assert demo.error and not [code for code in demo.code if "alert" in code.value]


def test_hostile_text_is_escaped_in_every_markdown_element(hostile_zip):
    at = new_app()
    upload(at, "hostile.zip", hostile_zip)
    no_exception(at)
    report = at.session_state["current"].report
    assert set(HOSTILE_SUBJECTS.values()) <= set(report.emails["subject"])
    for subject in HOSTILE_SUBJECTS.values():
        email = report.emails.loc[report.emails["subject"] == subject, "activityid"].iloc[0]
        at.query_params["email"] = email
        at.switch_page("pages/emails.py").run()
        no_exception(at)
        for element in [*at.markdown, *at.info, *at.warning, *at.error, *at.caption]:
            value = element.value
            # no raw tag, no Markdown link or emphasis: every < [ * $ is escaped or inside a code span
            outside_code = re.sub(r"(`+).*?\1", "", value)
            outside_code = re.sub(r"\[Microsoft documentation\]\(https://learn\.microsoft\.com/[^)\s]*\)", "",
                                  outside_code)
            outside_code = re.sub(r"^:(green|red|gray)-badge\[[A-Za-z ()]+\]$", "", outside_code)  # st.badge
            assert not re.search(r"(?<!\\)[<\[*$]", outside_code.replace("**", "")), value
    at.switch_page("pages/queues.py").run()
    no_exception(at)
    assert HOSTILE_QUEUE in " ".join(at.dataframe[0].value["queue"])


def test_a_configuration_migration_export_uploads_too():
    from conftest import TESTS

    data = (TESTS / "cmt" / "data.xml").read_bytes()
    at = new_app()
    upload(at, "data.xml", data, "application/xml")
    no_exception(at)
    assert at.title[0].value == "Overview"
    assert metric(at, "Incoming") == "5"


def test_a_first_visit_that_bypassed_the_router_is_sent_through_it():
    """Streamlit runs a pages/ file on its own until a session has called st.navigation; the page redirects."""
    at = new_app(cause="queue-only-in-bcc")
    del at.session_state["routed"]
    at.switch_page("pages/emails.py").run()
    no_exception(at)
    assert at.title[0].value == "Emails"
    assert at.session_state["routed"] is True


def test_overview_opens_with_the_fix_plan_and_never_calls_by_design_a_top_cause(demo):
    demo.switch_page("pages/overview.py").run()
    no_exception(demo)
    headings = [element.value for element in demo.subheader]
    assert headings[0].startswith("Fix first: ") and headings.index("In numbers") > 0
    entries = [plain(item.value) for item in demo.markdown if re.match(r"\*\*\d+\. ", plain(item.value))]
    # the plan's order (tests/test_fix_plan.py): the mailbox that stops a whole queue, then by emails blocked
    assert entries[0].startswith("**1. Mailbox '`wholesale@contoso-coffee.com`'**")
    assert entries[1].startswith("**2. Rule 'Billing email to case'**") and "17 emails blocked" in entries[1]
    assert entries[2].startswith("**3. Queue 'Sales'**") and "10 emails blocked" in entries[2]
    assert all("**Fix:**" in entry for entry in entries)
    links = [item.value for item in demo.markdown
             if "[Microsoft documentation](https://learn.microsoft.com/" in item.value]
    assert len(links) >= 3 and "Open it in Dynamics 365](https://contoso-demo.crm.dynamics.com/main.aspx?" in links[0]
    page = texts(demo)
    assert "Top cause" not in page
    assert metric(demo, "Working as designed") == "24"
    assert not any(entry for entry in entries if "reply-to-tracked-email" in entry)


def test_upload_survives_a_reload_through_the_private_token(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    token = at.session_state["current"].private  # the router puts it in the address (see test_browser)
    assert token and at.session_state["current"].kind == "upload"
    reloaded = new_app(report=token)  # a new session with the same address: what a browser reload is
    no_exception(reloaded)
    assert reloaded.session_state["current"].kind == "upload"
    assert metric(reloaded, "Incoming") == "4" and "Demo data" not in texts(reloaded)
    assert any(button.label == "Create share link" for button in reloaded.button)  # still the admin's own
    assert reloaded.query_params.get("report") == token
    stranger = new_app(report="bogus-token-that-was-never-issued")
    assert any("Demo data" in info.value for info in stranger.info)
    assert "report" not in stranger.query_params


def test_a_shared_report_does_not_offer_sharing_again(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    token = share(at)
    other = new_app(run=token)
    no_exception(other)
    assert "Share this report" not in [block.proto.popover.label for block in other.get("popover")]
    assert "Share this report" in [block.proto.popover.label for block in at.get("popover")]
    # a private reload token is not a share link: it never opens as someone else's shared report
    private = at.session_state["current"].private
    opened = new_app(run=private)
    assert private and opened.warning and not opened.metric


def test_counts_agree_between_pages_incoming_by_default(demo):
    demo.switch_page("pages/overview.py").run()
    incoming = metric(demo, "Incoming")
    demo.switch_page("pages/emails.py").run()
    no_exception(demo)
    assert f"of {incoming} incoming emails" in texts(demo)
    assert set(demo.multiselect(key="f_verdicts").value) == {"converted", "not-converted"}
    verdicts = set(demo.dataframe[0].value["Verdict"])
    assert "Outgoing" not in verdicts
    demo.multiselect(key="f_verdicts").set_value(["outgoing"]).run()
    assert set(demo.dataframe[0].value["Verdict"]) == {"Outgoing"}  # behind the filter
    demo.multiselect(key="f_verdicts").set_value(["converted", "not-converted"]).run()


def test_queues_page_health_follows_findings_and_rate(demo):
    demo.switch_page("pages/queues.py").run()
    no_exception(demo)
    table = demo.dataframe[0].value
    health = dict(zip(table["queue"].str.split(" ").str[0], table["health"], strict=True))
    assert health["Returns"] == "Problem" and health["Sales"] == "Problem" and health["Billing"] == "Check"
    page = texts(demo)
    assert "Rule id" not in page and "Rule 'Wholesale orders to case'" in page


def test_organisation_url_typed_by_the_admin_links_the_records():
    from conftest import BASIC, zip_folder

    def without_context(name, data):
        data.pop("@odata.context", None)
        return data

    at = new_app()
    upload(at, "no-context.zip", zip_folder(BASIC, without_context))
    at.switch_page("pages/overview.py").run()
    no_exception(at)
    assert not [item for item in at.markdown if "Open it in Dynamics 365" in item.value]
    field = next(widget for widget in at.text_input if widget.label == "Organisation URL")
    field.input("javascript:alert(1)")
    next(button for button in at.button if button.label == "Add links").click()
    at.run()
    assert at.error and not [item for item in at.markdown if "Open it in Dynamics 365" in item.value]
    next(widget for widget in at.text_input if widget.label == "Organisation URL").input("contoso.crm4.dynamics.com")
    next(button for button in at.button if button.label == "Add links").click()
    at.run()
    no_exception(at)
    links = [item.value for item in at.markdown if "Open it in Dynamics 365" in item.value]
    assert any("](https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=queue&id=" in link
               for link in links)
