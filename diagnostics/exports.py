"""A report as files to keep or send: CSV (one row per email; the fix plan apart), a self-contained HTML page,
the contract JSON.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) are prefixed with ``'``. The HTML page draws its charts with HTML and inline SVG
(``html_charts``), so it works offline and stays small; it is a Jinja2 template (``templates/report.html.j2``)
with autoescape, so every string from the snapshot is escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from . import headline, html_charts
from .app_state import (
    NO_QUEUE,
    UNEXPLAINED,
    Kpis,
    cause_label,
    cause_title,
    counted_twice,
    findings_rows,
    kpis,
    needs_action,
    plan_counts_text,
    plan_entries,
    queue_names,
    unchecked_lines,
)
from .cause_view import item_parts
from .causes import BY_ID
from .fix_plan import about_label
from .report import Report

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
CSV_COLUMNS = ["activityid", "received_on", "verdict", "primary_cause", "primary_cause_title", "causes",
               "subject", "sender", "queues", "queue_ids", "evidence", "fix", "doc_url"]
PLAN_COLUMNS = ["rank", "severity", "about", "cause", "table", "record_id", "emails_blocked",
                "emails_unblocked_alone", "fix", "doc_url", "record_url"]
# Rows of the not-converted table in the HTML page (those needing action first), about 1 kB each: a 400-email
# report lists them all, any larger one stays under 1.5 MB; the rest is counted, the CSV and JSON hold them all.
HTML_EMAIL_LIMIT = 1000


def neutralise(value: object) -> object:
    """A cell a spreadsheet shows as text: formulas get a leading apostrophe."""
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return value


def _neutralise_column(column: pd.Series) -> pd.Series:
    text = column.astype("str")
    risky = text.str.match(FORMULA_START.pattern).fillna(False).astype(bool)
    return text.where(~risky, "'" + text)


def emails_csv(report: Report, emails: pd.DataFrame | None = None) -> bytes:
    """The emails (all, or the given rows of ``report.emails``) as CSV, UTF-8 with a BOM for Excel."""
    emails = report.emails if emails is None else emails
    names = queue_names(report)
    causes = report.causes[report.causes["activityid"].isin(emails["activityid"])]
    all_causes = causes.drop_duplicates(["activityid", "cause"]).groupby("activityid", sort=False)["cause"].agg(
        "; ".join)
    primary = emails[["activityid", "primary_cause"]].merge(causes, left_on=["activityid", "primary_cause"],
                                                            right_on=["activityid", "cause"])
    evidence = _primary_evidence(report, primary)
    fixes = primary.drop_duplicates("activityid").set_index("activityid")["remediation"]
    pending = emails["verdict"] == "not-converted"
    primary_id = emails["primary_cause"].astype("object").where(emails["primary_cause"].notna() | ~pending,
                                                                UNEXPLAINED)
    queues = emails["queues"].map(lambda value: value if isinstance(value, list) else [])
    frame = pd.DataFrame({
        "activityid": emails["activityid"],
        "received_on": emails["received_on"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verdict": emails["verdict"],
        "primary_cause": primary_id,
        "primary_cause_title": primary_id.map(lambda cause: cause_label(cause) if isinstance(cause, str) else ""),
        "causes": emails["activityid"].map(all_causes).fillna(""),
        "subject": emails["subject"],
        "sender": emails["sender"],
        "queues": queues.map(lambda ids: "; ".join(names.get(queue, queue) for queue in ids)),
        "queue_ids": queues.map("; ".join),
        "evidence": emails["activityid"].map(evidence).fillna(""),
        "fix": emails["activityid"].map(fixes).fillna(primary_id.map(_registry("remediation"))).fillna(""),
        "doc_url": primary_id.map(_registry("doc_url")).fillna(""),
    }, columns=CSV_COLUMNS)
    for column in frame.columns:
        frame[column] = _neutralise_column(frame[column])
    return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _registry(attribute: str) -> dict[str, str]:
    return {cause_id: getattr(cause, attribute) for cause_id, cause in BY_ID.items()}


def report_json(report: Report) -> bytes:
    """The contract's JSON of the report."""
    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)


def file_stem(report: Report, what: str = "email-to-case") -> str:
    """``contoso-2026-11-10-email-to-case``: the organisation (or snapshot) and the day of the diagnosis."""
    host = urlsplit(report.org_url or "").hostname or ""
    name = host.split(".")[0] if host else re.sub(r"\.(zip|json|xml)$", "", str(report.source or ""), flags=re.I)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    day = str(report.created_at or "")[:10]
    day = day if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else datetime.now(UTC).strftime("%Y-%m-%d")
    return "-".join(part for part in (slug, day, what) if part)


