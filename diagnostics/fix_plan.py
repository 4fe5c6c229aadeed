"""The fix plan: what to change first, one entry per thing (a mailbox, a rule, a rule owner, a flow, a
queue, a setting, a group of senders), ranked by the harm it does.

Built from a ``Report`` alone (so a shared report has one too): environment findings and the causes
of emails not converted are exploded into evidence sentences, each sentence is tied to the thing it is
about, and the emails behind each thing are counted with group-bys. Findings name records in their
sentences ("the owner of rule 'X', 'Y', is disabled"); the patterns that read them live here, in one
place; a sentence no pattern reads falls back to its cause and queue, so nothing is lost when the
wording changes. A snapshot, when given, adds record ids (for links into Dynamics 365).

By-design causes (a reply appended to its case) are never a thing to fix: their emails are counted in
``summary.by_design`` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .causes import BY_ID, CAUSES
from .links import record_url
from .normalize import isin

if TYPE_CHECKING:
    from .report import Report
    from .snapshot import Snapshot

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
BY_DESIGN = "by-design"
BY_DESIGN_CAUSES = [cause.id for cause in CAUSES if cause.kind.replace(" ", "-") == BY_DESIGN]
SETTING_TABLE = "environmentvariabledefinitions"
SENDERS = "senders"  # pseudo table: a group of senders, no single record to open
EVIDENCE_LIMIT = 10  # sentences kept per entry: the findings' own first, then examples from emails
# Causes whose things are the senders' habits or data rather than a broken configuration.
WARNING_CAUSES = {"queue-only-in-bcc", "customer-email-conflict"}
TROUBLESHOOT_SYNC = ("https://learn.microsoft.com/power-platform/admin/"
                     "troubleshooting-monitoring-server-based-synchronization")
COMMON_ERRORS = ("https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/"
                 "common-email-error-messages")

# What a finding's sentence is about, by the finding's scope: (table, pattern naming the record).
_MAILBOX = re.compile(r"^mailbox '(?P<name>.+?)' ")
_OWNER = re.compile(r"^the owner of rule '.*', '(?P<name>.+)', is disabled")
_FLOW = re.compile(r"^the flow '(?P<name>.+?)' of condition ")
_RULE = re.compile(r"rule '(?P<name>.+?)'(?: has| for| exists| failed| is|,|$)")
_JOB_TEXT = re.compile(r"(?:^\d+ failed system job\(s\): |failed for this email: |' failed: )(?P<name>.+)$")
_SYNC_ERROR = re.compile(r"last sync error: (?P<name>.+)$")
_DRAFT = re.compile(r"rule '(?P<name>.+?)' (?:for it is in Draft|exists for it but is in Draft)")

FIXES = {  # (cause, table) -> the fix in one or two sentences; {name} is the record's name
    ("email-not-synced", "mailboxes"): (
        "Open the mailbox {name} (Settings > Email Configuration > Mailboxes), fix what its last sync error "
        "says (credentials, permissions, approval), then run Test & Enable Mailbox. Mail that arrived while it "
        "failed is not in Dataverse: check the mailbox's 'Process email received after' date once it syncs."),
    ("rule-configuration-error", "systemusers"): (
        "The rule's owner {name} is disabled, so its flow is disconnected ('Error matching conditions'): enable "
        "the user or assign the rule to an active user, then deactivate and reactivate the rule."),
    ("rule-configuration-error", "workflows"): (
        "The flow {name} is not activated: deactivate and reactivate its rule in Customer Service admin center "
        "so the rule activates its flows again (don't turn 'ARC:' flows on by hand in Power Automate)."),
    ("rule-configuration-error", "convertrules"): (
        "Open the rule {name} in Customer Service admin center and its activity monitor: fix what the failed "
        "rows say, then deactivate and reactivate the rule."),
    ("rule-configuration-error", "asyncoperations"): (
        "Open Settings > System Jobs, filter the failed jobs on this message, and fix the rule's case mapping "
        "or the record the message names."),
    ("no-active-rule-for-queue", "queues"): (
        "The queue {name} has no active rule, so its email never becomes a case: activate its Draft rule, or "
        "create a rule for it with at least one condition and activate it."),
    ("reply-to-tracked-email", SENDERS): (
        "These replies reached a resolved case after the rule's wait had passed, so a new case was expected: "
        "open the rule's activity monitor and flow run history for these emails to see why none was created."),
    ("unknown-sender-not-allowed", "convertrules"): (
        "The rule {name} ignores unknown senders: select 'Create contact for unknown sender' on it, or add "
        "these senders as contacts before they write again."),
}


NO_CONDITIONS_FIX = ("The rule {name} has no conditions, so it has no flow: deactivate it, add a condition, and "
                     "reactivate it.")
JOB_FIXES = {  # known system-job messages (common email error messages) -> the mapping to change
    "missing customer": "Map the rule's Customer to {Sender (Email)} or leave it blank instead of "
                        "{Senders Account (Email)}: this sender has no account.",
    "an error has occurred. try this action again": "The rule maps Customer to {Senders Account (Email)} and "
                                                     "Contact to {Sender (Email)}: map Customer to {Sender (Email)}.",
    "doesn't belong to the contact": "Customer and Contact are both mapped to {Sender (Email)}: leave Contact blank.",
    "matching": "The rule owner is disabled or deleted: make the owner active (or assign the rule to an active "
                "user), then deactivate and reactivate the rule.",
}


def build(report: Report, snapshot: Snapshot | None = None) -> list[dict]:
    """The fix plan of a report, most harmful first (severity, emails blocked, emails unblocked alone)."""
    findings = _finding_sentences(report)
    sentences = _cause_sentences(report, findings)
    if not len(sentences.about_codes):
        return []
    entries = _entries(sentences, report)
    entries = _with_ids(entries, snapshot)
    return _ranked(entries, report.org_url)


def _finding_sentences(report: Report) -> pd.DataFrame:
    """One row per finding sentence: the thing it is about, no email."""
    rows = pd.DataFrame([{"cause": finding.get("id"), "scope": finding.get("scope"),
                          "subject": str(finding.get("subject") or ""), "severity": finding.get("severity"),
                          "sentence": sentence}
                         for finding in report.findings for sentence in finding.get("evidence", [])],
                        columns=["cause", "scope", "subject", "severity", "sentence"])
    names = dict(zip(report.queues["queueid"], report.queues["name"], strict=True))
    table = pd.Series(SENDERS, index=rows.index, dtype="object")
    key = rows["subject"].astype("object")
    name = rows["subject"].astype("object")
    is_queue, is_rule = rows["scope"] == "queue", rows["scope"] == "rule"
    is_jobs, is_setting = rows["scope"] == "system jobs", rows["scope"] == "environment"
    table[is_queue], name[is_queue] = "queues", rows["subject"].map(names).fillna(rows["subject"])[is_queue]
    table[is_rule] = "convertrules"
    rule_names = _extract(rows["sentence"], _RULE).groupby(rows["subject"]).transform("first")
    name[is_rule] = rule_names.fillna(rows["subject"])[is_rule]
    key[is_rule] = name[is_rule]  # rules are keyed by name: the causes of an email name them only so
    table[is_jobs], key[is_jobs] = "asyncoperations", rows["subject"][is_jobs]
    table[is_setting] = SETTING_TABLE
    for pattern, target, scope in ((_MAILBOX, "mailboxes", is_queue), (_OWNER, "systemusers", is_rule),
                                   (_FLOW, "workflows", is_rule)):
        found = _extract(rows["sentence"], pattern).where(scope)
        hit = found.notna()
        table[hit], key[hit], name[hit] = target, found[hit], found[hit]
    rows = rows.assign(table=table, key=key.astype("str"), name=name.astype("str"), activityid=None)
    return _merge_duplicate_jobs(rows)


def _merge_duplicate_jobs(rows: pd.DataFrame) -> pd.DataFrame:
    """A failed-job message already named by a mailbox's sync error or a rule's failed job is that thing."""
    columns = ["cause", "table", "key", "name"]
    sync_errors = rows[columns].assign(text=_extract(rows["sentence"], _SYNC_ERROR))[rows["table"] == "mailboxes"]
    rule_jobs = rows[columns].assign(text=_extract(rows["sentence"], _JOB_TEXT))[rows["table"] == "convertrules"]
    owners = pd.concat([sync_errors, rule_jobs]).dropna(subset=["text"]).drop_duplicates("text").set_index("text")
    jobs = rows["table"] == "asyncoperations"
    owned = jobs & rows["key"].isin(owners.index)
    for column in ("cause", "table", "key", "name"):
        rows.loc[owned, column] = rows.loc[owned, "key"].map(owners[column])
    # the per-job count sentence repeats what the owner's own sentence says
    return rows[~owned | ~rows["sentence"].str.match(r"^\d+ failed system job\(s\): ")]


@dataclass
class _Sentences:
    """Every sentence of the plan, as codes: the findings' sentences first, then the evidence sentences of the
    faults of emails not converted. ``about`` holds each distinct thing a sentence is about (cause, table,
    key, name, severity, subject, thing). Per sentence: its row in ``about``, its text (a code into
    ``texts``), its cause row (a position in ``report.causes``) and that row's email (a code), both -1 for
    a finding's sentence. ``by_design``: per email code, whether the email has a by-design cause."""

    about: pd.DataFrame
    about_codes: np.ndarray
    text_codes: np.ndarray
    texts: pa.Array
    cause_rows: np.ndarray
    email_codes: np.ndarray
    by_design: np.ndarray


