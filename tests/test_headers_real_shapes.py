"""Issue 10's header reproductions (real lines that went wrong) and the anti-spam and authentication
verdicts as Microsoft's Message Header Analyzer reads them."""

from __future__ import annotations

import re

import pytest
from conftest import TESTS

from diagnostics.headers import Authentication, analyse_headers, parse_headers, render_headers_text

CORPUS = TESTS / "headers" / "corpus"
REPAIRED = "had lost their indentation"


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


def unindented(text: str) -> str:
    return "\n".join(line.lstrip() for line in text.splitlines())


# --- 1. real header names are headers ------------------------------------------------------------------

def test_spam_diagnostic_headers_are_headers_not_lost_indentation() -> None:
    raw = ("Message-ID: <a@b>\nX-MS-Exchange-Organization-SCL: 9\nSpamDiagnosticOutput: 1:5\n"
           "SpamDiagnosticMetadata: Default:1\n")
    result = analyse_headers(raw)
    assert (result["spam"]["scl"], result["spam"]["junk"]) == (9, True)
    assert result["exchange"]["X-MS-Exchange-Organization-SCL"] == "9"
    assert not any(REPAIRED in note for note in result["notes"])


@pytest.mark.parametrize("line", ["spamdiagnosticmetadata: Default:1", "msip_labels:",
                                  "Autocrypt: addr=jo@tailspin.com; keydata=xsBNBGKz", "X-Custom_Tag.v2: yes"])
def test_plain_field_names_are_headers(line: str) -> None:
    parsed = parse_headers(f"Message-ID: <a@b>\nX-MS-Exchange-Organization-SCL: 9\n{line}\nTo: help@fourthcoffee.com\n")
    assert parsed.notes == []
    assert parsed.exchange["X-MS-Exchange-Organization-SCL"] == "9"
    assert [box.address for box in parsed.to] == ["help@fourthcoffee.com"]


def test_unknown_plain_name_is_a_continuation_when_the_whole_block_lost_its_indentation() -> None:
    raw = "Message-ID: <a@b>\nSubject: Machine broken,\nplease call back\nNote: urgent\nTo: help@fourthcoffee.com\n"
    parsed = parse_headers(raw)
    assert parsed.subject == "Machine broken, please call back Note: urgent"
    assert parsed.notes == ["2 folded line(s) had lost their indentation in copy and paste; joined them to the header "
                            "above"]


# --- 2. tag lists of signatures are continuations ------------------------------------------------------

DKIM_BLOCK = """\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=tailspin.com; s=s1;
 h=from:
 to:cc:subject:date:message-id:content-transfer-encoding:
 mime-version; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=;
 b=h6QEc2lnbmF0dXJl
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=tailspin.com; s=arc; h=From:Date:Subject:Message-ID:
 In-Reply-To:Content-Type; b=h6QEc2lnbmF0dXJl
From: Jo Brown <jo@tailspin.com>
To: Helpdesk <help@fourthcoffee.com>
In-Reply-To: <first@mail.tailspin.com>
Message-ID: <second@mail.tailspin.com>
Date: Tue, 3 Nov 2026 10:00:00 +0000
"""


def test_signature_tag_lists_never_become_headers() -> None:
    original, repaired = parse_headers(DKIM_BLOCK), parse_headers(unindented(DKIM_BLOCK))
    assert original.notes == []
    assert [box.address for box in repaired.to] == ["help@fourthcoffee.com"]
    assert repaired.in_reply_to == "<first@mail.tailspin.com>"
    assert (repaired.to, repaired.cc, repaired.in_reply_to, repaired.message_id) == \
        (original.to, original.cc, original.in_reply_to, original.message_id)
    assert any(REPAIRED in note for note in repaired.notes)


@pytest.mark.parametrize("line", ["to:cc:subject:date:message-id:content-transfer-encoding:",
                                  "In-Reply-To:Content-Type; b=h6QE", "SCL:1;SRV:;IPV:NLI;", "CTRY:;LANG:en;",
                                  "RE: still broken", "AW: Lieferung"])
