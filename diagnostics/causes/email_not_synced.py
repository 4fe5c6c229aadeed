"""Cause 1 of the article: the email isn't syncing with the system.

An email that is in the snapshot has synced, so this cause is never given to a snapshot email. It
shows as an environment finding for queues whose mailbox cannot sync, and in header mode when the
Message-ID is absent from the snapshot.
"""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, empty_rows, rows
from ..normalize import isin
from ..snapshot import Snapshot
from .base import Cause, Context, finding_rows

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


MAILBOX_FIX = ("Open the mailbox {name} (Settings > Email Configuration > Mailboxes), fix what its last sync error "
               "says, run Test & Enable Mailbox, then check 'Process email received after' (missed mail).")
QUEUE_FIX = ("Open the queue {name}: approve its email address, set incoming email to Server-Side Synchronization "
             "and run Test & Enable Mailbox on its mailbox.")


def _stops(code: str, template: str, about: str, raw: str | None = None) -> Code:
    """A reason every email of the queue stops before Dataverse: nothing can be counted, so it is an error as is."""
    fix, doc = (MAILBOX_FIX, docs.TROUBLESHOOT_SYNC) if about == "mailboxes" else (QUEUE_FIX, docs.TROUBLESHOOT_SYNC)
    return Code(code, template, about=about, severity="error", unproven="error", fix=fix, doc_url=doc, raw=raw,
                stops_queue=True)


QUEUE_DELIVERY_NONE = _stops("queue-delivery-none", "queue '{queue}' has incoming email delivery method None",
                             "queues", "incomingemaildeliverymethod = 0 (None)")
QUEUE_NOT_APPROVED = _stops("queue-not-approved", "queue '{queue}' email address is not approved ({approval})",
                            "queues", "emailrouteraccessapproval = {approval}")
QUEUE_FILTER = Code("queue-filter", "queue '{queue}' {drops}", about="queues", severity="warning",
                    unproven="warning", raw="incomingemailfilteringmethod = {method}",
                    fix="Set the queue {name}'s 'Convert incoming email to activities' to All email messages, or "
                        "accept that the mail it filters never reaches Dataverse.")
MAILBOX_FAILURE = _stops("mailbox-failure", "mailbox '{mailbox}' cannot receive email", "mailboxes",
                         "incomingemailstatus = 2 (Failure)")
MAILBOX_DELIVERY_NONE = _stops("mailbox-delivery-none", "mailbox '{mailbox}' incoming delivery method None",
                               "mailboxes", "incomingemaildeliverymethod = 0 (None)")
MAILBOX_NOT_APPROVED = _stops("mailbox-not-approved", "mailbox '{mailbox}' address not approved ({approval})",
                              "mailboxes", "emailrouteraccessapproval = {approval}")
MAILBOX_DISABLED = _stops("mailbox-disabled", "mailbox '{mailbox}' is disabled for incoming email", "mailboxes",
                          "enabledforincomingemail = false")
MAILBOX_SYNC_ERROR = _stops("mailbox-sync-error", "mailbox '{mailbox}' last sync error: {error}", "mailboxes")
CODES = (QUEUE_DELIVERY_NONE, QUEUE_NOT_APPROVED, QUEUE_FILTER, MAILBOX_FAILURE, MAILBOX_DELIVERY_NONE,
         MAILBOX_NOT_APPROVED, MAILBOX_DISABLED, MAILBOX_SYNC_ERROR)


def detect(context: Context) -> pd.DataFrame:
    return empty_rows()


