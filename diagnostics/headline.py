"""The one sentence a report opens with, and what a partial snapshot could not check.

"108 of 362 incoming emails (1 Nov – 30 Nov 2026) did not become cases; 16 of them are working as designed;
the first three fixes would let about 41 through." The Overview, a shared report, the HTML export and the
command line's text all print this sentence, so they never disagree. Pure functions of a ``Report`` (and its
fix plan); nothing here imports Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .causes import CAUSES
from .report import Report

IN_SCOPE = ("converted", "not-converted")  # incoming emails sent to a queue: what the counts are about
FIRST_FIXES = 3
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}


@dataclass(frozen=True)
class Headline:
    incoming: int
    not_converted: int
    by_design: int
    needs_action: int  # not converted and not working as designed: the problems
    first_fixes: int  # how many plan entries "the first fixes" are (up to three)
    let_through: int  # emails the first fixes would let through on their own (each an email's only problem)
    period: str  # "1 Nov – 30 Nov 2026", or "" without dated emails
    sentence: str


def period_text(received: pd.Series) -> str:
    """The dates of the emails, as an admin writes them: "1 Nov – 30 Nov 2026", "28 Dec 2025 – 3 Jan 2026"."""
    dates = pd.to_datetime(received, utc=True, errors="coerce").dropna()
    if dates.empty:
        return ""
    first, last = dates.min(), dates.max()
    end = f"{last.day} {last:%b %Y}"
    if first.normalize() == last.normalize():
        return end
    start = f"{first.day} {first:%b}" + (f" {first:%Y}" if first.year != last.year else "")
    return f"{start} – {end}"


def report_period(report: Report) -> str:
    """The period of the incoming emails the counts are about (every email's when none is incoming)."""
    emails = report.emails
    incoming = emails["verdict"].isin(list(IN_SCOPE)).fillna(False).astype(bool)
    return period_text(emails.loc[incoming, "received_on"] if incoming.any() else emails["received_on"])


def headline(report: Report) -> Headline:
    summary = report.summary()
    incoming, pending = summary["incoming"], summary["not_converted"]
    by_design = int(summary.get("by_design") or 0)
    needs_action = pending - by_design
    plan = report.fix_plan()[:FIRST_FIXES]
    through = min(needs_action, sum(int(entry.get("emails_unblocked_alone") or 0) for entry in plan))
    period = report_period(report)
    words = _sentence(incoming, pending, by_design, needs_action, len(plan), through, period)
    return Headline(incoming=incoming, not_converted=pending, by_design=by_design, needs_action=needs_action,
                    first_fixes=len(plan), let_through=through, period=period, sentence=words)


def _sentence(incoming: int, pending: int, by_design: int, needs_action: int, fixes: int, through: int,
              period: str) -> str:
    when = f" ({period})" if period else " (no dates in the snapshot)"
    if not incoming:
        return f"No incoming email sent to a queue{when}: nothing to diagnose."
    if not pending:
        return f"All {incoming:,} incoming emails{when} became cases."
    parts = [f"{pending:,} of {incoming:,} incoming emails{when} did not become cases"]
    if by_design == pending:
        parts.append("it is working as designed" if pending == 1 else "all of them are working as designed")
    elif by_design:
        parts.append(f"{by_design:,} of them {'is' if by_design == 1 else 'are'} working as designed")
    if needs_action and fixes:
        first = "the first fix" if fixes == 1 else f"the first {NUMBER_WORDS[fixes]} fixes"
        parts.append(f"{first} would let about {through:,} through" if through else
                     f"{first} would let none through on their own (their emails have other problems too)")
    elif needs_action:
        parts.append("nothing in the snapshot says what stopped them")
    return "; ".join(parts) + "."


# --------------------------------------------------------------------------- a partial snapshot

@dataclass(frozen=True)
class Unchecked:
    cause: str
    title: str
    missing: tuple[str, ...]  # tables of the cause the snapshot lacks
    not_at_all: bool  # a table it cannot run without is missing (else it was checked in part)


def unchecked_causes(report: Report) -> list[Unchecked]:
    """The causes a snapshot without some tables could not check (fully), in pipeline order."""
    missing = set(report.missing_tables)
    return [Unchecked(cause.id, cause.title, tuple(table for table in cause.tables if table in missing),
                      bool(missing & set(cause.requires)))
            for cause in CAUSES if missing & set(cause.tables)]


def partial_warning(report: Report) -> str | None:
    """One paragraph for the top of the Overview and the HTML report, or None for a complete snapshot."""
    causes = unchecked_causes(report)
    if not causes:
        return None
    tables = sorted({table for cause in causes for table in cause.missing})
    skipped = [cause.title for cause in causes if cause.not_at_all]
    partly = [cause.title for cause in causes if not cause.not_at_all]
    text = f"This snapshot lacks {len(tables)} of the tables the diagnosis reads, so "
    clauses = []
    if skipped:
        clauses.append(f"{len(skipped)} of the {len(CAUSES)} causes could not be checked at all: "
                       + "; ".join(skipped))
    if partly:
        of_all = "" if skipped else f" of the {len(CAUSES)} causes"
        clauses.append(f"{len(partly)}{of_all} could be checked only in part: " + "; ".join(partly))
    return (text + ", and ".join(clauses) + ". The counts below cover only what could be checked. "
            f"Export these tables too and upload again: {', '.join(tables)}.")


__all__ = ["Headline", "Unchecked", "headline", "partial_warning", "period_text", "report_period",
           "unchecked_causes"]
