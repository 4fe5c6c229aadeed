"""``ParsedHeaders`` and the header diagnosis as the contract's JSON, and as readable text."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from ..cause_view import words_of
from ..causes import BY_ID
from .model import Mailbox, ParsedHeaders
from .received import host
from .spam import contract_junk


def headers_json(parsed: ParsedHeaders) -> dict:
    """The facts part of the header JSON."""
    return {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "from": _mailbox_json(parsed.from_) if parsed.from_ else None,
        "to": [_mailbox_json(mailbox) for mailbox in parsed.to],
        "cc": [_mailbox_json(mailbox) for mailbox in parsed.cc],
        "subject": parsed.subject,
        "date": iso(parsed.date),
        "hops": [{"from": hop.from_, "by": hop.by, "with": hop.with_, "at": iso(hop.at),
                  "delay_seconds": hop.delay_seconds, "clock_skew": hop.clock_skew, "comment": hop.comment}
                 for hop in parsed.hops],
        "total_transit_seconds": parsed.total_transit_seconds,
        "resent": _resent_json(parsed),
        "envelope_recipients": parsed.envelope_recipients,
        "auto_reply": parsed.auto_reply,
        "bulk": parsed.bulk,
        "spam": _spam_json(parsed),
        "authentication": [asdict(entry) for entry in parsed.authentication],
        "received_spf": parsed.received_spf,
        "exchange": parsed.exchange,
    }


def _spam_json(parsed: ParsedHeaders) -> dict:
    verdict = parsed.spam
    return {"scl": parsed.scl, "sfv": parsed.sfv, "cat": parsed.antispam.get("CAT"),
            "junk": contract_junk(parsed.antispam),
            # where the message really went, read with dest, DIR and the other filters (our reading, see spam.py)
            "in_junk": verdict.junk, "junk_reason": verdict.reason, "verdict_by": verdict.by,
            "bcl": parsed.antispam.get("BCL"), "dir": parsed.antispam.get("DIR"), "dest": parsed.antispam.get("DEST"),
            "delivered_to": verdict.delivered_to, "override": verdict.override,
            "mailbox_delivery": parsed.mailbox_delivery, "other_filters": parsed.other_filters,
            "report": parsed.antispam}


def _resent_json(parsed: ParsedHeaders) -> list[dict]:
    """Each re-sending, oldest first, with the number of its first hop (None when no hop is stamped after it)."""
    firsts = {hop.sending: number for number, hop in reversed(list(enumerate(parsed.hops, 1))) if hop.sending}
    return [{"date": iso(item.date), "from": _mailbox_json(item.from_) if item.from_ else None,
             "to": [_mailbox_json(mailbox) for mailbox in item.to], "message_id": item.message_id,
             "first_hop": firsts.get(number)}
            for number, item in enumerate(parsed.resent, 1)]


def _mailbox_json(mailbox: Mailbox) -> dict:
    return {"name": mailbox.name, "address": mailbox.address}


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z; milliseconds only when the server stamped a fraction."""
    if value is None:
        return None
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- text ----------------------------------------------------------------------------------------------

def render_headers_text(result: dict) -> str:
    """A readable summary of ``analyse_headers``' result for ``--format text``."""
    lines = _facts_text(result) + [""] + _verdict_text(result)
    lines += ["", *_hops_text(result)]
    for title, items in (("Notes", result.get("notes")),
                         ("Not checked", [f"{item['id']}: needs {', '.join(item['missing'])}"
                                          for item in result.get("unchecked", [])])):
        if items:
            lines += ["", title, *(f"  - {item}" for item in items)]
    return "\n".join(lines) + "\n"


def spam_summary(spam: dict) -> str | None:
    """"SCL 6, SFV SPM, CAT SPM: junk (…)", or None when the headers carry no anti-spam verdict."""
    parts = [f"{key.upper()} {spam[key]}" for key in ("scl", "sfv", "cat", "bcl") if spam.get(key) is not None]
    if not parts:
        return None
    where = f", delivered to {spam['delivered_to']}" if spam.get("delivered_to") else ""
    return ", ".join(parts) + (f": junk ({spam['junk_reason']})" if spam.get("in_junk") else ": not junk") + where


def authentication_summary(entry: dict) -> str:
    """"mx.google.com: spf=pass dkim=pass dmarc=pass"."""
    results = " ".join(f"{method}={entry[method]}" for method in ("spf", "dkim", "dmarc", "compauth", "arc")
                       if entry.get(method))
    reason = f" (reason {entry['compauth_reason']})" if entry.get("compauth_reason") else ""
    return f"{entry.get('authserv_id') or '(no authserv-id)'}: {results or 'no results'}{reason}"


def _facts_text(result: dict) -> list[str]:
    def people(items: list[dict]) -> str:
        return ", ".join(str(Mailbox(item["name"], item["address"])) for item in items) or "—"

    sender = result.get("from")
    rows = [("Message-ID", result.get("message_id")), ("Subject", result.get("subject")),
            ("From", people([sender]) if sender else None), ("To", people(result.get("to", []))),
            ("Cc", people(result.get("cc", []))), ("Date", result.get("date")),
            ("In-Reply-To", result.get("in_reply_to")),
            ("Envelope", ", ".join(result.get("envelope_recipients", [])) or None),
            ("Spam", spam_summary(result.get("spam") or {}))]
    rows += [("Re-sent", f"{item['date'] or '?'}" + (f" by {people([item['from']])}" if item.get("from") else ""))
             for item in result.get("resent") or []]
    rows += [("Auth", authentication_summary(entry)) for entry in result.get("authentication") or []]
    return [f"{name + ':':<13}{value}" for name, value in rows if value]


