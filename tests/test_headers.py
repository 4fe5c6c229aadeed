"""Header mode: parsing quirks, hops, every diagnosis path and garbage input."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.evidence import text_of
from diagnostics.headers import Authentication, analyse_headers, parse_headers, render_headers_text
from diagnostics.snapshot import Snapshot, load_snapshot

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "headers"
SAMPLES = ROOT / "tests" / "fixtures" / "headers"
BASIC = ROOT / "tests" / "fixtures" / "snapshot-basic"
HELP = "help@fourthcoffee.com"
HELPDESK_ID = "80a1701d-08ba-58b0-b461-05ee7692c9e1"
FIRST_ID = "09b17da0-94e7-54a1-b7cb-a439d43e40f4"
CASE_ID = "f33ffbcc-83d5-512a-a404-0b92a2f1507e"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def basic() -> Snapshot:
    return load_snapshot(BASIC)


@pytest.fixture(scope="module")
def basic_report(basic: Snapshot):
    return diagnose(basic)


def hop_summary(raw: str) -> list[tuple]:
    return [(hop.at.strftime("%H:%M:%S") if hop.at else None, hop.delay_seconds, hop.with_)
            for hop in parse_headers(raw).hops]


def cause(result: dict, cause_id: str) -> dict:
    return next(item for item in result["causes"] if item["id"] == cause_id)


def headers(**fields: str) -> str:
    """A minimal header block; keyword names use _ for -."""
    base = {"From": "Jo Brown <jo@tailspin.com>", "To": f"Helpdesk <{HELP}>", "Subject": "Test",
            "Date": "Tue, 3 Nov 2026 10:00:00 +0000", "Message-ID": "<new@mail.tailspin.com>"}
    base.update({name.replace("_", "-"): value for name, value in fields.items()})
    return "".join(f"{name}: {value}\n" for name, value in base.items() if value is not None)


# --- parsing: real-shaped formats -----------------------------------------------------------------

def test_exchange_online_multihop() -> None:
    parsed = parse_headers(fixture("exchange-online-multihop.txt"))
    assert parsed.message_id == "<20261105081201.4711.A1B2C3@mail.tailspin.com>"
    assert parsed.subject == "Störung: Kaffeemaschine tropft – bitte dringend"
    assert (parsed.from_.name, parsed.from_.address) == ("Brown, Jo", "jo.brown@tailspin.com")
    assert [(box.name, box.address) for box in parsed.to] == [("Helpdesk", HELP)]
    assert [(box.name, box.address) for box in parsed.cc] == [("Renée Müller", "renee@tailspin.com"),
                                                              ("", "orders@tailspin.com")]
    assert parsed.date.isoformat() == "2026-11-05T08:12:01+00:00"
    assert hop_summary(fixture("exchange-online-multihop.txt")) == [
        ("08:12:03", 2, "ESMTP"), ("08:12:06", 3, "Microsoft SMTP Server"),
        ("08:12:08", 2, "Microsoft SMTP Server"), ("08:12:08", 0, "Microsoft SMTP Server"),
        ("08:12:09", 1, "HTTPS")]
    assert parsed.hops[1].from_ == "mail.tailspin.com (198.51.100.23)"
    assert parsed.hops[1].by == "AM4PEPF00027A6C.mail.protection.outlook.com (10.167.16.81)"
    assert parsed.total_transit_seconds == 8
    assert parsed.authentication == [Authentication(None, "pass", "pass", "pass", "pass", "100")]
    assert parsed.received_spf == "pass"
    assert (parsed.scl, parsed.antispam["SFV"], parsed.antispam["CAT"], parsed.antispam["DIR"],
            parsed.antispam["BCL"]) == (1, "NSPM", "NONE", "INB", "0")
    assert parsed.junk_reason is None
    assert parsed.exchange["X-MS-Exchange-Organization-AuthAs"] == "Anonymous"
    assert parsed.exchange["X-MS-Exchange-Organization-Network-Message-Id"] == \
        "5c1f9e2a-7b3d-4e8f-a6c1-0d2e3f4a5b6c"
    assert parsed.notes == []


def test_gmail() -> None:
    parsed = parse_headers(fixture("gmail.txt"))
    assert parsed.subject == "Bestellung 4711 überfällig"
    assert parsed.from_.name == "Renée Müller"
    assert hop_summary(fixture("gmail.txt")) == [("08:12:04", 2, "SMTPS"), ("08:12:05", 1, "SMTP")]
    assert parsed.hops[0].by == "mx.google.com"
    assert parsed.hops[0].for_ == HELP
    assert parsed.hops[1].from_ is None and parsed.hops[1].by.startswith("2002:a05:6a10")
    assert parsed.envelope_recipients == [HELP]
    assert parsed.authentication == [Authentication("mx.google.com", spf="pass", dkim="pass", dmarc="pass")]


def test_exchange_on_premises_relay() -> None:
    parsed = parse_headers(fixture("exchange-onprem.txt"))
    assert hop_summary(fixture("exchange-onprem.txt")) == [
        ("08:12:06", 1, "mapi"), ("08:12:08", 2, "Microsoft SMTP Server"), ("08:12:09", 1, "Microsoft SMTP Server")]
    assert parsed.hops[-1].by == "EX19MBX01.corp.fourthcoffee.com (10.20.0.11)"
    assert [box.address for box in parsed.cc] == [HELP]  # "CC:" as Exchange writes it
    assert parsed.from_.address == "dana@fourthcoffee.com"
    assert parsed.scl == -1 and parsed.junk_reason is None


def test_qmail() -> None:
    parsed = parse_headers(fixture("qmail.txt"))
    assert hop_summary(fixture("qmail.txt")) == [("08:12:03", 1, None), ("08:12:05", 2, "SMTP"),
                                                 ("08:12:07", 2, None)]
    first, smtp, _ = parsed.hops
    assert first.comment == "qmail 4410 invoked by uid 1001" and first.from_ is None
    assert smtp.from_ == "unknown (HELO mail.tailspin.com) (198.51.100.23)"
    assert smtp.by == "mx1.fourthcoffee.com"
    assert parsed.envelope_recipients == [HELP]


def test_postfix() -> None:
    parsed = parse_headers(fixture("postfix.txt"))
    assert parsed.subject == "Réclamation commande 4711"  # ISO-8859-1, B
    assert hop_summary(fixture("postfix.txt")) == [("08:12:04", 0, None), ("08:12:05", 1, "ESMTPS"),
                                                   ("08:12:07", 2, "ESMTP"), ("08:12:08", 1, "ESMTP")]
    local, tls, amavis, _ = parsed.hops
    assert local.from_ is None and local.by == "mail.tailspin.com (Postfix, from userid 1000)"
    assert tls.from_ == "mail.tailspin.com (mail.tailspin.com [198.51.100.23])"  # "with" in a comment
    assert tls.by == "mx2.fourthcoffee.com (Postfix)" and tls.for_ == HELP
    assert amavis.by.startswith("localhost")
    assert parsed.envelope_recipients == [HELP]


# --- parsing: what copy and paste does ------------------------------------------------------------

def test_lost_indentation() -> None:
    parsed = parse_headers(fixture("lost-indentation.txt"))
    assert parsed.subject == ("Service visit requested for the espresso machine in building 4, second "
                              "floor kitchen")
    assert [box.address for box in parsed.to] == [HELP, "dana@fourthcoffee.com", "sales@fourthcoffee.com"]
    assert parsed.message_id.startswith("<PH0PR11MB5049C2E7")
    assert [hop.at.strftime("%H:%M:%S") for hop in parsed.hops] == ["14:30:10", "14:30:11", "14:30:12"]
    assert parsed.hops[1].with_ == "Microsoft SMTP Server"
    # folded antispam pairs ("PTR:…", "SFS:…") are continuations, not headers
    assert parsed.antispam["PTR"] == "mail.wingtiptoys.com" and parsed.antispam["DIR"] == "INB"
    assert parsed.authentication[0].dmarc == "bestguesspass"
    assert any("lost their indentation" in note for note in parsed.notes)


def test_lost_indentation_before_a_reply_prefix() -> None:
    raw = headers(Subject="AW: WG: Ticket 4711 still open after the visit of the technician\nRE: leaking machine")
    assert parse_headers(raw).subject == ("AW: WG: Ticket 4711 still open after the visit of the technician RE: "
                                          "leaking machine")


def test_fixture_sample_lost_indentation() -> None:
    parsed = parse_headers(sample("pasted-lost-indentation.txt"))
    assert parsed.subject == "Order 4711 -- wrong beans delivered"
    assert parsed.from_.name == "Renée Müller"  # ISO-8859-1, Q
    assert parsed.hops[0].for_ == HELP
    assert parsed.hops[0].at.isoformat() == "2026-11-05T08:12:03+00:00"


def test_outlook_version_line() -> None:
    parsed = parse_headers(fixture("outlook-version-2.txt"))
    assert parsed.message_id == "<grinder@mail.tailspin.com>"
    assert len(parsed.hops) == 2 and parsed.notes == []


def test_crlf_gives_the_same_as_lf() -> None:
    raw = (FIXTURES / "outlook-crlf.txt").read_bytes()
    assert b"\r\n" in raw
    crlf, lf = parse_headers(raw), parse_headers(fixture("outlook-version-2.txt"))
    assert crlf.message_id == "<grinder-crlf@mail.tailspin.com>"
    assert (crlf.subject, crlf.to, crlf.hops, crlf.date) == (lf.subject, lf.to, lf.hops, lf.date)


def test_pasted_body_is_ignored() -> None:
    parsed = parse_headers(fixture("pasted-body.txt"))
    assert parsed.message_id == "<forward@mail.tailspin.com>"
    assert parsed.in_reply_to is None and parsed.cc == []  # those are in the quoted body
    assert any("first blank line" in note for note in parsed.notes)


def test_whole_eml_with_attachment() -> None:
    raw = (FIXTURES / "message-with-attachment.eml").read_bytes()
    parsed = parse_headers(raw)
    assert parsed.message_id == "<photo@mail.tailspin.com>"
    assert parsed.subject == "Photo of the leak – machine SN-4711"
    assert [box.address for box in parsed.to] == [HELP]


@pytest.mark.parametrize(("encoded", "decoded"), [
    ("=?utf-8?B?UkU6IEhlbHAgbmVlZGVkIChmaXJzdCkg4piV?=", "RE: Help needed (first) ☕"),
    ("=?UTF-8?Q?Bestellung_4711_=C3=BCberf=C3=A4llig?=", "Bestellung 4711 überfällig"),
    ("=?ISO-8859-1?B?UuljbGFtYXRpb24gY29tbWFuZGUgNDcxMQ==?=", "Réclamation commande 4711"),
    ("=?iso-8859-1?q?Ren=E9e_M=FCller?=", "Renée Müller"),
    ("Re: =?utf-8?B?U3TDtnJ1bmc=?= =?utf-8?Q?_mit_=C3=84rger?=", "Re: Störung mit Ärger"),
])
def test_encoded_word_subjects(encoded: str, decoded: str) -> None:
    assert parse_headers(headers(Subject=encoded)).subject == decoded


def test_bytes_fall_back_to_latin1() -> None:
    raw = headers(Subject="Réclamation").encode("latin-1")
    assert parse_headers(raw).subject == "Réclamation"


def test_leading_lines_before_the_first_header_are_skipped() -> None:
    parsed = parse_headers("From jo@tailspin.com Tue Nov  3 10:00:00 2026\n" + headers())
    assert parsed.message_id == "<new@mail.tailspin.com>"
    assert parsed.notes == ["ignored 1 line(s) before the first header"]


def test_byte_order_mark_and_url_continuation() -> None:
    raw = "\ufeff" + headers(List_Unsubscribe="<mailto:leave@tailspin.com>,\nhttps://tailspin.com/leave?id=1")
    parsed = parse_headers(raw.encode("utf-8"))
    assert parsed.message_id == "<new@mail.tailspin.com>"
    assert parsed.notes == ["1 folded line(s) had lost their indentation in copy and paste; joined them to the "
                            "header above"]


def test_references_without_angle_brackets() -> None:
    parsed = parse_headers(headers(References="first@mail.tailspin.com  second@mail.tailspin.com"))
    assert parsed.references == ["<first@mail.tailspin.com>", "<second@mail.tailspin.com>"]


def test_message_id_with_spaces_and_case() -> None:
    assert parse_headers(fixture("stranger.txt")).message_id == "<Stranger@Mail.Tailspin.com>"


def test_invalid_date_is_a_note() -> None:
    parsed = parse_headers(headers(Date="sometime last week"))
    assert parsed.date is None
    assert parsed.notes == ["the Date header 'sometime last week' is not a valid date"]


# --- hops and clock skew -------------------------------------------------------------------------

def test_clock_skew() -> None:
    parsed = parse_headers(fixture("clock-skew.txt"))
    assert [hop.delay_seconds for hop in parsed.hops] == [10, -20, 40]
    assert [hop.clock_skew for hop in parsed.hops] == [False, True, False]
    assert parsed.total_transit_seconds == 30
    result = analyse_headers(fixture("clock-skew.txt"))
    assert result["hops"][1]["clock_skew"] is True
    assert any(note.startswith("clock skew: hop 2 (by relay2.fourthcoffee.com)") for note in result["notes"])
    assert "CLOCK SKEW" in render_headers_text(result)


def test_hop_without_date_keeps_the_chain() -> None:
    raw = ("Received: from b by c with SMTP; Tue, 3 Nov 2026 10:00:09 +0000\n"
           "Received: from a by b with SMTP\n" + headers())
    parsed = parse_headers(raw)
    assert [(hop.at is None, hop.delay_seconds) for hop in parsed.hops] == [(True, None), (False, 9)]


# --- garbage -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "message"), [
    ("", "empty"),
    ("  \n\r\n\t\n", "empty"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
    (b"From: a@b.c\nSubject: x\x00\x00\x00\x01\x02\n", "binary"),
    ("hello world\nthis is just some text\n", "no email header"),
    ("Name: Jo\nCity: Berlin\n", "no email header"),
    ("x" * (5 * 1024 * 1024 + 1), "5 MB"),
    (b"Received: x\n" * (500 * 1024), "5 MB"),
])
def test_garbage_is_a_snapshot_error(raw: str | bytes, message: str) -> None:
    with pytest.raises(SnapshotError, match=message) as error:
        parse_headers(raw)
    assert "\n" not in str(error.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
       | st.lists(st.sampled_from(["Received: from a by b with SMTP; Tue, 3 Nov 2026 10:00:00 +0000",
                                   "From: =?utf-8?B?x?= <@>", "To: ,,;<<>>", "Date: 99 Foo 2026",
                                   "Message-ID: <", "References: < <a> >", "SCL:9;", " folded", "",
                                   "X-Forefront-Antispam-Report: SCL:x;SFV", "Received: (a (b) c",
                                   "Subject: =?bogus?Q?=ZZ?="]), max_size=12).map("\n".join))
def test_any_text_parses_or_is_a_snapshot_error(raw: str) -> None:
    try:
        result = analyse_headers(raw, queue=HELP)
    except SnapshotError:
        return
    json.dumps(result)
    render_headers_text(result)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_a_snapshot_error(raw: bytes) -> None:
    with contextlib.suppress(SnapshotError):
        parse_headers(raw)


def test_command_line_exits_2_on_garbage() -> None:
    done = subprocess.run([sys.executable, "-m", "diagnostics", "headers", "-"], input=b"\x00\x01\x02garbage",
                          capture_output=True, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and "binary" in done.stderr.decode()


# --- diagnosis without a snapshot ----------------------------------------------------------------

def test_no_snapshot_no_queue_is_unknown() -> None:
    result = analyse_headers(fixture("exchange-online-multihop.txt"))
    assert (result["verdict"], result["primary_cause"], result["causes"]) == ("unknown", None, [])
    assert any("without a snapshot" in note for note in result["notes"])


def test_contract_keys() -> None:
    result = analyse_headers(sample("exchange-online-reply.txt"))
    for key in ("message_id", "in_reply_to", "references", "from", "to", "cc", "subject", "date", "hops",
                "verdict", "primary_cause", "causes"):
        assert key in result
    assert set(result["hops"][0]) >= {"from", "by", "at", "delay_seconds", "with"}
    assert result["hops"][0]["at"] == "2026-11-04T10:00:05Z"
    assert result["references"] == ["<first@mail.tailspin.com>"]
    json.dumps(result)


def test_fixture_sample_reply_alone() -> None:
    result = analyse_headers(sample("exchange-online-reply.txt"))
    assert result["subject"] == "RE: Help needed (first) ☕"
    assert result["verdict"] == "unknown"
    assert any(note.startswith("In-Reply-To is set (<first@mail.tailspin.com>): possibly a reply")
               for note in result["notes"])


def test_fixture_sample_bcc_alone() -> None:
    result = analyse_headers(sample("pasted-lost-indentation.txt"), queue=HELP)
    assert (result["verdict"], result["primary_cause"]) == ("not-converted", "queue-only-in-bcc")
    bcc = cause(result, "queue-only-in-bcc")
    assert bcc["queue"] == HELP
    assert any("for <help@fourthcoffee.com>" in line for line in bcc["evidence"])
    assert bcc["remediation"]


def test_queue_nowhere_in_the_headers() -> None:
    result = analyse_headers(fixture("exchange-online-multihop.txt"), queue="sales@fourthcoffee.com")
    assert any("shows nowhere" in line for line in cause(result, "queue-only-in-bcc")["evidence"])


@pytest.mark.parametrize("queue", [HELP, "HELP@FourthCoffee.com", "Helpdesk <help@fourthcoffee.com>"])
def test_queue_in_cc_only_is_not_bcc(queue: str) -> None:
    result = analyse_headers(fixture("exchange-onprem.txt"), queue=queue)
    assert (result["verdict"], result["causes"]) == ("unknown", [])


def test_queue_in_to_is_not_bcc() -> None:
    assert analyse_headers(fixture("gmail.txt"), queue=HELP)["causes"] == []


def test_envelope_recipient_not_in_to_or_cc_is_a_note() -> None:
    result = analyse_headers(fixture("postfix.txt"))
    assert result["causes"] == []
    assert any(note.startswith("delivered to help@fourthcoffee.com, which is in neither To nor Cc")
               for note in result["notes"])


def test_auto_reply_markers() -> None:
    result = analyse_headers(fixture("auto-reply.txt"))
    assert result["auto_reply"] == {"Auto-Submitted": "auto-replied", "Precedence": "auto_reply",
                                    "X-MS-Exchange-Generated-Message-Source": "Mailbox Rules Agent"}
    assert any(note.startswith("automatic-message markers") for note in result["notes"])
    assert parse_headers(headers(Auto_Submitted="no", Precedence="normal")).auto_reply == {}


def test_spam_verdict_note() -> None:
    result = analyse_headers(fixture("spam.txt"))
    assert result["spam"]["scl"] == 6 and result["spam"]["sfv"] == "SPM"
    assert result["spam"]["junk"] is True
    assert result["spam"]["junk_reason"] == "SFV:SPM, marked as spam by spam filtering"
    assert result["authentication"] == [{"authserv_id": None, "spf": "fail", "dkim": "fail", "dmarc": "fail",
                                         "compauth": "fail", "compauth_reason": "000", "arc": None}]
    assert any(note.startswith("the receiving server (Exchange Online names none) found compauth=fail")
               for note in result["notes"])
    assert any("only mail in the root Inbox is synced" in note for note in result["notes"])
    assert parse_headers(headers(X_MS_Exchange_Organization_SCL="5")).junk_reason == "spam confidence level SCL 5"


def test_tracking_token_note() -> None:
    result = analyse_headers(headers(Subject="RE: Leak CRM:0001001"))
    assert any("tracking token 'CRM:0001001'" in note for note in result["notes"])


def test_text_rendering() -> None:
    text = render_headers_text(analyse_headers(sample("pasted-lost-indentation.txt"), queue=HELP))
    assert "Verdict: not-converted (primary cause: queue-only-in-bcc)" in text
    assert "The email is sent using only the Bcc field" in text
    assert "Hops (oldest first), total transit 3 s" in text
    assert "From:        Renée Müller <renee@tailspin.com>" in text


# --- diagnosis against a snapshot ----------------------------------------------------------------

def test_fixture_sample_reply_against_snapshot(basic: Snapshot) -> None:
    result = analyse_headers(sample("exchange-online-reply.txt"), snapshot=basic)
    # the reply regards a case whose state the sample lacks: converted and threaded (third round, item 1)
    assert (result["verdict"], result["primary_cause"]) == ("converted", None)
    assert result["snapshot_email"]["activityid"] == "a0037ae3-671a-51f8-9ffd-8aa436afd018"
    text = render_headers_text(result)
    assert "Snapshot email: a0037ae3-671a-51f8-9ffd-8aa436afd018 'Help needed (reply)' (converted)" in text


def test_fixture_sample_newer_than_the_snapshot(basic: Snapshot) -> None:
    """Dated 2026-11-05, after the snapshot's newest email (2026-11-04): export again, not a sync failure."""
    result = analyse_headers(sample("pasted-lost-indentation.txt"), snapshot=basic, queue=HELP)
    assert (result["verdict"], result["primary_cause"]) == ("not-in-snapshot", "queue-only-in-bcc")
    assert [item["id"] for item in result["causes"]] == ["queue-only-in-bcc"]  # the headers still prove it
    why = result["not_in_snapshot"]
    assert (why["reason"], why["time"], why["time_from"]) == ("after-period", "2026-11-05T08:12:03Z", "Received")
    assert why["why"].startswith("not in this snapshot: the email arrived 2026-11-05 08:12 UTC (its newest Received "
                                 "hop), after the newest email in the snapshot (created 2026-11-04 10:00 UTC)")