def _cause_sentences(report: Report, findings: pd.DataFrame) -> _Sentences:
    """Each evidence sentence of each fault of an email not converted, tied to its thing.

    The work is per distinct value: the cause rows' columns and the sentences are coded once, the job
    messages read from the distinct sentences that can hold one, and the fallback things (a queue, its
    rule, the setting, the senders) built per distinct cause and queue."""
    email_codes, by_design, pending, by_design_emails = _cause_emails(report)
    faults = np.flatnonzero(pending & ~by_design)
    owners, evidence = _exploded(report.causes["evidence"].to_numpy(dtype=object)[faults])
    cause_rows = faults[owners]
    encoded = pc.dictionary_encode(pa.concat_arrays([_texts(findings["sentence"]), evidence]))
    codes = encoded.indices.fill_null(-1).to_numpy()
    finding_codes, text_codes = codes[: len(findings)], codes[len(findings):]
    about, about_codes, specific = _abouts(report, findings, finding_codes, text_codes, encoded.dictionary,
                                           cause_rows)
    kept = _not_vague(cause_rows, specific)
    none = np.full(len(findings), -1)
    return _Sentences(about=_with_things(about), about_codes=np.concatenate([np.arange(len(findings)),
                                                                             about_codes[kept]]),
                      text_codes=np.concatenate([finding_codes, text_codes[kept]]), texts=encoded.dictionary,
                      cause_rows=np.concatenate([none, cause_rows[kept]]),
                      email_codes=np.concatenate([none, email_codes[cause_rows[kept]]]),
                      by_design=by_design_emails)


