"""Cause 3 of the article: the email comes from an unknown sender and the rule does not allow them."""

from __future__ import annotations

import pandas as pd

from ..normalize import isin
from .base import Cause, Context, evidence, monitor_evidence, monitor_rows, quoted


def unknown_sender_targets(context: Context, allow: bool) -> pd.DataFrame:
    """Target queues whose active rule has ``allowunknownsender == allow``, for unknown senders."""
    known = context.senders.loc[context.senders["known"], "activityid"]
    rules = context.active_rules[context.active_rules["allowunknownsender"].fillna(False).astype(bool) == allow]
    pending = context.pending.loc[~isin(context.pending["activityid"], known), ["activityid", "sender_address"]]
    found = context.targets[["activityid", "queueid"]].merge(pending, on="activityid")
    return found.merge(rules[["queueid", "name"]], on="queueid")


def why_unknown(context: Context, rows: pd.DataFrame) -> pd.Series:
    """Why the sender counts as unknown, naming a record that uses the address but does not count."""
    near = context.senders[~context.senders["known"]].drop_duplicates("activityid").set_index("activityid")
    detail = rows["activityid"].map(near["why"].to_dict()).astype("str")
    address = rows["sender_address"].fillna("(no sender address)")
    return ("no active contact or account used " + address + " when the email arrived"
            + ("; " + detail).fillna(""))


def detect(context: Context) -> pd.DataFrame:
    parts = []
    if context.has("convertrules", "contacts", "accounts"):
        rows = unknown_sender_targets(context, allow=False)
        parts.append(evidence(rows, "rule " + quoted(rows["name"]) + " has allowunknownsender = false: "
                              + why_unknown(context, rows)))
    if context.has("activitymonitors"):
        parts.append(monitor_evidence(monitor_rows(context, reasons={6, 7})))
    return pd.concat(parts or [evidence(context.pending.iloc[:0], "")], ignore_index=True)


CAUSE = Cause(
    id="unknown-sender-not-allowed",
    order=7,
    seed_number=3,
    kind="fault",
    title="The email is coming from an unknown sender",
    seed_text=("If the email is coming from an unknown sender, check for the Create contact for unknown "
               "sender option. Go to the Automatic Record Creation and Update Rule configuration and check "
               "whether the Create contact for unknown sender box is selected. If the Create contact for "
               "unknown sender check box isn't selected, an incoming email from an unknown sender won't be "
               "converted to a case."),
    detection=("No active contact or account created no later than the email has the sender's address in any of "
               "its email fields, and the queue's active rule does not have 'Create contact for unknown sender' "
               "selected; or the rule's activity monitor says the sender is unknown."),
    remediation=("Select 'Create contact for unknown sender' on the rule (Customer Service admin center > "
                 "Automatic record creation and update rules > the rule > Conditions), or create a contact "
                 "or account with this email address before the customer writes again."),
    doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/incoming-email-not-converted-case#cause-3-the-email-is-coming-from-an-unknown-sender",
    color="#009E73",
    tables=("convertrules", "contacts", "accounts", "activitymonitors"),
    requires=(),
    detect=detect,
)
