"""What every cause module provides, and the evaluation context the causes read from.

A cause's ``detect`` receives the ``Context`` and returns one row per piece of evidence (``evidence.rows``):
``activityid``, ``queue`` (a queue id, or missing for an email-wide cause), the evidence ``code``, the record it
is about and the values it cites; the text is rendered from the code's template. It works on whole columns:
merges and masks, no loop over emails. Everything else about a cause (its funnel stage, its evidence codes with
their fixes and severities, its documentation) is declared on its ``Cause``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import pandas as pd

from .. import docs, schema
from ..evidence import Code, Severity, empty_rows, rows
from ..normalize import utc_minutes
from ..snapshot import Snapshot

# What a cause means for the admin: a fault to fix, or the product working as designed.
Kind = Literal["fault", "by-design"]
KINDS: tuple[str, ...] = get_args(Kind)
_SLUG = re.compile(r"^[a-z]+(-[a-z]+)*$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class Cause:
    """A cause (one of the nine of the support article, or one beyond it), with a stable contract id."""

    id: str
    order: int  # pipeline order of the contract: 1 is met first
    seed_number: int | None  # the cause's number in the support article; None for a cause admins meet beyond it
    kind: Kind  # the default; an evidence row may say otherwise (a reply is a fault or by design)
    title: str
    stage: str  # the funnel's row: what an email has passed once this cause is ruled out
    seed_text: str  # the support article's resolution, as written
    detection: str  # how this tool finds it, for the Causes page
    remediation: str
    doc_url: str
    color: str  # one colour per cause across every chart
    tables: tuple[str, ...]  # every table the detection reads: missing ones make it unchecked
    requires: tuple[str, ...]  # without these the detection cannot run at all (never guessed)
    codes: tuple[Code, ...]  # every kind of evidence it emits
    detect: Callable[[Context], pd.DataFrame] = field(repr=False, compare=False)
    # Environment findings: evidence rows with no email, plus ``scope`` and ``subject`` (``finding_rows``).
    findings: Callable[[Context], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    # Per-email notes the cause adds (activityid, note), e.g. a match that explains nothing.
    notes: Callable[[Context], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    # Remediation that depends on the snapshot (a setting's value); else ``remediation``.
    advice: Callable[[Context], str] | None = field(default=None, repr=False, compare=False)
    # False for a cause never given to an email of the snapshot (it has synced): never "unchecked" per email.
    per_email: bool = True
    severity: Severity = "error"  # of its fix-plan entries when a code says nothing else

    def __post_init__(self) -> None:
        problems = [
            (not _SLUG.match(self.id), "id must be kebab-case"),
            (self.kind not in KINDS, f"kind must be one of {KINDS}"),
            (not _COLOR.match(self.color), "color must be #RRGGBB"),
            (not set(self.requires) <= set(self.tables), "requires must be among tables"),
            (not set(self.tables) <= set(schema.TABLES), "tables must be entity sets of schema.TABLES"),
            (self.doc_url not in docs.ADDRESSES, "doc_url must be in docs.ADDRESSES"),
            (any(code.doc_url and code.doc_url not in docs.ADDRESSES for code in self.codes),
             "a code's doc_url must be in docs.ADDRESSES"),
            (len({code.code for code in self.codes}) != len(self.codes), "evidence codes repeated"),
            (not (self.title and self.stage and self.seed_text and self.detection and self.remediation),
             "texts must be filled"),
        ]
        wrong = [why for failed, why in problems if failed]
        if wrong:
            raise ValueError(f"cause {self.id!r}: " + "; ".join(wrong))

    def remediation_for(self, context: Context) -> str:
        return self.advice(context) if self.advice else self.remediation

    def code(self, code: str) -> Code | None:
        return next((known for known in self.codes if known.code == code), None)


@dataclass
class Context:
    """The snapshot, prepared once for every cause.

    ``pending``: the incoming emails being explained (one row each). ``targets``: their target queues,
    one row per (activityid, queueid) with how the queue was reached (``in_recipients``,
    ``has_item``, ``has_active_item``, ``via_mailbox``). ``active_rules``: active rules per queue.
    ``monitor``: activity monitor rows of pending emails (their queue taken from the rule).
    ``senders``: customer records matching each pending email's sender address. ``replies``: why each
    email counts as a reply, one row per link (activityid, row, field, tracked: the answered email's row or
    -1). ``regarding``: what each email is regarding (activityid, record_type, record_id, case_state,
    deactivatedon). ``targets`` also says whether a
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
    reached_queues: object = ()  # every queue incoming email of the period reached (before narrowing)
    _computed: dict = field(default_factory=dict, repr=False)

    def once(self, name: str, compute: Callable[[Context], pd.DataFrame]) -> pd.DataFrame:
        """What ``compute`` gives for this context, computed once (a cause's detection and findings share it)."""
        if name not in self._computed:
            self._computed[name] = compute(self)
        return self._computed[name]

    def has(self, *tables: str) -> bool:
        return all(self.snapshot.has(table) for table in tables)

    def queue_name(self, queue_ids: pd.Series) -> pd.Series:
        """Each queue's name (its id when it has none): what a fix-plan entry about a queue is called."""
        names = pd.Series(self.queues["name"].values, index=self.queues["queueid"]).dropna().to_dict()
        return queue_ids.map(names).astype("str").fillna(queue_ids.astype("str"))

    def queue_label(self, queue_ids: pd.Series) -> pd.Series:
        """"'Helpdesk' (help@contoso.com)" for each queue id."""
        labels = "'" + self.queues["name"].fillna("(unnamed)") + "' (" + self.queues["address"].fillna(
            "no address") + ")"
        return queue_ids.map(pd.Series(labels.values, index=self.queues["queueid"]).to_dict()).astype(
            "str").fillna("queue " + queue_ids.astype("str"))


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
    19: "Incorrect workflow trigger type",
}
# activitymonitor.currentstate of the current reference.
MONITOR_STATES = {0: "Ready for workflow", 1: "Ready for Power Automate", 2: "Failed", 3: "Skipped"}
MONITOR_TEMPLATE = ("activity monitor (evaluated {evaluated} UTC, {state}): reason {reason} '{label}'; Microsoft's "
                    "recommendation: {recommendation}")
