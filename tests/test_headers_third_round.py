"""Issue 20's header cases (contract "Corrections (third round)" items 8 and 9, and the misreadings of real
headers), one positive and one negative scenario each.

Every scenario runs twice with the same assertions: through ``analyse_headers`` and through
``python -m diagnostics headers FILE [--snapshot S] [--queue Q]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TESTS

from diagnostics.headers import analyse_headers
from diagnostics.snapshot import load_snapshot

ROOT = TESTS.parent
CORPUS = TESTS / "headers" / "corpus"
BASIC = TESTS / "fixtures" / "snapshot-basic"  # its emails span 2026-11-03 10:00 to 2026-11-04 10:00 UTC
HELP = "help@fourthcoffee.com"
Run = Callable[..., dict]


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


@pytest.fixture(params=["api", "cli"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    def analyse(raw: str, snapshot: Path | None = None, queue: str | None = None) -> dict:
        if request.param == "api":
            return analyse_headers(raw, snapshot=load_snapshot(snapshot) if snapshot else None, queue=queue)
        path = tmp_path / "headers.txt"
        path.write_text(raw, encoding="utf-8")
        command = [sys.executable, "-m", "diagnostics", "headers", str(path)]
        command += ["--snapshot", str(snapshot)] if snapshot else []
        command += ["--queue", queue] if queue else []
        return json.loads(subprocess.run(command, capture_output=True, cwd=ROOT, check=True).stdout)

    return analyse


def notes(result: dict) -> str:
    return " | ".join(result["notes"])


def causes(result: dict) -> list[str]:
    return [cause["id"] for cause in result["causes"]]


def inbound_on(day: str, time: str = "08:12") -> str:
    """The Exchange Online inbound block (5 November 2026) moved to another November day and hour (UTC)."""
    weekday = {"02": "Mon", "03": "Tue", "04": "Wed", "05": "Thu"}[day]
    hour = int(time[:2])
    return (corpus("exchange-online-inbound").replace("Thu, 5 Nov", f"{weekday}, {int(day)} Nov")
            .replace("Thu,\n 5 Nov", f"{weekday},\n {int(day)} Nov").replace("Thu, 05 Nov", f"{weekday}, {day} Nov")
            .replace("05 Nov 2026", f"{day} Nov 2026").replace("Thu, 5\n", f"{weekday}, {int(day)}\n")
            .replace(" 08:12:", f" {hour:02d}:12:").replace(" 00:12:", f" {hour - 8:02d}:12:")
            .replace("09:12:03 +0100", f"{hour + 1:02d}:12:03 +0100"))


# --- item 8: outside the snapshot's dates, before as well as after --------------------------------------

def test_before_the_snapshots_oldest_email_is_not_in_snapshot(run: Run) -> None:
    result = run(corpus("exchange-online-before-snapshot"), snapshot=BASIC)
    assert (result["verdict"], causes(result)) == ("not-in-snapshot", [])
    why = result["not_in_snapshot"]
    assert (why["reason"], why["time"], why["time_from"]) == ("before-period", "2026-11-02T08:12:09Z", "Received")
    assert (why["oldest"], why["newest"]) == ("2026-11-03T10:00:00Z", "2026-11-04T10:00:00Z")
    assert "widen the period" in why["why"] and "isn't syncing" not in json.dumps(result)


def test_after_the_snapshots_newest_email_is_not_in_snapshot(run: Run) -> None:
    result = run(corpus("exchange-online-inbound"), snapshot=BASIC)
    assert (result["verdict"], result["not_in_snapshot"]["reason"]) == ("not-in-snapshot", "after-period")
    assert "export again" in result["not_in_snapshot"]["why"]


def test_inside_the_snapshots_dates_it_is_not_synced(run: Run) -> None:
    result = run(inbound_on("03", "12:12"), snapshot=BASIC)
    assert result["date"] == "2026-11-03T12:12:03Z" and result["hops"][-1]["at"] == "2026-11-03T12:12:09Z"
    assert (result["verdict"], result["primary_cause"], result["not_in_snapshot"]) == \
        ("not-converted", "email-not-synced", None)


def test_the_newest_received_hop_decides_over_the_date_header(run: Run) -> None:
    """Dated inside the period, delivered after it (a day in a queue): its arrival is after the newest email."""
    raw = inbound_on("05").replace("Date: Thu, 5 Nov 2026 09:12:03 +0100", "Date: Wed, 4 Nov 2026 09:00:00 +0100")
    result = run(raw, snapshot=BASIC)
    assert result["date"] == "2026-11-04T08:00:00Z"
    assert (result["not_in_snapshot"]["reason"], result["not_in_snapshot"]["time_from"]) == ("after-period", "Received")
    without_hops = "".join(line + "\n" for line in raw.splitlines() if line.startswith(("From:", "To:", "Date:",
                                                                                        "Message-ID:")))
    assert run(without_hops, snapshot=BASIC)["primary_cause"] == "email-not-synced"  # the Date is inside


def test_sent_to_none_of_the_snapshots_queues_is_not_in_snapshot(run: Run) -> None:
    raw = inbound_on("03", "12:12").replace("To: Helpdesk <help@fourthcoffee.com>", "To: <dana@fourthcoffee.com>") \
        .replace("for <help@fourthcoffee.com>", "for <dana@fourthcoffee.com>")
    result = run(raw, snapshot=BASIC)
    assert (result["verdict"], result["not_in_snapshot"]["reason"]) == ("not-in-snapshot", "sent-to-none-of-its-queues")
    assert "give that queue's address" in result["not_in_snapshot"]["why"]
    result = run(raw, snapshot=BASIC, queue=HELP)  # meant for the Helpdesk queue, by Bcc: a queue of the snapshot
    assert (result["verdict"], result["primary_cause"], result["not_in_snapshot"]) == \
        ("not-converted", "email-not-synced", None)


# --- item 9: a header name without a space after its colon ----------------------------------------------

def test_kernel_org_arc_seal_without_a_space_is_a_header(run: Run) -> None:
    result = run(corpus("kernel-org-list"))
    assert not any("lost their indentation" in note for note in result["notes"])
    assert [hop["at"] for hop in result["hops"]][:2] == ["2025-06-04T20:55:08Z", "2025-06-04T20:55:09Z"]
    assert result["authentication"][1]["authserv_id"] == "smtp.subspace.kernel.org"
    unindented = "\n".join(line.lstrip() for line in corpus("kernel-org-list").splitlines())
    assert run(unindented)["hops"][1]["at"] == "2025-06-04T20:55:09Z"  # pasted without indentation: same


MINIMAL = ("Received: from smtp.kernel.org by smtp.subspace.kernel.org (Postfix) with ESMTPS id 2F3E;\n"
           "\tWed,  4 Jun 2025 20:55:09 +0000 (UTC)\n{line}\nMessage-ID: <a@kernel.org>\nTo: oss@fourthcoffee.com\n")


@pytest.mark.parametrize("line", [
    "ARC-Seal:i=1; a=rsa-sha256; d=subspace.kernel.org; s=arc-20240116; t=1749070509; cv=none; b=QUJD",
    "Authentication-Results:mx; spf=pass smtp.mailfrom=kernel.org", "DKIM-Signature:v=1; a=rsa-sha256; d=kernel.org;",
    "X-Spam-Score:0.1;tests=none"])
def test_the_issues_arc_seal_line_starts_a_header(run: Run, line: str) -> None:
    result = run(MINIMAL.format(line=line))
    assert result["hops"][0]["at"] == "2025-06-04T20:55:09Z" and result["notes"][0].startswith("without a snapshot")


@pytest.mark.parametrize("line", ["List-Id:List-Unsubscribe:List-Post;", "SCL:1;SRV:;IPV:NLI;",
                                  "In-Reply-To:Content-Type; b=h6QE"])
def test_a_folded_list_of_names_stays_a_continuation(run: Run, line: str) -> None:
    result = run(MINIMAL.format(line="\t" + "h=From:To:\n" + line))
    assert result["hops"][0]["at"] is None  # the semicolon of the folded list ends the Received header's route
    result = run(MINIMAL.format(line=line))
    assert any("lost their indentation" in note for note in result["notes"])


# --- X-Auto-Response-Suppress asks others not to reply; it does not make a message automatic ---------------

def test_outlook_mail_with_auto_response_suppress_is_a_persons_mail(run: Run) -> None:
    result = run(corpus("outlook-person-auto-response-suppress"))
    assert result["auto_reply"] == {} and "generated automatically" not in notes(result)


def test_auto_submitted_and_exchange_rule_markers_still_make_it_automatic(run: Run) -> None:
    raw = corpus("outlook-person-auto-response-suppress").replace(
        "X-MS-Has-Attach:", "Auto-Submitted: auto-replied\nX-MS-Exchange-Inbox-Rules-Loop: jo.brown@tailspin.com")
    result = run(raw)
    assert result["auto_reply"] == {"Auto-Submitted": "auto-replied",
                                    "X-MS-Exchange-Inbox-Rules-Loop": "jo.brown@tailspin.com"}
    assert "generated automatically" in notes(result)
    person = raw.replace("auto-replied", "no").replace("X-MS-Exchange-Inbox-Rules-Loop", "X-Note")
    assert run(person)["auto_reply"] == {}


# --- the mailbox delivery's dest decides where the mail went ---------------------------------------------

def test_scl_9_delivered_to_the_inbox_by_safe_senders_is_not_junk(run: Run) -> None:
    result = run(corpus("exchange-online-trusted-sender-scl9"))
    spam = result["spam"]
    assert (spam["scl"], spam["in_junk"], spam["delivered_to"]) == (9, False, "Inbox")
    assert spam["override"] == "TrustedSenderList"
    assert "dest:I: the mailbox delivered it to the Inbox (override OFR:TrustedSenderList; allow-list marks wl:1, " \
           "pcwl:1" in notes(result)
    assert "our inference" in notes(result) and "may have landed in Junk Email" not in notes(result)


def test_dest_j_or_no_mailbox_delivery_leaves_scl_9_junk(run: Run) -> None:
    raw = corpus("exchange-online-trusted-sender-scl9")
    spam = run(raw.replace("dest:I;OFR:TrustedSenderList;", "dest:J;"))["spam"]
    assert (spam["in_junk"], spam["delivered_to"]) == (True, "Junk Email")
    without = raw.replace("X-Microsoft-Antispam-Mailbox-Delivery:\n", "X-Other:\n")
    result = run(without)
    assert (result["spam"]["in_junk"], result["spam"]["delivered_to"]) == (True, None)
    assert "Exchange Online Protection classed it as spam (SFV:SPM" in notes(result)


# --- DIR:OUT is the sending organisation's outbound filter ------------------------------------------------

def test_outbound_spam_verdict_is_not_the_receivers_junk(run: Run) -> None:
    result = run(corpus("exchange-online-outbound-spam-to-onprem"))
    assert (result["spam"]["dir"], result["spam"]["sfv"], result["spam"]["in_junk"]) == ("OUT", "SPM", False)
    assert "outbound filter" in result["spam"]["verdict_by"]
    assert "DIR:OUT (SFV:SPM, CAT:OSPM, SCL 5): that is the sending organisation's outbound spam filter" \
        in notes(result)
    assert "classed it as spam" not in notes(result)


def test_the_same_report_inbound_is_the_receivers_junk(run: Run) -> None:
    result = run(corpus("exchange-online-outbound-spam-to-onprem").replace("DIR:OUT;", "DIR:INB;"))
    assert result["spam"]["in_junk"] is True
    assert result["spam"]["junk_reason"] == "SFV:SPM, marked as spam by spam filtering"
    assert "Exchange Online Protection classed it as spam" in notes(result) and "DIR:OUT" not in notes(result)


# --- an SCL without a Forefront report is another filter's --------------------------------------------

def test_scl_9_beside_kaspersky_names_kaspersky_not_exchange_online_protection(run: Run) -> None:
    result = run(corpus("kaspersky-gateway-onprem"))
    assert (result["spam"]["scl"], result["spam"]["in_junk"]) == (9, True)
    assert result["spam"]["other_filters"] == {"X-KLMS-AntiSpam-Status": "spam"}
    assert "Kaspersky Linux Mail Security" in result["spam"]["verdict_by"]
    assert "Exchange Online Protection classed it" not in notes(result)
    assert "not Exchange Online Protection's verdict: the headers show another filter: X-KLMS-AntiSpam-Status: " \
           "spam" in notes(result)
    assert "mail flow rules that ran: KLMS spam to SCL 9" in notes(result)


def test_scl_9_with_an_inbound_forefront_report_is_exchange_online_protections(run: Run) -> None:
    report = "X-Forefront-Antispam-Report: CIP:203.0.113.140;CTRY:NL;SCL:9;SFV:SPM;CAT:SPM;DIR:INB;\n"
    raw = corpus("kaspersky-gateway-onprem").replace("X-MS-Exchange-Organization-SCL: 9\n",
                                                     "X-MS-Exchange-Organization-SCL: 9\n" + report)
    result = run(raw)
    assert "Exchange Online Protection classed it as spam (SFV:SPM" in notes(result)
    nothing = run(corpus("kaspersky-gateway-onprem").replace("X-KLMS-AntiSpam-Status: spam\n", ""))
    assert "the headers do not show which filter set it" in notes(nothing)
    assert "Exchange Online Protection classed it" not in notes(nothing)


# --- a stray comma between the display name and the address ---------------------------------------------

def test_stray_comma_keeps_the_address(run: Run) -> None:
    result = run(corpus("newsletter-stray-comma"))
    assert result["from"] == {"name": "Clara", "address": "bonobo@news.bonobojeans.com"}


@pytest.mark.parametrize(("line", "expected"), [
    ("Doe, John <john@tailspin.com>", [("Doe, John", "john@tailspin.com")]),
    ("jo@tailspin.com, Dana <dana@tailspin.com>", [("", "jo@tailspin.com"), ("Dana", "dana@tailspin.com")]),
    ("root", [("", "root")]),
])
def test_other_address_lists_are_unchanged(run: Run, line: str, expected: list) -> None:
    result = run(f"Message-ID: <a@b>\nFrom: {line}\nTo: {line}\n")
    assert [(box["name"], box["address"]) for box in result["to"]] == expected
    assert (result["from"]["name"], result["from"]["address"]) == expected[0]


# --- a re-sent message: delays per sending -------------------------------------------------------------

def test_resent_message_measures_each_sending_from_its_own_date(run: Run) -> None:
    result = run(corpus("resent-22-hours"))
    assert [hop["delay_seconds"] for hop in result["hops"]] == [1, 2, 1, 1, 1, 1]
    assert result["total_transit_seconds"] == 4
    assert result["resent"] == [{"date": "2026-11-17T07:40:41Z",
                                 "from": {"name": "Jo Brown", "address": "jo@tailspin.com"},
                                 "to": [{"name": "", "address": HELP}],
                                 "message_id": "<20261117074041.GA18231@jo-laptop.tailspin.com>", "first_hop": 3}]
    assert "re-sent by Jo Brown <jo@tailspin.com> on 2026-11-17 07:40 UTC" in notes(result)
    assert "22 h 26 min after the Date header: hops 3-6 carried the re-sending" in notes(result)
    bcc = run(corpus("resent-22-hours"), queue=HELP)["causes"][0]
    assert "Resent-To: help@fourthcoffee.com (the message was re-sent to it" in " ".join(bcc["evidence"])


def test_without_resent_fields_the_gap_is_a_hop_delay(run: Run) -> None:
    raw = "".join(line + "\n" for line in corpus("resent-22-hours").splitlines() if not line.startswith("Resent-"))
    result = run(raw)
    assert result["hops"][2]["delay_seconds"] == 80_779 and result["resent"] == []
    assert "re-sent" not in notes(result)


# --- SPF and DMARC fail at Exchange Online, yet the Inbox ------------------------------------------------

def test_failed_authentication_delivered_to_the_inbox_says_so(run: Run) -> None:
    result = run(corpus("exchange-online-auth-fail-inbox"))
    assert (result["verdict"], result["spam"]["delivered_to"]) == ("unknown", "Inbox")
    text = notes(result)
    assert "found compauth=fail (also spf=fail, dmarc=fail), yet the message was delivered to the Inbox" in text
    assert "a mail flow rule bypassed spam filtering (SFV:SKN)" in text
    assert "mail flow rules that ran: Bypass spam filtering for Tailspin scanners" in text
    assert "may have gone to Junk Email" not in text


def test_failed_authentication_to_junk_or_unknown_folder(run: Run) -> None:
    raw = corpus("exchange-online-auth-fail-inbox")
    junk = notes(run(raw.replace("dest:I;", "dest:J;")))
    assert "the mailbox delivered it to Junk Email (dest:J)" in junk and "yet the message" not in junk
    unknown = notes(run(raw.replace("X-Microsoft-Antispam-Mailbox-Delivery:\n", "X-Other:\n")))
    assert "so the message may have gone to Junk Email or quarantine" in unknown
    allowed = notes(run(raw.replace("SFV:SKN", "SFV:NSPM").replace("SCL:-1", "SCL:1")
                        .replace("X-MS-Exchange-Organization-Rules-Execution-History", "X-Other")))
    assert "the headers do not show which" in allowed


def test_the_contract_junk_field_stays_as_the_contract_writes_it():
    """``spam.junk`` keeps the contract's rule (SCL 5 or more, SFV SPM/SKS/SKB/BLK) even where the mailbox put the
    message in the Inbox or the report is the sender's outbound one; ``in_junk`` says where it went."""
    trusted = analyse_headers(corpus("exchange-online-trusted-sender-scl9"))["spam"]
    outbound = analyse_headers(corpus("exchange-online-outbound-spam-to-onprem"))["spam"]
    assert (trusted["junk"], trusted["in_junk"]) == (True, False)
    assert (outbound["junk"], outbound["in_junk"]) == (True, False)
