"""Beyond the article: the rule evaluated the email and none of its conditions matched.

The activity monitor logs it as reason 13 ("The rule doesn't have any conditions applicable to the record"), which
the activity monitor page counts as skipped by design. A rule *without* conditions logs the same reason: that is a
configuration fault, left to ``rule-configuration-error`` (contract, third round, item 3).
"""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, empty_rows
from ..normalize import isin
from .base import MONITOR_TEMPLATE, Cause, Context, monitor_evidence, monitor_rows

REASON = 13
FIX = ("No condition of the rule {name} matched these emails; if they should become cases, widen a condition or "
       "add a catch-all item (a condition every email meets) last in the rule.")
MONITOR = Code("monitor-no-condition-matched", MONITOR_TEMPLATE + "; rule '{rule}' has {items}, none of which "
               "matched this email", about="convertrules", fix=FIX, raw="reason = {reason}", doc_url=docs.LEARN_ARC)


def detect(context: Context) -> pd.DataFrame:
    found = monitor_rows(context, reasons={REASON})
    if not context.has("convertruleitems"):
        items = pd.Series("conditions that were not exported (convertruleitems)", index=found.index, dtype="str")
    else:
        counts = context.snapshot.table("convertruleitems").groupby("convertruleid").size()
        found = found[isin(found["ruleid"], pd.Series(counts.index))]  # a rule without items: a fault, not this
        items = found["ruleid"].map(counts.to_dict()).astype("Int64").astype("str") + " condition(s)"
    if found.empty:
        return empty_rows()
    rule = found["rule"].astype("str").fillna("(unnamed)")
    return monitor_evidence(found, MONITOR, items=items, rule=rule)


CAUSE = Cause(
    id="no-condition-matched",
    order=11,
    seed_number=None,
    kind="by-design",
    title="No condition of the rule matched the email",
    stage="A condition of the rule matched",
    seed_text=("Not in the support article. The rule evaluates its conditions in order and creates a case with "
               "the first that matches; when none matches, the activity monitor logs 'The rule doesn't have any "
               "conditions applicable to the record' and the email is skipped, as designed."),
    detection=("An activity monitor row for the email has reason 13 and the rule has at least one condition "
               "(convertruleitems); a rule without conditions is a rule-configuration-error fault instead."),
    remediation=("By design: the email met none of the rule's conditions. If such emails should become cases, "
                 "widen a condition or add a catch-all condition last in the rule, then reprocess the emails "
                 "(All Activities > Add To Queue)."),
    doc_url=docs.LEARN_ARC,
    color="#17BECF",
    tables=("activitymonitors", "convertruleitems"),
    requires=("activitymonitors",),
    codes=(MONITOR,),
    detect=detect,
)
