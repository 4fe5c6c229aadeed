"""Cause 9 of the article: no active Automatic Record Creation rule exists for the queue."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, empty_rows, rows
from ..normalize import isin
from .base import Cause, Context, finding_rows
from .keys import about_queues, join_positions, spread

INFERENCE = ("which rule wins when several queues' rules could apply is not documented: we take the queues "
             "with an active rule as the ones expected to convert the email (our inference)")


FIX = ("The queue {name} has no active rule, so its email never becomes a case: activate its Draft rule, or "
       "create a rule for it with at least one condition and activate it.")
NO_RULE = Code("queue-without-rule", "queue {queue} has no active Automatic Record Creation and Update rule",
               about="queues", fix=FIX)
DRAFT_RULE = Code("draft-rule", "rule '{rule}' exists for it but is in Draft: activate it", about="queues", fix=FIX)
NOT_PRIMARY = Code("not-primary", "not the primary cause: another queue of the email has an active rule; {why}",
                   about="queues", fix=FIX)


def detect(context: Context) -> pd.DataFrame:
    targets = context.targets
    without = targets[~isin(targets["queueid"], context.active_rules["queueid"]).to_numpy()]
    drafts = _draft_rules(context)
    hinted, draft = join_positions(without["queueid"], drafts["queueid"])
    draft_rows = _about_queue(context, drafts, DRAFT_RULE, {"rule": drafts["name"].fillna("(unnamed)")})
    return pd.concat([
        about_queues(context, without, NO_RULE, lambda queues: {"queue": context.queue_label(queues)}),
        spread(draft_rows, draft, without.iloc[hinted]),  # rendered once per draft rule
        about_queues(context, without[~without["expected"].to_numpy(dtype=bool)], NOT_PRIMARY,
                     lambda queues: {"why": INFERENCE}),
    ], ignore_index=True)


def _about_queue(context: Context, frame: pd.DataFrame, code: Code, values: dict) -> pd.DataFrame:
    return rows(frame, code, values, about_id=frame["queueid"], about_name=context.queue_name(frame["queueid"]))


def notes(context: Context) -> pd.DataFrame:
    """'also sent to queue X, which has no rule' for a queue without an active rule beside one with it."""
    targets = context.targets
    aside = targets[~targets["expected"] & ~isin(targets["queueid"], context.active_rules["queueid"])]
    drafts = _draft_rules(context).drop_duplicates("queueid").set_index("queueid")["name"]
    draft = aside["queueid"].map(drafts.to_dict())
    which = (", which has no active rule (rule '" + draft.astype("str") + "' is in Draft)").fillna(
        ", which has no rule")
    text = "also sent to queue " + context.queue_label(aside["queueid"]) + which + "; " + INFERENCE
    return pd.DataFrame({"activityid": aside["activityid"].values, "note": text.values})


def _draft_rules(context: Context) -> pd.DataFrame:
    rules = context.snapshot.table("convertrules")
    return rules.loc[rules["statecode"] == 0, ["queueid", "name"]]


def findings(context: Context) -> pd.DataFrame:
    """Queues without an active rule that incoming email reached in the period (the others harm nothing)."""
    queues = context.queues
    incoming = queues[queues["address"].notna() & (queues["statecode"].fillna(0) == 0)]
    without = incoming[~isin(incoming["queueid"], context.active_rules["queueid"])
                       & isin(incoming["queueid"], pd.Series(context.reached_queues, dtype="str"))]
    if without.empty:
        return empty_rows()
    drafts = without[["queueid"]].merge(_draft_rules(context), on="queueid")
    found = pd.concat([
        _about_queue(context, without, NO_RULE, {"queue": context.queue_label(without["queueid"])}),
        _about_queue(context, drafts, DRAFT_RULE, {"rule": drafts["name"].fillna("(unnamed)")}),
    ], ignore_index=True)
    return finding_rows(found, "queue", found["about_id"])


CAUSE = Cause(
    id="no-active-rule-for-queue",
    order=5,
    seed_number=9,
    kind="fault",
    title="No active \"Automatic record creation and Update\" rule exists for the queue",
    stage="Queue has an active rule",
    seed_text=("Navigate to the \"Automatic record creation and Update\" rules and ensure that an active "
               "\"Automatic record creation and Update\" rule exists for the queue to which the email was "
               "sent. If no rule exists for the queue to which the email was sent, a case won't be created "
               "since there won't be any matching rule and condition."),
    detection=("A queue the email was sent to (in To or Cc, through a queue item, the receiving mailbox or the "
               "accepting queue) has no active automatic record creation rule. A draft rule for the queue is "
               "named as the likely fix. While another queue of the email has an active rule, this stays listed "
               "but is never the primary cause (our inference of which rule applies)."),
    remediation=("In Customer Service admin center > Case settings > Automatic record creation and update "
                 "rules, create a rule for this queue (or open its Draft rule), add at least one condition "
                 "and activate it."),
    doc_url=docs.LEARN_ARC,
    color="#D55E00",
    tables=("queues", "convertrules"),
    requires=("queues", "convertrules"),
    codes=(NO_RULE, DRAFT_RULE, NOT_PRIMARY),
    detect=detect,
    findings=findings,
    notes=notes,
)
