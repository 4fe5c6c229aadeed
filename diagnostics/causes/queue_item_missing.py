"""Cause 2 of the article: the email activity is created but its queue item isn't found."""

from __future__ import annotations

import pandas as pd

from .base import Cause, Context, evidence


def detect(context: Context) -> pd.DataFrame:
    """A target queue without a queue item for the email (an email with no target queue is out of scope)."""
    without_item = context.targets[~context.targets["has_item"]]
    return evidence(without_item, "the email was sent to queue " + context.queue_label(without_item["queueid"])
                    + " but no queue item for it exists there")


CAUSE = Cause(
    id="queue-item-missing",
    order=3,
    seed_number=2,
    kind="fault",
    title="Email activity is created but related QueueItem isn't found",
    seed_text=("You need to check whether the email activity is created but a related QueueItem isn't "
               "found. If an active Automatic Record Creation and Update Rule exists for a specific queue, "
               "the QueueItem is marked as inactive and disappears from the QueueItem view."),
    detection=("No queue item (active or inactive) exists for the email in a queue it was sent to. An email "
               "with no target queue at all is out of scope (not for a queue). An inactive queue item next to "
               "an active rule is the rule's by-design deactivation and is only a note."),
    remediation=("Make sure the queue's email address is a recipient and the queue is email-enabled with "
                 "its mailbox synchronising. Look at the inactive queue items view before concluding the "
                 "item is missing: an active rule deactivates the item when it processes the email."),
    doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/incoming-email-not-converted-case#cause-2-email-activity-is-created-but-related-queueitem-isnt-found",
    color="#56B4E9",
    tables=("queues", "queueitems", "mailboxes", "activityparties"),
    requires=("queues", "queueitems"),
    detect=detect,
)
