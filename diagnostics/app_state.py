"""What the pages show, computed from a ``Report``: labels, aggregates, filters and tables.

The pages only lay these out. Everything here is plain pandas on whole columns (no loop over emails),
so a page costs about the same for 400 emails as for a million once the report exists, and nothing
here imports Streamlit.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from . import fix_plan as plan_module
from .cause_view import item_parts
from .causes import BY_ID, CAUSES, COLORS, ORDER
from .evidence import text_of
from .report import Report

UNEXPLAINED = "unexplained"  # pseudo cause id: not converted and nothing in the snapshot explains it
UNEXPLAINED_TITLE = "Unexplained: nothing in the snapshot explains it"
UNEXPLAINED_COLOR = "#7F7F7F"
NO_QUEUE = "(no queue)"  # pseudo queue id: an email that reached no queue
VERDICTS = ("converted", "not-converted", "outgoing", "not-for-a-queue", "unknown-direction")
IN_SCOPE = ("converted", "not-converted")  # incoming emails meant for a queue: what every page counts by default
VERDICT_LABELS = {"converted": "Converted to a case", "not-converted": "Not converted",
                  "outgoing": "Outgoing (not evaluated)", "not-for-a-queue": "Not sent to a queue (not evaluated)",
                  "unknown-direction": "Direction unknown (not evaluated)"}
VERDICT_SHORT = {"converted": "Converted", "not-converted": "Not converted", "outgoing": "Outgoing",
                 "not-for-a-queue": "Not for a queue", "unknown-direction": "Direction unknown"}
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
PAGE_SIZE = 100

CONVERTED_STAGE = "Became a case"


_PUNCTUATION = {ord(char): "\\" + char for char in string.punctuation}
# What GitHub-flavoured Markdown would turn into a link: addresses, URLs with a scheme, www. names.
_LINKLIKE = re.compile(r"<[^\s`<>]*@[^\s`<>]+>"  # <message@id> or <address>
                       r"|[^\s`'\"<>()\[\]{},;]*@[^\s`'\"<>()\[\]{},;]+"  # an address
                       r"|[a-z][a-z0-9+.-]*:/+[^\s`'\"<>]*"  # a URL with a scheme
                       r"|www\.[^\s`'\"<>]*", re.IGNORECASE)


# --------------------------------------------------------------------------- labels

def md_literal(text: object) -> str:
    """Text from a snapshot as Markdown that renders literally (for Streamlit's Markdown elements).

    Every ASCII punctuation character is escaped, so no emphasis, link, image, HTML, LaTeX or directive
    forms. Addresses and URLs go into code spans: GitHub-flavoured Markdown links them after escapes
    are resolved, but never inside code.
    """
    value = ("" if text is None else str(text)).replace("\r", "")
    parts, done = [], 0
    for found in _LINKLIKE.finditer(value):
        parts += [value[done:found.start()].translate(_PUNCTUATION), _code_span(found.group())]
        done = found.end()
    parts.append(value[done:].translate(_PUNCTUATION))
    return "".join(parts).replace("\n", "  \n")


def md_code(text: object) -> str:
    """Text from a snapshot as a Markdown code span (literal, never a link)."""
    return _code_span("" if text is None else str(text).replace("\n", " "))


def _code_span(text: str) -> str:
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cause_title(cause_id: object) -> str:
    if _missing(cause_id) or cause_id == UNEXPLAINED:
        return UNEXPLAINED_TITLE
    cause = BY_ID.get(str(cause_id))
    return cause.title if cause else str(cause_id)


def cause_label(cause_id: object) -> str:
    """The title with the contract id, as admins quote it: "Title (cause-id)"."""
    if _missing(cause_id) or cause_id == UNEXPLAINED:
        return f"{UNEXPLAINED_TITLE} ({UNEXPLAINED})"
    return f"{cause_title(cause_id)} ({cause_id})"


def cause_color(cause_id: object) -> str:
    if _missing(cause_id) or cause_id == UNEXPLAINED:
        return UNEXPLAINED_COLOR
    return COLORS.get(str(cause_id), UNEXPLAINED_COLOR)


def cause_options() -> list[str]:
    """Every cause id in pipeline order, then the unexplained pseudo id (for filters)."""
    return [cause.id for cause in CAUSES] + [UNEXPLAINED]


def queue_label(report: Report, queue_id: object) -> str:
    if _missing(queue_id) or queue_id == NO_QUEUE:
        return NO_QUEUE
    names = _queue_table(report)
    if queue_id in names.index:
        name, address = names.loc[queue_id, "name"], names.loc[queue_id, "address"]
        return f"{name} ({address})" if not _missing(address) else str(name)
    return str(queue_id)


def queue_names(report: Report) -> dict[str, str]:
    """queue id -> name (the id when a queue has no name)."""
    table = _queue_table(report)
    return dict(zip(table.index, table["name"], strict=True))


def _queue_table(report: Report) -> pd.DataFrame:
    queues = report.queues.drop_duplicates("queueid").set_index("queueid")
    names = queues["name"].where(queues["name"].notna() & (queues["name"].astype("str") != ""),
                                 pd.Series(queues.index, index=queues.index))
    return pd.DataFrame({"name": names.astype("str"), "address": queues["address"]})


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and value != value


# --------------------------------------------------------------------------- overview aggregates

@dataclass(frozen=True)
class Kpis:
    incoming: int
    converted: int
    not_converted: int
    outgoing: int
    unexplained: int
    rate: float | None  # converted / (incoming - by_design), None without such emails
    by_design: int  # not converted, working as designed (a reply added to its case): never a "top cause"
    needs_action: int  # not converted and not by design: the problems
    to_fix: int  # things to change in the fix plan


def kpis(report: Report) -> Kpis:
    summary = report.summary()
    incoming = summary["incoming"]
    by_design = summary.get("by_design")
    by_design = int(by_design) if by_design is not None else plan_module.by_design_count(report)
    meant = incoming - by_design  # the emails meant to become cases
    return Kpis(incoming=incoming, converted=summary["converted"], not_converted=summary["not_converted"],
                outgoing=summary["outgoing"], unexplained=summary["unexplained"],
                rate=summary["converted"] / meant if meant else None, by_design=by_design,
                needs_action=summary["not_converted"] - by_design, to_fix=len(report.fix_plan()))


# --------------------------------------------------------------------------- fix plan and words

@dataclass(frozen=True)
class PlanEntry:
    """One fix-plan entry as the pages show it."""

    number: int
    severity: str
    title: str  # "Rule owner 'Marco Rossi'"
    cause: str
    blocked: int
    alone: int
    fix: str
    doc_url: str
    record_url: str | None
    evidence: tuple[dict, ...]  # evidence items
    record_id: str | None
    queue: str | None  # the queue id to list the emails of, when the entry is about a queue


def plan_entries(report: Report) -> list[PlanEntry]:
    entries = []
    for number, entry in enumerate(report.fix_plan(), start=1):
        about = entry.get("about") or {}
        label = plan_module.about_label(entry)
        entries.append(PlanEntry(
            number=number, severity=str(entry.get("severity")), title=label[:1].upper() + label[1:],
            cause=str(entry.get("cause")), blocked=int(entry.get("emails_blocked") or 0),
            alone=int(entry.get("emails_unblocked_alone") or 0), fix=str(entry.get("fix") or ""),
            doc_url=str(entry.get("doc_url") or ""), record_url=entry.get("record_url"),
            evidence=tuple(entry.get("evidence") or ()), record_id=about.get("id"),
            queue=about.get("id") if about.get("table") == "queues" else None))
    return entries


def plan_counts_text(entry: PlanEntry) -> str:
    """"12 emails blocked · 12 would go through if only this were fixed"."""
    if not entry.blocked:
        return "no email counted: the mail it stops never reached Dataverse"
    alone = (f"{entry.alone:,} would go through if only this were fixed" if entry.alone
             else "fix it together with the other problems of these emails")
    return f"{entry.blocked:,} email{'s' if entry.blocked != 1 else ''} blocked · {alone}"


def evidence_md(item: object, cause_id: object) -> str:
    """Evidence as Markdown: its words (escaped), then the raw field it rests on in a code span."""
    words, raw = item_parts(item, cause_id)
    return md_literal(words) + (f" {md_code(raw)}" if raw else "")


def unchecked_lines(report: Report) -> list[str]:
    """One sentence per table missing from the snapshot: which causes it leaves unchecked, for how many emails."""
    if report.unchecked.empty:
        return []
    rows = report.unchecked.explode("missing").dropna(subset=["missing"])
    lines = []
    for table, group in rows.groupby("missing", sort=True):  # a handful of tables
        causes = [cause.id for cause in CAUSES if cause.id in set(group["cause"])]
        emails = group["activityid"].nunique()
        lines.append(f"The snapshot has no {table} table, so {', '.join(causes)} could not be checked for "
                     f"{emails:,} email{'s' if emails != 1 else ''} (never guessed).")
    return lines


def needs_action(emails: pd.DataFrame) -> pd.Series:
    """Not converted and not working as designed: the emails that are a problem (a mask on ``emails``)."""
    by_design = emails["primary_kind"].eq("by-design").fillna(False).astype(bool)
    return (emails["verdict"] == "not-converted").fillna(False).astype(bool) & ~by_design


def primary_cause_counts(report: Report) -> pd.DataFrame:
    """Emails needing action per primary cause (unexplained included; working as designed left out), most
    frequent first."""
    pending = report.emails[needs_action(report.emails)]
    causes = pending["primary_cause"].astype("object").where(pending["primary_cause"].notna(), UNEXPLAINED)
    counts = causes.value_counts()
    frame = pd.DataFrame({"cause": counts.index.astype("str"), "count": counts.values.astype(int)})
    frame["order"] = frame["cause"].map(ORDER).fillna(len(CAUSES) + 1)
    frame = frame.sort_values(["count", "order"], ascending=[False, True], ignore_index=True)
    frame["label"] = frame["cause"].map(cause_label)
    frame["title"] = frame["cause"].map(cause_title)
    frame["color"] = frame["cause"].map(cause_color)
    return frame.drop(columns="order")


def cause_counts(report: Report) -> pd.DataFrame:
    """For every cause of the registry: emails it is the primary cause of (``by_design`` of them working as
    designed), and emails it was found for."""
    pending = report.emails[report.emails["verdict"] == "not-converted"]
    primary = pending["primary_cause"].value_counts()
    by_design = pending.loc[pending["primary_kind"].eq("by-design").fillna(False).astype(bool),
                            "primary_cause"].value_counts()
    found = report.causes.drop_duplicates(["activityid", "cause"])["cause"].value_counts()
    unchecked = report.unchecked.drop_duplicates(["activityid", "cause"])["cause"].value_counts() \
        if not report.unchecked.empty else pd.Series(dtype=int)
    rows = [{"cause": cause.id, "label": cause_label(cause.id), "primary": int(primary.get(cause.id, 0)),
             "by_design": int(by_design.get(cause.id, 0)), "found": int(found.get(cause.id, 0)),
             "unchecked": int(unchecked.get(cause.id, 0))}
            for cause in CAUSES]
    return pd.DataFrame(rows)


def daily_counts(report: Report) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per UTC day: emails needing action by primary cause (long: day, cause, count) and incoming totals."""
    emails = report.emails[report.emails["verdict"].isin(list(IN_SCOPE))]  # the incoming emails every page counts
    day = emails["received_on"].dt.floor("D").dt.tz_localize(None)
    pending = needs_action(emails)
    cause = emails["primary_cause"].astype("object").where(emails["primary_cause"].notna(), UNEXPLAINED)
    long = (pd.DataFrame({"day": day[pending], "cause": cause[pending]}).dropna(subset=["day"])
            .groupby(["day", "cause"], as_index=False).size().rename(columns={"size": "count"}))
    long["order"] = long["cause"].map(ORDER).fillna(len(CAUSES) + 1)
    long = long.sort_values(["order", "day"], ignore_index=True).drop(columns="order")
    totals = pd.DataFrame({"day": day, "converted": emails["verdict"] == "converted"}).dropna(subset=["day"])
    totals = totals.groupby("day", as_index=False).agg(incoming=("converted", "size"),
                                                       converted=("converted", "sum"))
    return long, totals


def email_queue_pairs(report: Report) -> pd.DataFrame:
    """One row per (email, target queue); an email without a target queue gets ``NO_QUEUE``. ``needs_action``
    marks the emails not converted and not working as designed."""
    emails = report.emails[["activityid", "queues", "verdict", "primary_cause"]]
    queues = emails["queues"].map(lambda value: value if isinstance(value, list) and value else [NO_QUEUE])
    return emails.assign(queue=queues, needs_action=needs_action(report.emails)).explode("queue").drop(
        columns="queues")


def counted_twice(report: Report, needing_action: bool = False) -> tuple[int, int]:
    """Incoming emails (or those needing action) sent to more than one queue, and the rows they add: tables
    and charts per queue count such an email once per queue, so their totals exceed the Overview's."""
    emails = report.emails
    scope = needs_action(emails) if needing_action else emails["verdict"].isin(list(IN_SCOPE)).fillna(False)
    sizes = emails.loc[scope.astype(bool), "queues"].str.len().fillna(0)
    return int((sizes > 1).sum()), int((sizes - 1).clip(lower=0).sum())


def plural(count: int, word: str) -> str:
    """"1 email", "17 emails"."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def queue_cause_matrix(report: Report, limit: int = 30) -> pd.DataFrame:
    """Not-converted emails per (primary cause, target queue): rows causes in pipeline order, columns queue ids.

    Emails needing action only (working as designed left out). Only the ``limit`` queues with the most such
    emails are kept (a heat map of hundreds of columns reads as noise); an email reaching two queues counts in
    both (``counted_twice`` says how many).
    """
    pairs = email_queue_pairs(report)
    pairs = pairs[pairs["needs_action"]]
    cause = pairs["primary_cause"].astype("object").where(pairs["primary_cause"].notna(), UNEXPLAINED)
    table = pd.crosstab(cause, pairs["queue"])
    if table.empty:
        return table
    order = [cause_id for cause_id in cause_options() if cause_id in table.index]
    columns = table.sum().sort_values(ascending=False, kind="stable").index[:limit]
    return table.loc[order, columns]


def funnel(report: Report) -> pd.DataFrame:
    """Incoming emails meant to become cases still on their way after each stage of the pipeline.

    Emails working as designed (replies added to their case) are left out from the start. Each stage removes
    the emails whose primary cause is that stage's cause; what is left after the last stage either became a
    case or is unexplained.
    """
    summary = report.summary()
    remaining = summary["incoming"] - int(summary.get("by_design") or 0)
    by_cause = primary_cause_counts(report).set_index("cause")["count"]
    rows = []
    for cause in CAUSES:
        dropped = int(by_cause.get(cause.id, 0))
        remaining -= dropped
        rows.append({"stage": cause.stage, "cause": cause.id, "remaining": remaining, "dropped": dropped})
    rows.append({"stage": CONVERTED_STAGE, "cause": None, "remaining": summary["converted"],
                 "dropped": summary["unexplained"]})
    return pd.DataFrame(rows)


def findings_rows(report: Report) -> list[dict]:
    """Environment findings, most severe first, each with a readable subject and the cause label."""
    rows = []
    findings = plan_module.distinct_findings(report)  # a failed-job message named elsewhere is shown once
    for finding in sorted(findings, key=lambda item: (SEVERITY_RANK.get(item.get("severity"), 3),
                                                      ORDER.get(item.get("id"), 99))):
        rows.append({**finding, "label": cause_label(finding.get("id")),
                     "subject_label": plan_module.finding_subject(report, finding)})
    return rows


# --------------------------------------------------------------------------- emails explorer

@dataclass(frozen=True)
class EmailFilter:
    verdicts: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()  # cause ids, UNEXPLAINED included
    queues: tuple[str, ...] = ()  # queue ids, NO_QUEUE included
    start: date | None = None
    end: date | None = None  # inclusive
    text: str = ""
    any_cause: bool = False  # match a cause found for the email, not only its primary cause
    needs_action: bool = False  # only emails not converted and not working as designed


def filter_emails(report: Report, selection: EmailFilter) -> pd.DataFrame:
    """The emails frame rows that pass every filter, newest first."""
    emails = report.emails
    mask = pd.Series(True, index=emails.index)
    if selection.verdicts:
        mask &= emails["verdict"].isin(list(selection.verdicts))
    if selection.causes:
        wanted = set(selection.causes)
        primary = emails["primary_cause"].astype("object").where(
            emails["primary_cause"].notna() | (emails["verdict"] != "not-converted"), UNEXPLAINED)
        by_cause = primary.isin(list(wanted)).fillna(False).astype(bool)
        if selection.any_cause:
            found = report.causes.loc[report.causes["cause"].isin(list(wanted)), "activityid"]
            by_cause |= emails["activityid"].isin(found)
        mask &= by_cause
    if selection.needs_action:
        mask &= needs_action(emails)
    if selection.queues:
        pairs = email_queue_pairs(report)
        hit = pairs.loc[pairs["queue"].isin(list(selection.queues)), "activityid"]
        mask &= emails["activityid"].isin(hit)
    received = emails["received_on"]
    if selection.start is not None:
        mask &= (received >= pd.Timestamp(selection.start, tz="UTC")).fillna(False).astype(bool)
    if selection.end is not None:
        mask &= (received < pd.Timestamp(selection.end, tz="UTC") + pd.Timedelta(days=1)).fillna(False).astype(bool)
    text = selection.text.strip().lower()
    if text:
        found_text = pd.Series(False, index=emails.index)
        for column in ("subject", "sender"):
            found_text |= emails[column].astype("str").str.lower().str.contains(text, regex=False).fillna(False)
        mask &= found_text.astype(bool)
    return emails[mask.astype(bool)].sort_values("received_on", ascending=False, kind="stable")


def email_rows(report: Report, emails: pd.DataFrame) -> pd.DataFrame:
    """The explorer's table for the given rows: readable columns, record id last."""
    names = queue_names(report)
    queues = emails["queues"].map(
        lambda value: ", ".join(names.get(queue, queue) for queue in value) if isinstance(value, list) else "")
    primary = emails["primary_cause"].astype("object").where(
        emails["primary_cause"].notna() | (emails["verdict"] != "not-converted"), UNEXPLAINED)
    return pd.DataFrame({
        "Received (UTC)": emails["received_on"].dt.tz_localize(None),
        "Verdict": emails["verdict"].map(VERDICT_SHORT).fillna(emails["verdict"]),
        "Primary cause": primary.map(lambda cause: "" if _missing(cause) else cause_label(cause)),
        "Subject": emails["subject"],
        "Sender": emails["sender"],
        "Queues": queues,
        "Activity id": emails["activityid"],
    }).reset_index(drop=True)


def page_of(frame: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> tuple[pd.DataFrame, int]:
    """Rows of page ``page`` (1-based, clamped) and the number of pages."""
    pages = max(1, -(-len(frame) // size))
    page = min(max(1, page), pages)
    return frame.iloc[(page - 1) * size: page * size], pages


def filter_from_params(params: dict[str, str | Sequence[str]], report: Report) -> EmailFilter:
    """An ``EmailFilter`` from query parameters (``cause``, ``queue``, ``verdict``, ``day``, ``q``,
    ``any``, ``action``).

    Unknown values are dropped: the parameters come from links, which anyone can edit.
    """
    def values(name: str) -> tuple[str, ...]:
        raw = params.get(name)
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else list(raw)
        return tuple(part for item in items for part in str(item).split(",") if part)

    known_queues = set(report.queues["queueid"]) | {NO_QUEUE}
    day = _day(values("day")[0]) if values("day") else None
    return EmailFilter(
        verdicts=tuple(verdict for verdict in values("verdict") if verdict in VERDICTS),
        causes=tuple(cause for cause in values("cause") if cause in cause_options()),
        queues=tuple(queue for queue in values("queue") if queue in known_queues),
        start=day, end=day,
        text=" ".join(values("q"))[:200],
        any_cause=values("any")[:1] == ("1",),
        needs_action=values("action")[:1] == ("1",),
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


# --------------------------------------------------------------------------- one email

def email_view(report: Report, activityid: str) -> dict | None:
    """One email's diagnosis for the detail panel: the contract's shape plus readable labels."""
    detail = report.email_detail(activityid)
    if detail is None:
        return None
    names = queue_names(report)
    detail["queue_labels"] = [queue_label(report, queue) for queue in detail["queues"]]
    for cause in detail["causes"]:
        cause["label"] = cause_label(cause["id"])
        cause["queue_label"] = queue_label(report, cause["queue"]) if cause.get("queue") else None
    for item in detail["unchecked"]:
        item["label"] = cause_label(item["id"])
    detail["primary_label"] = (cause_label(detail["primary_cause"]) if detail["primary_cause"]
                               else cause_label(None) if detail["verdict"] == "not-converted" else None)
    detail["queue_names"] = {queue: names.get(queue, queue) for queue in detail["queues"]}
    return detail


# --------------------------------------------------------------------------- queues

def queue_health(report: Report) -> pd.DataFrame:
    """One row per queue: its rule, its findings and what became of the emails it received.

    Health comes from the same findings as the fix plan and from the conversion rate: an error finding
    about the queue, its mailbox or its rule, or under 50% converted, is a problem; a warning, no active
    rule or under 80% converted asks for a check; only the rest is OK.
    """
    pairs = email_queue_pairs(report)
    pairs = pairs[pairs["verdict"].isin(list(IN_SCOPE))]
    stats = pairs.assign(converted=pairs["verdict"] == "converted").groupby("queue").agg(
        emails=("activityid", "size"), converted=("converted", "sum"), pending=("needs_action", "sum"))
    pending = pairs[pairs["needs_action"]]
    cause = pending["primary_cause"].astype("object").where(pending["primary_cause"].notna(), UNEXPLAINED)
    top = pd.DataFrame({"queue": pending["queue"], "cause": cause}).groupby("queue")["cause"].agg(
        lambda causes: causes.value_counts().index[0])
    findings = _queue_findings(report)
    names, addresses = queue_names(report), _queue_table(report)["address"].to_dict()
    rows = []
    ids = list(report.queues["queueid"]) + ([NO_QUEUE] if NO_QUEUE in stats.index else [])
    for queue in ids:  # one row per queue, a handful
        queue_findings = findings.get(queue, [])
        received = int(stats["emails"].get(queue, 0))
        converted = int(stats["converted"].get(queue, 0))
        blocked = int(stats["pending"].get(queue, 0))
        rules = _rules_of(report, queue)
        meant = converted + blocked  # by-design replies are neither
        rate = converted / meant if meant else None
        rows.append({
            "queueid": queue, "health": _health(queue_findings, rate, queue == NO_QUEUE or bool(rules)),
            "queue": queue_label(report, queue), "name": names.get(queue, NO_QUEUE),
            "address": "" if _missing(addresses.get(queue)) else str(addresses.get(queue)),
            "active_rules": ", ".join(rules) if rules else "",
            "emails": received, "converted": converted, "not_converted": blocked,
            "by_design": received - converted - blocked,
            "rate": rate, "top_cause": cause_label(top[queue]) if queue in top.index else "",
            "findings": " | ".join(f"{finding.get('severity')}: {text_of(item)}"
                                   for finding in queue_findings for item in finding.get("evidence", [])),
        })
    return pd.DataFrame(rows)


def _health(findings: list[dict], rate: float | None, has_rule: bool) -> str:
    worst = min((SEVERITY_RANK.get(item.get("severity"), 3) for item in findings), default=3)
    if worst == 0 or (rate is not None and rate < 0.5):
        return "error"
    if worst == 1 or not has_rule or (rate is not None and rate < 0.8):
        return "warning"
    return "ok"


def _queue_findings(report: Report) -> dict[str, list[dict]]:
    """Findings per queue id: the queue's own, and its active rule's (rules are named in their evidence)."""
    by_rule: dict[str, str] = {}
    for row in report.queues.itertuples():
        for rule in row.active_rules if isinstance(row.active_rules, list) else []:
            by_rule[f"rule '{rule}'"] = row.queueid
    found: dict[str, list[dict]] = {}
    for finding in report.findings:
        if finding.get("scope") == "queue":
            found.setdefault(finding.get("subject"), []).append(finding)
        elif finding.get("scope") == "rule":
            queue = by_rule.get(plan_module.finding_subject(report, finding))
            if queue:
                found.setdefault(queue, []).append(finding)
    return found


def _rules_of(report: Report, queue: str) -> list[str]:
    rows = report.queues[report.queues["queueid"] == queue]
    if rows.empty:
        return []
    rules = rows.iloc[0]["active_rules"]
    return [str(rule) for rule in rules] if isinstance(rules, list | tuple) else []


def selected_ids(values: Iterable[object]) -> list[str]:
    """Plain strings from a selection event's custom data (drops empties)."""
    return [str(value) for value in values if not _missing(value) and str(value)]
