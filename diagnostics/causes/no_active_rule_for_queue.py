"""Cause 9 of the article: no active Automatic Record Creation rule exists for the queue."""

from __future__ import annotations

import pandas as pd

from ..normalize import isin
from .base import Cause, Context, evidence, quoted

INFERENCE = ("which rule wins when several queues' rules could apply is not documented: we take the queues "
             "with an active rule as the ones expected to convert the email (our inference)")


def detect(context: Context) -> pd.DataFrame:
    targets = context.targets
    without = targets[~isin(targets["queueid"], context.active_rules["queueid"])]
    found = evidence(without, "queue " + context.queue_label(without["queueid"])
                     + " has no active Automatic Record Creation and Update rule")
    drafts = _draft_rules(context)
    hinted = without.merge(drafts, on="queueid")
    hints = evidence(hinted, "rule " + quoted(hinted["name"]) + " exists for it but is in Draft: activate it")
    aside = without[~without["expected"]]
    never_primary = evidence(aside, "not the primary cause: another queue of the email has an active rule; "
                             + INFERENCE)
    return pd.concat([found, hints, never_primary], ignore_index=True)


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


def findings(context: Context) -> list[dict]:
    queues = context.queues
    incoming = queues[queues["address"].notna() & (queues["statecode"].fillna(0) == 0)]
    without = incoming[~isin(incoming["queueid"], context.active_rules["queueid"])]
    drafts = _draft_rules(context).groupby("queueid")["name"].agg(list).to_dict()
    return [{"id": CAUSE.id, "scope": "queue", "subject": row.queueid, "severity": "warning",
             "evidence": [f"queue '{row.name}' ({row.address}) has no active rule"]
             + [f"rule '{name}' for it is in Draft" for name in drafts.get(row.queueid, [])]}
            for row in without.itertuples()]


CAUSE = Cause(
    id="no-active-rule-for-queue",
    order=5,
    seed_number=9,
    kind="fault",
    title="No active \"Automatic record creation and Update\" rule exists for the queue",
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
    doc_url="https://learn.microsoft.com/dynamics365/customer-service/administer/automatically-create-update-records",
    color="#D55E00",
    tables=("queues", "convertrules"),
    requires=("queues", "convertrules"),
    detect=detect,
    findings=findings,
    notes=notes,
)
