"""What the headers prove: notes (rules over ``ParsedHeaders``), the Bcc check, and the verdict.

Verdicts (header mode cannot see cases, so it only says what it can prove):

- ``not-converted``: a cause was found, by the headers or by the diagnosis of the snapshot email with
  this Message-ID (which may also be ``not-converted`` with no cause: unexplained);
- ``converted``, ``outgoing``, …: the snapshot email with this Message-ID, as the snapshot diagnosis says
  (the headers' findings then become notes);
- ``not-in-snapshot``: no snapshot email has this Message-ID and the email is dated after the snapshot's
  newest email: export again (the causes the headers alone prove are still listed);
- ``unknown``: nothing is proven (typically headers without a snapshot, and no queue given).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..causes import BY_ID, Cause, email_not_synced, queue_only_in_bcc, reply_to_tracked_email
from ..normalize import address_key
from .fields import parse_headers
from .model import Mailbox, ParsedHeaders
from .received import host
from .render import headers_json

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
    not_in_snapshot: bool = False  # dated after the snapshot's newest email
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


def junk(parsed: ParsedHeaders) -> list[str]:
    notes = []
    if parsed.junk_reason:
        notes.append(f"Exchange Online Protection classed it as spam ({parsed.junk_reason}): it may have "
                     "landed in Junk Email or quarantine, and only mail in the root Inbox is synced")
    if parsed.antispam.get("DEST") == "J":
        notes.append("X-Microsoft-Antispam-Mailbox-Delivery says dest:J: the mailbox delivered it to Junk Email, "
                     "and only mail in the root Inbox is synced")
    return notes


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
    return [f"{server} found {method}=fail: the sender's domain could not be verified, so the message may have "
            "gone to Junk Email or quarantine"]


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
    repairs, no_message_id, automatic_message, bulk_message, junk, authentication_failed, clock_skew,
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
        diagnosis.note(f"delivered to {', '.join(hidden)}, which is in neither To nor Cc (a Bcc, a distribution "
                       "list or a forward): a queue with that address gets no queue item unless the "
                       "organisation setting CreateQueueItemForSynchronizingMailbox is on")
