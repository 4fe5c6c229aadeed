"""Header mode against a snapshot: find the email by Message-ID, then what the snapshot says about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..evidence import as_item
from ..normalize import message_id_key
from .diagnosis import BCC, NOT_SYNCED, REPLY, Diagnosis, TargetQueue, check_bcc, reply_hint
from .model import ParsedHeaders
from .render import iso

if TYPE_CHECKING:
    from ..report import Report
    from ..snapshot import Snapshot

_DELIVERY = {0: "None", 1: "Outlook", 2: "Server-Side Synchronization", 3: "Forward Mailbox"}
_STATUS = {0: "Not Run", 1: "Success", 2: "Failure"}
_FILTERING = {0: "All email messages", 1: "Email messages in response to Dynamics 365 email",
              2: "Email messages from leads, contacts and accounts",
              3: "Email messages from records that are email enabled", 4: "No email messages"}


class SnapshotCheck:
    """Find the email by Message-ID; diagnose it as the report does, or say why it is missing."""

    def __init__(self, parsed: ParsedHeaders, snapshot: Snapshot, report: Report | None, queue: str | None,
                 diagnosis: Diagnosis) -> None:
        self.parsed, self.snapshot, self._report, self.queue = parsed, snapshot, report, queue
        self.tables: dict[str, pd.DataFrame] = snapshot.tables
        self.diagnosis = diagnosis

    @property
    def report(self) -> Report:
        if self._report is None:
            from ..evaluate import diagnose

            self._report = diagnose(self.snapshot)
        return self._report

    def run(self) -> None:
        self.diagnosis.queues = self._target_queues()
        emails = self.tables.get("emails")
        if emails is None:
            for cause_id in (NOT_SYNCED, REPLY):
                self.diagnosis.unchecked_for(cause_id, ["emails"])
            reply_hint(self.parsed, self.diagnosis)
        else:
            found = self._find(emails)
            if found is not None:
                self._from_snapshot(found)
            elif self.parsed.message_id:
                self._missing(emails)
            self._replies(emails, found)
        for queue in self.diagnosis.queues:
            check_bcc(self.parsed, queue, self.diagnosis)
        if self.diagnosis.queues:  # the headers settle what the snapshot could not
            self.diagnosis.unchecked = [item for item in self.diagnosis.unchecked if item["id"] != BCC]

    def _target_queues(self) -> list[TargetQueue]:
        """The queue address given, else the snapshot's queues among To, Cc and envelope recipients."""
        frame = self.tables.get("queues")
        if self.queue:
            return [self._queue_at(frame, self.queue)]
        if frame is None:
            return []
        wanted = self.parsed.recipients | set(self.parsed.envelope_recipients)
        return [_queue_of(row) for row in frame[frame["address"].isin(list(wanted))].itertuples()]

    def _queue_at(self, frame: pd.DataFrame | None, address: str) -> TargetQueue:
        rows = frame[frame["address"] == address] if frame is not None else None
        if rows is None or rows.empty:
            where = "no queues table" if frame is None else "no queue with that address"
            self.diagnosis.note(f"the snapshot has {where}: {address} is checked against the headers only")
            return TargetQueue(address)
        return _queue_of(next(rows.itertuples()))

    def _find(self, emails: pd.DataFrame) -> Any:
        key = message_id_key(self.parsed.message_id)
        rows = emails[emails["messageid_key"] == key] if key else emails.iloc[:0]
        if len(rows) > 1:  # e.g. tracked by two mailboxes: the incoming one tells the story
            incoming = rows[~rows["directioncode"].fillna(False).astype(bool)]
            self.diagnosis.note(f"{len(rows)} snapshot emails have this Message-ID; diagnosing "
                                f"{(incoming if len(incoming) else rows).iloc[0]['activityid']}")
            rows = incoming if len(incoming) else rows
        return next(rows.itertuples(), None)

    def _from_snapshot(self, row: Any) -> None:
        detail = self.report.email_detail(row.activityid)
        if detail is None:  # a report made from another snapshot
            self.diagnosis.note(f"the report has no diagnosis for snapshot email {row.activityid}")
            return
        self.diagnosis.email = {key: detail.get(key) for key in
                                ("activityid", "subject", "received_on", "sender", "queues", "verdict",
                                 "primary_cause")}
        self.diagnosis.causes += [dict(cause, evidence=list(cause["evidence"]))
                                  for cause in detail.get("causes", [])]
        for note in detail.get("notes", []):
            self.diagnosis.note(note)
        self.diagnosis.unchecked += list(detail.get("unchecked", []))

    def _missing(self, emails: pd.DataFrame) -> None:
        """No snapshot email has this Message-ID: outside the snapshot's dates, sent to none of its queues, or
        not synced."""
        why = self._outside_period(emails) or self._for_none_of_its_queues()
        if why:
            self.diagnosis.not_in_snapshot = why
            return
        for queue in self.diagnosis.queues or [None]:
            evidence = [f"no email in the snapshot has Message-ID {self.parsed.message_id}"]
            evidence += self._sync_evidence(queue)
            if self.parsed.junk_reason:
                evidence.append(f"the headers show it was classed as spam ({self.parsed.junk_reason}); only "
                                "mail in the root Inbox is synced")
            self.diagnosis.add(NOT_SYNCED, queue.ref if queue else None, evidence)

    def _outside_period(self, emails: pd.DataFrame) -> dict | None:
        """Arrived (the newest Received hop, else Date) before the snapshot's oldest or after its newest email."""
        arrival, (oldest, newest) = self.parsed.arrival, _period(emails)
        if arrival is None or oldest is None:
            return None
        when, source = arrival
        if oldest <= when <= newest:
            return None
        before = when < oldest
        edge = (f"before the oldest email in the snapshot (created {oldest:%Y-%m-%d %H:%M} UTC)" if before else
                f"after the newest email in the snapshot (created {newest:%Y-%m-%d %H:%M} UTC)")
        fix = ("export a snapshot whose period starts before it (widen the period)" if before else
               "export again (or widen the period) to include it")
        source_words = "its newest Received hop" if source == "Received" else "its Date header"
        why = (f"not in this snapshot: the email arrived {when:%Y-%m-%d %H:%M} UTC ({source_words}), {edge}; the "
               f"snapshot's emails span {oldest:%Y-%m-%d %H:%M} to {newest:%Y-%m-%d %H:%M} UTC. So its absence says "
               f"nothing about sync: {fix} before looking for a sync problem")
        return {"reason": "before-period" if before else "after-period", "time": iso(when), "time_from": source,
                "oldest": iso(oldest), "newest": iso(newest), "why": why}

    def _for_none_of_its_queues(self) -> dict | None:
        """Sent to none of the snapshot's queues (nor given one of them): no queue of the snapshot missed it."""
        if "queues" not in self.tables or any(queue.id for queue in self.diagnosis.queues):
            return None
        given = f"; the queue address given, {self.queue}, is not one of them" if self.queue else ""
        why = ("not in this snapshot: the email was sent to none of the snapshot's queues (no queue address among its "
               f"To, Cc and envelope recipients{given}), so its absence is no queue's sync problem. If it was meant "
               "for a queue by Bcc or a distribution list, give that queue's address")
        return {"reason": "sent-to-none-of-its-queues", "time": None, "time_from": None, "oldest": None,
                "newest": None, "why": why}

    def _sync_evidence(self, queue: TargetQueue | None) -> list[str]:
        if queue is None:
            return ["the snapshot has no queues table, so the queue the email was meant for is unknown"]
        if queue.id is None:
            return []
        findings = [finding for finding in self.report.findings
                    if finding.get("id") == NOT_SYNCED and finding.get("subject") == queue.id]
        if findings:
            return [item for finding in findings for item in finding.get("evidence", [])]
        return self._mailbox_facts(queue)

    def _mailbox_facts(self, queue: TargetQueue) -> list[str]:
        """The queue's sync set-up when no finding flags it: the facts an admin checks next."""
        facts = []
        if queue.filtering is not None:
            facts.append(f"queue {queue.label} converts '{_FILTERING.get(queue.filtering, queue.filtering)}' "
                         "to activities")
        boxes = self.tables.get("mailboxes")
        if boxes is None:
            return [*facts, "the snapshot has no mailboxes table, so the sync state of the mailbox of queue "
                            f"{queue.label} is not checked"]
        rows = boxes[boxes["regardingobjectid"] == queue.id]
        if rows.empty:
            return [*facts, f"no mailbox in the snapshot belongs to queue {queue.label}"]
        return facts + [_mailbox_sentence(row) for row in rows.itertuples()]

    def _replies(self, emails: pd.DataFrame, found: Any) -> None:
        named = [("In-Reply-To", self.parsed.in_reply_to)] + [("References", ref) for ref in self.parsed.references]
        keys: dict[str, tuple[str, str]] = {}
        for header, value in named:
            if value and (key := message_id_key(value)):
                keys.setdefault(key, (header, value))
        rows = emails[emails["messageid_key"].isin(list(keys))]
        if found is not None:
            rows = rows[rows["activityid"] != found.activityid]
        if rows.empty:
            if self.parsed.in_reply_to:
                self.diagnosis.note(f"In-Reply-To {self.parsed.in_reply_to} matches no email in the snapshot")
            return
        evidence: list[tuple[str, str | None]] = []  # (sentence, the Message-ID it names)
        for row in rows.itertuples():
            header, value = keys[row.messageid_key]
            subject = f"'{_str(row.subject)}'"
            evidence += [(f"{header} names {value}, the Message-ID of tracked email {subject} ({row.activityid})",
                          row.messageid_key), (f"{subject} {self._regarding(row)}", None)]
        if all(keys[key][0] == "References" for key in rows["messageid_key"]):
            evidence.append(("only References names it: correlation matches In-Reply-To first, so check the "
                             "email's Regarding and correlation method", None))
        self._add_reply(evidence)

    def _add_reply(self, evidence: list[tuple[str, str | None]]) -> None:
        existing = next((cause for cause in self.diagnosis.causes if cause["id"] == REPLY), None)
        if existing is not None:  # the snapshot diagnosis found it already: add only what it lacks
            said = {message_id_key(as_item(item)["values"].get("message_id") or "") for item in existing["evidence"]}
            for line, named in evidence:
                if not (named and named in said) and line not in existing["evidence"]:
                    existing["evidence"].append(line)
        elif self.diagnosis.settled:  # the snapshot's diagnosis of this email already weighed the reply
            self.diagnosis.note(evidence[0][0])
        else:
            self.diagnosis.add(REPLY, None, [line for line, _ in evidence])

    def _regarding(self, row: Any) -> str:
        target, kind = _str(row.regardingobjectid), _str(getattr(row, "regardingobjectid_type", None))
        if target is None:
            return "has no Regarding record"
        if kind != "incident":
            return f"is regarding a {kind or 'record'} ({target})"
        cases = self.tables.get("incidents")
        titles = cases[cases["incidentid"] == target]["title"] if cases is not None else pd.Series()
        title = _str(titles.iloc[0]) if len(titles) else None
        return f"is regarding case '{title}' ({target})" if title else f"is regarding case {target}"


def _period(emails: pd.DataFrame) -> tuple[Any, Any]:
    """The oldest and newest ``createdon`` of the snapshot's emails, or (None, None)."""
    if "createdon" not in emails or not emails["createdon"].notna().any():
        return None, None
    return emails["createdon"].min().to_pydatetime(), emails["createdon"].max().to_pydatetime()


def _queue_of(row: Any) -> TargetQueue:
    filtering = getattr(row, "incomingemailfilteringmethod", None)
    return TargetQueue(row.address, row.queueid, _str(row.name), None if pd.isna(filtering) else int(filtering))


def _mailbox_sentence(row: Any) -> str:
    synced = row.lastsuccessfulsynccompletedon
    when = "never" if pd.isna(synced) else f"{synced:%Y-%m-%d %H:%M} UTC"
    delivery = _DELIVERY.get(_int(row.incomingemaildeliverymethod), "?")
    status = _STATUS.get(_int(row.incomingemailstatus), "?")
    return (f"mailbox '{_str(row.emailaddress) or _str(row.name)}': incoming delivery {delivery}, incoming status "
            f"{status}, last successful sync {when}")


def _str(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
