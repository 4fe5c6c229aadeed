"""Cause 2 of the article: the email activity is created but its queue item isn't found."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code
from .base import Cause, Context
from .keys import about_queues

NO_ITEM = Code("no-queue-item", "the email was sent to queue {queue} but no queue item for it exists there",
               about="queues", fix="The queue {name} received email without a queue item: make sure its address "
               "is a visible recipient and its mailbox synchronises; look at the inactive queue items view first.")


def detect(context: Context) -> pd.DataFrame:
    """A target queue without a queue item for the email (an email with no target queue is out of scope)."""
    without_item = context.targets[~context.targets["has_item"].to_numpy(dtype=bool)]
    return about_queues(context, without_item, NO_ITEM, lambda queues: {"queue": context.queue_label(queues)})


CAUSE = Cause(
    id="queue-item-missing",
    order=3,
    seed_number=2,
    kind="fault",
    title="Email activity is created but related QueueItem isn't found",
    stage="Queue item created",
    seed_text=("You need to check whether the email activity is created but a related QueueItem isn't "
               "found. If an active Automatic Record Creation and Update Rule exists for a specific queue, "
               "the QueueItem is marked as inactive and disappears from the QueueItem view."),
    detection=("No queue item (active or inactive) exists for the email in a queue it was sent to. An email "
               "with no target queue at all is out of scope (not for a queue). An inactive queue item next to "
               "an active rule is the rule's by-design deactivation and is only a note."),
    remediation=("Make sure the queue's email address is a recipient and the queue is email-enabled with "
                 "its mailbox synchronising. Look at the inactive queue items view before concluding the "
                 "item is missing: an active rule deactivates the item when it processes the email."),
    doc_url=docs.CAUSE_2,
    color="#56B4E9",
    tables=("queues", "queueitems", "mailboxes", "activityparties"),
    requires=("queues", "queueitems"),
    codes=(NO_ITEM,),
    detect=detect,
)
