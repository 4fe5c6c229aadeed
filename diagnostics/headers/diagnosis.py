"""What the headers prove: notes (rules over ``ParsedHeaders``), the Bcc check, and the verdict.

Verdicts (header mode cannot see cases, so it only says what it can prove):

- ``not-converted``: a cause was found, by the headers or by the diagnosis of the snapshot email with
  this Message-ID (which may also be ``not-converted`` with no cause: unexplained);
- ``converted``, ``outgoing``, …: the snapshot email with this Message-ID, as the snapshot diagnosis says
  (the headers' findings then become notes);
- ``not-in-snapshot``: no snapshot email has this Message-ID, and the email arrived outside the snapshot's
  dates (before its oldest or after its newest email: export a period that holds it) or was sent to none of
  its queues; ``not_in_snapshot`` says which and why (the causes the headers alone prove are still listed);
- ``unknown``: nothing is proven (typically headers without a snapshot, and no queue given).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from ..causes import BY_ID, Cause, email_not_synced, queue_only_in_bcc, reply_to_tracked_email
from ..normalize import address_key
from .fields import parse_headers
from .model import Mailbox, ParsedHeaders
from .received import host
from .render import headers_json
from .spam import allow_list_marks, allow_markers, flagged_filters

if TYPE_CHECKING:
    from ..report import Report
    from ..snapshot import Snapshot

NOT_SYNCED = email_not_synced.CAUSE.id
BCC = queue_only_in_bcc.CAUSE.id
REPLY = reply_to_tracked_email.CAUSE.id
NOT_IN_SNAPSHOT = "not-in-snapshot"
_TRACKING_TOKEN = re.compile(r"\bCRM:\d+")


def cause_info(cause_id: str) -> Cause:
    """The registry entry of a cause (``title``, ``remediation``, ``order``)."""
    return BY_ID[cause_id]


@dataclass(frozen=True)
class TargetQueue:
    address: str
    id: str | None = None
    name: str | None = None
    filtering: int | None = None

    @property
    def ref(self) -> str:
        return self.id or self.address

    @property
    def label(self) -> str:
        return f"'{self.name}' ({self.address})" if self.name else self.address


@dataclass
class Diagnosis:
    causes: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchecked: list[dict] = field(default_factory=list)
    queues: list[TargetQueue] = field(default_factory=list)
    email: dict | None = None  # the snapshot email with this Message-ID, as the snapshot diagnosis says
    not_in_snapshot: dict | None = None  # why the snapshot cannot hold the email: outside its dates, no queue of it
    found_by_headers: set[str] = field(default_factory=set)  # cause ids the header checks added

    def add(self, cause_id: str, queue: str | None, evidence: list[str]) -> None:
        """A new cause, or more evidence for the same cause and queue."""
        existing = self.find(cause_id, queue)
        self.found_by_headers.add(cause_id)
        if existing is None:
            self.causes.append({"id": cause_id, "queue": queue, "evidence": evidence,
                                "remediation": cause_info(cause_id).remediation})
        else:
            existing["evidence"] += [line for line in evidence if line not in existing["evidence"]]

    def find(self, cause_id: str, queue: str | None) -> dict | None:
        return next((cause for cause in self.causes if cause["id"] == cause_id and cause["queue"] == queue),
                    None)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def unchecked_for(self, cause_id: str, missing: list[str]) -> None:
        if not any(item["id"] == cause_id for item in self.unchecked):
            self.unchecked.append({"id": cause_id, "missing": missing})

    @property
    def settled(self) -> bool:
        """The snapshot diagnosed the email as something else than not converted (a case, outgoing, not for
        a queue…): the headers' findings become notes."""
        return bool(self.email) and self.email["verdict"] != "not-converted"

    def verdict(self) -> str:
        if self.settled:
            return self.email["verdict"]  # settled: the email is there
        if self.not_in_snapshot:
            return NOT_IN_SNAPSHOT
        if self.causes:
            return "not-converted"
        return self.email["verdict"] if self.email else "unknown"

    def primary_cause(self, causes: list[dict]) -> str | None:
        """The first cause in pipeline order; for a snapshot email, the engine's primary cause (which weighs
        the expected queues) unless a cause the headers found comes before it."""
        if not causes or self.email is None:
            return causes[0]["id"] if causes else None
        candidates = {cause["id"] for cause in causes if cause["id"] in self.found_by_headers}
        if self.email.get("primary_cause"):
            candidates.add(self.email["primary_cause"])
        return min(candidates, key=lambda cause_id: cause_info(cause_id).order, default=None)

    def as_json(self) -> dict:
        verdict = self.verdict()
        causes = [] if self.settled else sorted(self.causes, key=lambda cause: cause_info(cause["id"]).order)
        return {
            "queues": [{"id": queue.id, "name": queue.name, "address": queue.address} for queue in self.queues],
            "snapshot_email": self.email,
            "not_in_snapshot": self.not_in_snapshot,
            "verdict": verdict,
            "primary_cause": self.primary_cause(causes),
            "causes": causes,
            "notes": self.notes,
            "unchecked": self.unchecked,
        }


