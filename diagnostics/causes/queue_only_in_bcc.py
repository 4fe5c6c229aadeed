"""Cause 6 of the article: the email is sent using only the Bcc field."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, rows
from ..normalize import isin, joined_by_key
from .base import Cause, Context

NOT_IN_TO_CC = Code(
    "queue-not-in-to-cc", "queue {queue} {how} but its address is in neither To nor Cc (To/Cc: {recipients}): it "
    "may have arrived by Bcc, or through a distribution list or forwarding", about="queues", severity="warning")


def detect(context: Context) -> pd.DataFrame:
    targets = context.targets
    reached = targets[(targets["has_item"] | targets["via_mailbox"] | targets["accepted"])
                      & ~targets["in_recipients"]]
    how = reached["has_item"].map({True: "holds a queue item for the email", False: "received it"})
    how = how.where(reached["has_item"] | reached["via_mailbox"], "is the email's accepting queue")
    recipients = recipient_list(context, reached["activityid"]).reindex(reached["activityid"]).fillna("nobody")
    return rows(reached, NOT_IN_TO_CC, {"queue": context.queue_label(reached["queueid"]), "how": how,
                                        "recipients": recipients.set_axis(reached.index)},
                about_id=reached["queueid"], about_name=context.queue_name(reached["queueid"]))


def recipient_list(context: Context, activityids: pd.Series) -> pd.Series:
    """The To/Cc addresses of these emails, joined, indexed by activityid."""
    rows = context.recipients.dropna(subset=["address"])
    rows = rows[isin(rows["activityid"], activityids)]
    return joined_by_key(rows["activityid"], rows["address"])


CAUSE = Cause(
    id="queue-only-in-bcc",
    order=2,
    seed_number=6,
    kind="fault",
    title="The email is sent using only the Bcc field",
    stage="Queue address in To or Cc",
    seed_text=("To fix this issue, ensure the queue email address is in the To or Cc fields of incoming "
               "emails. Emails sent with the queue address in the Bcc field won't be processed."),
    detection=("A target queue reached through a queue item, the receiving mailbox or the accepting entity "
               "whose address is not among the email's To/Cc recipients (received emails never show Bcc "
               "parties): Bcc, a distribution list or forwarding."),
    remediation=("If senders used Bcc: ask them to put the queue address in To or Cc. If the mail came "
                 "through a distribution list or a forwarding rule: add the queue address itself as a visible "
                 "recipient (forward to it rather than redirecting, or add it to To/Cc of the list's mail), or "
                 "review the organisation setting CreateQueueItemForSynchronizingMailbox."),
    doc_url=docs.CAUSE_6,
    color="#E69F00",
    tables=("queues", "queueitems", "mailboxes", "activityparties"),
    requires=("queues",),
    codes=(NOT_IN_TO_CC,),
    severity="warning",
    detect=detect,
)
