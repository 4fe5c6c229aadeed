"""Cause 5 of the article: the contact and account have different (or shared) email addresses."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import SENDERS, Code, rows
from ..normalize import joined_by_key
from .base import Cause, Context
from .keys import NONE, first_positions

GROUP = "senders whose address is on several customer records"
SHARED = Code("address-shared", "{sender} is used by {customers}: the case's Customer may resolve to the account",
              about=SENDERS, group=GROUP, severity="warning")
UNRESOLVED = Code("sender-unresolved", "Dataverse flagged the sender as unresolved between several records",
                  about=SENDERS, group=GROUP, severity="warning", raw="isduplicatesenderunresolved = true")


def detect(context: Context) -> pd.DataFrame:
    parts = []
    if context.has("contacts") or context.has("accounts"):
        known = context.senders.loc[context.senders["known"].to_numpy(dtype=bool), ["activityid", "label"]]
        shared = known[known.duplicated("activityid", keep=False)]
        names = joined_by_key(shared["activityid"], shared["label"], " and ", distinct=False)
        name = first_positions(context.pending["activityid"], pd.Series(names.index))  # each email's customers
        found = context.pending.loc[name != NONE, ["activityid", "sender_address"]]
        customers = pd.Series(names.array.take(name[name != NONE]), index=found.index)
        parts.append(rows(found, SHARED, {"sender": found["sender_address"], "customers": customers}, queue=None))
    flagged = context.pending.loc[context.pending["isduplicatesenderunresolved"].fillna(False).astype(bool),
                                  ["activityid"]]
    parts.append(rows(flagged, UNRESOLVED, {}, queue=None))
    return pd.concat(parts, ignore_index=True)


CAUSE = Cause(
    id="customer-email-conflict",
    order=9,
    seed_number=5,
    kind="fault",
    title="The contact and account have different email addresses",
    stage="Customer resolved",
    seed_text=("You need to check whether the contact and account have the same incoming email address. A "
               "case that's created from an incoming email will resolve the Customer field on the case as "
               "Account."),
    detection=("The sender address matches more than one active contact or account created before the email, or "
               "the email is marked as having a sender Dynamics 365 could not resolve to one customer."),
    remediation=("Keep each email address on one customer record: remove it from the duplicate contact or "
                 "account, or map the rule's Customer to {Sender (Email)} so the contact is used. Errors "
                 "such as 'The specified contact doesn't belong to the contact that was specified in the "
                 "customer field' come from mapping both Customer and Contact to {Sender (Email)}."),
    doc_url=docs.CAUSE_5,
    color="#8C564B",
    tables=("emails", "contacts", "accounts"),
    requires=("emails",),
    codes=(SHARED, UNRESOLVED),
    severity="warning",
    detect=detect,
)