def test_email_dated_just_after_the_newest_email_is_not_in_snapshot(basic: Snapshot) -> None:
    raw = headers(Date="Wed, 4 Nov 2026 10:00:01 +0000")
    result = analyse_headers(raw, snapshot=basic)
    assert (result["verdict"], result["primary_cause"], result["causes"]) == ("not-in-snapshot", None, [])
    raw = headers(Date="Wed, 4 Nov 2026 10:00:00 +0000")
    assert analyse_headers(raw, snapshot=basic)["primary_cause"] == "email-not-synced"


def test_email_without_date_missing_from_the_snapshot_is_not_synced(basic: Snapshot) -> None:
    assert analyse_headers(headers(Date=None), snapshot=basic)["primary_cause"] == "email-not-synced"


def before_snapshot(raw: str) -> str:
    """The headers dated (Date and Received hops) within snapshot-basic's emails (2026-11-03 10:00 to 2026-11-04
    10:00 UTC): Thursday 5 November becomes Tuesday 3 November, 11:12 local time."""
    return raw.replace("Thu, 5 Nov 2026 ", "Tue, 3 Nov 2026 ").replace(" 5 Nov 2026", " 3 Nov 2026") \
        .replace("2026 09:12", "2026 12:12").replace("2026 08:12", "2026 11:12")