def analyse_headers(raw: str | bytes, snapshot: Snapshot | None = None, queue: str | None = None,
                    report: Report | None = None) -> dict:
    """Header mode of the contract: facts and hops, then what the headers (and a snapshot) prove.

    ``queue``: the queue address the email was meant for. ``report``: ``diagnose(snapshot)`` when the
    caller already has it (otherwise it is computed when needed).
    """
    parsed = parse_headers(raw)
    diagnosis = Diagnosis()
    for rule in NOTE_RULES:
        for note in rule(parsed):
            diagnosis.note(note)
    if snapshot is None:
        _without_snapshot(parsed, address_key(queue), diagnosis)
    else:
        from .snapshot_check import SnapshotCheck  # the only part that needs the engine

        SnapshotCheck(parsed, snapshot, report, address_key(queue), diagnosis).run()
    _envelope_note(parsed, diagnosis)
    return {**headers_json(parsed), **diagnosis.as_json()}


# --- note rules: each reads the parsed headers and returns the notes it has -------------------------

def repairs(parsed: ParsedHeaders) -> list[str]:
    return list(parsed.notes)


def no_message_id(parsed: ParsedHeaders) -> list[str]:
    if parsed.message_id:
        return []
    return ["no Message-ID header: the email cannot be matched to a snapshot"]


def automatic_message(parsed: ParsedHeaders) -> list[str]:
    if not parsed.auto_reply:
        return []
    markers = "; ".join(f"{name}: {value}" for name, value in parsed.auto_reply.items())
    return [f"automatic-message markers ({markers}): this email was generated automatically (an "
            "out-of-office reply, a rule or a notification)"]


def bulk_message(parsed: ParsedHeaders) -> list[str]:
    if not parsed.bulk:
        return []
    markers = "; ".join(f"{name}: {value}" for name, value in parsed.bulk.items())
    return [f"bulk or mailing-list markers ({markers}): this is a bulk or list message, not an automatic "
            "reply. Record creation rules do not skip it for that: it becomes a case like any other email when "
            "its sender passes the rule's sender check (a list or newsletter address is seldom a known "
            "contact, so a rule that does not create cases for unknown senders skips it)"]


# The mailbox delivery header is undocumented: every note that reads its dest says so.
DEST_INFERENCE = ("(X-Microsoft-Antispam-Mailbox-Delivery is not documented by Microsoft: reading dest:I as the "
                  "Inbox and dest:J as Junk Email is our inference from observed headers)")
_ONLY_INBOX = "only mail in the root Inbox is synced"


def junk(parsed: ParsedHeaders) -> list[str]:
    """Whose spam verdict it is, and where the mailbox put the message (``spam`` says why)."""
    verdict = parsed.spam
    notes = []
    if verdict.outbound_reason:
        notes.append(f"X-Forefront-Antispam-Report says DIR:OUT ({verdict.outbound_reason}): that is the sending "
                     "organisation's outbound spam filter (Microsoft documents DIR:OUT as an outbound message), not "
                     "the receiving organisation's junk verdict; it does not say the message went to Junk Email")
    if verdict.delivered_to == "Junk Email":
        found = f"; the filter's verdict: {verdict.filter_reason}" if verdict.filter_reason else ""
        notes.append(f"X-Microsoft-Antispam-Mailbox-Delivery says dest:J: the mailbox delivered it to Junk Email, "
                     f"and {_ONLY_INBOX}{found} {DEST_INFERENCE}")
    elif verdict.delivered_to == "Inbox" and verdict.filter_reason:
        notes.append(f"{_filter_name(parsed)} classed it as spam ({verdict.filter_reason}), yet "
                     f"X-Microsoft-Antispam-Mailbox-Delivery says dest:I: the mailbox delivered it to the Inbox"
                     f"{_override_text(parsed)}; the spam verdict did not keep it from being synced {DEST_INFERENCE}")
    elif verdict.delivered_to == "a custom folder":
        notes.append(f"X-Microsoft-Antispam-Mailbox-Delivery says dest:C: the mailbox delivered it to a custom folder "
                     f"(an inbox rule moved it), and {_ONLY_INBOX} {DEST_INFERENCE}")
    elif verdict.filter_reason and parsed.report_present:
        notes.append(f"Exchange Online Protection classed it as spam ({verdict.filter_reason}): it may have "
                     f"landed in Junk Email or quarantine, and {_ONLY_INBOX}")
    elif verdict.filter_reason:
        notes.append(_scl_without_report(parsed))
    return notes