_TAGS = r"<[^>]{0,500}>"  # recommendation is rich text: shown as plain text, never as HTML


def monitor_code(code: str = "activity-monitor", severity: Severity = "error", fix: str | None = None,
                 doc_url: str | None = None, about: str = "convertrules") -> Code:
    """The evidence of an activity monitor row: about the rule that evaluated the email (by default)."""
    return Code(code, MONITOR_TEMPLATE, about=about, severity=severity, fix=fix, doc_url=doc_url,
                raw="reason = {reason}")


def monitor_evidence(frame: pd.DataFrame, code: Code, **values: pd.Series | str) -> pd.DataFrame:
    """Evidence rows of activity monitor rows: the reason's number and label, its state, when it ran, and
    Microsoft's own recommendation for the row; ``values``: more values a cause cites."""
    if frame.empty:
        return empty_rows()
    reason = frame["reason"].astype("Int64").astype("str")
    label = frame["reason"].map(MONITOR_REASONS).astype("str").fillna("a reason this tool does not know")
    state = frame["currentstate"].map(MONITOR_STATES).astype("str").fillna(
        "state " + frame["currentstate"].astype("str"))
    when = utc_minutes(frame["createdon"]).astype("str").fillna("unknown time")
    return rows(frame, code, {"evaluated": when, "state": state, "reason": reason.fillna("(empty)"),
                              "label": label, "recommendation": _plain_text(frame["recommendation"]), **values},
                about_id=frame["ruleid"], about_name=frame["rule"])


def _plain_text(rich: pd.Series) -> pd.Series:
    """Rich text as plain text (tags dropped, spaces collapsed, 300 characters), "none given" when empty; cleaned
    once per distinct text: a tenant's recommendations repeat."""
    codes, texts = pd.factorize(rich.astype("str"))
    plain = pd.Series(texts, dtype="str").str.replace(_TAGS, " ", regex=True).str.replace(
        r"\s+", " ", regex=True).str.strip().str.slice(0, 300)
    plain = plain.where(plain != "", "none given")
    return pd.Series(plain.to_numpy(dtype=object, na_value=None), dtype="object").reindex(codes).fillna(
        "none given").set_axis(rich.index).astype("str")


def finding_rows(frame: pd.DataFrame, scope: str, subject: pd.Series) -> pd.DataFrame:
    """Evidence rows of environment findings, with what each finding is about (its scope and subject)."""
    return frame.assign(scope=scope, subject=subject.astype("str").values)
