"""A report as files to keep or send: CSV (one row per email), a self-contained HTML page, the contract JSON.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) are prefixed with ``'``. The HTML page inlines plotly.js, so it works offline, and
escapes every string that comes from the snapshot.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import orjson
import pandas as pd

from . import charts
from .app_state import (
    NO_QUEUE,
    UNEXPLAINED,
    cause_label,
    findings_rows,
    kpis,
    primary_cause_counts,
    queue_names,
)
from .report import Report

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
CSV_COLUMNS = ["activityid", "received_on", "verdict", "primary_cause", "primary_cause_title", "causes",
               "subject", "sender", "queues", "queue_ids", "evidence"]
HTML_EMAIL_LIMIT = 2000  # rows of the not-converted table in the HTML page; the CSV and JSON hold them all


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
    evidence = primary.groupby("activityid", sort=False)["evidence"].agg(
        lambda lists: " | ".join(sentence for sentences in lists for sentence in sentences))
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
    }, columns=CSV_COLUMNS)
    for column in frame.columns:
        frame[column] = _neutralise_column(frame[column])
    return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def report_json(report: Report) -> bytes:
    """The contract's JSON of the report."""
    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)


def report_html(report: Report, title: str = "Email-to-case diagnosis", note: str | None = None) -> bytes:
    """One HTML file with the KPIs, the four charts (plotly.js inlined), findings and the emails not converted."""
    figures = charts.overview_figures(report)
    parts = []
    for index, figure in enumerate(figures.values()):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=index == 0,
                                    config={"displaylogo": False, "responsive": True}))
    numbers = kpis(report)
    rate = f"{numbers.rate:.0%}" if numbers.rate is not None else "—"
    top = cause_label(numbers.top_cause) if numbers.top_cause else "—"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>Source: {_e(report.source)} · diagnosed {_e(report.created_at)} · "
        f"exported {generated}</p>",
    ]
    if note:
        body.append(f"<p class='note'>{_e(note)}</p>")
    if report.missing_tables:
        body.append(f"<p class='meta'>Tables not in the snapshot (their causes are listed as unchecked): "
                    f"{_e(', '.join(report.missing_tables))}</p>")
    body.append("<div class='kpis'>" + "".join(
        f"<div class='kpi'><div class='label'>{_e(label)}</div><div class='value'>{_e(value)}</div></div>"
        for label, value in (("Incoming", f"{numbers.incoming:,}"), ("Converted", f"{numbers.converted:,}"),
                             ("Not converted", f"{numbers.not_converted:,}"), ("Conversion rate", rate),
                             ("Top cause", top))) + "</div>")
    body.append("<h2>Primary causes</h2><table><tr><th>Cause</th><th>Emails</th></tr>" + "".join(
        f"<tr><td><span class='swatch' style='background:{_e(row.color)}'></span>{_e(row.label)}</td>"
        f"<td class='n'>{row.count:,}</td></tr>" for row in primary_cause_counts(report).itertuples()) + "</table>")
    body += [f"<div class='chart'>{part}</div>" for part in parts]
    body.append(_findings_html(report))
    body.append(_emails_html(report))
    document = _PAGE.format(title=_e(title), body="\n".join(body))
    return document.encode("utf-8")


def _findings_html(report: Report) -> str:
    rows = findings_rows(report)
    if not rows:
        return "<h2>Environment findings</h2><p>None.</p>"
    items = "".join(
        f"<li><b class='sev {_e(row['severity'])}'>{_e(row['severity'])}</b> {_e(row['label'])} — "
        f"{_e(row['scope'])} {_e(row['subject_label'])}<ul>"
        + "".join(f"<li>{_e(sentence)}</li>" for sentence in row.get("evidence", [])) + "</ul></li>"
        for row in rows)
    return f"<h2>Environment findings (most severe first)</h2><ul class='findings'>{items}</ul>"


def _emails_html(report: Report) -> str:
    pending = report.emails[report.emails["verdict"] == "not-converted"].sort_values(
        "received_on", ascending=False, kind="stable")
    shown = pending.head(HTML_EMAIL_LIMIT)
    names = queue_names(report)
    first = report.causes[report.causes["activityid"].isin(shown["activityid"])].drop_duplicates("activityid")
    evidence = dict(zip(first["activityid"], first["evidence"], strict=True))
    rows = []
    for email in shown.itertuples(index=False):
        queues = ", ".join(names.get(queue, queue) for queue in email.queues) if isinstance(email.queues, list) \
            else NO_QUEUE
        when = email.received_on.strftime("%Y-%m-%d %H:%M") if pd.notna(email.received_on) else ""
        cause = email.primary_cause if isinstance(email.primary_cause, str) else UNEXPLAINED
        sentences = evidence.get(email.activityid, [])
        rows.append(f"<tr><td>{_e(when)}</td><td>{_e(email.subject)}</td><td>{_e(email.sender)}</td>"
                    f"<td>{_e(queues)}</td><td>{_e(cause_label(cause))}</td>"
                    f"<td>{_e('; '.join(sentences[:2]))}</td><td class='id'>{_e(email.activityid)}</td></tr>")
    more = (f"<p class='meta'>The first {HTML_EMAIL_LIMIT:,} of {len(pending):,}, newest first; the CSV and JSON "
            "exports hold them all.</p>" if len(pending) > HTML_EMAIL_LIMIT else "")
    return ("<h2>Emails not converted</h2>" + more + "<table class='emails'><tr><th>Received (UTC)</th>"
            "<th>Subject</th><th>Sender</th><th>Queues</th><th>Primary cause</th><th>Evidence</th>"
            "<th>Activity id</th></tr>" + "".join(rows) + "</table>")


def _e(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1f2937; }}
h1 {{ margin-bottom: .2rem; }}
.meta {{ color: #6b7280; font-size: .9rem; }}
.note {{ background: #fff7e6; border-left: 4px solid #e69f00; padding: .5rem .8rem; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }}
.kpi {{ border: 1px solid #e5e7eb; border-radius: .5rem; padding: .6rem 1rem; min-width: 9rem; }}
.kpi .label {{ color: #6b7280; font-size: .85rem; }}
.kpi .value {{ font-size: 1.4rem; font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0 1.5rem; }}
th, td {{ border-bottom: 1px solid #e5e7eb; padding: .3rem .5rem; text-align: left; vertical-align: top; }}
td.n {{ text-align: right; }}
td.id {{ font-family: monospace; font-size: .8rem; }}
.swatch {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .4rem; border-radius: 2px; }}
.chart {{ margin: 1rem 0; }}
.sev {{ text-transform: uppercase; font-size: .8rem; }}
.sev.error {{ color: #b91c1c; }} .sev.warning {{ color: #b45309; }} .sev.info {{ color: #1d4ed8; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""

__all__ = ["emails_csv", "neutralise", "report_html", "report_json"]
