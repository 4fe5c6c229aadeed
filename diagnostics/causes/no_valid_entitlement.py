"""Beyond the article: the rule requires a valid entitlement and the sender's customer has none.

The activity monitor logs it as reason 10 or 11 ("No valid entitlement"); the rule's ``checkactiveentitlement``
(*Require a valid entitlement* on its case connection) says the rule asks for one. By design: the rule did what
it was set to do.
"""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import Code, empty_rows
from .base import MONITOR_TEMPLATE, Cause, Context, monitor_evidence, monitor_rows
from .keys import key_positions, taken

REASONS = {10, 11}
FIX = ("If unintended, set 'Require a valid entitlement' to No on the case connection of the rule {name} (Customer "
       "Service admin center); otherwise give the customer an active entitlement.")
MONITOR = Code("monitor-no-valid-entitlement", MONITOR_TEMPLATE + "; the rule requires a valid entitlement "
               "(checkactiveentitlement): {requires}; sender {sender}", about="convertrules", fix=FIX,
               raw="reason = {reason}; checkactiveentitlement = {requires}", doc_url=docs.LEARN_ARC)


def detect(context: Context) -> pd.DataFrame:
    found = monitor_rows(context, reasons=REASONS)
    if found.empty:
        return empty_rows()
    rules = context.snapshot.table("convertrules").set_index("convertruleid")["checkactiveentitlement"].dropna()
    requires = found["ruleid"].map(rules.map({True: "yes", False: "no"})).astype("str").fillna("not exported")
    email = key_positions(found["activityid"], context.pending["activityid"])
    sender = taken(context.pending["sender_address"], email, index=found.index).astype("str").fillna("(no address)")
    return monitor_evidence(found, MONITOR, requires=requires, sender=sender)


CAUSE = Cause(
    id="no-valid-entitlement",
    order=10,
    seed_number=None,
    kind="by-design",
    title="The rule requires a valid entitlement and the customer has none",
    stage="Customer entitled (when the rule requires it)",
    seed_text=("Not in the support article. A rule whose case connection has 'Require a valid entitlement' set "
               "(convertrules.checkactiveentitlement) creates a case only for a customer with an active "
               "entitlement; the activity monitor logs the others as 'No valid entitlement'."),
    detection=("An activity monitor row for the email has reason 10 or 11 ('No valid entitlement'); the evidence "
               "cites the rule's checkactiveentitlement and the sender."),
    remediation=("By design: the rule asks for an entitlement. If that is unintended, set 'Require a valid "
                 "entitlement' to No on the rule's case connection; otherwise give the customer an active "
                 "entitlement, then reprocess the emails (All Activities > Add To Queue)."),
    doc_url=docs.LEARN_ARC,
    color="#7F3C8D",
    tables=("activitymonitors", "convertrules"),
    requires=("activitymonitors",),
    codes=(MONITOR,),
    detect=detect,
)