def _abouts(report: Report, findings: pd.DataFrame, finding_codes: np.ndarray, text_codes: np.ndarray,
            texts: pa.Array, cause_rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """What each cause sentence is about, as a row of the things (the findings' rows first, one each): a
    finding's own sentence is its finding's thing, a failed job's message a finding names is that finding's
    thing and one no finding names a thing of its own (these three are specific); any other sentence is
    about the fallback thing of its cause and queue. Returns the things, each sentence's, and which are
    specific."""
    # the findings' sentences are coded first, in their order: code c is the c-th distinct one
    _, first_findings = np.unique(finding_codes[finding_codes >= 0], return_index=True)
    by_sentence = findings[finding_codes >= 0].iloc[first_findings]
    sentence_hit = (text_codes >= 0) & (text_codes < len(by_sentence))
    jobs = _Jobs(texts, _findings_by_job(findings))
    job_index = jobs.owner[text_codes]
    job_hit = ~sentence_hit & (job_index >= 0)
    unowned = ~sentence_hit & ~job_hit & (jobs.message[text_codes] >= 0)
    pairs, pair_codes = _pairs(report.causes, cause_rows)
    unowned_jobs, unowned_codes = jobs.unowned(pairs, pair_codes[unowned], text_codes[unowned])
    columns = ["cause", "table", "key", "name"]
    parts = [findings, _fallback_things(pairs, report, findings)[columns], by_sentence[columns],
             jobs.by_job[columns], unowned_jobs]
    firsts = np.cumsum([0, *map(len, parts)])
    about_codes = np.select([sentence_hit, job_hit], [firsts[2] + text_codes, firsts[3] + job_index],
                            firsts[1] + pair_codes)
    about_codes[unowned] = firsts[4] + unowned_codes
    about = pd.concat(parts, ignore_index=True)[[*columns, "severity", "subject"]]
    about["subject"] = about["subject"].astype(object).where(about["subject"].notna(), None)  # falsy, as before
    return about, about_codes, sentence_hit | job_hit | unowned


def _cause_emails(report: Report) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cause row: its email's code (-1 when it has none), whether the row is by design, and whether its email
    is not converted; per email code: whether the email has a by-design cause."""
    causes = report.causes
    encoded = pc.dictionary_encode(_texts(causes["activityid"]))
    codes = encoded.indices.fill_null(-1).to_numpy()
    emails = report.emails
    pending = emails["activityid"][emails["verdict"].eq("not-converted").fillna(False).to_numpy(dtype=bool)]
    pending_email = pc.is_in(encoded.dictionary, value_set=_texts(pending).drop_null()).to_numpy(zero_copy_only=False)
    by_design_row = is_by_design(causes)
    by_design_email = np.zeros(len(encoded.dictionary) + 1, dtype=bool)  # the last: no email
    by_design_email[codes[by_design_row]] = True
    return codes, by_design_row, np.append(pending_email, False)[codes], by_design_email[:-1]


def _texts(values: pd.Series) -> pa.Array:
    """Arrow text of a column (missing values null; anything else as its text)."""
    texts = pa.array((values if values.dtype == "str" else values.astype("str")).array).cast(pa.large_string())
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def _exploded(evidence: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """The sentences of each cause row's evidence, one per row, with the position of the cause row they come
    from (missing sentences and empty evidence left out, as ``explode`` and ``dropna`` would)."""
    try:  # a text is no list (Arrow would take its characters as one)
        if any(map(isinstance, evidence, repeat(str))):
            raise pa.ArrowTypeError("a text among the evidence")
        lists = pa.array(evidence, pa.list_(pa.large_string()), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not lists of texts: pandas explodes them
        exploded = pd.Series(evidence, dtype=object).explode().dropna()
        return exploded.index.to_numpy(), _texts(exploded)
    owners = pc.list_parent_indices(lists).to_numpy()
    sentences = lists.flatten()
    present = sentences.is_valid().to_numpy(zero_copy_only=False)
    return owners[present], sentences.filter(pa.array(present))


class _Jobs:
    """The failed job's message each distinct sentence names, read by the pattern from the sentences that can
    match only: ``message`` codes it (-1 when the sentence names none), ``owner`` is the row of ``by_job``
    (the findings that name it) or -1."""

    def __init__(self, texts: pa.Array, by_job: pd.DataFrame):
        self.by_job = by_job
        candidates = np.flatnonzero(pc.match_substring(texts, "failed").fill_null(False)
                                    .to_numpy(zero_copy_only=False))
        found = _extract(pd.Series(texts.take(pa.array(candidates, pa.int64())).to_pylist(), dtype=object),
                         _JOB_TEXT).to_numpy(dtype=object)
        named = candidates[pd.notna(found)]
        self.message = np.full(len(texts), -1)
        self.message[named], self.messages = pd.factorize(found[pd.notna(found)])
        self.owner = np.full(len(texts), -1)
        self.owner[named] = by_job.index.get_indexer(self.messages)[self.message[named]]

    def unowned(self, pairs: pd.DataFrame, pair_codes: np.ndarray, text_codes: np.ndarray
                ) -> tuple[pd.DataFrame, np.ndarray]:
        """The failed jobs no finding names, as things of their own (by cause), and each sentence's one."""
        width = len(self.messages)
        distinct, codes = np.unique(pair_codes.astype(np.int64) * width + self.message[text_codes],
                                    return_inverse=True)
        messages = np.asarray(self.messages, dtype=object)[distinct % width] if width else []
        return pd.DataFrame({"cause": pairs["cause"].to_numpy()[distinct // width] if width else [],
                             "table": "asyncoperations", "key": messages, "name": messages}), codes.reshape(-1)


def _findings_by_job(findings: pd.DataFrame) -> pd.DataFrame:
    """The thing of each failed job's message a finding names (a rule's job, a mailbox's error, the job itself)."""
    by_job = findings[findings["table"] != SENDERS].assign(text=_extract(findings["sentence"], _JOB_TEXT))
    return pd.concat([by_job.dropna(subset=["text"]), findings[findings["table"] == "asyncoperations"].assign(
        text=findings["key"])]).drop_duplicates("text").set_index("text")


def _not_vague(cause_rows: np.ndarray, specific: np.ndarray) -> np.ndarray:
    """A sentence tied to its queue only (an activity monitor reason) adds nothing when another sentence of the
    same cause row names the record at fault (the flow in Draft, the disabled owner): it is that fault."""
    named = np.zeros(cause_rows.max(initial=-1) + 1, dtype=bool)
    named[cause_rows[specific]] = True
    return specific | ~named[cause_rows]


def _pairs(causes: pd.DataFrame, cause_rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct (cause, queue) of the sentences' cause rows, and each sentence's pair."""
    values = []
    for column in ("cause", "queue"):
        encoded = pc.dictionary_encode(_texts(causes[column]))
        values.append((encoded.indices.fill_null(-1).to_numpy()[cause_rows], encoded.dictionary.to_pylist()))
    (cause_codes, cause_names), (queue_codes, queue_names) = values
    width = len(queue_names) + 1
    distinct, pair_codes = np.unique(cause_codes.astype(np.int64) * width + queue_codes + 1, return_inverse=True)
    names = {"cause": [*cause_names, None], "queue": [None, *queue_names]}  # code -1 for a missing one
    pairs = pd.DataFrame({"cause": pd.Series(names["cause"], dtype=object).take(distinct // width).to_numpy(),
                          "queue": pd.Series(names["queue"], dtype=object).take(distinct % width).to_numpy()})
    return pairs, pair_codes.reshape(-1)


def _with_things(about: pd.DataFrame) -> pd.DataFrame:
    slug = about["key"].str.lower().str.replace(r"[^a-z0-9@.]+", "-", regex=True).str.strip("-").str.slice(0, 60)
    return about.assign(thing=about["cause"] + "/" + about["table"] + "/" + slug)


def is_by_design(causes: pd.DataFrame) -> np.ndarray:
    """Whether each cause row is by design: its ``kind`` when evaluation gives one, else the registry's kind of
    its cause."""
    registry = isin(causes["cause"], BY_DESIGN_CAUSES).to_numpy()
    if "kind" not in causes.columns:
        return registry
    kinds = causes["kind"]
    return np.where(kinds.notna().to_numpy(), kinds.eq(BY_DESIGN).fillna(False).to_numpy(dtype=bool), registry)


def _fallback_things(rows: pd.DataFrame, report: Report, findings: pd.DataFrame) -> pd.DataFrame:
    """The thing of a sentence no finding names: its queue's rule, its queue, the setting or the senders."""
    queues = report.queues.drop_duplicates("queueid").set_index("queueid")
    queue_name = rows["queue"].map(queues["name"]).astype("object")
    queue_name = queue_name.where(queue_name.notna(), rows["queue"].astype("object"))
    rule = rows["queue"].map(queues["active_rules"].map(
        lambda names: names[0] if isinstance(names, list) and names else None))
    table = pd.Series("queues", index=rows.index, dtype="object")
    key, name = rows["queue"].astype("object"), queue_name.astype("object")
    by_rule = rows["cause"].isin(["rule-configuration-error", "unknown-sender-not-allowed"]) & rule.notna()
    table[by_rule], key[by_rule], name[by_rule] = "convertrules", rule[by_rule], rule[by_rule]
    settings = findings.loc[findings["table"] == SETTING_TABLE, "key"]
    on_setting = (rows["cause"] == "contact-creation-failed") & (not settings.empty)
    if not settings.empty:
        table[on_setting], key[on_setting], name[on_setting] = SETTING_TABLE, settings.iloc[0], settings.iloc[0]
    senders = rows["queue"].isna() & ~by_rule & ~on_setting
    table[senders], key[senders] = SENDERS, rows["cause"][senders]
    name[senders] = rows["cause"][senders].map(_senders_name)
    return pd.DataFrame({"cause": rows["cause"], "table": table, "key": key.astype("str"),
                         "name": name.astype("str")})


def _senders_name(cause: str) -> str:
    if cause == "customer-email-conflict":
        return "senders whose address is on several customer records"
    if cause == "reply-to-tracked-email":  # only faults get here: the wait after resolution had passed
        return "replies to resolved cases that got no new case"
    return "senders of these emails"


def _extract(sentences: pd.Series, pattern: re.Pattern) -> pd.Series:
    return sentences.astype("str").str.extract(pattern, expand=False)


def _entries(sentences: _Sentences, report: Report) -> pd.DataFrame:
    """One row per thing: its record, sentences, emails blocked and emails it alone blocks.

    Grouped first: the distinct things described, (thing, sentence) and (thing, email) pairs, each in the
    order it first occurs, stand for the sentences, so the pandas work is per thing, not per sentence."""
    thing_codes, thing_names = pd.factorize(sentences.about["thing"])
    things = thing_codes[sentences.about_codes]
    _, described = _first_pairs(things, sentences.about_codes, things >= 0)
    grouped = sentences.about.iloc[described].groupby("thing", sort=False)
    entries = grouped.agg(cause=("cause", "first"), table=("table", "first"), key=("key", "first"),
                          name=("name", "first"),
                          worst=("severity", lambda values: min((SEVERITY_RANK[value] for value in values.dropna()
                                                                 if value in SEVERITY_RANK), default=3)))
    entries["remediation"] = _remediations(sentences, things, thing_names, report).reindex(entries.index)
    entries["evidence"] = _examples(sentences, things, thing_names)
    blocked, alone = _email_counts(sentences, things, len(thing_names))
    entries["emails_blocked"] = pd.Series(blocked, index=thing_names).reindex(entries.index)
    entries["emails_unblocked_alone"] = pd.Series(alone, index=thing_names).reindex(entries.index)
    entries["subject"] = grouped["subject"].agg(lambda values: next((value for value in values if value), None))
    entries = entries.astype({"emails_blocked": int, "emails_unblocked_alone": int})
    default = entries["cause"].map(lambda cause: 1 if cause in WARNING_CAUSES else 0)
    blocking = entries["emails_blocked"] > 0
    entries["rank"] = entries["worst"].where(~blocking, entries["worst"].clip(upper=default))
    return entries[blocking | (entries["worst"] < SEVERITY_RANK["info"])].reset_index()


def _first_pairs(major: np.ndarray, minor: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (major, minor) pairs of the kept sentences, in the order each first occurs (factorize keeps
    that order, with no sort)."""
    width = int(minor.max(initial=0)) + 2  # minor codes start at -1 (missing)
    _, pairs = pd.factorize(major[keep].astype(np.int64) * width + minor[keep] + 1)
    return pairs // width, pairs % width - 1


def _remediations(sentences: _Sentences, things: np.ndarray, thing_names: pd.Index, report: Report) -> pd.Series:
    """The remediation of each thing's first cause row that has one."""
    remediation = report.causes["remediation"]
    rows = sentences.cause_rows
    has = np.append(remediation.notna().to_numpy(), False)[rows]  # a finding's sentence (row -1): none
    sentences_with = np.flatnonzero(has & (things >= 0))
    _, first = np.unique(things[sentences_with], return_index=True)
    chosen = sentences_with[first]
    return pd.Series(remediation.iloc[rows[chosen]].to_numpy(dtype=object), index=thing_names[things[chosen]])


def _examples(sentences: _Sentences, things: np.ndarray, thing_names: pd.Index) -> pd.Series:
    """The first distinct sentences of each thing (``EVIDENCE_LIMIT``), the findings' own first."""
    pair_things, pair_texts = _first_pairs(things, sentences.text_codes, things >= 0)
    examples = pd.DataFrame({"thing": pair_things, "text": pair_texts}).groupby("thing", sort=False).head(
        EVIDENCE_LIMIT)
    codes = examples["text"].to_numpy()
    texts = pd.Series(sentences.texts.take(pa.array(codes, mask=codes < 0)).to_pylist(), dtype=object)
    lists = texts.groupby(examples["thing"].to_numpy(), sort=False).agg(list)
    return pd.Series(lists.to_numpy(), index=thing_names[lists.index])


def _email_counts(sentences: _Sentences, things: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per thing: the emails it blocks, and those it alone blocks (no other thing, no by-design cause)."""
    pair_things, pair_emails = _first_pairs(things, sentences.email_codes,
                                            (things >= 0) & (sentences.email_codes >= 0))
    things_of_email = np.bincount(pair_emails, minlength=len(sentences.by_design))
    alone = (things_of_email[pair_emails] == 1) & ~sentences.by_design[pair_emails]
    return (np.bincount(pair_things, minlength=count), np.bincount(pair_things[alone], minlength=count))


def _with_ids(entries: pd.DataFrame, snapshot: Snapshot | None) -> pd.DataFrame:
    """Record ids: a queue's or a rule's from the report, the rest looked up by name in the snapshot."""
    ids = pd.Series(None, index=entries.index, dtype="object")
    ids[entries["table"] == "queues"] = entries["key"]
    is_rule = entries["table"] == "convertrules"
    ids[is_rule] = entries["subject"].where(entries["subject"].astype("str").str.fullmatch(r"[0-9a-f-]{36}"))
    if snapshot is not None:
        for table, key, name_column in (("mailboxes", "mailboxid", "emailaddress"),
                                        ("systemusers", "systemuserid", "fullname"),
                                        ("workflows", "workflowid", "name"),
                                        ("convertrules", "convertruleid", "name"),
                                        (SETTING_TABLE, "environmentvariabledefinitionid", "schemaname")):
            mine = (entries["table"] == table) & ids.isna()
            if not mine.any() or not snapshot.has(table):
                continue
            frame = snapshot.tables[table].dropna(subset=[name_column])
            lookup = dict(zip(frame[name_column].str.lower(), frame[key], strict=True))
            ids[mine] = entries.loc[mine, "name"].str.lower().map(lookup)
    return entries.assign(record_id=ids)


def _ranked(entries: pd.DataFrame, org_url: str | None) -> list[dict]:
    entries = entries.sort_values(["rank", "emails_blocked", "emails_unblocked_alone", "name"],
                                  ascending=[True, False, False, True], kind="stable")
    severity = {rank: name for name, rank in SEVERITY_RANK.items()}
    plan = []
    for row in entries.itertuples(index=False):  # one per thing to change, a handful
        record_id = None if pd.isna(row.record_id) else str(row.record_id)
        plan.append({
            "id": row.thing, "cause": row.cause, "severity": severity[int(row.rank)],
            "about": {"table": row.table, "id": record_id, "name": row.name},
            "emails_blocked": int(row.emails_blocked), "emails_unblocked_alone": int(row.emails_unblocked_alone),
            "fix": _fix(row), "doc_url": _doc_url(row.cause, row.table),
            "record_url": record_url(org_url, row.table, record_id),
            "evidence": list(row.evidence),
        })
    return plan


def _fix(row: object) -> str:
    if row.table == "convertrules" and any("has no conditions" in sentence for sentence in row.evidence):
        return NO_CONDITIONS_FIX.format(name=f"'{row.name}'")
    if row.table == "asyncoperations":
        known = next((fix for text, fix in JOB_FIXES.items() if text in row.name.lower()), None)
        if known:
            return known
    template = FIXES.get((row.cause, row.table))
    if template:
        return template.format(name=f"'{row.name}'")
    if isinstance(row.remediation, str) and row.remediation:
        return row.remediation
    cause = BY_ID.get(row.cause)
    return cause.remediation if cause else ""


def _doc_url(cause: str, table: str) -> str:
    if table == "mailboxes":
        return TROUBLESHOOT_SYNC
    if table in ("systemusers", "workflows", "asyncoperations"):
        return COMMON_ERRORS
    found = BY_ID.get(cause)
    return found.doc_url if found else COMMON_ERRORS


def by_design_count(report: Report) -> int:
    """Emails not converted with a by-design cause (working as designed), when the summary has no count."""
    pending = report.emails.loc[report.emails["verdict"] == "not-converted", "activityid"]
    causes = report.causes[isin(report.causes["activityid"], pending)]
    return int(causes.loc[is_by_design(causes), "activityid"].nunique())


TABLE_WORDS = {"queues": "queue", "convertrules": "rule", "systemusers": "rule owner", "workflows": "flow",
               "mailboxes": "mailbox", "asyncoperations": "failed system jobs", SETTING_TABLE: "setting",
               SENDERS: "senders"}


def about_label(entry: dict) -> str:
    """"rule owner 'Marco Rossi'": what an entry is about, as an admin says it."""
    about = entry.get("about") or {}
    word = TABLE_WORDS.get(str(about.get("table")), str(about.get("table") or "record"))
    name = str(about.get("name") or about.get("id") or "")
    return name or word if about.get("table") == SENDERS else f"{word} '{name}'"


def finding_subject(report: Report, finding: dict) -> str:
    """What a finding is about by name: "queue 'Sales'", "rule 'Billing email to case'"; ids stay in the detail."""
    scope, subject = str(finding.get("scope") or ""), str(finding.get("subject") or "")
    if scope == "queue":
        names = dict(zip(report.queues["queueid"], report.queues["name"], strict=True))
        return f"queue '{names.get(subject) or subject}'"
    if scope == "rule":
        names = [found.group("name") for sentence in finding.get("evidence", [])
                 if (found := _RULE.search(str(sentence)))]
        return f"rule '{names[0]}'" if names else f"rule {subject}"
    if scope == "environment":
        return f"setting {subject}"
    if scope == "system jobs":
        return "failed system jobs"  # the message is the evidence
    return f"{scope}: {subject}" if scope else subject


def distinct_findings(report: Report) -> list[dict]:
    """The findings without the failed-job counts whose message another finding already names (a mailbox's sync
    error, a rule's own failed job): the same message is shown once."""
    named = {found.group("name") for finding in report.findings if finding.get("scope") != "system jobs"
             for sentence in finding.get("evidence", [])
             if (found := _SYNC_ERROR.search(str(sentence)) or _JOB_TEXT.search(str(sentence)))}
    return [finding for finding in report.findings
            if not (finding.get("scope") == "system jobs" and str(finding.get("subject")) in named)]
