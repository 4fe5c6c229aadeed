"""Cause 5 of the article: the contact and account have different (or shared) email addresses."""

from __future__ import annotations

import pandas as pd

from ..normalize import isin, joined_by_key
from .base import Cause, Context, evidence


def detect(context: Context) -> pd.DataFrame:
    parts = []
    if context.has("contacts") or context.has("accounts"):
        known = context.senders[context.senders["known"]]
        shared = known[known.duplicated("activityid", keep=False)]
        names = joined_by_key(shared["activityid"], shared["label"], " and ", distinct=False)
        rows = context.pending.loc[isin(context.pending["activityid"], names.index), ["activityid", "sender_address"]]
        parts.append(evidence(rows, rows["sender_address"] + " is used by " + rows["activityid"].map(names)
                              + ": the case's Customer may resolve to the account", queue=None))
    flagged = context.pending.loc[context.pending["isduplicatesenderunresolved"].fillna(False).astype(bool),
                                  ["activityid"]]
    parts.append(evidence(flagged, "Dataverse flagged the sender as unresolved between several records "
                          "(isduplicatesenderunresolved)", queue=None))
    return pd.concat(parts, ignore_index=True)


CAUSE = Cause(
    id="customer-email-conflict",
    order=9,
    seed_number=5,
    kind="fault",
    title="The contact and account have different email addresses",
    seed_text=("You need to check whether the contact and account have the same incoming email address. A "
               "case that's created from an incoming email will resolve the Customer field on the case as "
               "Account."),
    detection=("The sender address matches more than one active contact or account created before the email, or "
               "the email is marked as having a sender Dynamics 365 could not resolve to one customer."),
    remediation=("Keep each email address on one customer record: remove it from the duplicate contact or "
                 "account, or map the rule's Customer to {Sender (Email)} so the contact is used. Errors "
                 "such as 'The specified contact doesn't belong to the contact that was specified in the "
                 "customer field' come from mapping both Customer and Contact to {Sender (Email)}."),
    doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/incoming-email-not-converted-case#cause-5-the-contact-and-account-have-different-email-addresses",
    color="#8C564B",
    tables=("emails", "contacts", "accounts"),
    requires=("emails",),
    detect=detect,
)