def test_fixture_sample_bcc_against_snapshot(basic: Snapshot) -> None:
    result = analyse_headers(before_snapshot(sample("pasted-lost-indentation.txt")), snapshot=basic, queue=HELP)
    assert (result["verdict"], result["primary_cause"]) == ("not-converted", "email-not-synced")
    assert [item["id"] for item in result["causes"]] == ["email-not-synced", "queue-only-in-bcc"]
    assert {item["queue"] for item in result["causes"]} == {HELPDESK_ID}
    evidence = cause(result, "email-not-synced")["evidence"]
    assert evidence[0] == "no email in the snapshot has Message-ID <CAF=4711.renee@mail.tailspin.com>"
    assert any("no mailboxes table" in line for line in evidence)


def test_envelope_finds_the_queue_without_queue_option(basic: Snapshot) -> None:
    result = analyse_headers(before_snapshot(sample("pasted-lost-indentation.txt")), snapshot=basic)
    assert [(item["id"], item["queue"]) for item in result["causes"]] == [
        ("email-not-synced", HELPDESK_ID), ("queue-only-in-bcc", HELPDESK_ID)]


def test_message_id_found_gives_the_snapshot_diagnosis(basic: Snapshot) -> None:
    result = analyse_headers(fixture("stranger.txt"), snapshot=basic)  # "< Stranger@Mail… >"
    assert result["snapshot_email"]["activityid"] == "82bd9f8d-6e4f-5a24-a34f-290ae964f098"
    assert (result["verdict"], result["primary_cause"]) == ("not-converted", "unknown-sender-not-allowed")
    assert not any(item["id"] == "email-not-synced" for item in result["causes"])


