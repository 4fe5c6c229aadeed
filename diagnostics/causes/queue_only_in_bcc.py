"""Cause 6 of the article: the email is sent using only the Bcc field."""

from __future__ import annotations

import pandas as pd

from .base import Cause, Context, evidence


def detect(context: Context) -> pd.DataFrame:
    targets = context.targets
    reached = targets[(targets["has_item"] | targets["via_mailbox"]) & ~targets["in_recipients"]]
    how = reached["has_item"].map({True: "holds a queue item for the email", False: "mailbox received it"})
    recipients = _recipient_list(context).reindex(reached["activityid"]).fillna("nobody").values
    text = ("queue " + context.queue_label(reached["queueid"]) + " " + how
            + " but its address is in neither To nor Cc (To/Cc: " + recipients + ")")
    return evidence(reached, text)


def _recipient_list(context: Context) -> pd.Series:
    rows = context.recipients.dropna(subset=["address"])
    return rows.groupby("activityid")["address"].agg(lambda addresses: ", ".join(sorted(set(addresses))))


CAUSE = Cause(
    id="queue-only-in-bcc",
    order=2,
    seed_number=6,
    kind="fault",
    title="The email is sent using only the Bcc field",
    seed_text=("To fix this issue, ensure the queue email address is in the To or Cc fields of incoming "
               "emails. Emails sent with the queue address in the Bcc field won't be processed."),
    detection=("A target queue reached through a queue item or the receiving mailbox whose address is not "
               "among the email's To/Cc recipients (received emails never show Bcc parties)."),
    remediation=("Ask senders to put the queue address in To or Cc. If mail must arrive through Bcc or a "
                 "forwarding rule, forward it so the queue address is a visible recipient, or review the "
                 "organisation setting CreateQueueItemForSynchronizingMailbox."),
    doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/email-not-converted-to-case#cause-6-the-email-is-sent-using-only-the-bcc-field",
    color="#E69F00",
    tables=("queues", "queueitems", "mailboxes", "activityparties"),
    requires=("queues",),
    detect=detect,
)
