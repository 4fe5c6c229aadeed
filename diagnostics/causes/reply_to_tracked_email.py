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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import docs
from ..evidence import SENDERS, Code, empty_rows, render, rows
from ..normalize import arrow_text, utc_minutes
from ..snapshot import Snapshot
from .base import Cause, Context, monitor_code, monitor_evidence, monitor_rows, quoted
from .keys import NONE, email_flags, flagged, join_positions, key_positions, labels, spread, taken

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


LINKS = (  # the email field each kind of link rests on, in the order of the evidence
    ("inreplyto", IN_REPLY_TO), ("correlationmethod", CORRELATED), ("parentactivityid", LINKED),
    ("correlatedactivityid", LINKED))
LINKED_WHAT = {"parentactivityid": "parent activity", "correlatedactivityid": "correlated activity"}


def reply_links(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """Why each incoming email is a reply, one row per link found: the email (``activityid``, ``row``), the field
    the link rests on (``field``) and the tracked email it answers (``tracked``: its row in the emails table, else
    -1). Only links, no sentences: most incoming replies are converted, so ``link_evidence`` renders the evidence
    of the pending ones alone."""
    correlated = incoming["correlationmethod"].isin(list(CORRELATION)).fillna(False).to_numpy(dtype=bool)
    parts = [_in_reply_to(snapshot, incoming), _link(incoming, correlated, "correlationmethod")]
    parts += [_link(incoming, incoming[field].notna().to_numpy(), field) for field in LINKED_WHAT]
    return pd.concat(parts, ignore_index=True)


def _link(incoming: pd.DataFrame, mask: np.ndarray, field: str) -> pd.DataFrame:
    return _links(incoming["activityid"].array[mask], incoming.index[mask], field, NONE)


def _links(activityids: pd.api.extensions.ExtensionArray, email_rows: pd.Index | np.ndarray, field: str,
           tracked: np.ndarray | int) -> pd.DataFrame:
    return pd.DataFrame({"activityid": activityids, "row": np.asarray(email_rows, dtype=np.int64), "field": field,
                         "tracked": tracked})


def _in_reply_to(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """Links of replies whose In-Reply-To is the Message-ID of another email of the snapshot."""
    emails = snapshot.table("emails")
    replies, tracked = join_positions(incoming["inreplyto_key"], emails["messageid_key"])
    activityids = arrow_text(incoming["activityid"]).take(replies)
    other = pc.not_equal(activityids, arrow_text(emails["activityid"]).take(tracked)).to_numpy(zero_copy_only=False)
    return _links(pd.array(activityids.filter(other), dtype="str"), incoming.index[replies[other]], "inreplyto",
                  tracked[other])


def link_evidence(context: Context, links: pd.DataFrame) -> pd.DataFrame:
    """The evidence rows of these reply links (``reply_links`` rows), in their order."""
    parts = []
    for mine, code, values, record in _link_values(context, links):
        if record is None:
            parts.append(rows(links[mine], code, values, queue=None))
        else:  # rendered once per distinct value, given to each link
            distinct = rows(pd.DataFrame(index=pd.RangeIndex(int(record.max()) + 1)), code, values, queue=None)
            parts.append(spread(distinct, record, links[mine], queue=None))
    found = pd.concat([part for part in parts if not part.empty] or [empty_rows()])
    return found if found.index.equals(links.index) else found.reindex(links.index)


def _link_texts(context: Context, links: pd.DataFrame) -> pd.Series:
    """The evidence sentence of each of these links, in their order (a note needs the words, not the values)."""
    texts = []
    for mine, code, values, record in _link_values(context, links):
        if record is None:
            texts.append(render(code.template, values, links.index[mine]))
        else:
            distinct = render(code.template, values, pd.RangeIndex(int(record.max()) + 1))
            texts.append(pd.Series(distinct.array.take(record), index=links.index[mine]))
    return pd.concat(texts).reindex(links.index) if texts else pd.Series([], dtype="str")


def _link_values(context: Context, links: pd.DataFrame) -> list[tuple[np.ndarray, Code, dict, np.ndarray | None]]:
    """For each kind of link: which links are of it, their code, the values they cite (taken from the replies
    and the tracked emails by row number) and, when the values are those of a few distinct records rather than
    of each link, each link's record."""
    emails = context.snapshot.table("emails")
    found = []
    for name, code in LINKS:
        mine = (links["field"] == name).to_numpy(dtype=bool)
        if not mine.any():
            continue
        reply = links["row"].to_numpy()[mine]
        record = None
        if name == "inreplyto":
            tracked = links["tracked"].to_numpy()[mine]
            case = ("case " + taken(emails["regardingobjectid"], tracked)).where(
                taken(emails["regardingobjectid_type"], tracked) == "incident")
            values = {"message_id": taken(emails["inreplyto"], reply).str.strip(),
                      "subject": taken(emails["subject"], tracked).astype("str").fillna("(no subject)"),
                      "tracked": taken(emails["activityid"], tracked), "regarding": (", regarding " + case).fillna("")}
        elif name == "correlationmethod":  # four methods: their sentences are rendered once each
            record, methods = pd.factorize(taken(emails["correlationmethod"], reply))
            method = pd.Series(methods)
            values = {"method": method.map(CORRELATION).astype("str"), "number": method.astype("str")}
        else:
            values = {"what": LINKED_WHAT[name], "linked": taken(emails[name], reply)}
        found.append((mine, code, values, record))
    return found


def regarding_records(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """What each incoming email is regarding, with the case's state and resolution time when it is a case of the
    snapshot; ``row``: the email's label in ``incoming`` (the evaluation indexes it by row number)."""
    records = incoming.loc[incoming["regardingobjectid"].notna().to_numpy(),
                           ["activityid", "regardingobjectid", "regardingobjectid_type", "createdon"]]
    cases = snapshot.table("incidents")
    case = key_positions(records["regardingobjectid"], cases["incidentid"])
    index = pd.RangeIndex(len(case))
    times = _resolution_times(snapshot)
    resolved = taken(times["resolved"], key_positions(records["regardingobjectid"], times["case"]))
    deactivated = taken(cases["deactivatedon"], case)
    in_snapshot = case != NONE
    kind = records["regardingobjectid_type"].set_axis(index)
    resolved_by = np.where(deactivated.notna().to_numpy(), 1, np.where(resolved.notna().to_numpy(), 0, NONE))
    return pd.DataFrame({
        "activityid": records["activityid"].array, "record_id": records["regardingobjectid"].array,
        "record_type": kind.where(~((kind == "incident").fillna(False).to_numpy() | in_snapshot), "incident"),
        "case_state": taken(cases["statecode"], case), "in_snapshot": in_snapshot,
        "deactivatedon": deactivated.fillna(resolved),
        "resolved_by": taken(RESOLVED_BY, resolved_by).array,
        "received": records["createdon"].array, "row": records.index.to_numpy(),
    }, index=index)


RESOLVED_BY = pd.Series(["a completed case resolution", "deactivatedon"], dtype="str")  # where the time comes from


def _resolution_times(snapshot: Snapshot) -> pd.DataFrame:
    """When each case (``case``) was resolved by its newest completed case resolution (an optional table)."""
    resolutions = snapshot.table("incidentresolutions")
    completed = resolutions[(resolutions["statecode"] == COMPLETED).fillna(False).astype(bool)]
    completed = completed.dropna(subset=["incidentid"])
    newest = completed.groupby("incidentid", as_index=False, sort=False)["createdon"].max()  # looked up: unsorted
    return newest.rename(columns={"incidentid": "case", "createdon": "resolved"})


def threaded(context: Context) -> pd.DataFrame:
    """The regarding rows of replies correlation left on a case that is active, or whose state the snapshot does
    not have (absent, or empty): counted as converted, as designed."""
    regarding = context.regarding
    on_case = ((regarding["record_type"] == "incident").fillna(False)
               & ((regarding["case_state"] == 0).fillna(False) | regarding["case_state"].isna())).to_numpy(dtype=bool)
    return regarding[on_case & flagged(regarding["row"], email_flags(context, context.replies["row"]))]


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
    replies = context.replies
    regarding = context.regarding[flagged(context.regarding["row"], email_flags(context, replies["row"]))]
    is_case = (regarding["record_type"] == "incident").fillna(False).to_numpy(dtype=bool)
    case_rows, faults = _closed_case(context, regarding[is_case])
    other = regarding[~is_case]
    links = replies[flagged(replies["row"], email_flags(context, regarding["row"]))]  # replies regarding a record
    what = ("a " + other["record_type"] + " record").astype("str").fillna("a record that is no case of the snapshot")
    parts = [link_evidence(context, links).assign(kind=_kinds(links, faults)),
             case_rows,
             rows(other, OTHER_RECORD, {"what": what, "record": other["record_id"]}, queue=None).assign(kind=BY_DESIGN)]
    if context.has("activitymonitors"):
        connected = monitor_evidence(monitor_rows(context, reasons=CONNECTED_REASONS), MONITOR)
        parts.append(connected.assign(queue=pd.NA, kind=BY_DESIGN))  # email-wide, like the links
    return pd.concat([part for part in parts if not part.empty] or [empty_rows()], ignore_index=True)


evidence_rows = rows  # the module's frames are called ``rows`` below


def _closed_case(context: Context, cases: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Evidence for replies regarding a case that is not active, and the emails that makes a fault (flags by row:
    one fault among the email's rules is enough)."""
    rows = _with_rules(context, cases)
    wait = rows["resolvedsince"].fillna(0).astype("Float64")
    elapsed = ((rows["received"] - rows["deactivatedon"]).dt.total_seconds() / 60).round().astype("Float64")
    waits = (rows["checkifresolved"] == True).fillna(False).astype(bool)  # noqa: E712
    passed = (elapsed >= wait).fillna(False).astype(bool)
    faults = email_flags(context, rows["row"].to_numpy()[(waits & passed).to_numpy()])
    values = {"case": _case_sentence(rows), "rule": _rule_sentence(rows, waits, passed, wait, elapsed),
              "case_id": rows["record_id"], "wait_minutes": wait.astype("Int64").astype("str"),
              "elapsed_minutes": elapsed.astype("Int64").astype("str")}
    return evidence_rows(rows, CLOSED_CASE, values, queue=None).assign(kind=_kinds(rows, faults)), faults


def _kinds(frame: pd.DataFrame, faults: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Each row's kind: a fault where its email is among ``faults`` (flags by row number), else by design."""
    return labels([BY_DESIGN, FAULT], flagged(frame["row"], faults))


def _with_rules(context: Context, cases: pd.DataFrame) -> pd.DataFrame:
    """Each case reply once per active rule of its expected queues (``name``, ``checkifresolved``,
    ``resolvedsince``), or once with none: joined by row number and queue positions, not by ids."""
    targets = context.targets
    expected = targets["expected"].to_numpy(dtype=bool)
    rules = context.active_rules
    target, rule = join_positions(targets["queueid"][expected], rules["queueid"])
    case, match = join_positions(cases["row"], pd.Series(targets["row"].to_numpy()[expected][target]), how="left")
    rule = np.append(rule, NONE)[match]  # NONE where the case has no rule
    found = cases.iloc[case].reset_index(drop=True)
    return found.assign(**{column: taken(rules[column], rule)
                           for column in ("name", "checkifresolved", "resolvedsince")})


def _case_sentence(rows: pd.DataFrame) -> pd.Series:
    """The case, its state and when it was resolved; the state's words are built once per state, and the pieces
    joined row by row in one pass."""
    when = (" on " + utc_minutes(rows["deactivatedon"]) + " UTC").fillna(
        ", but the case's resolution time is empty (no deactivatedon, no completed case resolution)")
    by = (" (from " + rows["resolved_by"] + ")").where(rows["resolved_by"] != "deactivatedon", "").fillna("")
    state_of, states = pd.factorize(rows["case_state"], use_na_sentinel=False)
    states = pd.Series(states)
    state = states.map(CASE_STATE).fillna("in state " + states.astype("str")).astype("str").array.take(state_of)
    cancelled = labels(["", "; a cancelled case is judged like a resolved one (our inference)"],
                       (rows["case_state"] == 2).fillna(False).to_numpy(dtype=bool))
    return _joined(rows.index, "it is regarding case ", rows["record_id"], ", ", state, when, by, cancelled)


def _joined(index: pd.Index, *pieces: str | pd.Series | pd.api.extensions.ExtensionArray | np.ndarray) -> pd.Series:
    """The pieces joined row by row in one Arrow pass (missing where a piece is), as a chain of ``+`` would give
    without a column per step."""
    arrays = [pa.scalar(piece, pa.large_string()) if isinstance(piece, str) else
              pa.array(pd.Series(piece, copy=False).astype("str").array, from_pandas=True).cast(pa.large_string())
              for piece in pieces]
    joined = pc.binary_join_element_wise(*arrays, pa.scalar("", pa.large_string()))
    return pd.Series(pd.array(joined, dtype="str"), index=index)


NO_WAIT = (" does not wait for resolved cases (checkifresolved = false): a reply to a resolved case opens no new case "
           "unless 'Wait for a specific amount of time after the connected case has been resolved' is on")
BEFORE = "the email arrived before the case was resolved, while it was still active: it was threaded into it, by design"
NO_RULE = "no target queue has an active rule that could open a new case"


def _rule_sentence(rows: pd.DataFrame, waits: pd.Series, passed: pd.Series, wait: pd.Series,
                   elapsed: pd.Series) -> pd.Series:
    """What the rule's wait after resolution says about the reply: each row's sentence is built in the one branch it
    takes (the columns of a branch for its rows only)."""
    waits, passed = waits.to_numpy(dtype=bool), passed.to_numpy(dtype=bool)
    branches = [(elapsed < 0).fillna(False).to_numpy(dtype=bool), rows["name"].isna().to_numpy(),
                waits & rows["deactivatedon"].isna().to_numpy(), waits & ~passed, waits,
                rows["checkifresolved"].isna().to_numpy()]
    branch = np.select(branches, range(len(branches)), default=len(branches))
    sentence = np.empty(len(rows), dtype=object)
    for number, build in enumerate(_RULE_SENTENCES):
        mine = branch == number
        if mine.any():
            rule = "rule " + quoted(rows["name"][mine])
            minutes, after = wait[mine].astype("Int64").astype("str"), elapsed[mine].astype("Int64").astype("str")
            built = build(rule, minutes, after)
            sentence[mine] = built if isinstance(built, str) else built.to_numpy(dtype=object, na_value=np.nan)
    return pd.Series(sentence, index=rows.index, dtype="str")


_RULE_SENTENCES = (  # (rule, minutes waited, minutes after) -> sentence, in the order of the branches above
    lambda rule, minutes, after: BEFORE,
    lambda rule, minutes, after: NO_RULE,
    lambda rule, minutes, after: rule + " waits after resolution, but the case's resolution time is empty: the wait "
                                        "is unchecked",
    lambda rule, minutes, after: (rule + " waits " + minutes + " minutes after a case is resolved (resolvedsince) and "
                                  "the email arrived " + after + " minutes after: no new case yet, by design"),
    lambda rule, minutes, after: (rule + " creates a new case for a reply more than " + minutes + " minutes after the "
                                  "case was resolved (checkifresolved = true) and the email arrived " + after
                                  + " minutes after: a new case was expected"),
    lambda rule, minutes, after: rule + " setting checkifresolved was not exported",
    lambda rule, minutes, after: rule + NO_WAIT,
)


def uncorrelated(context: Context) -> pd.DataFrame:
    """Notes for emails that match a tracked email but have no Regarding: correlation did not happen."""
    links = context.replies
    links = links[~flagged(links["row"], email_flags(context, context.regarding["row"]))]
    links = links.iloc[np.sort(np.unique(links["row"].to_numpy(), return_index=True)[1])]  # each email's first
    text = _link_texts(context, links)
    return pd.DataFrame({"activityid": links["activityid"].values, "note": (
        text + ", but the email has no Regarding: correlation did not connect it, so the match "
        "explains nothing and the email is diagnosed by the other causes").values})


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
