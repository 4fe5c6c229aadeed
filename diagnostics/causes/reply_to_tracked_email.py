"""Cause 7 of the article: the email is a reply to a tracked email.

Server-side sync's correlation copies the earlier email's Regarding onto the reply, so what a reply
is regarding decides what it means (contract, correction 4):

- an active case: the reply was threaded into it; the evaluation counts it as converted;
- a case absent from the snapshot, or whose state is empty: correlation put the reply on a case, so it is
  counted as converted and threaded, with a note that the case's state was not checked (third round, 1);
- a resolved or cancelled case (a cancelled one judged like a resolved one: our inference): by design unless
  the queue's active rule waits after resolution (``checkifresolved``) and the wait (``resolvedsince`` minutes
  after the case was resolved: ``deactivatedon``, else the newest completed case resolution's ``createdon``)
  had passed: then a new case was expected and this is a fault;
- another record: by design (ARC skips an email already connected to a record, monitor reason 2);
- nothing: correlation did not happen, so the match explains nothing (a note, not this cause).
"""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import SENDERS, Code, empty_rows, rows
from ..normalize import isin
from ..snapshot import Snapshot
from .base import Cause, Context, monitor_code, monitor_evidence, monitor_rows, quoted

CORRELATION = {3: "InReplyTo", 4: "TrackingToken", 5: "ConversationIndex", 6: "SmartMatching"}
CASE_STATE = {0: "active", 1: "resolved", 2: "cancelled"}
COMPLETED = 1  # incidentresolution.statecode: the resolution that closed the case
CONNECTED_REASONS = {2, 3, 4, 5}  # activity monitor: a record is already connected, ARC skipped the email
BY_DESIGN, FAULT = "by-design", "fault"
REPLIES = "replies to resolved cases that got no new case"  # the fix-plan entry of the faults (a group)
FIX = ("These replies reached a resolved case after the rule's wait had passed, so a new case was expected: open "
       "the rule's activity monitor and flow run history for these emails to see why none was created.")


def _reply_code(code: str, template: str, raw: str | None = None) -> Code:
    return Code(code, template, about=SENDERS, group=REPLIES, fix=FIX, raw=raw)


IN_REPLY_TO = _reply_code("in-reply-to-tracked", "In-Reply-To {message_id} is the Message-ID of tracked email "
                          "'{subject}' ({tracked}{regarding})")
CORRELATED = _reply_code("correlation-method", "correlation method {method} ({number}): server-side sync matched it "
                         "to an earlier email", raw="correlationmethod = {number}")
LINKED = _reply_code("linked-activity", "its {what} is set ({linked}): server-side sync correlated it with an "
                     "earlier email")
CLOSED_CASE = _reply_code("closed-case", "{case}; {rule}")
OTHER_RECORD = _reply_code("regarding-other-record", "it is regarding {what} ({record}): ARC skips an email already "
                           "connected to a record (activity monitor reason 2, 'An existing entity is already "
                           "connected')")
MONITOR = monitor_code(fix=FIX)
CODES = (IN_REPLY_TO, CORRELATED, LINKED, CLOSED_CASE, OTHER_RECORD, MONITOR)