def test_converted_email(basic: Snapshot) -> None:
    result = analyse_headers(headers(Message_ID="<first@mail.tailspin.com>"), snapshot=basic, queue=HELP)
    assert (result["verdict"], result["primary_cause"], result["causes"]) == ("converted", None, [])


def test_converted_email_with_queue_not_in_to_is_a_note(basic: Snapshot) -> None:
    raw = headers(Message_ID="<first@mail.tailspin.com>", To="dana@fourthcoffee.com")
    result = analyse_headers(raw, snapshot=basic, queue=HELP)
    assert (result["verdict"], result["causes"]) == ("converted", [])
    assert any("in neither To nor Cc, yet the snapshot shows the email as converted" in note
               for note in result["notes"])


def test_reply_by_in_reply_to_not_synced(basic: Snapshot) -> None:
    raw = headers(In_Reply_To="<FIRST@mail.tailspin.com>")
    result = analyse_headers(raw, snapshot=basic)
    assert [item["id"] for item in result["causes"]] == ["email-not-synced", "reply-to-tracked-email"]
    evidence = cause(result, "reply-to-tracked-email")["evidence"]
    assert evidence[0] == (f"In-Reply-To names <FIRST@mail.tailspin.com>, the Message-ID of tracked email "
                           f"'Help needed (first)' ({FIRST_ID})")
    assert evidence[1] == f"'Help needed (first)' is regarding case 'Coffee machine leaks' ({CASE_ID})"
    assert cause(result, "reply-to-tracked-email")["queue"] is None