def _verdict_text(result: dict) -> list[str]:
    primary = result.get("primary_cause")
    lines = [f"Verdict: {result['verdict']}" + (f" (primary cause: {primary})" if primary else "")]
    if result.get("not_in_snapshot"):
        lines.append(f"  {result['not_in_snapshot']['why']}")
    email = result.get("snapshot_email")
    if email:
        lines.append(f"Snapshot email: {email.get('activityid')} '{email.get('subject')}' ({email.get('verdict')})")
    for number, cause in enumerate(result.get("causes", []), 1):
        where = f" [queue {cause['queue']}]" if cause.get("queue") else ""
        lines.append(f"{number}. {cause['id']}: {BY_ID[cause['id']].title}{where}")
        lines += [f"     - {words_of(item, cause['id'])}" for item in cause["evidence"]]
        lines.append(f"     Fix: {cause['remediation']}")
    return lines


def _hops_text(result: dict) -> list[str]:
    hops = result.get("hops", [])
    if not hops:
        return ["No Received headers."]
    total = result.get("total_transit_seconds")
    lines = [f"Hops (oldest first), total transit {'?' if total is None else f'{total} s'}"]
    for number, hop in enumerate(hops, 1):
        delay = "?" if hop["delay_seconds"] is None else f"{hop['delay_seconds']} s"
        skew = "  CLOCK SKEW" if hop["clock_skew"] else ""
        route = f"({hop['comment']})" if hop.get("comment") else \
            f"{host(hop['from'])} -> {host(hop['by'])}  {hop['with'] or ''}"
        lines.append(f"  {number:>2}. {hop['at'] or '?':<24} {delay:>7}  {route}{skew}")
    return lines


# --- the Check one email page: words for the verdict, authentication and spam -----------------------------

HEADER_VERDICT_LABELS = {"not-in-snapshot": "Not in this snapshot",
                         "unknown": "Nothing proven by the headers alone"}
# https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo
_SFV = {"NSPM": "not spam", "SPM": "spam (spam filtering)", "SKS": "spam, marked before filtering (mail flow rule)",
        "SKB": "blocked: sender or domain on an anti-spam policy's blocked list",
        "BLK": "blocked: sender on the recipient's Blocked Senders list",
        "SKN": "not spam, marked before filtering (mail flow rule)",
        "SKA": "allowed: sender or domain on an anti-spam policy's allowed list",
        "SFE": "allowed: sender on the recipient's Safe Senders list", "SKI": "skipped: internal message",
        "SKQ": "released from quarantine"}
_CAT = {"NONE": "none", "BULK": "bulk", "SPM": "spam", "HSPM": "high confidence spam", "PHSH": "phishing",
        "HPHSH": "high confidence phishing", "HPHISH": "high confidence phishing", "MALW": "malware",
        "SPOOF": "spoofing", "DIMP": "domain impersonation", "UIMP": "user impersonation",
        "GIMP": "mailbox intelligence impersonation", "AMP": "anti-malware", "SAP": "safe attachments",
        "OSPM": "outbound spam", "INTOS": "intra-organisation phishing"}
# Our reading of the undocumented X-Microsoft-Antispam-Mailbox-Delivery (see spam.py).
_DEST = {"I": "Inbox", "J": "Junk Email", "C": "a custom folder (an inbox rule)"}


def _scl_meaning(scl: int) -> str:
    if scl < 0:
        return "filtering skipped (internal or trusted sender)"
    return "not spam" if scl < 5 else ("spam" if scl < 7 else "high confidence spam")


def spam_rows(spam: dict) -> list[dict]:
    """The anti-spam verdict as Message Header Analyzer lists it: field, value, meaning."""
    rows = []
    if spam.get("scl") is not None:
        rows.append({"Field": "SCL", "Value": str(spam["scl"]), "Meaning": _scl_meaning(spam["scl"])})
    for field, value, meanings in (("SFV", spam.get("sfv"), _SFV), ("CAT", spam.get("cat"), _CAT),
                                   ("Mailbox delivery (dest)", spam.get("dest"), _DEST)):
        if value:
            rows.append({"Field": field, "Value": value, "Meaning": meanings.get(value.upper(), "")})
    if spam.get("override"):
        rows.append({"Field": "Mailbox delivery override (OFR)", "Value": spam["override"],
                     "Meaning": "why the mailbox overrode the filter (undocumented by Microsoft)"})
    if spam.get("bcl") is not None:
        rows.append({"Field": "BCL", "Value": str(spam["bcl"]), "Meaning": "bulk complaint level (0-9)"})
    rows += [{"Field": name, "Value": value, "Meaning": "another filter's verdict"}
             for name, value in (spam.get("other_filters") or {}).items()]
    if rows:
        rows.append({"Field": "Junk", "Value": "yes" if spam.get("in_junk") else "no",
                     "Meaning": spam.get("junk_reason") or "not classed as spam"})
    if spam.get("verdict_by"):
        rows.append({"Field": "Verdict by", "Value": spam["verdict_by"], "Meaning": "whose verdict the rows show"})
    return rows


def authentication_rows(result: dict) -> list[dict]:
    """One row per Authentication-Results header, newest (the receiving organisation's) first."""
    return [{"Checked by": entry.get("authserv_id") or "(not named; Exchange Online names none)",
             "SPF": entry.get("spf") or "—", "DKIM": entry.get("dkim") or "—", "DMARC": entry.get("dmarc") or "—",
             "CompAuth": (entry.get("compauth") or "—") + (f" (reason {entry['compauth_reason']})"
                                                          if entry.get("compauth_reason") else "")}
            for entry in result.get("authentication") or []]
