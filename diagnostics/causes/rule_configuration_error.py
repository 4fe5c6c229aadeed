"""Cause 4 of the article: Automatic Record Creation and Update rule configuration issues."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import docs
from ..evidence import ROW_COLUMNS, Code, empty_rows, rows
from ..normalize import isin
from .base import Cause, Context, finding_rows, monitor_code, monitor_evidence
from .keys import join_positions, labels

FAILED_JOB = 31
WORKFLOW_STATE = {0: "Draft", 1: "Activated", 2: "Suspended"}
# Monitor reasons this cause claims outright (13 only for a rule without items); a Failed row with a reason no other
# cause claims, too. 10/11 are no-valid-entitlement's, 13 of a rule with items no-condition-matched's.
OWN_REASONS = {14, 15, 17, 18}
SOURCE_DATA, NO_CONDITIONS, TRIGGER_TYPE = 1, 13, 19
OTHER_CAUSES_REASONS = {2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 16}
REACTIVATE = ("Deactivate and reactivate the rule {name} in Customer Service admin center so it activates its "
              "flows again (don't turn 'ARC' flows on by hand in Power Automate).")

RULE_WITHOUT_ITEMS = Code("rule-without-items", "rule '{rule}' has no conditions", about="convertrules",
                          unproven="error", raw="convertruleitems: none", doc_url=docs.ARC_FAQ,
                          fix="The rule {name} has no conditions, so it has no flow: deactivate it, add a "
                              "condition, and reactivate it.")
ITEM_WITHOUT_FLOW = Code("item-without-flow", "condition '{item}' of rule '{rule}' has no workflow or flow",
                         about="convertrules", unproven="error", fix=REACTIVATE, doc_url=docs.ARC_FAQ)
ITEM_FLOW_MISSING = Code("item-flow-missing",
                         "condition '{item}' of rule '{rule}' points at no existing workflow or flow",
                         about="convertrules", unproven="error", fix=REACTIVATE, doc_url=docs.ARC_FAQ)
FLOW_NOT_ACTIVATED = Code(
    "flow-not-activated", "the flow '{flow}' of condition '{item}' of rule '{rule}' is {state}, not activated",
    about="workflows", unproven="error", doc_url=docs.ARC_FAQ, raw="statecode = {state}",
    fix="The flow {name} is not activated: deactivate and reactivate its rule in Customer Service admin center so "
        "the rule activates its flows again (don't turn 'ARC' flows on by hand in Power Automate).")
OWNER_DISABLED = Code(
    "owner-disabled", "the owner of rule '{rule}', '{owner}', is disabled", about="systemusers", unproven="error",
    doc_url=docs.SYMPTOM_2, raw="isdisabled = true",
    fix="The rule's owner {name} is disabled, so its flow is disconnected ('Error matching conditions'): enable the "
        "user or assign the rule to an active user, then deactivate and reactivate the rule.")
# Failed system jobs: about the message (one entry per message), the fix by what the message says.
JOB_FIX = ("Open Settings > System Jobs, filter the failed jobs on this message, and fix the rule's case mapping or "
           "the record the message names.")
JOB_KNOWN = {  # words of a known message (common email error messages) -> one known cause of it, as a possibility
    "missing customer": "One known cause of this message is the rule's Customer mapped to {Senders Account "
                        "(Email)} for a sender with no account: map Customer to {Sender (Email)} or leave it blank.",
    "an error has occurred. try this action again": "One known cause of this message is Customer mapped to "
                        "{Senders Account (Email)} and Contact to {Sender (Email)}: map Customer to {Sender (Email)}.",
    "doesn't belong to the contact": "One known cause of this message is Customer and Contact both mapped to "
                                     "{Sender (Email)}: leave Contact blank.",
    "matching": "One known cause of this message is a disabled or deleted rule owner: make the owner active (or "
                "assign the rule to an active user), then deactivate and reactivate the rule.",
}


def _job_code(code: str, template: str, fix: str) -> Code:
    return Code(code, template, about="asyncoperations", severity="error", unproven="warning", fix=fix,
                doc_url=docs.COMMON_ERRORS)


def _job_codes(prefix: str, template: str) -> dict[str | None, Code]:
    """One code per known message family (and one for the others), each with its fix."""
    codes = {None: _job_code(prefix, template, JOB_FIX)}
    for number, (words, fix) in enumerate(JOB_KNOWN.items(), start=1):
        codes[words] = _job_code(f"{prefix}-known-{number}", template, fix)
    return codes


EMAIL_JOB = _job_codes("email-job-failed", "system job '{job}' failed for this email: {message}")
RULE_JOB = _job_codes("rule-job-failed", "system job '{job}' for rule '{rule}' failed: {message}")
JOBS_COUNT = _job_codes("failed-jobs", "{count} failed system job(s): {message}")
MONITOR = monitor_code(fix="Open the rule {name} in Customer Service admin center and its activity monitor: fix what "
                           "the failed rows say, then deactivate and reactivate the rule.")
MONITOR_SOURCE = monitor_code("monitor-source-data-missing", doc_url=docs.ARC_FAQ, fix=(
    "ARC could not read these emails (activity monitor reason 1, rule {name}): reprocess them (Add To Queue) and "
    "contact Microsoft Support if it recurs."))
MONITOR_TRIGGER = monitor_code("monitor-flow-trigger-changed", doc_url=docs.ARC_FAQ, fix=(
    "The trigger of the flow of rule {name} was changed (activity monitor reason 19): deactivate and reactivate the "
    "rule in Customer Service admin center to restore it."))
MONITOR_NO_ITEMS = monitor_code("monitor-rule-without-items", doc_url=docs.ARC_FAQ, fix=RULE_WITHOUT_ITEMS.fix)
RULE_FLOW_FIX = ("The rule {name} has a flow of its own ('ARC | rule name') besides one per condition, and works only "
                 "when both are on: deactivate and reactivate the rule in Customer Service admin center to restore "
                 "it (don't turn 'ARC' flows on by hand in Power Automate).")
RULE_FLOW_OFF = Code("rule-flow-not-activated", "the flow of rule '{rule}' itself, '{flow}', is {state}, not activated",
                     about="convertrules", unproven="error", raw="workflows.statecode = {state}", fix=RULE_FLOW_FIX,
                     doc_url=docs.ARC_FAQ)
RULE_FLOW_MISSING = Code("rule-flow-missing", "rule '{rule}' points at a flow of its own ({flow_id}) that does not "
                         "exist", about="convertrules", unproven="error", raw="convertrules.workflowid = {flow_id}",
                         fix=RULE_FLOW_FIX, doc_url=docs.ARC_FAQ)


def rule_problems(context: Context) -> pd.DataFrame:
    """Rule-wide faults of active rules: evidence rows (no email) with the rule's ``queueid`` and ``convertruleid``."""
    parts = []
    if context.has("convertruleitems"):
        parts += [_rules_without_items(context), _items_without_flow(context)]
    if context.has("workflows"):
        parts.append(_rule_flows(context))
    if context.has("systemusers"):
        parts.append(_disabled_owners(context))
    if context.has("asyncoperations"):
        parts.append(_failed_jobs_regarding_rule(context))
    return _concat(parts)


