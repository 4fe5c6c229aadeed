"""Cause 6 of the article: the email is sent using only the Bcc field.

Server-side sync creates a queue item for a queue reached by Bcc or a distribution list while
``CreateQueueItemForSynchronizingMailbox`` is on (the default), so how the email arrived matters only when the rule
never processed it: no queue item, or an active one the rule never touched. When the rule demonstrably processed it
(an inactive queue item in that queue, or an activity monitor row), it is a note and the other causes decide
(contract, third round, item 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import docs
from ..evidence import Code, rows
from ..normalize import joined_by_key
from .base import Cause, Context
from .keys import NONE, email_flags, first_positions, flagged, join_positions

NOT_IN_TO_CC = Code(
    "queue-not-in-to-cc", "queue {queue} {how} but its address is {where} (recipients: {recipients}): it may have "
    "arrived by Bcc, or through a distribution list or forwarding", about="queues", severity="warning")
NEITHER = "in neither To nor Cc"
NOT_IN_TO = "not in To (Cc and Bcc unknown without activity parties)"
VALUES = ("queue", "how", "where", "recipients")


def _not_addressed(context: Context) -> pd.DataFrame:
    """Target queues reached (queue item, receiving mailbox, accepting queue) whose address is not a recipient, with
    whether the rule demonstrably processed the email there (``processed``) and the values the evidence and the
    notes cite: found once for both."""
    targets = context.targets
    reached = targets[((targets["has_item"] | targets["via_mailbox"] | targets["accepted"])
                       & ~targets["in_recipients"]).to_numpy()]
    processed = (reached["has_item"] & ~reached["has_active_item"]).to_numpy() | _monitored(context, reached)
    return reached.assign(processed=processed, **_values(context, reached))


def _monitored(context: Context, reached: pd.DataFrame) -> np.ndarray:
    """Whether an activity monitor row of the email is about the queue, or about no known queue."""
    monitor = context.monitor
    target, row = join_positions(reached["activityid"], monitor["activityid"])
    queue = monitor["queueid"].array.take(row)
    same_queue = np.asarray(reached["queueid"].array.take(target) == queue, dtype=bool)  # missing: False
    flags = np.zeros(len(reached), dtype=bool)
    flags[target[same_queue | pd.isna(queue)]] = True
    return flags


def _values(context: Context, reached: pd.DataFrame) -> dict[str, pd.Series]:
    how = reached["has_item"].map({True: "holds a queue item for the email", False: "received it"})
    how = how.where(reached["has_item"] | reached["via_mailbox"], "is the email's accepting queue")
    recipients = recipient_list(context, reached).reindex(reached["activityid"]).fillna("nobody")
    where = pd.Series(NEITHER, index=reached.index, dtype="str").where(_with_parties(context, reached), NOT_IN_TO)
    return {"queue": context.queue_label(reached["queueid"]), "how": how.astype("str"), "where": where,
            "recipients": recipients.set_axis(reached.index)}


def _with_parties(context: Context, reached: pd.DataFrame) -> np.ndarray:
    """Whether each email has activity parties: the parties are looked up among these few emails rather than
    hashed whole."""
    ids = reached["activityid"]
    found = first_positions(context.snapshot.table("activityparties")["activityid"], ids)
    flags = np.zeros(len(ids), dtype=bool)
    flags[found[found != NONE]] = True
    return np.append(flags, False)[first_positions(ids, ids)]  # an email listed twice (two queues): as its first


def detect(context: Context) -> pd.DataFrame:
    reached = context.once("queues not addressed", _not_addressed)
    reached = reached[~reached["processed"].to_numpy()]
    return rows(reached, NOT_IN_TO_CC, {name: reached[name] for name in VALUES}, about_id=reached["queueid"],
                about_name=context.queue_name(reached["queueid"]))


def processed_notes(context: Context) -> pd.DataFrame:
    """Notes for queues reached without being addressed where the rule processed the email anyway."""
    reached = context.once("queues not addressed", _not_addressed)
    reached = reached[reached["processed"].to_numpy()]
    note = ("queue " + reached["queue"] + " " + reached["how"] + " but its address is " + reached["where"]
            + ": the rule processed the email there (an inactive queue item or an activity monitor row), so how it "
            "arrived explains nothing; the email is diagnosed by the other causes")
    return pd.DataFrame({"activityid": reached["activityid"].values, "note": note.values})


def recipient_list(context: Context, emails: pd.DataFrame) -> pd.Series:
    """The To/Cc addresses of these emails (with their ``row``), joined, indexed by activityid."""
    rows = context.recipients
    rows = rows[flagged(rows["row"], email_flags(context, emails["row"])) & rows["address"].notna().to_numpy()]
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
               "parties; without activity parties only To is known), and which the rule never processed: no "
               "queue item, or an active one and no activity monitor row. When the rule processed the email "
               "there (an inactive queue item, a monitor row), how it arrived explains nothing: a note."),
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
    notes=processed_notes,
)