def reply_links(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """Why each incoming email is a reply: (activityid, evidence), one row per link found."""
    parts = [_in_reply_to(snapshot, incoming), _correlation(incoming)]
    for column, what in (("parentactivityid", "parent activity"), ("correlatedactivityid", "correlated activity")):
        linked = incoming.loc[incoming[column].notna(), ["activityid", column]]
        parts.append(rows(linked, LINKED, {"what": what, "linked": linked[column]}, queue=None))
    return pd.concat(parts, ignore_index=True)


def regarding_records(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """What each incoming email is regarding, with the case's state and resolution time when it is a case of the
    snapshot; ``row``: the email's label in ``incoming`` (the evaluation indexes it by row number)."""
    rows = incoming[["activityid", "regardingobjectid", "regardingobjectid_type", "createdon"]].dropna(
        subset=["regardingobjectid"])
    rows = rows.assign(row=rows.index)
    cases = snapshot.table("incidents")[["incidentid", "statecode", "deactivatedon"]]
    rows = rows.merge(cases, left_on="regardingobjectid", right_on="incidentid", how="left")
    rows = rows.merge(_resolution_times(snapshot), left_on="regardingobjectid", right_on="case", how="left")
    is_case = (rows["regardingobjectid_type"] == "incident").fillna(False) | rows["incidentid"].notna()
    resolved = rows["resolved"]
    resolved_by = pd.Series(pd.NA, index=rows.index, dtype="str")
    resolved_by = resolved_by.mask(resolved.notna(), "a completed case resolution").mask(
        rows["deactivatedon"].notna(), "deactivatedon")
    return pd.DataFrame({
        "activityid": rows["activityid"], "record_id": rows["regardingobjectid"],
        "record_type": rows["regardingobjectid_type"].where(~is_case, "incident"),
        "case_state": rows["statecode"], "in_snapshot": rows["incidentid"].notna(),
        "deactivatedon": rows["deactivatedon"].fillna(resolved), "resolved_by": resolved_by,
        "received": rows["createdon"], "row": rows["row"],
    })


def _resolution_times(snapshot: Snapshot) -> pd.DataFrame:
    """When each case (``case``) was resolved by its newest completed case resolution (an optional table)."""
    resolutions = snapshot.table("incidentresolutions")
    completed = resolutions[(resolutions["statecode"] == COMPLETED).fillna(False).astype(bool)]
    newest = completed.dropna(subset=["incidentid"]).groupby("incidentid", as_index=False)["createdon"].max()
    return newest.rename(columns={"incidentid": "case", "createdon": "resolved"})


def threaded(context: Context) -> pd.DataFrame:
    """The regarding rows of replies correlation left on a case that is active, or whose state the snapshot does
    not have (absent, or empty): counted as converted, as designed."""
    regarding = context.regarding
    on_case = regarding[(regarding["record_type"] == "incident").fillna(False)
                        & ((regarding["case_state"] == 0).fillna(False) | regarding["case_state"].isna())]
    return on_case[isin(on_case["activityid"], context.replies["activityid"])]


THREADED = ("A reply regarding an active case: correlation threaded it into that case, as designed (counted as "
            "converted).")
NOT_IN_SNAPSHOT = ("A reply regarding case {case}: the case is not in the snapshot: its state was not checked "
                   "(counted as converted and threaded, as correlation put it on that case).")
STATE_EMPTY = ("A reply regarding case {case}: the case's state is empty in the snapshot: its state was not checked "
               "(counted as converted and threaded, as correlation put it on that case).")


def threaded_notes(rows: pd.DataFrame) -> pd.DataFrame:
    """The note of each threaded reply (``threaded`` rows): threaded into an active case, or a case unchecked."""
    rows = rows.drop_duplicates("activityid")
    case = rows["record_id"].astype("str")
    absent = NOT_IN_SNAPSHOT.split("{case}")
    empty = STATE_EMPTY.split("{case}")
    note = pd.Series(THREADED, index=rows.index, dtype="str")
    note = note.where(rows["case_state"].notna(), (empty[0] + case + empty[1]))
    note = note.where(rows["in_snapshot"].astype(bool), absent[0] + case + absent[1])
    return pd.DataFrame({"activityid": rows["activityid"].values, "note": note.values})


def detect(context: Context) -> pd.DataFrame:
    regarding = context.regarding[isin(context.regarding["activityid"], context.replies["activityid"])]
    is_case = (regarding["record_type"] == "incident").fillna(False).astype(bool)
    case_rows, kinds = _closed_case(context, regarding[is_case])
    other = regarding[~is_case]
    kinds = pd.concat([kinds, pd.Series(BY_DESIGN, index=other["activityid"].values, dtype="str")])
    links = context.replies[isin(context.replies["activityid"], kinds.index)]
    what = ("a " + other["record_type"] + " record").astype("str").fillna("a record that is no case of the snapshot")
    parts = [links.assign(kind=links["activityid"].map(kinds.to_dict())), case_rows,
             rows(other, OTHER_RECORD, {"what": what, "record": other["record_id"]}, queue=None).assign(kind=BY_DESIGN)]
    if context.has("activitymonitors"):
        connected = monitor_evidence(monitor_rows(context, reasons=CONNECTED_REASONS), MONITOR)
        parts.append(connected.assign(queue=pd.NA, kind=BY_DESIGN))  # email-wide, like the links
    return pd.concat([part for part in parts if not part.empty] or [empty_rows()], ignore_index=True)


evidence_rows = rows  # the module's frames are called ``rows`` below


def _closed_case(context: Context, cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Evidence for replies regarding a case that is not active, and each email's kind."""
    expected = context.targets[context.targets["expected"]][["activityid", "queueid"]]
    rules = expected.merge(context.active_rules[["queueid", "name", "checkifresolved", "resolvedsince"]],
                           on="queueid")
    rows = cases.merge(rules, on="activityid", how="left")
    wait = rows["resolvedsince"].fillna(0).astype("Float64")
    elapsed = ((rows["received"] - rows["deactivatedon"]).dt.total_seconds() / 60).round().astype("Float64")
    waits = (rows["checkifresolved"] == True).fillna(False).astype(bool)  # noqa: E712
    passed = (elapsed >= wait).fillna(False).astype(bool)
    fault = waits & passed
    kinds = fault.groupby(rows["activityid"].values).any().map({True: FAULT, False: BY_DESIGN}).astype("str")
    values = {"case": _case_sentence(rows), "rule": _rule_sentence(rows, waits, passed, wait, elapsed),
              "case_id": rows["record_id"], "wait_minutes": wait.astype("Int64").astype("str"),
              "elapsed_minutes": elapsed.astype("Int64").astype("str")}
    return evidence_rows(rows, CLOSED_CASE, values, queue=None).assign(
        kind=rows["activityid"].map(kinds.to_dict()).values), kinds


def _case_sentence(rows: pd.DataFrame) -> pd.Series:
    case = "it is regarding case " + rows["record_id"]
    when = (" on " + rows["deactivatedon"].dt.strftime("%Y-%m-%d %H:%M") + " UTC").fillna(
        ", but the case's resolution time is empty (no deactivatedon, no completed case resolution)")
    by = (" (from " + rows["resolved_by"] + ")").where(rows["resolved_by"] != "deactivatedon", "").fillna("")
    state = rows["case_state"].map(CASE_STATE).fillna("in state " + rows["case_state"].astype("str"))
    cancelled = pd.Series("", index=rows.index, dtype="str").where(
        ~(rows["case_state"] == 2).fillna(False).astype(bool),
        "; a cancelled case is judged like a resolved one (our inference)")
    return case + ", " + state + when + by + cancelled


def _rule_sentence(rows: pd.DataFrame, waits: pd.Series, passed: pd.Series, wait: pd.Series,
                   elapsed: pd.Series) -> pd.Series:
    rule = "rule " + quoted(rows["name"])
    minutes = wait.astype("Int64").astype("str")
    after = elapsed.astype("Int64").astype("str")
    sentence = pd.Series(rule + " does not wait for resolved cases (checkifresolved = false): a reply to a "
                         "resolved case opens no new case unless 'Wait for a specific amount of time after the "
                         "connected case has been resolved' is on", index=rows.index, dtype="str")
    sentence = sentence.where(rows["checkifresolved"].notna(), rule + " setting checkifresolved was not exported")
    within = (rule + " waits " + minutes + " minutes after a case is resolved (resolvedsince) and the email "
              "arrived " + after + " minutes after: no new case yet, by design")
    unknown_time = rule + " waits after resolution, but the case's resolution time is empty: the wait is unchecked"
    before = ("the email arrived before the case was resolved, while it was still active: it was threaded into it, "
              "by design")
    expected = (rule + " creates a new case for a reply more than " + minutes + " minutes after the case was "
                "resolved (checkifresolved = true) and the email arrived " + after + " minutes after: a new "
                "case was expected")
    sentence = sentence.where(~waits, unknown_time.where(rows["deactivatedon"].isna(), within.where(~passed,
                                                                                                      expected)))
    sentence = sentence.where(rows["name"].notna(), "no target queue has an active rule that could open a new case")
    return sentence.where(~(elapsed < 0).fillna(False).astype(bool), before)


def uncorrelated(context: Context) -> pd.DataFrame:
    """Notes for emails that match a tracked email but have no Regarding: correlation did not happen."""
    links = context.replies[~isin(context.replies["activityid"], context.regarding["activityid"])]
    links = links.drop_duplicates("activityid")
    return pd.DataFrame({"activityid": links["activityid"].values, "note": (
        links["text"] + ", but the email has no Regarding: correlation did not connect it, so the match "
        "explains nothing and the email is diagnosed by the other causes").values})


def _in_reply_to(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    emails = snapshot.table("emails")
    tracked = emails[["activityid", "messageid_key", "subject", "regardingobjectid",
                      "regardingobjectid_type"]].dropna(subset=["messageid_key"])
    replies = incoming[["activityid", "inreplyto", "inreplyto_key"]].dropna(subset=["inreplyto_key"])
    matched = replies.merge(tracked, left_on="inreplyto_key", right_on="messageid_key", suffixes=("", "_tracked"))
    matched = matched[matched["activityid"] != matched["activityid_tracked"]]
    case = ("case " + matched["regardingobjectid"]).where(matched["regardingobjectid_type"] == "incident")
    regarding = (", regarding " + case).fillna("")
    return rows(matched, IN_REPLY_TO, {"message_id": matched["inreplyto"].str.strip(),
                                       "subject": matched["subject"].astype("str").fillna("(no subject)"),
                                       "tracked": matched["activityid_tracked"], "regarding": regarding}, queue=None)


def _correlation(incoming: pd.DataFrame) -> pd.DataFrame:
    correlated = incoming.loc[incoming["correlationmethod"].isin(list(CORRELATION)).fillna(False).astype(bool),
                              ["activityid", "correlationmethod"]]
    return rows(correlated, CORRELATED, {"method": correlated["correlationmethod"].map(CORRELATION).astype("str"),
                                         "number": correlated["correlationmethod"].astype("str")}, queue=None)


CAUSE = Cause(
    id="reply-to-tracked-email",
    order=4,
    seed_number=7,
    kind="by-design",
    title="The email is a reply to the tracked email",
    stage="Not a reply to a tracked email",
    seed_text=("If the incoming email is in response to an already tracked email associated with a case, no "
               "new case will be created. If the InReplyTo value matches the MessageId of an email that's "
               "already in Dynamics 365, server-side synchronization correlates the new email with the "
               "existing one, and the \"Automatic record creation and Update\" rule skips case creation for "
               "the new email."),
    detection=("The email is a reply (it answers another email of the snapshot, or server-side sync matched it "
               "to an earlier conversation, or it has a parent or correlated activity) regarding a resolved or "
               "cancelled case or another record; or the rule's activity monitor says a record is already "
               "connected. This is by design, except for a reply to a resolved case when the rule is set to "
               "create a new case once the case has been resolved for a while and that wait had passed: then a "
               "new case was expected. A reply regarding an active case is added to it and counts as converted; "
               "a reply regarding nothing was not matched and is diagnosed by the other causes."),
    remediation=("By design, nothing is broken: the reply is on the earlier record's timeline. If replies to "
                 "resolved cases must open new cases, turn on the rule's 'Wait for a specific amount of time "
                 "after the connected case has been resolved' and set the wait. When a new case was expected "
                 "(the wait had passed), look at the activity monitor and the rule's flow run history for this "
                 "email; correlation itself is set in System Settings > Email (tracking token, conversation, "
                 "smart matching)."),
    doc_url=docs.LEARN_ARC,
    color="#999999",
    tables=("emails", "incidents", "convertrules", "activitymonitors"),
    requires=("emails",),
    codes=CODES,
    detect=detect,
    notes=uncorrelated,
)