def _filter_name(parsed: ParsedHeaders) -> str:
    if parsed.report_present:
        return "Exchange Online Protection"
    flagged = flagged_filters(parsed.other_filters)
    return f"Another filter ({'; '.join(flagged)})" if flagged else "A filter not named in the headers"


def _override_text(parsed: ParsedHeaders) -> str:
    marks = allow_list_marks(parsed.mailbox_delivery)
    found = [f"override OFR:{parsed.spam.override}"] if parsed.spam.override else []
    found += [f"allow-list marks {', '.join(marks)}"] if marks else []
    return f" ({'; '.join(found)}: the recipient's safe senders or an allow entry let it in)" if found else ""


def _scl_without_report(parsed: ParsedHeaders) -> str:
    """X-MS-Exchange-Organization-SCL at or above 5 and no Forefront report: not Exchange Online Protection."""
    flagged = flagged_filters(parsed.other_filters)
    source = (f"the headers show another filter: {'; '.join(flagged)}; a mail flow rule or the gateway may have "
              "set the SCL from it (our inference)") if flagged else \
        "the headers do not show which filter set it (a gateway, on-premises Exchange or a mail flow rule)"
    rules = _rules_that_ran(parsed)
    return (f"X-MS-Exchange-Organization-SCL is {parsed.scl} and there is no X-Forefront-Antispam-Report, so this is "
            f"not Exchange Online Protection's verdict: {source}{f' ({rules})' if rules else ''}. With SCL "
            f"{parsed.scl} Exchange's junk email rule may have put it in Junk Email, and {_ONLY_INBOX}")


def _rules_that_ran(parsed: ParsedHeaders) -> str | None:
    """The mail flow rules Exchange says ran (X-MS-Exchange-Organization-Rules-Execution-History)."""
    history = next((value for name, value in parsed.exchange.items()
                    if name.lower() == "x-ms-exchange-organization-rules-execution-history"), None)
    return f"mail flow rules that ran: {history}" if history else None


def authentication_failed(parsed: ParsedHeaders) -> list[str]:
    """The receiving organisation's verdict (the newest Authentication-Results) is the one that counts."""
    newest = parsed.receiving_authentication
    if newest is None:
        return []
    # Exchange Online's composite authentication may pass what DMARC fails (a forward with ARC, reason 130)
    method, result = ("compauth", newest.compauth) if newest.compauth else ("dmarc", newest.dmarc)
    if result != "fail":
        return []
    server = newest.authserv_id or "the receiving server (Exchange Online names none)"
    also = [f"{name}=fail" for name in ("spf", "dkim", "dmarc") if name != method and getattr(newest, name) == "fail"]
    found = f"{server} found {method}=fail" + (f" (also {', '.join(also)})" if also else "")
    if parsed.spam.delivered_to == "Inbox":
        return [f"{found}, yet the message was delivered to the Inbox (X-Microsoft-Antispam-Mailbox-Delivery "
                f"dest:I): {_why_let_in(parsed)}. The failed authentication did not keep it out of the Inbox, "
                f"which server-side synchronization syncs, so look for another cause {DEST_INFERENCE}"]
    if parsed.spam.delivered_to == "Junk Email":
        return [f"{found}: the sender's domain could not be verified, and the mailbox delivered it to Junk Email "
                "(dest:J)"]
    return [f"{found}: the sender's domain could not be verified, so the message may have gone to Junk Email or "
            "quarantine"]


def _why_let_in(parsed: ParsedHeaders) -> str:
    allowed = allow_markers(parsed.antispam, parsed.mailbox_delivery)
    allowed += [rules] if (rules := _rules_that_ran(parsed)) else []
    if allowed:
        return f"{'; '.join(allowed)}, which let it in"
    return ("an override (an allow entry in the Tenant Allow/Block List or an anti-spam policy) or a mail flow rule "
            "may have let it in; the headers do not show which")


def resent(parsed: ParsedHeaders) -> list[str]:
    """A re-sent message: each sending's delays count from its own date, the gap between them is no delay."""
    notes, before = [], parsed.date
    for number, item in enumerate(parsed.resent, 1):
        hops = [index for index, hop in enumerate(parsed.hops, 1) if hop.sending == number]
        by = f" by {item.from_}" if item.from_ else ""
        when = f" on {item.date:%Y-%m-%d %H:%M} UTC" if item.date else ""
        gap = f", {duration(item.date - before)} after the {'Date header' if number == 1 else 'sending before'}" \
            if item.date and before else ""
        ident = f" as {item.message_id} (Resent-Message-ID)" if item.message_id else ""
        where = (f": hops {hops[0]}-{hops[-1]} carried the re-sending and their delays count from its Resent-Date; "
                 "the time between the sendings is not a server delay") if hops else \
            ": no Received hop is stamped after it"
        notes.append(f"re-sent{by}{when}{ident}{gap}{where}")
        before = item.date or before
    return notes


