"""Cause 4 of the article: Automatic Record Creation and Update rule configuration issues."""

from __future__ import annotations

import pandas as pd

from ..normalize import isin
from .base import Cause, Context, evidence, monitor_evidence, monitor_rows, quoted

FAILED_JOB = 31
WORKFLOW_STATE = {0: "Draft", 1: "Activated", 2: "Suspended"}
# Monitor reasons this cause claims outright; a Failed row with a reason no other cause claims, too.
OWN_REASONS = {13, 14, 15, 17, 18}
OTHER_CAUSES_REASONS = {2, 3, 4, 5, 6, 7, 9, 16}


def rule_problems(context: Context) -> pd.DataFrame:
    """Rule-wide faults of active rules: one row per (queueid, convertruleid, evidence)."""
    parts = []
    if context.has("convertruleitems"):
        parts += [_rules_without_items(context), _items_without_flow(context)]
    if context.has("systemusers"):
        parts.append(_disabled_owners(context))
    if context.has("asyncoperations"):
        parts.append(_failed_jobs_regarding_rule(context))
    return pd.concat(parts or [pd.DataFrame(columns=["queueid", "convertruleid", "evidence"])],
                     ignore_index=True)


def _rules_without_items(context: Context) -> pd.DataFrame:
    rules = context.active_rules
    items = context.snapshot.table("convertruleitems")
    empty = rules[~isin(rules["convertruleid"], items["convertruleid"])]
    return _rule_rows(empty, "rule " + quoted(empty["name"]) + " has no conditions (rule items)")


def _items_without_flow(context: Context) -> pd.DataFrame:
    items = context.snapshot.table("convertruleitems")[["convertruleid", "name", "workflowid"]]
    items = context.active_rules.merge(items.rename(columns={"name": "item"}), on="convertruleid",
                                       suffixes=("", "_item"))
    if not context.has("workflows"):
        missing = items[items["workflowid_item"].isna()]
        return _rule_rows(missing, "condition " + quoted(missing["item"]) + " of rule " + quoted(
            missing["name"]) + " has no workflow or flow")
    flows = context.snapshot.table("workflows")[["workflowid", "name", "statecode"]]
    items = items.merge(flows.rename(columns={"workflowid": "workflowid_item", "name": "flow",
                                              "statecode": "flow_state"}), on="workflowid_item", how="left")
    absent = items[items["flow"].isna() & items["flow_state"].isna()]
    inactive = items[items["flow_state"].notna() & (items["flow_state"] != 1).fillna(False).astype(bool)]
    state = inactive["flow_state"].map(WORKFLOW_STATE).fillna("not activated")
    return pd.concat([
        _rule_rows(absent, "condition " + quoted(absent["item"]) + " of rule " + quoted(absent["name"])
                   + " points at no existing workflow or flow"),
        _rule_rows(inactive, "the flow " + quoted(inactive["flow"]) + " of condition " + quoted(inactive["item"])
                   + " of rule " + quoted(inactive["name"]) + " is " + state + ", not activated"),
    ], ignore_index=True)


def _disabled_owners(context: Context) -> pd.DataFrame:
    users = context.snapshot.table("systemusers")[["systemuserid", "fullname", "isdisabled"]]
    owned = context.active_rules.merge(users, left_on="ownerid", right_on="systemuserid")
    disabled = owned[owned["isdisabled"].fillna(False).astype(bool)]
    return _rule_rows(disabled, "the owner of rule " + quoted(disabled["name"]) + ", " + quoted(
        disabled["fullname"]) + ", is disabled")


def _failed_jobs_regarding_rule(context: Context) -> pd.DataFrame:
    jobs = _failed_jobs(context)
    failed = context.active_rules.merge(jobs, left_on="convertruleid", right_on="regardingobjectid")
    return _rule_rows(failed, "system job " + quoted(failed["job"]) + " for rule " + quoted(failed["name"])
                      + " failed: " + failed["text"])


