"""What every cause module provides, and the evaluation context the causes read from.

A cause's ``detect`` receives the ``Context`` and returns one row per piece of evidence:
``activityid``, ``queue`` (a queue id, or missing for an email-wide cause) and ``evidence`` (one
sentence naming the records). It works on whole columns: merges and masks, no loop over emails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import pandas as pd

from .. import schema
from ..snapshot import Snapshot

LEARN_ARC = ("https://learn.microsoft.com/dynamics365/customer-service/administer/"
             "automatically-create-update-records")
SUPPORT_ARTICLE = ("https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/"
                   "incoming-email-not-converted-case")
EVIDENCE_COLUMNS = ["activityid", "queue", "evidence"]
# What a cause means for the admin: a fault to fix, or the product working as designed.
Kind = Literal["fault", "by-design"]
KINDS: tuple[str, ...] = get_args(Kind)
_SLUG = re.compile(r"^[a-z]+(-[a-z]+)*$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class Cause:
    """One of the nine causes of the support article, with a stable contract id."""

    id: str
    order: int  # pipeline order of the contract: 1 is met first
    seed_number: int  # the cause's number in the support article
    kind: Kind  # the default; an evidence row may say otherwise (a reply is a fault or by design)
    title: str
    seed_text: str  # the support article's resolution, as written
    detection: str  # how this tool finds it, for the Causes page
    remediation: str
    doc_url: str
    color: str  # one colour per cause across every chart
    tables: tuple[str, ...]  # every table the detection reads: missing ones make it unchecked
    requires: tuple[str, ...]  # without these the detection cannot run at all (never guessed)
    detect: Callable[[Context], pd.DataFrame] = field(repr=False, compare=False)
    findings: Callable[[Context], list[dict]] | None = field(default=None, repr=False, compare=False)
    # Per-email notes the cause adds (activityid, note), e.g. a match that explains nothing.
    notes: Callable[[Context], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    # Remediation that depends on the snapshot (a setting's value); else ``remediation``.
    advice: Callable[[Context], str] | None = field(default=None, repr=False, compare=False)
    # False for a cause never given to an email of the snapshot (it has synced): never "unchecked" per email.
    per_email: bool = True

    def __post_init__(self) -> None:
        problems = [
            (not _SLUG.match(self.id), "id must be kebab-case"),
            (self.kind not in KINDS, f"kind must be one of {KINDS}"),
            (not _COLOR.match(self.color), "color must be #RRGGBB"),
            (not set(self.requires) <= set(self.tables), "requires must be among tables"),
            (not set(self.tables) <= set(schema.TABLES), "tables must be entity sets of schema.TABLES"),
            (not self.doc_url.startswith("https://learn.microsoft.com/"), "doc_url must be on learn.microsoft.com"),
            (not (self.title and self.seed_text and self.detection and self.remediation), "texts must be filled"),
        ]
        wrong = [why for failed, why in problems if failed]
        if wrong:
            raise ValueError(f"cause {self.id!r}: " + "; ".join(wrong))

    def remediation_for(self, context: Context) -> str:
        return self.advice(context) if self.advice else self.remediation


@dataclass
class Context:
    """The snapshot, prepared once for every cause.

    ``pending``: the incoming emails being explained (one row each). ``targets``: their target queues,
    one row per (activityid, queueid) with how the queue was reached (``in_recipients``,
    ``has_item``, ``has_active_item``, ``via_mailbox``). ``active_rules``: active rules per queue.
    ``monitor``: activity monitor rows of pending emails (their queue taken from the rule).
    ``senders``: customer records matching each pending email's sender address. ``replies``: why each
    email counts as a reply (activityid, evidence). ``regarding``: what each email is regarding
    (activityid, record_type, record_id, case_state, deactivatedon). ``targets`` also says whether a
    queue is ``expected`` (it has an active rule, or no target queue of the email has one).
    ``pending`` is indexed by, and ``targets``, ``recipients``, ``replies`` and ``regarding`` carry
    (``row``), each email's row number in the emails table.
    """

    snapshot: Snapshot
    pending: pd.DataFrame
    targets: pd.DataFrame
    queues: pd.DataFrame
    active_rules: pd.DataFrame
    recipients: pd.DataFrame
    replies: pd.DataFrame
    regarding: pd.DataFrame
    settings: dict[str, str | None] = field(default_factory=dict)
    # Looked up once the context is narrowed to the pending emails (evaluate._restrict).
    monitor: pd.DataFrame = field(default_factory=pd.DataFrame)
    senders: pd.DataFrame = field(default_factory=pd.DataFrame)

    def has(self, *tables: str) -> bool:
        return all(self.snapshot.has(table) for table in tables)

    def queue_label(self, queue_ids: pd.Series) -> pd.Series:
        """"'Helpdesk' (help@contoso.com)" for each queue id."""
        labels = "'" + self.queues["name"].fillna("(unnamed)") + "' (" + self.queues["address"].fillna(
            "no address") + ")"
        return queue_ids.map(pd.Series(labels.values, index=self.queues["queueid"]).to_dict()).astype(
            "str").fillna("queue " + queue_ids.astype("str"))


def evidence(frame: pd.DataFrame, text: pd.Series | str, queue: str | None = "queueid",
             kind: pd.Series | str | None = None) -> pd.DataFrame:
    """Evidence rows from the matching rows of ``frame`` and one sentence per row; ``kind`` overrides
    the cause's default kind for these rows."""
    if frame.empty:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS + ([] if kind is None else ["kind"]))
    queues = frame[queue] if queue else pd.Series(pd.NA, index=frame.index, dtype="str")
    rows = pd.DataFrame({"activityid": frame["activityid"].values, "queue": queues.values,
                         "evidence": (text.values if isinstance(text, pd.Series) else text)})
    if kind is not None:
        rows["kind"] = kind.values if isinstance(kind, pd.Series) else kind
    return rows


def quoted(values: pd.Series, fallback: str = "(unnamed)") -> pd.Series:
    return "'" + values.astype("str").fillna(fallback) + "'"


def monitor_rows(context: Context, reasons: set[int] | None = None, state: int | None = None) -> pd.DataFrame:
    """Activity monitor rows of pending emails with one of ``reasons`` (and/or ``state``)."""
    rows = context.monitor
    mask = pd.Series(True, index=rows.index)
    if reasons is not None:
        mask &= rows["reason"].isin(list(reasons)).fillna(False).astype(bool)
    if state is not None:
        mask &= (rows["currentstate"] == state).fillna(False).astype(bool)
    return rows[mask]


MONITOR_REASONS = {
    1: "Unable to find the source data for this email",
    2: "An existing entity is already connected with this record",
    3: "An active case is already connected",
    4: "A resolved case is already connected",
    5: "The connected case has been resolved for less than the required time",
    6: "No email sender is found",
    7: "Email is coming from an unknown sender",
    9: "A contact was not created for this sender (the rule owner may lack permission to create contacts)",
    10: "No valid entitlement",
    11: "No valid entitlement",
    13: "The rule doesn't have any conditions applicable to the record",
    14: "The rule is disconnected from the Power Automate flow",
    15: "The rule is disconnected from the workflow",
    16: "Contact creation failed for this sender",
    17: "Error matching conditions",
    18: "Internal failure",
}


def monitor_evidence(rows: pd.DataFrame) -> pd.DataFrame:
    reason = rows["reason"].map(MONITOR_REASONS).fillna("state " + rows["currentstate"].astype("str"))
    when = rows["createdon"].dt.strftime("%Y-%m-%d %H:%M").fillna("unknown time")
    return evidence(rows, "activity monitor (evaluated " + when + " UTC): " + reason)