def test_reply_by_references_only(basic: Snapshot) -> None:
    result = analyse_headers(fixture("reply-by-references.txt"), snapshot=basic)
    evidence = cause(result, "reply-to-tracked-email")["evidence"]
    assert evidence[0].startswith("References names <FIRST@mail.tailspin.com>, the Message-ID of tracked")
    assert evidence[-1].startswith("only References names it")


def test_in_reply_to_unknown_to_the_snapshot(basic: Snapshot) -> None:
    result = analyse_headers(fixture("auto-reply.txt"), snapshot=basic)
    assert not any(item["id"] == "reply-to-tracked-email" for item in result["causes"])
    assert any("matches no email in the snapshot" in note for note in result["notes"])


def test_queue_in_cc_against_snapshot(basic: Snapshot) -> None:
    result = analyse_headers(before_snapshot(fixture("exchange-onprem.txt")), snapshot=basic, queue=HELP)
    assert [item["id"] for item in result["causes"]] == ["email-not-synced"]


def test_unknown_queue_address(basic: Snapshot) -> None:
    result = analyse_headers(fixture("exchange-onprem.txt"), snapshot=basic, queue="nobody@fourthcoffee.com")
    assert cause(result, "queue-only-in-bcc")["queue"] == "nobody@fourthcoffee.com"
    assert any("no queue with that address" in note for note in result["notes"])