def test_lines_that_cannot_be_headers_are_joined(line: str) -> None:
    parsed = parse_headers(f"Subject: Leak\n{line}\nTo: help@fourthcoffee.com\nMessage-ID: <a@b>\n")
    assert parsed.subject == f"Leak {line}"
    assert parsed.in_reply_to is None and [box.address for box in parsed.to] == ["help@fourthcoffee.com"]


# --- 3. fractional seconds and SendGrid's stamps -------------------------------------------------------

def test_fractional_seconds() -> None:
    raw = ("Received: from mx.tailspin.com by ismtpd0006p1lon1.sendgrid.net (SG) with HTTP id abc;"
           " Sun, 19 Mar 2017 17:47:01.650 +0000 (UTC)\nMessage-ID: <a@b>\n")
    assert analyse_headers(raw)["hops"][0]["at"] == "2017-03-19T17:47:01.650Z"


def test_sendgrid_stamps_without_semicolon() -> None:
    hops = analyse_headers(corpus("sendgrid"))["hops"]
    assert [hop["at"] for hop in hops[:2]] == ["2026-11-16T17:47:01.650Z", "2026-11-16T17:47:01.678Z"]
    assert [hop["by"] for hop in hops[:2]] == ["ismtpd0006p1lon1.sendgrid.net (SG)", "filter0225p1mdw1.sendgrid.net"]
    raw = ("Received: by filter0225p1mdw1.sendgrid.net with SMTP id filter0225p1mdw1-13399-58CEC425-5E\n"
           " 2017-03-19 17:47:01.67872943 +0000 UTC\nMessage-ID: <a@b>\n")
    assert analyse_headers(raw)["hops"][0]["at"] == "2017-03-19T17:47:01.678Z"


# --- 4. whole-second stamping is not clock skew --------------------------------------------------------

def received(second: int) -> str:
    return f"Received: from a.example by b.example with SMTP; Tue, 3 Nov 2026 10:00:{second:02d} +0000\n"


@pytest.mark.parametrize(("seconds", "skewed"), [(1, False), (2, False), (5, False), (6, True), (20, True)])
def test_clock_skew_tolerates_a_few_seconds(seconds: int, skewed: bool) -> None:
    raw = received(30 - seconds) + received(30) + "Message-ID: <a@b>\nDate: Tue, 3 Nov 2026 10:00:29 +0000\n"
    result = analyse_headers(raw)
    assert result["hops"][1]["delay_seconds"] == -seconds
    assert result["hops"][1]["clock_skew"] is skewed
    assert any(note.startswith("clock skew") for note in result["notes"]) is skewed
    assert ("CLOCK SKEW" in render_headers_text(result)) is skewed


# --- 5. bulk and list mail -----------------------------------------------------------------------------

@pytest.mark.parametrize("precedence", ["bulk", "list", "junk"])
def test_precedence_bulk_or_list_is_not_an_automatic_reply(precedence: str) -> None:
    result = analyse_headers(f"Message-ID: <a@b>\nPrecedence: {precedence}\nTo: help@fourthcoffee.com\n")
    assert result["auto_reply"] == {} and result["bulk"] == {"Precedence": precedence}
    note = next(note for note in result["notes"] if note.startswith("bulk or mailing-list markers"))
    assert "this is a bulk or list message, not an automatic reply" in note
    assert "a rule that does not create cases for unknown senders skips it" in note
    assert not any("generated automatically" in note for note in result["notes"])


def test_mailing_list_post() -> None:
    result = analyse_headers(corpus("mailman-list"))
    assert result["bulk"] == {"Precedence": "list", "List-Id": "Coffee machine users <users.lists.example.org>"}
    assert result["auto_reply"] == {}


def test_precedence_auto_reply_is_automatic() -> None:
    result = analyse_headers("Message-ID: <a@b>\nPrecedence: auto_reply\n")
    assert result["auto_reply"] == {"Precedence": "auto_reply"} and result["bulk"] == {}


# --- 6. one authentication entry per Authentication-Results header -------------------------------------

TWO_SERVERS = """\
Authentication-Results: mx.fourthcoffee.com; spf=fail smtp.mailfrom=tailspin.com;
 dmarc=fail (p=reject) header.from=tailspin.com
Authentication-Results: mx.google.com;
 dkim=pass header.i=@tailspin.com header.s=s1;
 arc=pass (i=1 spf=pass spfdomain=tailspin.com dkim=pass dkdomain=tailspin.com dmarc=pass fromdomain=tailspin.com)
Message-ID: <a@b>
"""