def _concat(parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """The rule rows found (most checks find none: ``None``, no empty frame built for them)."""
    found = [part for part in parts if part is not None and len(part)]
    return pd.concat(found, ignore_index=True) if found else empty_rows().assign(queueid=pd.NA, convertruleid=pd.NA)


def _rule_rows(frame: pd.DataFrame, code: Code, values: dict, about_id: pd.Series | None = None,
               about_name: pd.Series | None = None) -> pd.DataFrame | None:
    """Evidence about a rule (or, given, another record) for these rules' rows; None without rows."""
    if frame.empty:
        return None
    if about_id is None:
        about_id, about_name = frame["convertruleid"], _name(frame["name"])
    found = rows(frame, code, values, about_id=about_id, about_name=about_name)
    return found.assign(queueid=frame["queueid"].values, convertruleid=frame["convertruleid"].values)


def _name(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna("(unnamed)")


def _rules_without_items(context: Context) -> pd.DataFrame:
    rules = context.active_rules
    items = context.snapshot.table("convertruleitems")
    empty = rules[~isin(rules["convertruleid"], items["convertruleid"])]
    return _rule_rows(empty, RULE_WITHOUT_ITEMS, {"rule": _name(empty["name"])})


def _rule_flows(context: Context) -> pd.DataFrame:
    """Active rules whose own flow (``convertrules.workflowid``) is missing or not activated. A rule without a
    workflowid is left alone: older rules may have none (our inference)."""
    flows = context.snapshot.table("workflows")[["workflowid", "name", "statecode"]].rename(
        columns={"workflowid": "workflowid_rule", "name": "flow", "statecode": "flow_state"})
    rules = context.active_rules.dropna(subset=["workflowid"])
    rules = rules.merge(flows, left_on="workflowid", right_on="workflowid_rule", how="left")
    absent = rules[rules["workflowid_rule"].isna()]
    off = rules[rules["workflowid_rule"].notna() & (rules["flow_state"] != 1).fillna(True).astype(bool)]
    state = off["flow_state"].map(WORKFLOW_STATE).astype("str").fillna("in an unknown state")
    return _concat([
        _rule_rows(absent, RULE_FLOW_MISSING, {"rule": _name(absent["name"]), "flow_id": absent["workflowid"]}),
        _rule_rows(off, RULE_FLOW_OFF, {"rule": _name(off["name"]), "flow": _name(off["flow"]), "state": state}),
    ])


def _items_without_flow(context: Context) -> pd.DataFrame:
    items = context.snapshot.table("convertruleitems")[["convertruleid", "name", "workflowid"]]
    items = context.active_rules.merge(items.rename(columns={"name": "item"}), on="convertruleid",
                                       suffixes=("", "_item"))
    if not context.has("workflows"):
        missing = items[items["workflowid_item"].isna()]
        return _rule_rows(missing, ITEM_WITHOUT_FLOW, {"item": _name(missing["item"]), "rule": _name(missing["name"])})
    flows = context.snapshot.table("workflows")[["workflowid", "name", "statecode"]]
    items = items.merge(flows.rename(columns={"workflowid": "workflowid_item", "name": "flow",
                                              "statecode": "flow_state"}), on="workflowid_item", how="left")
    absent = items[items["flow"].isna() & items["flow_state"].isna()]
    inactive = items[items["flow_state"].notna() & (items["flow_state"] != 1).fillna(False).astype(bool)]
    state = inactive["flow_state"].map(WORKFLOW_STATE).astype("str").fillna("not activated")
    return _concat([
        _rule_rows(absent, ITEM_FLOW_MISSING, {"item": _name(absent["item"]), "rule": _name(absent["name"])}),
        _rule_rows(inactive, FLOW_NOT_ACTIVATED, {"flow": _name(inactive["flow"]), "item": _name(inactive["item"]),
                                                  "rule": _name(inactive["name"]), "state": state},
                   about_id=inactive["workflowid_item"], about_name=_name(inactive["flow"])),
    ])


def _disabled_owners(context: Context) -> pd.DataFrame:
    users = context.snapshot.table("systemusers")[["systemuserid", "fullname", "isdisabled"]]
    owned = context.active_rules.merge(users, left_on="ownerid", right_on="systemuserid")
    disabled = owned[owned["isdisabled"].fillna(False).astype(bool)]
    return _rule_rows(disabled, OWNER_DISABLED, {"rule": _name(disabled["name"]), "owner": _name(disabled["fullname"])},
                      about_id=disabled["systemuserid"], about_name=_name(disabled["fullname"]))


def _failed_jobs_regarding_rule(context: Context) -> pd.DataFrame:
    jobs = context.once("failed jobs", _failed_jobs)
    rule, job = join_positions(context.active_rules["convertruleid"], jobs["regardingobjectid"])
    failed = pd.concat([context.active_rules.iloc[rule].reset_index(drop=True),
                        jobs.iloc[job].reset_index(drop=True)], axis=1)
    found = _job_rows(failed, RULE_JOB, {"job": _name(failed["job"]), "rule": _name(failed["name"]),
                                         "message": failed["text"]}, keep=["queueid", "convertruleid"])
    return found


def _failed_jobs(context: Context) -> pd.DataFrame:
    jobs = context.snapshot.table("asyncoperations")
    jobs = jobs[(jobs["statuscode"] == FAILED_JOB).fillna(False).astype(bool)]
    text = jobs["friendlymessage"].where(jobs["friendlymessage"].fillna("").str.strip() != "", jobs["message"])
    return pd.DataFrame({"regardingobjectid": jobs["regardingobjectid"], "job": jobs["name"],
                         "text": text.fillna("(no message)").str.strip().str.slice(0, 300)})


def _job_rows(frame: pd.DataFrame, codes: dict[str | None, Code], values: dict,
             keep: list[str] | None = None) -> pd.DataFrame:
    """Evidence about each job's message, under the code of the known message family it belongs to."""
    family = _families(frame["text"])
    keep = keep or []
    parts = [rows(frame[mine], code, {name: value[mine] for name, value in values.items()},
                  about_name=frame.loc[mine, "text"], queue=None).assign(**{
                      column: frame.loc[mine, column].values for column in keep})
             for words, code in codes.items() if (mine := family == words).any()]
    return pd.concat(parts, ignore_index=True) if parts else empty_rows().assign(**{column: pd.NA for column in keep})


def _families(texts: pd.Series) -> np.ndarray:
    """The known message family of each text (None for the others): found once per distinct message, as a
    tenant's failed jobs repeat a handful of them."""
    codes, distinct = pd.factorize(texts)
    lowered = pd.Series(distinct, dtype="str").str.lower()
    family = pd.Series(None, index=lowered.index, dtype="object")
    for words in JOB_KNOWN:  # the first family whose words the message holds: a value of the data, not our text
        family = family.where(family.notna() | ~lowered.str.contains(words, regex=False), words)
    return np.append(family.to_numpy(), None)[codes]  # a missing text (code -1) belongs to no family


def _sync_errors(context: Context) -> pd.Series:
    """The last sync errors of the mailboxes: a failed job with the same message is that mailbox's problem."""
    if not context.has("mailboxes"):
        return pd.Series([], dtype="str")
    return context.snapshot.tables["mailboxes"]["lastsyncerror"].dropna().str.strip().str.slice(0, 300)


def detect(context: Context) -> pd.DataFrame:
    parts = [_rule_wide(context, context.once("rule problems", rule_problems))]
    if context.has("asyncoperations"):
        jobs = context.once("failed jobs", _failed_jobs)
        email, job = join_positions(context.pending["activityid"], jobs["regardingobjectid"])
        jobs = pd.DataFrame({"activityid": context.pending["activityid"].array.take(email),
                             "job": jobs["job"].array.take(job), "text": jobs["text"].array.take(job)})
        parts.append(_job_rows(jobs, EMAIL_JOB, {"job": _name(jobs["job"]), "message": jobs["text"]}))
    if context.has("activitymonitors"):
        parts.append(_monitor_evidence(context))
    return pd.concat(parts, ignore_index=True)


def _rule_wide(context: Context, problems: pd.DataFrame) -> pd.DataFrame:
    """Each rule-wide problem once per pending email of its rule's queue: rendered once per rule (``rule_problems``),
    then taken per email by position."""
    targets = context.targets
    target, problem = join_positions(targets["queueid"], problems["queueid"])
    return pd.DataFrame({"activityid": targets["activityid"].array.take(target),
                         "queue": targets["queueid"].array.take(target),
                         **{column: problems[column].array.take(problem) for column in ROW_COLUMNS[2:]}})


# Activity monitor rows this cause claims, each reason under the code whose fix it needs. The codes share the
# monitor's template and record: the rows are rendered together, and each gets its code.
MONITOR_CODES = (MONITOR, MONITOR_SOURCE, MONITOR_TRIGGER, MONITOR_NO_ITEMS)
if len({(code.template, code.about) for code in MONITOR_CODES}) != 1:
    raise ValueError("the activity monitor codes of rule-configuration-error must share one template and record")


def _monitor_evidence(context: Context) -> pd.DataFrame:
    monitor = context.monitor
    reason = monitor["reason"].fillna(-1).to_numpy(dtype=np.int64)
    claimed = np.isin(reason, list(OWN_REASONS))
    unclaimed = ((monitor["currentstate"] == 2).fillna(False).to_numpy(dtype=bool)
                 & ~np.isin(reason, list(OTHER_CAUSES_REASONS | {SOURCE_DATA, TRIGGER_TYPE})) & ~claimed)
    parts = [np.flatnonzero(claimed), np.flatnonzero(unclaimed), np.flatnonzero(reason == SOURCE_DATA),
             np.flatnonzero(reason == TRIGGER_TYPE)]
    if context.has("convertruleitems"):  # reason 13 of a rule without items: that rule's fault
        no_items = ~isin(monitor["ruleid"], context.snapshot.table("convertruleitems")["convertruleid"]).to_numpy()
        parts.append(np.flatnonzero((reason == NO_CONDITIONS) & no_items))
    codes = [MONITOR.code, MONITOR.code, MONITOR_SOURCE.code, MONITOR_TRIGGER.code, MONITOR_NO_ITEMS.code]
    found = monitor_evidence(monitor.iloc[np.concatenate(parts)], MONITOR)
    code = labels(codes[:len(parts)], np.repeat(np.arange(len(parts)), [len(part) for part in parts]))
    return found.assign(code=code) if len(found) else found


def findings(context: Context) -> pd.DataFrame:
    problems = context.once("rule problems", rule_problems)
    found = [finding_rows(problems.drop(columns=["queueid", "convertruleid"]), "rule", problems["convertruleid"])]
    if context.has("asyncoperations"):
        jobs = context.once("failed jobs", _failed_jobs)
        jobs = jobs[~isin(jobs["text"], _sync_errors(context))]  # a mailbox's own error: its finding says it
        counts = jobs.groupby("text").size().sort_values(ascending=False).head(10)
        jobs = pd.DataFrame({"text": counts.index.astype("str"), "count": counts.astype("str").values})
        counted = _job_rows(jobs, JOBS_COUNT, {"count": jobs["count"], "message": jobs["text"]})
        found.append(finding_rows(counted, "system jobs", counted["about_name"]))
    return pd.concat(found, ignore_index=True)


CAUSE = Cause(
    id="rule-configuration-error",
    order=6,
    seed_number=4,
    kind="fault",
    title="Automatic Record Creation and Update Rule configuration issues",
    stage="Rule configured and ran",
    seed_text=("You need to check whether the Automatic Record Creation and Update Rule feature is "
               "configured properly by going to system jobs and checking for a failure message."),
    detection=("The queue's active rule has no conditions; a condition's workflow or flow is missing or turned "
               "off; the rule's own flow ('ARC | rule name') is missing or turned off (a rule without one is left "
               "alone: our inference); the rule owner is disabled; a system job that failed is about this email or "
               "the rule itself (jobs that failed for other emails do not count); or the rule's activity monitor "
               "says the rule could not run for the email: the email's source data was not found, the flow is "
               "disconnected or its trigger was changed, matching the conditions failed, or a failure no other "
               "cause explains."),
    remediation=("Deactivate and reactivate the rule: its 'ARC: …' flows follow the rule, so never turn them "
                 "on or off in Power Automate. Before reactivating, make the rule's owner an active user (a "
                 "deleted owner means assigning the rule to an active user: 'Error matching conditions'). A rule "
                 "without conditions has no flow: deactivate it, add a condition (rule item), reactivate it. "
                 "For 'The case is missing customer.', map Customer to {Sender (Email)} or leave it blank "
                 "instead of {Senders Account (Email)}."),
    doc_url=docs.COMMON_ERRORS,
    color="#CC79A7",
    tables=("convertrules", "convertruleitems", "workflows", "systemusers", "asyncoperations",
            "activitymonitors"),
    requires=("convertrules",),
    codes=(RULE_WITHOUT_ITEMS, ITEM_WITHOUT_FLOW, ITEM_FLOW_MISSING, FLOW_NOT_ACTIVATED, OWNER_DISABLED, MONITOR,
           MONITOR_SOURCE, MONITOR_TRIGGER, MONITOR_NO_ITEMS, RULE_FLOW_OFF, RULE_FLOW_MISSING,
           *EMAIL_JOB.values(), *RULE_JOB.values(), *JOBS_COUNT.values()),
    detect=detect,
    findings=findings,
)
