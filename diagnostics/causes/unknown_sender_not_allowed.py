"""Cause 3 of the article: the email comes from an unknown sender and the rule does not allow them."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, empty_rows, rows
from .base import Cause, Context, monitor_code, monitor_evidence, monitor_rows
from .keys import NONE, email_flags, first_positions, flagged, join_positions, taken

ALLOW = ("on its Advanced tab turn on 'Allow emails from unknown senders' (legacy name: 'Create contact for unknown "
         "sender') and set 'Manage unknown senders by' to 'Creating a new contact automatically' or 'Mapping in "
         "Power Automate manually'")
FIX = ("The rule {name} ignores unknown senders: " + ALLOW + "; or add these senders as contacts before they write "
       "again.")
NOT_ALLOWED = Code("unknown-sender-refused", "rule '{rule}' does not create contacts for unknown senders: no active "
                   "contact or account used {sender} when the email arrived{detail}",
                   about="convertrules", fix=FIX, raw="allowunknownsender = false")
MONITOR = monitor_code(fix=FIX)


def unknown_sender_targets(context: Context, allow: bool) -> pd.DataFrame:
    """Target queues whose active rule has ``allowunknownsender == allow``, for unknown senders."""
    found = context.once("unknown senders' targets", _unknown_senders)
    rules = context.active_rules[context.active_rules["allowunknownsender"].fillna(False).astype(bool) == allow]
    target, rule = join_positions(found["queueid"], rules["queueid"])
    return pd.DataFrame({**{column: found[column].array.take(target) for column in found.columns},
                         **{column: rules[column].array.take(rule) for column in ("name", "convertruleid")}})


def _unknown_senders(context: Context) -> pd.DataFrame:
    """The target queues (activityid, queueid) of pending emails no known customer record sent, with the sender's
    address; shared by both values of ``allowunknownsender``."""
    senders = context.senders
    known = senders.loc[senders["known"].to_numpy(dtype=bool), "activityid"]
    targets = context.targets
    targets = targets[flagged(targets["row"], email_flags(context, context.pending.index))  # pending: by row number
                      & (first_positions(targets["activityid"], known) == NONE)]  # one hash of the known
    address = taken(context.snapshot.table("emails")["sender_address"], targets["row"].to_numpy())
    return pd.DataFrame({"activityid": targets["activityid"].array, "queueid": targets["queueid"].array,
                         "sender_address": address.array})


def why_unknown(context: Context, found: pd.DataFrame) -> pd.Series:
    """Why the sender counts as unknown (empty, or naming a record that uses the address but does not count)."""
    senders = context.senders
    near = senders.loc[~senders["known"].to_numpy(dtype=bool), ["activityid", "why"]]  # each email's first counts
    detail = taken(near["why"], first_positions(found["activityid"], near["activityid"]), index=found.index)
    return ("; " + detail).fillna("")


def detect(context: Context) -> pd.DataFrame:
    parts = []
    if context.has("convertrules", "contacts", "accounts"):
        found = unknown_sender_targets(context, allow=False)
        parts.append(rows(found, NOT_ALLOWED, {"rule": found["name"].astype("str").fillna("(unnamed)"),
                                               "detail": why_unknown(context, found),
                                               "sender": found["sender_address"].astype("str").fillna("(none)")},
                          about_id=found["convertruleid"], about_name=found["name"].astype("str").fillna("(unnamed)")))
    if context.has("activitymonitors"):
        parts.append(monitor_evidence(monitor_rows(context, reasons={6, 7}), MONITOR))
    return pd.concat(parts or [empty_rows()], ignore_index=True)


CAUSE = Cause(
    id="unknown-sender-not-allowed",
    order=7,
    seed_number=3,
    kind="fault",
    title="The email is coming from an unknown sender",
    stage="Sender known or allowed",
    seed_text=("If the email is coming from an unknown sender, check for the Create contact for unknown "
               "sender option. Go to the Automatic Record Creation and Update Rule configuration and check "
               "whether the Create contact for unknown sender box is selected. If the Create contact for "
               "unknown sender check box isn't selected, an incoming email from an unknown sender won't be "
               "converted to a case."),
    detection=("No active contact or account created no later than the email has the sender's address in any of "
               "its email fields, and the queue's active rule does not allow emails from unknown senders ('Allow "
               "emails from unknown senders', legacy 'Create contact for unknown sender'; inferred from the rule's "
               "data); or the rule's activity monitor says the sender is unknown."),
    remediation=("Open the rule in Customer Service admin center; " + ALLOW + ". Or create a contact or account "
                 "with this email address before the customer writes again."),
    doc_url=docs.CAUSE_3,
    color="#009E73",
    tables=("convertrules", "contacts", "accounts", "activitymonitors"),
    requires=(),
    codes=(NOT_ALLOWED, MONITOR),
    detect=detect,
)