def test_authentication_results_are_kept_per_server_newest_first() -> None:
    result = analyse_headers(TWO_SERVERS)
    assert result["authentication"] == [
        {"authserv_id": "mx.fourthcoffee.com", "spf": "fail", "dkim": None, "dmarc": "fail", "compauth": None,
         "compauth_reason": None, "arc": None},
        {"authserv_id": "mx.google.com", "spf": None, "dkim": "pass", "dmarc": None, "compauth": None,
         "compauth_reason": None, "arc": "pass"}]  # the results quoted in arc's comment are not Google's own
    notes = " ".join(result["notes"])
    assert "mx.fourthcoffee.com found dmarc=fail (also spf=fail): the sender's domain could not be verified" in notes
    assert "Auth:        mx.fourthcoffee.com: spf=fail dmarc=fail" in render_headers_text(result)


def test_compauth_pass_overrides_a_failed_dmarc_after_a_forward() -> None:
    parsed = parse_headers(corpus("gmail-forward-arc"))
    assert parsed.authentication == [
        Authentication(None, spf="pass", dkim="fail", dmarc="fail", compauth="pass", compauth_reason="130"),
        Authentication("mx.google.com", spf="pass", dkim="pass", dmarc="pass")]
    assert not any("could not be verified" in note for note in analyse_headers(corpus("gmail-forward-arc"))["notes"])


def test_exchange_online_results_have_no_authserv_id() -> None:
    parsed = parse_headers(corpus("exchange-online-inbound"))
    assert parsed.authentication == [Authentication(None, "pass", "pass", "pass", "pass", "100")]
    assert parsed.received_spf == "pass"


# --- spam verdict --------------------------------------------------------------------------------------

def antispam(report: str, scl: str | None = None) -> dict:
    lines = f"Message-ID: <a@b>\nX-Forefront-Antispam-Report: {report}\n"
    lines += f"X-MS-Exchange-Organization-SCL: {scl}\n" if scl else ""
    return analyse_headers(lines)["spam"]


@pytest.mark.parametrize(("report", "junk"), [
    ("CIP:192.0.2.1;SCL:1;SFV:NSPM;CAT:NONE;", False),
    ("CIP:192.0.2.1;SCL:4;SFV:NSPM;CAT:NONE;", False),
    ("CIP:192.0.2.1;SCL:5;SFV:NSPM;CAT:NONE;", True),
    ("CIP:192.0.2.1;SCL:9;SFV:SPM;CAT:HSPM;", True),
    ("CIP:192.0.2.1;SCL:1;SFV:SKS;CAT:NONE;", True),
    ("CIP:192.0.2.1;SCL:6;SFV:SKB;CAT:SPM;", True),
    ("CIP:192.0.2.1;SCL:-1;SFV:BLK;CAT:NONE;", True),
    ("CIP:192.0.2.1;SCL:-1;SFV:SKN;CAT:NONE;", False),
    ("CIP:192.0.2.1;SCL:-1;SFV:SFE;CAT:NONE;", False),
])
def test_junk_verdict(report: str, junk: bool) -> None:
    spam = antispam(report)
    assert spam["junk"] is junk
    assert spam["sfv"] == re.search(r"SFV:(\w+)", report)[1]
    assert spam["scl"] == int(re.search(r"SCL:(-?\d+)", report)[1])
    assert (spam["junk_reason"] is not None) is junk


def test_the_report_scl_wins_over_the_organisation_header() -> None:
    assert antispam("SCL:1;SFV:NSPM;", scl="9")["scl"] == 1
    assert antispam("SFV:NSPM;", scl="9")["scl"] == 9


def test_blocked_sender_delivered_to_junk() -> None:
    result = analyse_headers(corpus("exchange-online-blocked-sender"))
    spam = result["spam"]
    assert (spam["scl"], spam["sfv"], spam["cat"], spam["junk"], spam["bcl"], spam["dest"]) == \
        (6, "SKB", "SPM", True, "7", "J")
    assert any("dest:J" in note for note in result["notes"])
    assert result["authentication"][0]["spf"] == "softfail"