def test_given_report_is_used(basic: Snapshot, basic_report, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(snapshot):
        raise AssertionError("diagnose must not run again")

    monkeypatch.setattr("diagnostics.evaluate.diagnose", fail)
    result = analyse_headers(fixture("stranger.txt"), snapshot=basic, report=basic_report)
    assert result["primary_cause"] == "unknown-sender-not-allowed"


def test_snapshot_lacking_emails_and_queues(basic: Snapshot) -> None:
    partial = Snapshot({name: frame for name, frame in basic.tables.items() if name not in ("emails", "queues")})
    result = analyse_headers(sample("pasted-lost-indentation.txt"), snapshot=partial, queue=HELP)
    assert result["unchecked"] == [{"id": "email-not-synced", "missing": ["emails"]},
                                   {"id": "reply-to-tracked-email", "missing": ["emails"]}]
    assert [(item["id"], item["queue"]) for item in result["causes"]] == [("queue-only-in-bcc", HELP)]
    assert any("the snapshot has no queues table" in note for note in result["notes"])


def test_mailbox_findings_are_the_evidence(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    shutil.copytree(BASIC, folder)
    mailbox = {"mailboxid": "5b2a6c1e-0f3d-4e8a-9b7c-1d2e3f4a5b6c", "emailaddress": HELP,
               "_regardingobjectid_value": HELPDESK_ID,
               "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "queue",
               "incomingemaildeliverymethod": 2, "incomingemailstatus": 1, "emailrouteraccessapproval": 1,
               "enabledforincomingemail": True, "lastsuccessfulsynccompletedon": "2026-11-05T07:00:00Z"}
    (folder / "mailboxes.json").write_text(json.dumps({"value": [mailbox]}))
    raw = before_snapshot(sample("pasted-lost-indentation.txt"))
    result = analyse_headers(raw, snapshot=load_snapshot(folder), queue=HELP)
    assert (f"mailbox '{HELP}': incoming delivery Server-Side Synchronization, incoming status Success, "
            "last successful sync 2026-11-05 07:00 UTC") in map(text_of, cause(result, "email-not-synced")["evidence"])

    (folder / "mailboxes.json").write_text(json.dumps({"value": [dict(mailbox, incomingemailstatus=2)]}))
    result = analyse_headers(raw, snapshot=load_snapshot(folder), queue=HELP)
    failure = [item for item in cause(result, "email-not-synced")["evidence"] if isinstance(item, dict)]
    assert [(item["code"], item["about"]["name"]) for item in failure] == [("mailbox-failure", HELP)]


def test_command_line_against_snapshot() -> None:
    done = subprocess.run([sys.executable, "-m", "diagnostics", "headers",
                           str(SAMPLES / "pasted-lost-indentation.txt"), "--snapshot", str(BASIC),
                           "--queue", HELP], capture_output=True, cwd=ROOT, check=True)
    result = json.loads(done.stdout)
    assert (result["verdict"], result["primary_cause"]) == ("not-in-snapshot", "queue-only-in-bcc")


def snapshot_with_emails(tmp_path: Path, *extra: dict) -> Snapshot:
    folder = tmp_path / "snapshot"
    shutil.copytree(BASIC, folder)
    data = json.loads((folder / "emails.json").read_text())
    data["value"] += list(extra)
    (folder / "emails.json").write_text(json.dumps(data))
    return load_snapshot(folder)


def test_message_id_shared_by_two_emails(tmp_path: Path) -> None:
    copy = {"activityid": "0c4d6f1e-2a3b-4c5d-8e9f-a0b1c2d3e4f5", "subject": "Help needed (first)",
            "messageid": "<first@mail.tailspin.com>", "directioncode": True, "createdon": "2026-11-03T10:00:00Z"}
    result = analyse_headers(headers(Message_ID="<first@mail.tailspin.com>"),
                             snapshot=snapshot_with_emails(tmp_path, copy))
    assert result["verdict"] == "converted" and result["snapshot_email"]["activityid"] == FIRST_ID
    assert f"2 snapshot emails have this Message-ID; diagnosing {FIRST_ID}" in result["notes"]


def test_outgoing_email(tmp_path: Path) -> None:
    sent = {"activityid": "1d5e7f2a-3b4c-4d5e-9fa0-b1c2d3e4f5a6", "subject": "Re: Help needed (first)",
            "messageid": "<sent@fourthcoffee.com>", "inreplyto": "<first@mail.tailspin.com>",
            "directioncode": True, "createdon": "2026-11-03T11:00:00Z"}
    result = analyse_headers(headers(Message_ID="<sent@fourthcoffee.com>", In_Reply_To="<first@mail.tailspin.com>"),
                             snapshot=snapshot_with_emails(tmp_path, sent))
    assert (result["verdict"], result["primary_cause"], result["causes"]) == ("outgoing", None, [])
    assert any(note.startswith("In-Reply-To names <first@mail.tailspin.com>") for note in result["notes"])


def test_report_without_the_email(basic: Snapshot) -> None:
    class EmptyReport:
        findings: list = []

        def email_detail(self, activityid: str) -> None:
            return None

    result = analyse_headers(fixture("stranger.txt"), snapshot=basic, report=EmptyReport())
    assert result["verdict"] == "unknown"
    assert any(note.startswith("the report has no diagnosis for snapshot email") for note in result["notes"])


class OneEmailReport:
    """A report whose diagnosis of every email is ``detail`` (the engine's choice of primary cause)."""

    findings: list = []

    def __init__(self, detail: dict) -> None:
        self.detail = detail

    def email_detail(self, activityid: str) -> dict:
        return {"activityid": activityid, **self.detail}


def engine_detail(primary: str | None) -> dict:
    causes = [{"id": "no-active-rule-for-queue", "queue": "b", "evidence": ["queue B has no rule"], "remediation": ""},
              {"id": "unknown-sender-not-allowed", "queue": "a", "evidence": ["unknown"], "remediation": ""}]
    return {"verdict": "not-converted", "primary_cause": primary, "causes": causes}


@pytest.mark.parametrize("primary", ["unknown-sender-not-allowed", None])
def test_the_engine_chooses_the_primary_cause_of_a_snapshot_email(basic: Snapshot, primary: str | None) -> None:
    """A rule-less queue beside a queue with an active rule is never primary (contract correction 3)."""
    result = analyse_headers(fixture("stranger.txt"), snapshot=basic, report=OneEmailReport(engine_detail(primary)))
    assert result["verdict"] == "not-converted" and len(result["causes"]) == 2
    assert result["primary_cause"] == primary


def test_a_cause_the_headers_prove_earlier_in_the_pipeline_is_primary(basic: Snapshot) -> None:
    detail = engine_detail("unknown-sender-not-allowed")
    result = analyse_headers(fixture("stranger.txt"), snapshot=basic, queue="nobody@fourthcoffee.com",
                             report=OneEmailReport(detail))
    assert result["primary_cause"] == "queue-only-in-bcc"