def queue_problems(context: Context) -> pd.DataFrame:
    """Evidence rows (no email) for every reason a queue's mail cannot reach Dataverse, with its ``queueid``."""
    queues = context.queues[context.queues["address"].notna()]  # a queue without an address gets no mail
    name = queues["name"].astype("str").fillna("(unnamed)")
    filtering = queues["incomingemailfilteringmethod"]
    approval = queues["emailrouteraccessapproval"].map(APPROVAL).astype("str").fillna("?")
    parts = [
        _rows(queues, queues["incomingemaildeliverymethod"] == 0, QUEUE_DELIVERY_NONE, {"queue": name}),
        _rows(queues, queues["emailrouteraccessapproval"].isin([0, 2, 3]), QUEUE_NOT_APPROVED,
              {"queue": name, "approval": approval}),
        _rows(queues, filtering.isin(list(FILTER_DROPS)), QUEUE_FILTER,
              {"queue": name, "drops": filtering.map(FILTER_DROPS).astype("str").fillna(""),
               "method": filtering.astype("str")}),
    ]
    if context.has("mailboxes"):
        parts += _mailbox_problems(context)
    found = pd.concat([part for part in parts if part is not None] or [empty_rows().assign(queueid=pd.NA)],
                      ignore_index=True)
    return found.drop_duplicates(["queueid", "code", "about_id", "text"])


def _mailbox_problems(context: Context) -> list[pd.DataFrame | None]:
    owners = queue_mailboxes(context.snapshot, context.queues)
    boxes = context.snapshot.table("mailboxes").merge(owners, on="mailboxid")
    boxes = boxes[isin(boxes["queueid"], context.queues.loc[context.queues["address"].notna(), "queueid"])]
    mailbox = boxes["emailaddress"].fillna(boxes["name"]).astype("str").fillna("(unnamed)")
    error = boxes["lastsyncerror"].fillna("").str.strip()
    approval = boxes["emailrouteraccessapproval"].map(APPROVAL).astype("str").fillna("?")
    about = {"about_id": boxes["mailboxid"], "about_name": mailbox}
    return [
        _rows(boxes, boxes["incomingemailstatus"] == 2, MAILBOX_FAILURE, {"mailbox": mailbox}, **about),
        _rows(boxes, boxes["incomingemaildeliverymethod"] == 0, MAILBOX_DELIVERY_NONE, {"mailbox": mailbox}, **about),
        _rows(boxes, boxes["emailrouteraccessapproval"].isin([0, 2, 3]), MAILBOX_NOT_APPROVED,
              {"mailbox": mailbox, "approval": approval}, **about),
        _rows(boxes, boxes["enabledforincomingemail"] == False, MAILBOX_DISABLED, {"mailbox": mailbox}, **about),  # noqa: E712
        _rows(boxes, error != "", MAILBOX_SYNC_ERROR, {"mailbox": mailbox, "error": error}, **about),
    ]


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


def _rows(frame: pd.DataFrame, mask: pd.Series, code: Code, values: dict, about_id: pd.Series | None = None,
          about_name: pd.Series | None = None) -> pd.DataFrame | None:
    """Evidence rows of the frame's rows where ``mask`` holds, None where it never does (most checks find nothing:
    no empty frames to build); about the queue unless a record is given."""
    mask = mask.fillna(False).astype(bool).to_numpy()
    if not mask.any():
        return None
    chosen = frame[mask]
    if about_id is None:
        about_id, about_name = chosen["queueid"], chosen["name"].astype("str").fillna(chosen["queueid"])
    else:
        about_id, about_name = about_id[mask], about_name[mask]
    found = rows(chosen, code, {name: value if isinstance(value, str) else value[mask]
                                for name, value in values.items()}, about_id=about_id, about_name=about_name)
    return found.assign(queueid=chosen["queueid"].values)


def findings(context: Context) -> pd.DataFrame:
    problems = queue_problems(context)
    return finding_rows(problems.drop(columns="queueid"), "queue", problems["queueid"])


CAUSE = Cause(
    id="email-not-synced",
    order=1,
    seed_number=1,
    kind="fault",
    title="The email isn't syncing with the system",
    stage="Synced into Dataverse (in the snapshot)",
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
    doc_url=docs.TROUBLESHOOT_SYNC,
    color="#0072B2",
    tables=("queues", "mailboxes"),
    requires=("queues",),
    codes=CODES,
    detect=detect,
    findings=findings,
    per_email=False,
)