def duration(delta: timedelta) -> str:
    """"22 h 26 min", "4 min 10 s", "12 s"."""
    seconds = round(abs(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def clock_skew(parsed: ParsedHeaders) -> list[str]:
    return [f"clock skew: hop {number} (by {host(hop.by)}) is stamped {-hop.delay_seconds} s earlier than "
            "the hop before it; the servers' clocks disagree, so delays around it are approximate"
            for number, hop in enumerate(parsed.hops, 1) if hop.clock_skew]


def tracking_token(parsed: ParsedHeaders) -> list[str]:
    token = _TRACKING_TOKEN.search(parsed.subject or "")
    if not token:
        return []
    return [f"the subject carries the tracking token '{token[0]}': server-side synchronization can correlate "
            "it with a tracked email, and a correlated email creates no new case"]


NOTE_RULES: tuple[Callable[[ParsedHeaders], list[str]], ...] = (
    repairs, no_message_id, automatic_message, bulk_message, junk, authentication_failed, resent, clock_skew,
    tracking_token)


# --- what the headers alone prove ----------------------------------------------------------------------

def reply_hint(parsed: ParsedHeaders, diagnosis: Diagnosis) -> None:
    if parsed.in_reply_to:
        diagnosis.note(f"In-Reply-To is set ({parsed.in_reply_to}): possibly a reply to a tracked email; "
                       "check against a snapshot (a reply correlated with a tracked email creates no new case)")
    elif parsed.references:
        diagnosis.note(f"References names {len(parsed.references)} earlier message(s): possibly part of a "
                       "tracked conversation; check against a snapshot")


def _without_snapshot(parsed: ParsedHeaders, queue: str | None, diagnosis: Diagnosis) -> None:
    if queue:
        diagnosis.queues.append(TargetQueue(queue))
        check_bcc(parsed, TargetQueue(queue), diagnosis)
    reply_hint(parsed, diagnosis)
    diagnosis.note("without a snapshot only what the headers prove is reported: sync, queue items, rules "
                   "and senders are not checked")


def check_bcc(parsed: ParsedHeaders, queue: TargetQueue, diagnosis: Diagnosis) -> None:
    """``queue-only-in-bcc`` when the queue address is in neither To nor Cc."""
    if queue.address in parsed.recipients:
        return
    evidence = [f"{queue.address} is in neither To ({_addresses(parsed.to)}) nor Cc ({_addresses(parsed.cc)})"]
    sightings = [where for address, where in parsed.envelope if address == queue.address]
    if queue.address in parsed.resent_recipients:
        sightings.append(f"Resent-To: {queue.address} (the message was re-sent to it; a re-sending keeps the "
                         "original To and Cc)")
    if sightings:
        evidence.append(f"it shows only in the envelope, as a Bcc, a distribution list or a forward leaves it: "
                        f"{'; '.join(sightings)}")
    else:
        evidence.append("it shows nowhere in these headers (a Bcc, a distribution list or a forward leaves no "
                        "trace in To or Cc)")
    evidence.append("queue items are created for the queues in To or Cc (for Bcc only with the organisation "
                    "setting CreateQueueItemForSynchronizingMailbox)")
    if diagnosis.settled:
        diagnosis.note(f"{queue.label} is in neither To nor Cc, yet the snapshot shows the email as "
                       f"{diagnosis.email['verdict']}")  # settled: the email is there
    else:
        diagnosis.add(BCC, queue.ref, evidence)


def _addresses(mailboxes: list[Mailbox]) -> str:
    return ", ".join(mailbox.address for mailbox in mailboxes) or "empty"


def _envelope_note(parsed: ParsedHeaders, diagnosis: Diagnosis) -> None:
    checked = {queue.address for queue in diagnosis.queues}
    hidden = [address for address in parsed.envelope_recipients
              if address not in parsed.recipients and address not in checked]
    if hidden:
        how = "re-sent to it (Resent-To), and a re-sending keeps the original To and Cc" if \
            set(hidden) <= parsed.resent_recipients else "a Bcc, a distribution list or a forward"
        diagnosis.note(f"delivered to {', '.join(hidden)}, which is in neither To nor Cc ({how}): a queue with that "
                       "address gets no queue item unless the organisation setting "
                       "CreateQueueItemForSynchronizingMailbox is on")