def _failed_jobs(context: Context) -> pd.DataFrame:
    jobs = context.snapshot.table("asyncoperations")
    jobs = jobs[(jobs["statuscode"] == FAILED_JOB).fillna(False).astype(bool)]
    text = jobs["friendlymessage"].where(jobs["friendlymessage"].fillna("").str.strip() != "", jobs["message"])
    return pd.DataFrame({"regardingobjectid": jobs["regardingobjectid"], "job": jobs["name"],
                         "text": text.fillna("(no message)").str.strip().str.slice(0, 300)})


def _rule_rows(frame: pd.DataFrame, text: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"queueid": frame["queueid"].values, "convertruleid": frame["convertruleid"].values,
                         "evidence": text.values})


def detect(context: Context) -> pd.DataFrame:
    targets = context.targets.merge(context.active_rules[["queueid"]].drop_duplicates(), on="queueid")
    rule_wide = targets.merge(rule_problems(context)[["queueid", "evidence"]], on="queueid")
    parts = [evidence(rule_wide, rule_wide["evidence"])]
    if context.has("asyncoperations"):
        jobs = context.pending[["activityid"]].merge(_failed_jobs(context), left_on="activityid",
                                                     right_on="regardingobjectid")
        parts.append(evidence(jobs, "system job " + quoted(jobs["job"]) + " failed for this email: "
                              + jobs["text"], queue=None))
    if context.has("activitymonitors"):
        unclaimed = monitor_rows(context, state=2)
        unclaimed = unclaimed[~unclaimed["reason"].isin(list(OTHER_CAUSES_REASONS)).fillna(False).astype(bool)]
        claimed = monitor_rows(context, reasons=OWN_REASONS)
        parts.append(monitor_evidence(pd.concat([claimed, unclaimed]).drop_duplicates()))
    return pd.concat(parts, ignore_index=True)


def findings(context: Context) -> list[dict]:
    problems = rule_problems(context)
    found = [{"id": CAUSE.id, "scope": "rule", "subject": rule, "severity": "error",
              "evidence": group["evidence"].tolist()}
             for rule, group in problems.groupby("convertruleid", sort=True)]
    if context.has("asyncoperations"):
        jobs = _failed_jobs(context)
        counts = jobs.groupby("text").size().sort_values(ascending=False).head(10)
        found += [{"id": CAUSE.id, "scope": "system jobs", "subject": text, "severity": "warning",
                   "evidence": [f"{count} failed system job(s): {text}"]} for text, count in counts.items()]
    return found


CAUSE = Cause(
    id="rule-configuration-error",
    order=6,
    seed_number=4,
    kind="fault",
    title="Automatic Record Creation and Update Rule configuration issues",
    seed_text=("You need to check whether the Automatic Record Creation and Update Rule feature is "
               "configured properly by going to system jobs and checking for a failure message."),
    detection=("The queue's active rule has no conditions; a condition's workflow or flow is missing or turned "
               "off; the rule owner is disabled; a system job that failed is about this email or the rule "
               "itself (jobs that failed for other emails do not count); or the rule's activity monitor says "
               "the rule could not run for the email (a condition, flow or mapping failed)."),
    remediation=("Deactivate and reactivate the rule: its 'ARC: …' flows follow the rule, so never turn them "
                 "on or off in Power Automate. Before reactivating, make the rule's owner an active user (a "
                 "deleted owner means assigning the rule to an active user: 'Error matching conditions'). A rule "
                 "without conditions has no flow: deactivate it, add a condition (rule item), reactivate it. "
                 "For 'The case is missing customer.', map Customer to {Sender (Email)} or leave it blank "
                 "instead of {Senders Account (Email)}."),
    doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/common-email-error-messages",
    color="#CC79A7",
    tables=("convertrules", "convertruleitems", "workflows", "systemusers", "asyncoperations",
            "activitymonitors"),
    requires=("convertrules",),
    detect=detect,
    findings=findings,
)
