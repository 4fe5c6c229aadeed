"""The fix plan: what to change first, one entry per thing (a mailbox, a rule, a rule owner, a flow, a queue, a
setting, a group of senders), ranked by the harm it does.

Built from a ``Report`` alone (so a shared report has one too). Every piece of evidence says what it is about
(a record's table, id and name) and carries its code, so the plan groups evidence by what it is about and counts
the emails behind each thing with whole-column group-bys; the code says the severity, the fix and the
documentation. An environment finding and its entry are one object: the plan sets the severity every page shows.

By-design causes (a reply appended to its case) are never a thing to fix: their emails are counted in
``summary.by_design`` instead. Only causes on an expected queue (or email-wide) count as blocking an email.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pandas as pd

from .causes import BY_ID, CAUSES
from .evidence import LEGACY, SENDERS, SETTING_TABLE, SEVERITY_RANK, Code, about_of, as_item, render_fix
from .links import record_url
from .normalize import isin

if TYPE_CHECKING:
    from .report import Report

BY_DESIGN = "by-design"
EVIDENCE_LIMIT = 10  # items kept per entry: the findings' own first, then examples from emails
SEVERITIES = {rank: name for name, rank in SEVERITY_RANK.items()}
REPROCESS = "Then reprocess the emails it blocked: select them in All Activities, Add To Queue (the rule runs again)."
_THING_COLUMNS = ["cause", "table", "record_id", "name", "code", "text", "values", "email", "expected", "finding"]


def build(report: Report, snapshot: object | None = None) -> list[dict]:
    """The fix plan of a report, most harmful first; sets each finding's severity to its entries'."""
    rows = pd.concat([_finding_rows(report), _cause_rows(report)], ignore_index=True)
    if rows.empty:
        return []
    codes, things = _things(rows)
    entries = _entries(rows, codes, things, report)
    plan = _ranked(entries, report.org_url)
    _set_finding_severities(report, plan)
    return plan


def _finding_rows(report: Report) -> pd.DataFrame:
    """One row per evidence item of the environment findings (no email)."""
    found = [(finding.get("id"), as_item(value))
             for finding in report.findings for value in finding.get("evidence", [])]
    found = [(cause, item) for cause, item in found if item.get("about")]
    texts = {"cause": [cause for cause, _ in found], "table": [item["about"]["table"] for _, item in found],
             "record_id": [item["about"].get("id") for _, item in found],
             "name": [item["about"].get("name") for _, item in found], "code": [item["code"] for _, item in found],
             "text": [item["text"] for _, item in found],
             "values": [orjson.dumps(item["values"]).decode() for _, item in found]}
    return pd.DataFrame({**{name: pd.array(column, dtype="str") for name, column in texts.items()},
                         "email": np.full(len(found), -1), "expected": False, "finding": True},
                        columns=_THING_COLUMNS)


def _cause_rows(report: Report) -> pd.DataFrame:
    """One row per evidence item of the faults of emails not converted, with its email (a code) and whether its
    cause is on an expected queue (only those block the email). Texts stay Arrow columns: no object per row."""
    causes, evidence = report.causes, report.evidence
    pending = report.emails.loc[report.emails["verdict"].eq("not-converted").fillna(False).to_numpy(dtype=bool),
                                "activityid"]
    fault = (~is_by_design(causes)) & isin(causes["activityid"], pending).to_numpy()
    owners = evidence["row"].to_numpy(dtype=np.int64)
    kept = (evidence[fault[owners]] if len(causes) else evidence.iloc[:0]).reset_index(drop=True)
    owners = kept["row"].to_numpy(dtype=np.int64)
    cause = causes["cause"].iloc[owners].reset_index(drop=True).astype("str")
    table, record_id, name = _abouts(kept, causes["queue"].iloc[owners].reset_index(drop=True), cause, report)
    return pd.DataFrame({
        "cause": cause, "table": table, "record_id": record_id, "name": name, "code": kept["code"],
        "text": kept["text"], "values": kept["values"], "email": pd.factorize(causes["activityid"])[0][owners],
        "expected": causes["expected"].fillna(True).to_numpy(dtype=bool)[owners], "finding": False},
        columns=_THING_COLUMNS)


def _abouts(evidence: pd.DataFrame, queue: pd.Series, cause: pd.Series,
            report: Report) -> tuple[pd.Series, pd.Series, pd.Series]:
    """What each item is about; an item of a report saved before evidence said so is about its queue (or, with
    no queue, the cause's senders)."""
    table, record_id, name = (evidence[column].astype("str") for column in ("about_table", "about_id", "about_name"))
    unknown = table.isna()
    if unknown.any():
        has_queue = queue.notna()
        queue_name = queue.map(report.queue_names()).astype("str").fillna(queue)
        table = table.where(~unknown, pd.Series(np.where(has_queue, "queues", SENDERS), dtype="str"))
        record_id = record_id.where(~unknown, queue.where(has_queue))
        name = name.where(~unknown, queue_name.where(has_queue, "senders of these emails (" + cause + ")"))
    return table, record_id, name


def _things(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Each row's thing (a code) and each thing's stable id: its cause, table and record (the id, else the name),
    made readable once per distinct record."""
    key = rows["record_id"].fillna(rows["name"]).fillna("")
    records, distinct = pd.factorize(rows["cause"].fillna("") + "\t" + rows["table"].fillna("") + "\t" + key)
    ids = []
    for record in distinct:  # a handful
        cause, table, name = record.split("\t", 2)
        slug = re.sub(r"[^a-z0-9@.]+", "-", name.lower()).strip("-")[:60]
        ids.append(f"{cause}/{table}/{slug}")
    codes, things = pd.factorize(np.asarray(ids, dtype=object)[records] if len(records) else np.array([], object))
    return codes, list(things)


def _entries(rows: pd.DataFrame, codes: np.ndarray, things: list[str], report: Report) -> pd.DataFrame:
    """One row per thing: its record, severity, emails blocked and emails it alone blocks, fix and evidence."""
    order = np.argsort(codes, kind="stable")
    first = order[_starts(codes)]
    entries = rows.iloc[first][["cause", "table", "record_id", "name"]].reset_index(drop=True)
    entries.insert(0, "thing", things)
    blocked, alone = _email_counts(rows, codes, len(things), report)
    entries["emails_blocked"], entries["emails_unblocked_alone"] = blocked, alone
    kinds, known = pd.factorize(rows["cause"].astype("str") + "|" + rows["code"].astype("str"))
    declared = [_code(*pair.split("|", 1)) for pair in known]  # a few dozen codes
    default = [SEVERITY_RANK[_cause_severity(pair.split("|", 1)[0])] for pair in known]
    severity = np.array([SEVERITY_RANK[code.severity] if code else rank for code, rank in zip(declared, default,
                                                                                                strict=True)])[kinds]
    unproven = np.array([SEVERITY_RANK[code.unproven] if code else SEVERITY_RANK["warning"]
                         for code in declared])[kinds]
    stops = np.array([bool(code and code.stops_queue) for code in declared])[kinds]
    starts = _starts(codes)
    with_emails = np.minimum.reduceat(severity[order], starts)
    without = np.minimum.reduceat(unproven[order], starts)
    entries["rank"] = np.where(blocked > 0, with_emails, without)
    entries["stops_queue"] = np.bincount(codes, weights=stops, minlength=len(things)) > 0
    entries["fix"], entries["doc_url"] = _fixes(codes, kinds, declared, entries, report)
    entries["evidence"] = _examples(rows, codes, len(things))
    keep = (entries["emails_blocked"] > 0) | (entries["rank"] < SEVERITY_RANK["info"])
    return entries[keep.to_numpy()].reset_index(drop=True)


def _code(cause_id: str, code: str) -> Code | None:
    cause = BY_ID.get(cause_id)
    return cause.code(code) if cause else None


def _starts(codes: np.ndarray) -> np.ndarray:
    """Where each code's run starts once the codes are sorted (every code from 0 occurs)."""
    return np.r_[0, np.cumsum(np.bincount(codes))[:-1]]


def _cause_severity(cause: str) -> str:
    found = BY_ID.get(cause)
    return found.severity if found else "error"


def _email_counts(rows: pd.DataFrame, codes: np.ndarray, count: int, report: Report) -> tuple[np.ndarray, ...]:
    """Per thing: the emails it blocks (its causes on an expected queue), and those it alone blocks (no other
    thing, no by-design cause)."""
    blocking = rows["expected"].to_numpy(dtype=bool) & (rows["email"].to_numpy() >= 0)
    emails = rows["email"].to_numpy()[blocking]
    if not len(emails):
        return np.zeros(count, dtype=int), np.zeros(count, dtype=int)
    width = int(emails.max()) + 1
    pairs = np.unique(codes[blocking].astype(np.int64) * width + emails)
    pair_things, pair_emails = pairs // width, pairs % width
    things_of_email = np.bincount(pair_emails, minlength=width)
    by_design = np.zeros(width, dtype=bool)
    cause_codes = pd.factorize(report.causes["activityid"])[0]
    designed = cause_codes[is_by_design(report.causes)]
    by_design[designed[designed < width]] = True
    alone = (things_of_email[pair_emails] == 1) & ~by_design[pair_emails]
    return (np.bincount(pair_things, minlength=count).astype(int),
            np.bincount(pair_things[alone], minlength=count).astype(int))


def _fixes(codes: np.ndarray, kinds: np.ndarray, declared: list, entries: pd.DataFrame,
           report: Report) -> tuple[list[str], list[str]]:
    """Each thing's fix (the first of its codes that has one, else its cause's remediation) and documentation."""
    def first_of(wanted: np.ndarray) -> dict[int, Code]:
        rows = np.flatnonzero(wanted[kinds])
        things, at = np.unique(codes[rows], return_index=True)
        return {int(thing): declared[kinds[rows[position]]] for thing, position in zip(things, at, strict=True)}

    with_fix = first_of(np.array([bool(code and code.fix) for code in declared]))
    with_doc = first_of(np.array([bool(code and code.doc_url) for code in declared]))
    fixes, docs = [], []
    for thing, entry in enumerate(entries.itertuples(index=False)):  # one per thing, a handful
        cause = BY_ID.get(entry.cause)
        code = with_fix.get(thing)
        fix = render_fix(code.fix, entry.name) if code else _remediation(report, entry.cause, cause)
        fixes.append(f"{fix} {REPROCESS}" if entry.emails_blocked else fix)
        docs.append(with_doc[thing].doc_url if thing in with_doc else (cause.doc_url if cause else ""))
    return fixes, docs


def _remediation(report: Report, cause_id: str, cause: object) -> str:
    """The remediation the evaluation wrote for this cause (it may depend on a setting), else the registry's."""
    written = report.causes.loc[report.causes["cause"] == cause_id, "remediation"].dropna()
    return str(written.iloc[0]) if len(written) else (cause.remediation if cause else "")


def _examples(rows: pd.DataFrame, codes: np.ndarray, count: int) -> list[list[dict]]:
    """The first distinct items of each thing (``EVIDENCE_LIMIT``), the findings' own first: chosen by codes, and
    only the chosen rows' texts are read."""
    keys = pd.DataFrame({"at": codes, "finding": rows["finding"].to_numpy(),
                         "item": pd.factorize(rows["code"].fillna("") + "\t" + rows["text"].fillna(""))[0]})
    keys = keys.drop_duplicates(["at", "item"]).sort_values(["at", "finding"], ascending=[True, False], kind="stable")
    chosen = keys.groupby("at", sort=False).head(EVIDENCE_LIMIT).index.to_numpy()
    distinct = rows.iloc[chosen]
    lists: list[list[dict]] = [[] for _ in range(count)]
    for at, code, text, values, table, record_id, name in zip(
            codes[chosen], distinct["code"], distinct["text"], distinct["values"], distinct["table"],
            distinct["record_id"], distinct["name"], strict=True):
        lists[at].append({"code": code, "about": about_of(table, record_id, name), "values": _loads(values),
                          "text": text})
    return lists


def _loads(values: object) -> dict:
    try:
        return orjson.loads(values) if isinstance(values, str) else {}
    except orjson.JSONDecodeError:
        return {}


def _ranked(entries: pd.DataFrame, org_url: str | None) -> list[dict]:
    """Most harmful first: severity, then what stops every email of a queue (mail that never reached Dataverse
    cannot be counted), then emails blocked, then emails it alone blocks."""
    entries = entries.assign(stops_first=~entries["stops_queue"]).sort_values(
        ["rank", "stops_first", "emails_blocked", "emails_unblocked_alone", "name"],
        ascending=[True, True, False, False, True], kind="stable")
    plan = []
    for row in entries.itertuples(index=False):  # one per thing to change, a handful
        record_id = None if pd.isna(row.record_id) else str(row.record_id)
        plan.append({
            "id": row.thing, "cause": row.cause, "severity": SEVERITIES[int(row.rank)],
            "about": {"table": row.table, "id": record_id, "name": None if pd.isna(row.name) else str(row.name)},
            "emails_blocked": int(row.emails_blocked), "emails_unblocked_alone": int(row.emails_unblocked_alone),
            "stops_queue": bool(row.stops_queue), "fix": row.fix, "doc_url": row.doc_url,
            "record_url": record_url(org_url, row.table, record_id), "evidence": list(row.evidence),
        })
    return plan


def _set_finding_severities(report: Report, plan: list[dict]) -> None:
    """One finding, one severity: a finding shows the worst severity of the entries its evidence is about."""
    by_about = {_about_key(entry["cause"], entry["about"]): entry["severity"] for entry in plan}
    for finding in report.findings:
        found = [by_about.get(_about_key(finding.get("id"), as_item(value).get("about") or {}))
                 for value in finding.get("evidence", [])]
        found = [severity for severity in found if severity]
        if found:
            finding["severity"] = min(found, key=SEVERITY_RANK.__getitem__)


def _about_key(cause: object, about: dict) -> tuple:
    return (cause, about.get("table"), about.get("id") or about.get("name"))


def is_by_design(causes: pd.DataFrame) -> np.ndarray:
    """Whether each cause row is by design: its ``kind`` when evaluation gives one, else the registry's kind of
    its cause."""
    registry = isin(causes["cause"], pd.Series([cause.id for cause in CAUSES if cause.kind == BY_DESIGN],
                                               dtype="str")).to_numpy()
    if "kind" not in causes.columns:
        return registry
    kinds = causes["kind"]
    return np.where(kinds.notna().to_numpy(), kinds.eq(BY_DESIGN).fillna(False).to_numpy(dtype=bool), registry)


def by_design_count(report: Report) -> int:
    """Emails not converted with a by-design cause (working as designed), when the summary has no count."""
    pending = report.emails.loc[report.emails["verdict"] == "not-converted", "activityid"]
    causes = report.causes[isin(report.causes["activityid"], pending)]
    return int(causes.loc[is_by_design(causes), "activityid"].nunique())


TABLE_WORDS = {"queues": "queue", "convertrules": "rule", "systemusers": "rule owner", "workflows": "flow",
               "mailboxes": "mailbox", "asyncoperations": "failed system jobs", SETTING_TABLE: "setting",
               "activitymonitors": "activity monitor", SENDERS: "senders"}


def about_label(entry: dict) -> str:
    """"rule owner 'Marco Rossi'": what an entry (or an evidence item) is about, as an admin says it."""
    about = entry.get("about") or {}
    word = TABLE_WORDS.get(str(about.get("table")), str(about.get("table") or "record"))
    name = str(about.get("name") or about.get("id") or "")
    return name or word if about.get("table") == SENDERS else f"{word} '{name}'"


def finding_subject(report: Report, finding: dict) -> str:
    """What a finding is about by name: "queue 'Sales'", "rule 'Billing email to case'"; ids stay in the detail."""
    scope, subject = str(finding.get("scope") or ""), str(finding.get("subject") or "")
    abouts = [as_item(value).get("about") or {} for value in finding.get("evidence", [])]
    own = {"queue": "queues", "rule": "convertrules", "environment": SETTING_TABLE}.get(scope)
    named = next((about.get("name") for about in abouts if about.get("table") == own and about.get("name")), None)
    if scope == "queue":
        return f"queue '{named or report.queue_names().get(subject) or subject}'"
    if scope == "rule":
        rule = named or next((item["values"].get("rule") for item in map(as_item, finding.get("evidence", []))
                              if item["values"].get("rule")), None)
        return f"rule '{rule}'" if rule else f"rule {subject}"
    if scope == "environment":
        return f"setting {subject}"
    if scope == "system jobs":
        return "failed system jobs"  # the message is the evidence
    return f"{scope}: {subject}" if scope else subject


def distinct_findings(report: Report) -> list[dict]:
    """The findings without the failed-job counts whose message another finding already names (a rule's own
    failed job): the same message is shown once."""
    named = {item["values"].get("message") for finding in report.findings if finding.get("scope") != "system jobs"
             for item in map(as_item, finding.get("evidence", [])) if item["code"] != LEGACY}
    return [finding for finding in report.findings
            if not (finding.get("scope") == "system jobs" and str(finding.get("subject")) in named)]