def fix_plan_csv(report: Report) -> bytes:
    """The fix plan as CSV: one row per thing to change, most harmful first."""
    plan = report.fix_plan()
    frame = pd.DataFrame([{
        "rank": number, "severity": entry["severity"], "about": about_label(entry), "cause": entry["cause"],
        "table": entry["about"].get("table"), "record_id": entry["about"].get("id"),
        "emails_blocked": entry["emails_blocked"], "emails_unblocked_alone": entry["emails_unblocked_alone"],
        "fix": entry["fix"], "doc_url": entry["doc_url"], "record_url": entry.get("record_url") or "",
    } for number, entry in enumerate(plan, start=1)], columns=PLAN_COLUMNS)
    for column in frame.columns:
        frame[column] = _neutralise_column(frame[column].astype("object").where(frame[column].notna(), ""))
    return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def report_html(report: Report, title: str = "Email-to-case diagnosis", note: str | None = None) -> bytes:
    """One HTML file: the headline, the fix plan, the KPIs, four charts (HTML and SVG, no script), findings and
    the emails not converted with their fix. Rendered by a Jinja2 template with autoescape: snapshot text is
    always escaped."""
    numbers = kpis(report)
    pending = report.emails[report.emails["verdict"] == "not-converted"]
    twice, extra = counted_twice(report, needing_action=True)
    page = _TEMPLATES.get_template("report.html.j2").render(
        title=title, source=report.source, org_url=report.org_url, created_at=report.created_at,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), note=note, plan=_plan_rows(report),
        headline=headline.headline(report), partial=headline.partial_warning(report),
        by_design=numbers.by_design, unchecked=unchecked_lines(report), kpis=_kpi_rows(numbers),
        cause_bars=html_charts.cause_bars(report), funnel=html_charts.funnel_bars(report),
        trend=html_charts.daily_trend(report), heatmap=html_charts.heatmap(report), counted_twice=(twice, extra),
        findings=_finding_rows(report), emails=_email_rows(report, pending), more=len(pending) > HTML_EMAIL_LIMIT,
        limit=HTML_EMAIL_LIMIT, pending=len(pending))
    return page.encode("utf-8")


def _kpi_rows(numbers: Kpis) -> list[tuple[str, str]]:
    rate = f"{numbers.rate:.0%}" if numbers.rate is not None else "—"
    return [("Incoming", f"{numbers.incoming:,}"), ("Converted", f"{numbers.converted:,}"),
            ("Not converted, needs action", f"{numbers.needs_action:,}"),
            ("Working as designed", f"{numbers.by_design:,}"), ("Conversion rate", rate)]


def _primary_evidence(report: Report, primary: pd.DataFrame) -> pd.Series:
    """The evidence words of each email's primary cause, joined, by activityid."""
    rows = report.causes.reset_index()[["index", "activityid", "cause"]].merge(
        primary[["activityid", "cause"]].drop_duplicates(), on=["activityid", "cause"])
    items = report.evidence.merge(rows.rename(columns={"index": "row"}), on="row")
    return items.groupby("activityid", sort=False)["text"].agg(" | ".join)


def _sentences(evidence: list, cause: object) -> list[dict]:
    return [dict(zip(("words", "raw"), item_parts(item, cause), strict=True)) for item in evidence]


def _plan_rows(report: Report) -> list[dict]:
    return [{"severity": entry.severity, "title": entry.title, "cause": entry.cause,
             "cause_title": cause_title(entry.cause), "counts": plan_counts_text(entry), "fix": entry.fix,
             "doc_url": entry.doc_url if entry.doc_url.startswith("https://") else "",
             "record_url": entry.record_url, "record_id": entry.record_id,
             "evidence": _sentences(list(entry.evidence[:6]), entry.cause)} for entry in plan_entries(report)]


def _finding_rows(report: Report) -> list[dict]:
    return [{"severity": row.get("severity"), "label": row["label"], "subject": row["subject_label"],
             "evidence": _sentences(row.get("evidence", []), row.get("id"))} for row in findings_rows(report)]


def _email_rows(report: Report, pending: pd.DataFrame) -> list[dict]:
    """The emails not converted, those needing action first, newest first, with their primary cause's evidence,
    fix and documentation link."""
    order = pending.assign(working_as_designed=~needs_action(pending))
    shown = order.sort_values(["working_as_designed", "received_on"], ascending=[True, False], kind="stable").head(
        HTML_EMAIL_LIMIT)
    names = queue_names(report)
    first = report.causes[report.causes["activityid"].isin(shown["activityid"])].drop_duplicates("activityid")
    evidence = dict(zip(first["activityid"], report.evidence_of(first), strict=True))
    fixes = dict(zip(first["activityid"], first["remediation"], strict=True))
    rows = []
    for email in shown.itertuples(index=False):  # at most HTML_EMAIL_LIMIT rows of a page
        cause = email.primary_cause if isinstance(email.primary_cause, str) else UNEXPLAINED
        registry = BY_ID.get(cause)
        rows.append({
            "when": email.received_on.strftime("%Y-%m-%d %H:%M") if pd.notna(email.received_on) else "",
            "subject": _text(email.subject), "sender": _text(email.sender),
            "queues": ", ".join(names.get(queue, queue) for queue in email.queues)
            if isinstance(email.queues, list) else NO_QUEUE,
            "cause": cause_label(cause) + (" · working as designed" if email.working_as_designed else ""),
            "evidence": "; ".join(item["text"] for item in evidence.get(email.activityid, [])[:2]),
            "fix": _text(fixes.get(email.activityid)) or (registry.remediation if registry else ""),
            "doc_url": registry.doc_url if registry else "", "activityid": email.activityid})
    return rows


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


_TEMPLATES = Environment(loader=PackageLoader("diagnostics", "templates"), autoescape=True,
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

__all__ = ["emails_csv", "file_stem", "fix_plan_csv", "neutralise", "report_html", "report_json"]
