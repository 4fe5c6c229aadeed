"""Cause 1 of the article: the email isn't syncing with the system.

An email that is in the snapshot has synced, so this cause is never given to a snapshot email. It
shows as an environment finding for queues whose mailbox cannot sync, and in header mode when the
Message-ID is absent from the snapshot.
"""

from __future__ import annotations

import pandas as pd

from ..normalize import isin
from ..snapshot import Snapshot
from .base import EVIDENCE_COLUMNS, Cause, Context, quoted

DELIVERY = {0: "None", 1: "Microsoft Dynamics 365 for Outlook", 2: "Server-Side Synchronization",
            3: "Forward Mailbox"}
APPROVAL = {0: "Empty", 1: "Approved", 2: "Pending Approval", 3: "Rejected"}
# The queue's "Convert incoming email to activities" filter: what each setting never tracks.
FILTER_DROPS = {
    1: "tracks only responses to Dynamics 365 email: new messages are dropped",
    2: "tracks only email from leads, contacts and accounts: mail from unknown senders is dropped",
    3: "tracks only email from email-enabled records: mail from unknown senders is dropped",
    4: "converts no incoming email to activities (filter 'No email messages')",
}


def detect(context: Context) -> pd.DataFrame:
    return pd.DataFrame(columns=EVIDENCE_COLUMNS)


def queue_problems(context: Context) -> pd.DataFrame:
    """One row per (queueid, evidence) for every reason a queue's mail cannot reach Dataverse."""
    queues = context.queues[context.queues["address"].notna()]  # a queue without an address gets no mail
    label = "queue " + quoted(queues["name"])
    filtering = queues["incomingemailfilteringmethod"]
    parts = [
        _rows(queues, queues["incomingemaildeliverymethod"] == 0, label + " has incoming email delivery "
              "method None"),
        _rows(queues, queues["emailrouteraccessapproval"].isin([0, 2, 3]),
              label + " email address is not approved (" + queues["emailrouteraccessapproval"].map(
                  APPROVAL).fillna("?") + ")"),
        _rows(queues, filtering.isin(list(FILTER_DROPS)), label + " " + filtering.map(FILTER_DROPS).fillna("")),
    ]
    if context.has("mailboxes"):
        parts.append(_mailbox_problems(context))
    found = pd.concat([part for part in parts if not part.empty] or [pd.DataFrame(
        columns=["queueid", "evidence"])], ignore_index=True)
    return found.drop_duplicates()


def _mailbox_problems(context: Context) -> pd.DataFrame:
    owners = queue_mailboxes(context.snapshot, context.queues)
    boxes = context.snapshot.table("mailboxes").merge(owners, on="mailboxid")
    boxes = boxes[isin(boxes["queueid"], context.queues.loc[context.queues["address"].notna(), "queueid"])]
    label = "mailbox " + quoted(boxes["emailaddress"].fillna(boxes["name"]))
    error = boxes["lastsyncerror"].fillna("").str.strip()
    return pd.concat([
        _rows(boxes, boxes["incomingemailstatus"] == 2, label + " incoming status Failure"),
        _rows(boxes, boxes["incomingemaildeliverymethod"] == 0, label + " incoming delivery method None"),
        _rows(boxes, boxes["emailrouteraccessapproval"].isin([0, 2, 3]),
              label + " address not approved (" + boxes["emailrouteraccessapproval"].map(APPROVAL).fillna(
                  "?") + ")"),
        _rows(boxes, boxes["enabledforincomingemail"] == False, label + " is disabled for incoming email"),  # noqa: E712
        _rows(boxes, error != "", label + " last sync error: " + error),
    ], ignore_index=True)


def queue_mailboxes(snapshot: Snapshot, queues: pd.DataFrame) -> pd.DataFrame:
    """mailboxid -> queueid: a queue's default mailbox, and a mailbox regarding a queue (its id is a queue of
    the snapshot, or its lookup annotation says queue). A mailbox regarding a user never belongs to a queue."""
    pairs = [queues[["defaultmailbox", "queueid"]].rename(columns={"defaultmailbox": "mailboxid"})]
    if snapshot.has("mailboxes"):
        boxes = snapshot.tables["mailboxes"]
        of_queue = (boxes["regardingobjectid_type"] == "queue").fillna(False) | isin(
            boxes["regardingobjectid"], queues["queueid"])
        boxes = boxes[of_queue.astype(bool)]
        pairs.append(boxes[["mailboxid", "regardingobjectid"]].rename(columns={"regardingobjectid": "queueid"}))
    return pd.concat(pairs).dropna().drop_duplicates("mailboxid")


def _rows(frame: pd.DataFrame, mask: pd.Series, text: pd.Series) -> pd.DataFrame:
    mask = mask.fillna(False).astype(bool)
    return pd.DataFrame({"queueid": frame.loc[mask, "queueid"].values, "evidence": text[mask].values})


def findings(context: Context) -> list[dict]:
    problems = queue_problems(context)
    return [{"id": CAUSE.id, "scope": "queue", "subject": queueid, "severity": "error",
             "evidence": group["evidence"].tolist()}
            for queueid, group in problems.groupby("queueid", sort=True)]


CAUSE = Cause(
    id="email-not-synced",
    order=1,
    seed_number=1,
    kind="fault",
    title="The email isn't syncing with the system",
    seed_text=("To check whether the email is syncing with the system, navigate to Activities and look for "
               "the email activity. If email isn't syncing with the system, there may be an issue with the "
               "email router or server-side sync configuration."),
    detection=("An email in the snapshot has synced, so this is never given to one. It is reported for "
               "queues whose mailbox cannot sync (delivery method None, address not approved, incoming "
               "status Failure, a last sync error, incoming email disabled), for queues whose 'Convert "
               "incoming email to activities' filter drops mail (No email messages, responses only, known "
               "senders only: mail from unknown senders is never tracked), and in header mode when no snapshot "
               "email has the pasted Message-ID."),
    remediation=("Open the queue's mailbox (Settings > Email Configuration > Mailboxes): approve the email "
                 "address, set incoming email to Server-Side Synchronization, run Test & Enable Mailbox and "
                 "fix the error it reports; set the queue's 'Convert incoming email to activities' to All "
                 "email messages. Only mail in the root Inbox is synced: check Junk and Outlook rules."),
    doc_url="https://learn.microsoft.com/power-platform/admin/troubleshooting-monitoring-server-based-synchronization",
    color="#0072B2",
    tables=("queues", "mailboxes"),
    requires=("queues",),
    detect=detect,
    findings=findings,
    per_email=False,
)
