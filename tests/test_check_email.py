"""The Check one email page through Streamlit's AppTest: it never invents a verdict from the demo, says
when and why an email is not in the snapshot (outside its dates, or sent to none of its queues), and shows
authentication and the spam verdict as text."""

from __future__ import annotations

import re

from conftest import APP, TESTS
from streamlit.testing.v1 import AppTest

TIMEOUT = 120
CORPUS = TESTS / "headers" / "corpus"
RESULT = "header_result"
LOOKUP = "Look the email up in"


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


def check_email_page(upload: bytes | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    if upload is not None:
        at.switch_page("pages/upload.py").run()
        at.file_uploader(key="snapshot_files").set_value([("snapshot-basic.zip", upload, "application/zip")])
        at.run()
    return at.switch_page("pages/check_email.py").run()


def submit(at: AppTest, headers: str) -> AppTest:
    at.text_area[0].input(headers)
    next(button for button in at.button if button.label == "Check this email").click()
    at.run()
    assert not at.exception, [exception.value for exception in at.exception]
    return at


def lookup(at: AppTest):
    return next(widget for widget in at.checkbox if widget.label.startswith(LOOKUP))


def markdown(at: AppTest) -> str:
    return "\n".join(str(element.value) for element in at.markdown)


def on_screen(at: AppTest) -> str:
    """Every text element, Markdown escapes removed, as it reads on screen."""
    parts = [element.value for kind in ("markdown", "caption", "info", "warning", "error")
             for element in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(part) for part in parts))


def within_snapshot(headers: str) -> str:
    """Thursday 5 November 2026 (Date and Received hops) moved to Tuesday 3 November, 12:12 UTC: within the
    basic snapshot's emails (2026-11-03 10:00 to 2026-11-04 10:00 UTC)."""
    return re.sub(r"Thu,(\s+)0?5 Nov", r"Tue,\g<1>3 Nov", headers).replace("5 Nov 2026", "3 Nov 2026") \
        .replace(" 08:12:", " 12:12:").replace(" 00:12:", " 04:12:").replace("09:12:03 +0100", "13:12:03 +0100")


def test_demo_lookup_is_off_and_pasted_headers_get_no_verdict_from_the_demo() -> None:
    at = check_email_page()
    assert lookup(at).label == "Look the email up in the demo snapshot" and lookup(at).value is False
    assert "fictional" in " ".join(info.value for info in at.info)
    submit(at, corpus("exchange-online-inbound"))
    result = at.session_state[RESULT]
    assert (result["verdict"], result["primary_cause"], result["snapshot_email"]) == ("unknown", None, None)
    assert ":gray-badge[Nothing proven by the headers alone]" in markdown(at)
    assert "email-not-synced" not in on_screen(at)


def test_ticking_the_demo_lookup_is_what_would_invent_a_verdict() -> None:
    """The control for the test above: the demo does not know a real email, so a lookup there blames sync when
    the email was sent to a demo queue within the demo's dates; sent to none of its queues, it is not in it."""
    at = check_email_page()
    lookup(at).check()
    submit(at, corpus("exchange-online-inbound").replace("help@fourthcoffee.com", "help@contoso-coffee.com"))
    assert at.session_state[RESULT]["primary_cause"] == "email-not-synced"
    submit(at, corpus("exchange-online-inbound"))
    result = at.session_state[RESULT]
    assert (result["verdict"], result["not_in_snapshot"]["reason"]) == ("not-in-snapshot", "sent-to-none-of-its-queues")
    assert "sent to none of the snapshot's queues" in on_screen(at)


def test_uploaded_snapshot_is_looked_up_and_a_newer_email_is_not_in_this_snapshot(basic_zip: bytes) -> None:
    at = check_email_page(basic_zip)
    assert lookup(at).label == "Look the email up in your uploaded snapshot" and lookup(at).value is True
    assert not at.info or "fictional" not in " ".join(info.value for info in at.info)
    submit(at, corpus("exchange-online-inbound"))  # dated 2026-11-05; the snapshot's newest email 2026-11-04
    result = at.session_state[RESULT]
    assert (result["verdict"], result["causes"]) == ("not-in-snapshot", [])
    assert ":orange-badge[Not in this snapshot]" in markdown(at)
    assert "after the newest email in the snapshot (created 2026-11-04 10:00 UTC)" in on_screen(at)
    assert "export again (or widen the period) to include it before looking for a sync problem" in on_screen(at)
    assert "email-not-synced" not in on_screen(at)


def test_an_older_email_missing_from_the_upload_is_not_synced(basic_zip: bytes) -> None:
    """Arrived (the newest Received hop, 2026-11-03 12:12 UTC) inside the snapshot's dates: sync is to blame."""
    at = check_email_page(basic_zip)
    submit(at, within_snapshot(corpus("exchange-online-inbound")))
    assert at.session_state[RESULT]["primary_cause"] == "email-not-synced"
    assert "`email-not-synced`" in markdown(at)


def test_authentication_and_spam_verdict_as_message_header_analyzer_shows_them() -> None:
    at = check_email_page()
    submit(at, corpus("exchange-online-blocked-sender"))
    assert "##### Authentication and spam filtering" in markdown(at)
    authentication = next(frame.value for frame in at.dataframe if "Checked by" in frame.value.columns)
    assert authentication.to_dict("records") == [{"Checked by": "(not named; Exchange Online names none)",
                                                  "SPF": "softfail", "DKIM": "none", "DMARC": "none",
                                                  "CompAuth": "softpass (reason 201)"}]
    spam = next(frame.value for frame in at.dataframe if "Field" in frame.value.columns)
    values = dict(zip(spam["Field"], spam["Value"], strict=True))
    assert values == {"SCL": "6", "SFV": "SKB", "CAT": "SPM", "Mailbox delivery (dest)": "J",
                      "Mailbox delivery override (OFR)": "SpamFilterAuthJ", "BCL": "7", "Junk": "yes",
                      "Verdict by": "Exchange Online Protection, the receiving organisation's filter "
                                    "(X-Forefront-Antispam-Report)"}
    assert "Junk Email" in set(spam["Meaning"])


def test_headers_without_authentication_or_spam_verdict_say_so() -> None:
    at = check_email_page()
    submit(at, "From: jo@tailspin.com\nTo: help@fourthcoffee.com\nMessage-ID: <plain@tailspin.com>\n")
    captions = " ".join(caption.value for caption in at.caption)
    assert "No Authentication-Results header" in captions and "No anti-spam verdict" in captions
    assert not any("Checked by" in frame.value.columns for frame in at.dataframe)


def test_header_values_are_never_markup() -> None:
    hostile = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1))"
    at = check_email_page()
    submit(at, f"From: jo@tailspin.com\nTo: help@fourthcoffee.com\nMessage-ID: <a@b>\nDate: {hostile}\n"
               f"Authentication-Results: {hostile}; spf=pass\n")
    raw = markdown(at)
    assert hostile in on_screen(at)  # the note names the bad Date, literally
    for markup in (r"<img", r"\]\(javascript", r"\*\*bold"):  # only escaped forms may remain
        assert not re.search(r"(?<!\\)" + markup, raw), markup
