"""The result of a diagnosis: frames for the app and the contract's JSON, both ways.

Evaluation fills a ``Report``; rendering (JSON, text, the pages) only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pandas as pd

from .causes import BY_ID, CAUSES
from .evidence import as_item, items_of, text_of
from .json_columns import emails_json
from .normalize import group_lists, isin

if TYPE_CHECKING:
    from .snapshot import Snapshot

# 2: evidence is a list of objects (code, about, values, text) instead of sentences; version 1 still opens.
SCHEMA_VERSION = 2
EMAIL_COLUMNS = ["activityid", "subject", "received_on", "sender", "queues", "verdict", "primary_cause",
                 "primary_kind", "threaded"]
CAUSE_COLUMNS = ["activityid", "cause", "kind", "queue", "remediation", "expected"]
EVIDENCE_COLUMNS = ["row", "code", "about_table", "about_id", "about_name", "values", "text"]


@dataclass
class Report:
    """Per-email verdicts and causes of one snapshot.

    ``emails``: one row per email (``EMAIL_COLUMNS``; ``primary_kind`` is the primary cause's kind,
    ``threaded`` marks a reply regarding an active case). ``causes``: one row per (email, cause, queue)
    with ``kind`` (fault or by-design), ``remediation`` and ``expected`` (on an expected queue, or
    email-wide), in pipeline order. ``evidence``: one row per piece of evidence (``EVIDENCE_COLUMNS``;
    ``row`` is its cause row, ``values`` the JSON of the values it cites). ``notes``:
    (activityid, note). ``unchecked``: (activityid, cause, missing tables). ``findings``: environment
    findings, most severe first. ``queues``: queueid, name, address, active_rules.
    """

    tables: dict[str, int]
    missing_tables: list[str]
    emails: pd.DataFrame
    causes: pd.DataFrame
    evidence: pd.DataFrame
    notes: pd.DataFrame
    unchecked: pd.DataFrame
    findings: list[dict]
    queues: pd.DataFrame
    source: str = "snapshot"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    org_url: str | None = None  # https://ORG, for links to records (from the snapshot or typed by the admin)
    plan: list[dict] | None = None  # the fix plan once built (kept as is by a shared report)

    def fix_plan(self, snapshot: Snapshot | None = None) -> list[dict]:
        """What to change first (see ``fix_plan``); built once, with record ids when a snapshot is given."""
        if self.plan is None or snapshot is not None:
            from .fix_plan import build

            if snapshot is not None and not self.org_url:
                self.org_url = snapshot.org_url
            self.plan = build(self, snapshot)
        return self.plan

    def summary(self) -> dict:
        """Counts of emails. ``incoming`` = converted + not_converted (the emails in scope: incoming and
        sent to a queue); ``threaded`` (replies regarding an active case) are among ``converted``;
        ``by_design`` and ``unexplained`` are among ``not_converted``; ``outgoing``, ``not_for_a_queue``
        and ``direction_unknown`` are outside ``incoming``."""
        verdicts = self.emails["verdict"].value_counts()
        pending = self._verdict_is("not-converted")  # masks on single columns: the frame is never copied
        causes = self.emails["primary_cause"][pending]
        by_cause = causes.value_counts()
        ordered = {cause.id: int(by_cause[cause.id]) for cause in CAUSES if cause.id in by_cause.index}
        threaded = self.emails["threaded"][self._verdict_is("converted")]
        return {"incoming": int(verdicts.get("converted", 0) + verdicts.get("not-converted", 0)),
                "converted": int(verdicts.get("converted", 0)),
                "threaded": int(threaded.fillna(False).astype(bool).sum()),
                "not_converted": int(verdicts.get("not-converted", 0)),
                "by_design": (by_design := int((self.emails["primary_kind"][pending] == "by-design").sum())),
                "needs_action": int(verdicts.get("not-converted", 0)) - by_design,  # not converted, not by design
                "outgoing": int(verdicts.get("outgoing", 0)),
                "not_for_a_queue": int(verdicts.get("not-for-a-queue", 0)),
                "direction_unknown": int(verdicts.get("unknown-direction", 0)),
                "unexplained": int(causes.isna().sum()),
                "by_primary_cause": ordered}

    def _verdict_is(self, verdict: str) -> np.ndarray:
        return self.emails["verdict"].eq(verdict).fillna(False).to_numpy(dtype=bool)

    def queue_names(self) -> dict[str, str]:
        return dict(zip(self.queues["queueid"], self.queues["name"].fillna(self.queues["queueid"]), strict=True))

    def email_detail(self, activityid: str) -> dict | None:
        """One email in the contract's shape, or None when the report has no such email."""
        rows = self.emails[self.emails["activityid"] == activityid]
        if rows.empty:
            return None
        ids = rows["activityid"]
        causes = self.causes[isin(self.causes["activityid"], ids)]
        return _email_dicts(rows, causes, self.evidence_of(causes), self.notes[isin(self.notes["activityid"], ids)],
                            self.unchecked[isin(self.unchecked["activityid"], ids)])[0]

    def evidence_of(self, causes: pd.DataFrame) -> pd.Series:
        """The evidence items of these cause rows (a list per row, indexed like ``causes``)."""
        chosen = self.evidence[isin(self.evidence["row"], pd.Series(causes.index))]
        lists = group_lists(chosen["row"], pd.Series(items_of(chosen), index=chosen.index, dtype=object))
        return pd.Series([lists.get(row, []) for row in causes.index], index=causes.index, dtype=object)

    def to_dict(self, *, emails_as_json: bool = False) -> dict:
        """The contract's JSON as a dict; with ``emails_as_json`` the emails array is one ``orjson.Fragment``
        written column-wise (no Python object per email)."""
        if emails_as_json:
            return self._document(orjson.Fragment(b"".join(self._emails_json())))
        return self._document(_email_dicts(self.emails, self.causes, self.evidence_of(self.causes), self.notes,
                                           self.unchecked))

    def _emails_json(self) -> list:
        return emails_json(self.emails, self.causes, self.evidence, self.notes, self.unchecked)

    def _document(self, emails: object) -> dict:
        plan = self.fix_plan()  # first: it sets the findings' severity
        return {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "created_at": self.created_at,
            "tables": dict(sorted(self.tables.items())),
            "missing_tables": list(self.missing_tables),
            "summary": self.summary(),
            "emails": emails,
            "findings": self.findings,
            "fix_plan": plan,
            "org_url": self.org_url,
            "queues": [{"queueid": row.queueid, "name": _text(row.name), "emailaddress": _text(row.address),
                        "active_rules": list(row.active_rules) if isinstance(row.active_rules, list) else []}
                       for row in self.queues.itertuples()],
        }

    def to_json(self) -> bytes:
        """The contract's JSON document, as ``orjson.dumps(self.to_dict())`` would write it."""
        return b"".join(self.json_pieces())

    def json_pieces(self) -> list:
        """``to_json`` in pieces to write one after the other (the 100 MB of emails are not copied again):
        the emails array, written column-wise, goes between the compact JSON of the keys before it and of
        the keys after it."""
        document = self._document(None)
        keys = list(document)
        at = keys.index("emails")
        head = orjson.dumps({key: document[key] for key in keys[:at]})
        tail = orjson.dumps({key: document[key] for key in keys[at + 1:]})
        pieces = self._emails_json()
        return [head[:-1], b',"emails":', *pieces, b",", tail[1:]]

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """Rebuild a report from its JSON (a shared run)."""
        emails = data["emails"]
        frame = pd.DataFrame(emails, columns=EMAIL_COLUMNS)
        frame["received_on"] = pd.to_datetime(frame["received_on"], utc=True, errors="coerce")
        frame["threaded"] = frame["threaded"].fillna(False).astype(bool)
        listed = [(email["activityid"], cause) for email in emails for cause in email.get("causes", [])]
        causes = pd.DataFrame([{"activityid": activityid, "cause": cause["id"],
                                "kind": cause.get("kind") or BY_ID[cause["id"]].kind, "queue": cause["queue"],
                                "remediation": cause["remediation"], "expected": cause.get("expected", True)}
                               for activityid, cause in listed], columns=CAUSE_COLUMNS)
        evidence = _evidence_frame([cause.get("evidence", []) for _, cause in listed])
        frame["primary_kind"] = frame["primary_kind"].fillna(_primary_kinds(frame, causes))
        notes = pd.DataFrame([{"activityid": email["activityid"], "note": note}
                              for email in emails for note in email.get("notes", [])],
                             columns=["activityid", "note"])
        unchecked = pd.DataFrame([{"activityid": email["activityid"], "cause": item["id"],
                                   "missing": item["missing"]}
                                  for email in emails for item in email.get("unchecked", [])],
                                 columns=["activityid", "cause", "missing"])
        queues = pd.DataFrame([{"queueid": queue["queueid"], "name": queue["name"],
                                "address": queue["emailaddress"], "active_rules": queue["active_rules"]}
                               for queue in data.get("queues", [])],
                              columns=["queueid", "name", "address", "active_rules"])
        findings = [dict(finding, evidence=[as_item(value) for value in finding.get("evidence", [])])
                    for finding in data["findings"]]
        plan = data.get("fix_plan")
        if plan is not None:
            plan = [dict(entry, evidence=[as_item(value) for value in entry.get("evidence", [])]) for entry in plan]
        return cls(tables=data["tables"], missing_tables=data["missing_tables"], emails=frame, causes=causes,
                   evidence=evidence, notes=notes, unchecked=unchecked, findings=findings, queues=queues,
                   source=data.get("source", "snapshot"), created_at=data.get("created_at", ""),
                   org_url=data.get("org_url"), plan=plan)


