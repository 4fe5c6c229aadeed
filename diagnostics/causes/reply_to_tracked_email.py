"""Cause 7 of the article: the email is a reply to a tracked email (by design, no new case)."""

from __future__ import annotations

import pandas as pd

from .base import Cause, Context, evidence, monitor_evidence, monitor_rows, quoted

CORRELATION = {3: "InReplyTo", 4: "TrackingToken", 5: "ConversationIndex", 6: "SmartMatching"}


def detect(context: Context) -> pd.DataFrame:
    pending = context.pending
    parts = [_in_reply_to(context), _correlation(pending)]
    for column, what in (("parentactivityid", "parent activity"), ("correlatedactivityid", "correlated activity")):
        linked = pending[pending[column].notna()]
        parts.append(evidence(linked, f"its {what} is set (" + linked[column] + "): server-side sync "
                              "correlated it with an earlier email", queue=None))
    if context.has("activitymonitors"):
        parts.append(monitor_evidence(monitor_rows(context, reasons={2, 3, 4, 5})))
    return pd.concat(parts, ignore_index=True)


def _in_reply_to(context: Context) -> pd.DataFrame:
    emails = context.snapshot.table("emails")
    tracked = emails[["activityid", "messageid_key", "subject", "regardingobjectid",
                      "regardingobjectid_type"]].dropna(subset=["messageid_key"])
    replies = context.pending[["activityid", "inreplyto", "inreplyto_key"]].dropna(subset=["inreplyto_key"])
    matched = replies.merge(tracked, left_on="inreplyto_key", right_on="messageid_key", suffixes=("", "_tracked"))
    matched = matched[matched["activityid"] != matched["activityid_tracked"]]
    case = ("case " + matched["regardingobjectid"]).where(matched["regardingobjectid_type"] == "incident")
    regarding = (", regarding " + case).fillna("")
    text = ("In-Reply-To " + matched["inreplyto"].str.strip() + " is the Message-ID of tracked email "
            + quoted(matched["subject"], "(no subject)") + " (" + matched["activityid_tracked"] + regarding + ")")
    return evidence(matched, text, queue=None)


def _correlation(pending: pd.DataFrame) -> pd.DataFrame:
    correlated = pending[pending["correlationmethod"].isin(list(CORRELATION)).fillna(False).astype(bool)]
    method = correlated["correlationmethod"].map(CORRELATION)
    return evidence(correlated, "correlation method " + method + " (" + correlated["correlationmethod"].astype(
        "str") + "): server-side sync matched it to an earlier email", queue=None)


CAUSE = Cause(
    id="reply-to-tracked-email",
    order=4,
    seed_number=7,
    kind="by design",
    title="The email is a reply to the tracked email",
    seed_text=("If the incoming email is in response to an already tracked email associated with a case, no "
               "new case will be created. If the InReplyTo value matches the MessageId of an email that's "
               "already in Dynamics 365, server-side synchronization correlates the new email with the "
               "existing one, and the \"Automatic record creation and Update\" rule skips case creation for "
               "the new email."),
    detection=("In-Reply-To equals the Message-ID of another email in the snapshot (compared without angle "
               "brackets, ignoring case), or the correlation method is InReplyTo, TrackingToken, "
               "ConversationIndex or SmartMatching, or the parent/correlated activity is set, or the "
               "activity monitor says a record is already connected (reasons 2-5)."),
    remediation=("Nothing is broken: the reply is attached to the existing case's timeline. If replies must "
                 "open new cases (e.g. after the case is resolved), set the rule's 'Create case if the "
                 "connected case is resolved' options, or adjust correlation in the system settings "
                 "(Email > tracking): tracking token, conversation and smart matching."),
    doc_url="https://learn.microsoft.com/power-platform/admin/email-message-filtering-correlation",
    color="#999999",
    tables=("emails", "activitymonitors"),
    requires=("emails",),
    detect=detect,
)