def _evidence_frame(lists: list[list]) -> pd.DataFrame:
    """The evidence rows of the causes' lists of items (a report of schema 1 has sentences: items of code
    ``text``)."""
    items = [(row, as_item(value)) for row, values in enumerate(lists) for value in values]
    about = [found.get("about") or {} for _, found in items]
    return pd.DataFrame({
        "row": pd.array([row for row, _ in items], dtype="int64"),
        "code": pd.array([found["code"] for _, found in items], dtype="str"),
        "about_table": pd.array([entry.get("table") for entry in about], dtype="str"),
        "about_id": pd.array([entry.get("id") for entry in about], dtype="str"),
        "about_name": pd.array([entry.get("name") for entry in about], dtype="str"),
        "values": pd.array([orjson.dumps(found["values"]).decode() for _, found in items], dtype="str"),
        "text": pd.array([found["text"] for _, found in items], dtype="str"),
    }, columns=EVIDENCE_COLUMNS)


def _email_dicts(emails: pd.DataFrame, causes: pd.DataFrame, evidence: pd.Series, notes: pd.DataFrame,
                 unchecked: pd.DataFrame) -> list[dict]:
    """The contract's per-email objects, built column-wise from the long frames (``evidence``: each cause row's
    items)."""
    cause_dicts = pd.Series([
        {"id": cause, "kind": kind, "queue": _text(queue), "expected": bool(expected), "evidence": list(items),
         "remediation": remediation}
        for cause, kind, queue, expected, items, remediation in zip(
            causes["cause"].tolist(), causes["kind"].tolist(), causes["queue"].tolist(),
            causes["expected"].astype(bool).tolist(), evidence.tolist(), causes["remediation"].tolist(),
            strict=True)],
        index=causes.index, dtype=object)
    unchecked_dicts = pd.Series([{"id": cause, "missing": list(missing)} for cause, missing in zip(
        unchecked["cause"].tolist(), unchecked["missing"].tolist(), strict=True)], index=unchecked.index,
        dtype=object)
    by_email = {
        "causes": group_lists(causes["activityid"], cause_dicts),
        "notes": group_lists(notes["activityid"], notes["note"]),
        "unchecked": group_lists(unchecked["activityid"], unchecked_dicts),
    }
    ids = emails["activityid"]
    columns = {
        "activityid": ids.tolist(),
        "subject": _texts(emails["subject"]),
        "received_on": _texts(emails["received_on"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "sender": _texts(emails["sender"]),
        "queues": [value if isinstance(value, list) else [] for value in emails["queues"].tolist()],
        "verdict": emails["verdict"].tolist(),
        "primary_cause": _texts(emails["primary_cause"]),
        "primary_kind": _texts(emails["primary_kind"]),
        "threaded": emails["threaded"].fillna(False).astype(bool).tolist(),
        **{name: [value if isinstance(value, list) else [] for value in ids.map(lists).tolist()]
           for name, lists in by_email.items()},
    }
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _primary_kinds(emails: pd.DataFrame, causes: pd.DataFrame) -> pd.Series:
    """The kind of each email's primary cause, from its causes (reports saved before kinds were stored)."""
    first = causes.drop_duplicates(["activityid", "cause"]).set_index(["activityid", "cause"])["kind"]
    keys = pd.MultiIndex.from_arrays([emails["activityid"], emails["primary_cause"]])
    return pd.Series(first.reindex(keys).values, index=emails.index, dtype=object)


def _texts(values: pd.Series) -> list[str | None]:
    return values.astype(object).where(values.notna(), None).tolist()


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)


def render_text(report: Report, limit: int = 50) -> str:
    """A readable summary for ``--format text``: counts, the fix plan, causes by count, findings by name."""
    summary = report.summary()
    rate = summary["converted"] / summary["incoming"] if summary["incoming"] else 0.0
    lines = [f"Email-to-case diagnosis of {report.source}",
             f"  incoming {summary['incoming']}, converted {summary['converted']} ({rate:.0%}), "
             f"not converted {summary['not_converted']}, outgoing {summary['outgoing']}",
             f"  threaded into active cases {summary['threaded']}, not for a queue {summary['not_for_a_queue']}, "
             f"direction unknown {summary['direction_unknown']}"]
    if summary["by_design"]:
        lines.append(f"  working as designed: {summary['by_design']} (replies that need no new case)")
    if report.missing_tables:
        lines.append(f"  tables not in the snapshot (their causes not checked): {', '.join(report.missing_tables)}")
    lines += _plan_lines(report.fix_plan())
    lines += ["", "Not converted, by primary cause (most first):"]
    by_cause = sorted(summary["by_primary_cause"].items(), key=lambda item: (-item[1], BY_ID[item[0]].order))
    for cause_id, count in by_cause:
        lines.append(f"  {count:>7}  {cause_id}  ({BY_ID[cause_id].title})")
    if summary["unexplained"]:
        lines.append(f"  {summary['unexplained']:>7}  unexplained (nothing in the snapshot explains it)")
    lines += _findings_lines(report)
    lines += _pending_lines(report, limit)
    return "\n".join(lines) + "\n"


def _plan_lines(plan: list[dict]) -> list[str]:
    from .fix_plan import about_label

    if not plan:
        return ["", "Fix first: nothing to fix in this snapshot."]
    lines = ["", "Fix first (most harmful first):"]
    for number, entry in enumerate(plan, start=1):
        lines.append(f"  {number:>2}. [{entry['severity']}] {about_label(entry)} ({entry['cause']}): "
                     f"{entry['emails_blocked']} emails blocked, {entry['emails_unblocked_alone']} would go "
                     "through if this alone were fixed")
        lines.append(f"      fix: {entry['fix']}")
        lines.append(f"      docs: {entry['doc_url']}")
        if entry.get("record_url"):
            lines.append(f"      open: {entry['record_url']}")
    return lines


def _findings_lines(report: Report) -> list[str]:
    from .fix_plan import distinct_findings, finding_subject

    if not report.findings:
        return []
    lines = ["", "Environment findings:"]
    for finding in distinct_findings(report):
        lines.append(f"  [{finding['severity']}] {finding_subject(report, finding)}: {finding['id']}")
        lines += [f"      - {text_of(item)}" for item in finding["evidence"]]
    return lines


def _pending_lines(report: Report, limit: int) -> list[str]:
    pending = report.emails[report.emails["verdict"] == "not-converted"].head(limit)
    if pending.empty:
        return []
    names = report.queue_names()
    lines = ["", f"Emails not converted (first {len(pending)}):"]
    causes = report.causes[isin(report.causes["activityid"], pending["activityid"])]
    for email in _email_dicts(pending, causes, report.evidence_of(causes), report.notes.iloc[:0],
                              report.unchecked.iloc[:0]):
        queues = ", ".join(names.get(queue, queue) for queue in email["queues"]) or "no queue"
        lines.append(f"  {email['received_on'] or '-'}  {email['subject']!r} from {email['sender'] or '-'} "
                     f"to {queues}  -> {email['primary_cause'] or 'unexplained'}")
        for cause in email["causes"][:3]:
            lines += [f"      {cause['id']}: {item['text']}" for item in cause["evidence"][:2]]
    return lines
