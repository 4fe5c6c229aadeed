"""Per-email evaluation of a snapshot, as the contract defines it.

Everything works on whole columns: the target queues, the active rules, the activity monitor rows
and the customer records matching each sender are joined once into a ``Context``; each cause then
finds its evidence with merges and masks, and the results are gathered into a ``Report``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .causes import CAUSES, ORDER, Cause
from .causes.base import Context
from .causes.contact_creation_failed import SETTING
from .causes.email_not_synced import queue_mailboxes
from .causes.keys import join_positions
from .causes.reply_to_tracked_email import BY_DESIGN, FAULT, regarding_records, reply_links, threaded_notes
from .causes.reply_to_tracked_email import threaded as threaded_replies
from .email_rows import EmailRows
from .evidence import ROW_COLUMNS, SEVERITY_RANK, empty_rows, finding_dicts
from .normalize import address_column, arrow_text, isin, run_starts
from .report import CAUSE_COLUMNS, EVIDENCE_COLUMNS, Report
from .snapshot import Snapshot

TO, CC, RELATED = 2, 3, 13
INCOMING, OUTGOING, UNKNOWN = "incoming", "outgoing", "unknown"
# Without directioncode, statuscode decides (our inference): 4 Received; Draft, Sent, Pending Send, Sending, Failed.
DIRECTION_BY_STATUS = {4: INCOMING, 1: OUTGOING, 3: OUTGOING, 6: OUTGOING, 7: OUTGOING, 8: OUTGOING}
STATUS_LABELS = {1: "(Draft)", 2: "(Completed)", 3: "(Sent)", 4: "(Received)", 5: "(Canceled)", 6: "(Pending Send)",
                 7: "(Sending)", 8: "(Failed)"}
NOT_FOR_A_QUEUE = ("No queue is among its To/Cc recipients, no queue holds an item for it and neither its receiving "
                   "mailbox nor its accepting entity is a queue's: mail tracked by a user's own mailbox, out of "
                   "scope for email-to-case.")
UNEXPLAINED = ("Nothing in the snapshot explains it: look at the flow run history of the rule's 'ARC: …' "
               "flows (or its failed workflows), and at plug-ins registered on email or case creation.")

Progress = Callable[[str, int, int], None]
# Columns no cause reads from the incoming emails (the report takes them from the emails table): not copied.
NOT_READ_FROM_INCOMING = ["subject", "sender", "messageid", "directioncode", "statuscode"]
ADDRESS_COLUMNS = ("emailaddress1", "emailaddress2", "emailaddress3")  # of contacts and accounts


def diagnose(snapshot: Snapshot, progress: Progress | None = None) -> Report:
    """Evaluate every email of the snapshot."""
    emails = snapshot.tables["emails"]
    rows = EmailRows(emails["activityid"])
    direction = email_direction(emails)
    is_incoming = (direction == INCOMING).to_numpy()
    incoming = emails.drop(columns=NOT_READ_FROM_INCOMING)[is_incoming].set_axis(np.flatnonzero(is_incoming))
    party_rows = rows.of(snapshot.table("activityparties")["activityid"])  # each party's email: asked twice
    context = build_context(snapshot, incoming, rows, party_rows)
    target_rows = context.targets["row"].to_numpy()
    in_scope = is_incoming & rows.mark(target_rows)  # the other incoming emails are for no queue
    threads = threaded_replies(context)
    converted, threaded = _converted(snapshot, context, rows, party_rows, threads, in_scope)
    thread_notes = threaded_notes(threads[threaded[threads["row"].to_numpy()]])
    email_queues = _queue_lists(context.targets, rows.count)
    context.reached_queues = context.targets["queueid"].unique()
    _restrict(context, in_scope & ~converted)
    found, unchecked = [], []
    for step, cause in enumerate(CAUSES, start=1):
        if progress:
            progress(f"evaluating {cause.id}", step, len(CAUSES))
        missing = snapshot.missing(cause.tables)
        if not snapshot.missing(cause.requires):
            found.append(_tagged(cause.detect(context), cause))
        if missing and cause.per_email:
            unchecked.append(pd.DataFrame({"activityid": context.pending["activityid"].values,
                                           "cause": cause.id, "missing": [missing] * len(context.pending)}))
    causes, evidence = _gather(found, context)
    verdicts = _verdicts(emails, rows, direction, in_scope, converted, threaded, causes, email_queues)
    return Report(
        tables=snapshot.counts,
        missing_tables=snapshot.missing(schema.TABLES),
        emails=verdicts,
        causes=causes,
        evidence=evidence,
        notes=_notes(context, emails, direction, verdicts, thread_notes),
        unchecked=_unchecked(unchecked, causes),
        findings=_findings(context),
        queues=_queue_summary(context),
        source=snapshot.source,
    )


def email_direction(emails: pd.DataFrame) -> pd.Series:
    """incoming / outgoing from ``directioncode``; without it from ``statuscode`` (our inference), else unknown."""
    status = emails["statuscode"].map(DIRECTION_BY_STATUS).astype("str")
    direction = emails["directioncode"].map({True: OUTGOING, False: INCOMING}).astype("str")
    return direction.fillna(status).fillna(UNKNOWN)


def build_context(snapshot: Snapshot, incoming: pd.DataFrame, rows: EmailRows, party_rows: np.ndarray) -> Context:
    """What decides scope and conversion, for every incoming email; ``_restrict`` narrows it to the pending ones."""
    queues = snapshot.table("queues")
    recipients = _recipients(snapshot, incoming, rows, party_rows)
    rules = snapshot.table("convertrules")
    email_rules = rules["sourcetypecode"].fillna(2) == 2
    active_rules = rules[(rules["statecode"] == 1).fillna(False).astype(bool) & email_rules.astype(bool)]
    return Context(
        snapshot=snapshot,
        pending=incoming,
        targets=_expected(_targets(snapshot, incoming, rows, queues, recipients), active_rules),
        queues=queues,
        active_rules=active_rules[["convertruleid", "name", "queueid", "allowunknownsender", "ownerid",
                                   "workflowid", "checkifresolved", "resolvedsince"]],
        recipients=recipients,
        replies=reply_links(snapshot, incoming),  # carries each email's row
        regarding=regarding_records(snapshot, incoming),
        settings={SETTING: _setting(snapshot, SETTING)},
    )


def _recipients(snapshot: Snapshot, incoming: pd.DataFrame, rows: EmailRows, party_rows: np.ndarray) -> pd.DataFrame:
    """To/Cc recipients: activity parties with mask 2 or 3, else the torecipients text; ``row``: the email's."""
    parties = snapshot.table("activityparties")
    is_incoming = rows.mark(incoming.index.to_numpy())
    listed = (parties["participationtypemask"].isin([TO, CC]).fillna(False).to_numpy(dtype=bool)
              & rows.among(party_rows, is_incoming))
    from_parties = pd.DataFrame({"activityid": parties["activityid"][listed], "row": party_rows[listed],
                                 "address": parties["address"][listed], "partyid": parties["partyid"][listed],
                                 "partyid_type": parties["partyid_type"][listed]})
    without = incoming[~rows.mark(party_rows)[incoming.index.to_numpy()]]
    text = without[["activityid", "torecipients"]].dropna(subset=["torecipients"])
    text = text.assign(address=text["torecipients"].str.split(";")).explode("address")
    no_party = pd.Series(pd.NA, index=text.index, dtype="str")
    from_text = pd.DataFrame({"activityid": text["activityid"], "row": text.index.to_numpy(),
                              "address": address_column(text["address"]), "partyid": no_party,
                              "partyid_type": no_party})
    return pd.concat([from_parties, from_text], ignore_index=True).dropna(subset=["address", "partyid"],
                                                                           how="all")


REACHED_BY = ["in_recipients", "has_item", "has_active_item", "via_mailbox", "accepted"]


def _targets(snapshot: Snapshot, incoming: pd.DataFrame, rows: EmailRows, queues: pd.DataFrame,
             recipients: pd.DataFrame) -> pd.DataFrame:
    """One row per (email, target queue) with how the queue was reached; ``row``: the email's. Each way takes
    only the columns it needs: filtering a whole frame copies every text column."""
    is_queue = ((recipients["partyid_type"] == "queue").fillna(False).to_numpy(dtype=bool)
                | isin(recipients["partyid"], queues["queueid"]).to_numpy())
    address_at, queue_at = join_positions(recipients["address"], queues["address"])  # a missing one matches none
    items = snapshot.table("queueitems")
    item_rows = rows.of(items["objectid"])
    held = np.flatnonzero(rows.among(item_rows, rows.mark(incoming.index.to_numpy())))
    mailboxes = queue_mailboxes(snapshot, queues)
    received_at, mailbox_at = join_positions(incoming["receivingmailboxid"], mailboxes["mailboxid"])
    accepted = ((incoming["acceptingentityid_type"] == "queue").fillna(False).to_numpy(dtype=bool)
                | isin(incoming["acceptingentityid"], queues["queueid"]).to_numpy())
    return _one_per_queue(rows, pd.concat([
        _reached(recipients["row"][is_queue], recipients["partyid"][is_queue], in_recipients=True),
        _reached(recipients["row"].to_numpy()[address_at], queues["queueid"].take(queue_at), in_recipients=True),
        _reached(item_rows[held], items["queueid"].take(held), has_item=True,
                 has_active_item=(items["statecode"].take(held) == 0).fillna(False).to_numpy(dtype=bool)),
        _reached(incoming.index.to_numpy()[received_at], mailboxes["queueid"].take(mailbox_at), via_mailbox=True),
        _reached(incoming.index[accepted], incoming["acceptingentityid"][accepted], accepted=True),
    ], ignore_index=True))


def _reached(email_rows: pd.Series | np.ndarray, queueids: pd.Series, **how: bool | np.ndarray) -> pd.DataFrame:
    """Rows of the targets frame: these emails (row numbers) reach these queues in the ways given (the others
    False)."""
    count = len(queueids)
    flags = {name: np.broadcast_to(how.get(name, False), count).astype(bool) for name in REACHED_BY}
    return pd.DataFrame({"queueid": queueids.array, "row": np.asarray(email_rows, dtype=np.int64), **flags})


def _one_per_queue(rows: EmailRows, reached: pd.DataFrame) -> pd.DataFrame:
    """One row per (email, queue), in order of first appearance, each way it was reached combined; the email's
    id taken by its row number."""
    reached = reached[reached["queueid"].notna().to_numpy()]
    queue_codes, queue_ids = pd.factorize(reached["queueid"])
    pairs = pd.factorize(reached["row"].to_numpy() * max(len(queue_ids), 1) + queue_codes)[0]
    first = np.unique(pairs, return_index=True)[1]  # codes number pairs in order of first appearance
    email_rows = reached["row"].to_numpy()[first]
    combined = pd.DataFrame({"activityid": rows.ids(email_rows), "queueid": queue_ids.array.take(queue_codes[first]),
                             "row": email_rows})
    for way in REACHED_BY:  # reached that way by any of the pair's rows
        combined[way] = np.bincount(pairs, weights=reached[way].to_numpy(), minlength=len(first)) > 0
    return combined[["activityid", "queueid", *REACHED_BY, "row"]]


def _expected(targets: pd.DataFrame, active_rules: pd.DataFrame) -> pd.DataFrame:
    """Expected queues: the target queues with an active rule, or all of them when none has one."""
    ruled = isin(targets["queueid"], active_rules["queueid"]).to_numpy()
    any_ruled = pd.Series(ruled).groupby(targets["row"].to_numpy()).transform("any").to_numpy()
    return targets.assign(expected=ruled | ~any_ruled)


def _monitor(snapshot: Snapshot, pending: pd.DataFrame) -> pd.DataFrame:
    """Activity monitor rows of the emails; the table has no queue column on every version: the rule's queue."""
    rows = snapshot.table("activitymonitors").rename(columns={"monitoredactivityitemid": "activityid"})
    rows = rows[isin(rows["activityid"], pending["activityid"])]
    rules = snapshot.table("convertrules").set_index("convertruleid")
    return rows.assign(queueid=rows["ruleid"].map(rules["queueid"].dropna().to_dict()).astype("str"),
                       rule=rows["ruleid"].map(rules["name"].dropna().to_dict()).astype("str"))


def _senders(snapshot: Snapshot, pending: pd.DataFrame) -> pd.DataFrame:
    """Customer records (contacts, accounts) whose address is each pending email's sender address."""
    senders = pending[["activityid", "sender_address", "createdon"]].dropna(subset=["sender_address"])
    customers = pd.concat([
        _customer_addresses(snapshot, "contacts", "contact", "contactid", "fullname", senders["sender_address"]),
        _customer_addresses(snapshot, "accounts", "account", "accountid", "name", senders["sender_address"]),
    ], ignore_index=True)
    matched = senders.merge(customers, left_on="sender_address", right_on="address", suffixes=("", "_record"))
    active = (matched["statecode"].fillna(0) == 0).astype(bool)
    before = (matched["createdon_record"] <= matched["createdon"]).fillna(True).astype(bool)
    label = matched["record_type"] + " '" + matched["record_name"].fillna("(unnamed)") + "'"
    why = (label + " uses it but is inactive").where(~active, label + " uses it but was created after the "
                                                     "email (by the rule for the unknown sender)")
    return matched.assign(known=active & before, label=label, why=why.where(~(active & before)))


def _customer_addresses(snapshot: Snapshot, table: str, record_type: str, key: str, name: str,
                        senders: pd.Series) -> pd.DataFrame:
    """(record, address) for every address of a record that is among ``senders``: the others cannot match. The
    three address columns are looked up as one (one hash set of the senders)."""
    columns = ["record_type", "record_id", "record_name", "statecode", "createdon", "address"]
    if not snapshot.has(table):
        return pd.DataFrame(columns=columns)
    records = snapshot.tables[table]
    addresses = pd.concat([address_column(records[column]) for column in ADDRESS_COLUMNS], ignore_index=True)
    sending = np.flatnonzero(isin(addresses, senders).to_numpy())
    found = records.take(sending % len(records))
    return pd.DataFrame({"record_type": record_type, "record_id": found[key].array, "record_name": found[name].array,
                         "statecode": found["statecode"].array, "createdon": found["createdon"].array,
                         "address": addresses.take(sending).array}).drop_duplicates(["record_id", "address"])


def _setting(snapshot: Snapshot, name: str) -> str | None:
    """Effective value of an environment variable: the value row of its definition, else the default.

    A value row is found through its definition's id only: its own ``schemaname`` need not be the
    definition's."""
    if not snapshot.has("environmentvariabledefinitions"):
        return None
    definitions = snapshot.tables["environmentvariabledefinitions"]
    definition = definitions[definitions["schemaname"].str.lower() == name.lower()]
    if definition.empty:
        return None
    values = snapshot.table("environmentvariablevalues")
    value = values[isin(values["environmentvariabledefinitionid"],
                        definition["environmentvariabledefinitionid"])]["value"].dropna()
    if value.empty:
        value = definition["defaultvalue"].dropna()
    return None if value.empty else str(value.iloc[0])


def _converted(snapshot: Snapshot, context: Context, rows: EmailRows, party_rows: np.ndarray, threads: pd.DataFrame,
               in_scope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flags per email: converted (regarding a case, a reply only when the case is active: threaded, or with
    cases among its Related parties, as ARC's "multiple cases" leaves Regarding blank), and threaded."""
    regarding = context.regarding
    threaded = rows.mark(threads["row"].to_numpy()) & in_scope
    is_reply = rows.mark(context.replies["row"].to_numpy())
    case_rows = regarding.loc[(regarding["record_type"] == "incident").fillna(False).to_numpy(dtype=bool), "row"]
    plain = rows.mark(case_rows.to_numpy()[~is_reply[case_rows.to_numpy()]])
    parties = snapshot.table("activityparties")
    related = np.flatnonzero((parties["participationtypemask"] == RELATED).fillna(False).to_numpy(dtype=bool))
    case_party = ((parties["partyid_type"].take(related) == "incident").fillna(False).to_numpy(dtype=bool)
                  | isin(parties["partyid"].take(related), snapshot.table("incidents")["incidentid"]).to_numpy())
    with_cases = rows.mark(party_rows[related[case_party]])
    return (plain | threaded | with_cases) & in_scope, threaded


def _restrict(context: Context, pending: np.ndarray) -> None:
    """Narrow the context to the pending emails (in scope, not converted); look up their senders and activity
    monitor rows only now: a fraction of the incoming emails in a working tenant."""
    context.pending = context.pending[pending[context.pending.index.to_numpy()]]
    for name in ("targets", "recipients", "replies", "regarding"):  # each has its emails' row numbers
        frame = getattr(context, name)
        setattr(context, name, frame[pending[frame["row"].to_numpy()]])
    context.senders = _senders(context.snapshot, context.pending)
    context.monitor = _monitor(context.snapshot, context.pending)


def _queue_lists(targets: pd.DataFrame, count: int) -> pd.Series:
    """Each email's target queue ids, sorted, as a list; missing for an email without one. Emails with the same
    queues share one list object (a tenant has few sets of queues; a list per email costs 0.1 s per 200,000)."""
    rows = targets["row"].to_numpy()
    order = np.lexsort((pd.factorize(targets["queueid"], sort=True)[0], rows))
    email_rows = rows[order]
    starts = run_starts(email_rows)
    ids = arrow_text(targets["queueid"]).take(order)
    sets = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(order)], pa.int64()), ids.cast(pa.large_string()))
    keys = pc.binary_join(sets, pa.scalar("|", pa.large_string()))
    codes = pc.index_in(keys, value_set=pc.unique(keys)).to_numpy()
    firsts = np.unique(codes, return_index=True)[1]  # the first email of each set of queues
    shared = np.empty(len(firsts), dtype=object)
    for code, first in enumerate(firsts.tolist()):
        shared[code] = sets[first].as_py()
    lists = np.full(count, np.nan, dtype=object)
    lists[email_rows[starts]] = shared[codes]
    return pd.Series(lists)


def _tagged(rows: pd.DataFrame, cause: Cause) -> pd.DataFrame:
    """A cause's evidence rows with its id and order, and its default kind where a row gives none."""
    kind = rows["kind"].astype("str").fillna(cause.kind) if "kind" in rows else cause.kind
    return rows[ROW_COLUMNS].assign(cause=cause.id, kind=kind, order=cause.order)


def _gather(found: list[pd.DataFrame], context: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (email, cause, queue) with its kind, in pipeline order; and its evidence rows (``row``: the
    cause row they belong to). Sorted and de-duplicated on integer codes of the text columns."""
    rows = pd.concat([frame for frame in found if not frame.empty] or [
        empty_rows().assign(cause=pd.Series(dtype="str"), kind=pd.Series(dtype="str"), order=pd.Series(dtype=int))],
        ignore_index=True)
    email, queue = _sorted_codes(rows["activityid"]), _sorted_codes(rows["queue"])
    order = rows["order"].to_numpy(dtype=np.int64)
    repeated = pd.DataFrame({"email": email, "order": order, "queue": queue, "code": pd.factorize(rows["code"])[0],
                             "values": pd.factorize(rows["values"])[0]}).duplicated().to_numpy()
    kept = np.flatnonzero(~repeated)
    kept = kept[np.lexsort((queue[kept], order[kept], email[kept]))]  # stable: evidence keeps its order
    rows = rows.take(kept).reset_index(drop=True)
    starts = _run_starts(email[kept], order[kept], queue[kept])  # each (email, cause, queue) is one run
    is_by_design = (rows["kind"] == BY_DESIGN).fillna(False).to_numpy(dtype=bool)
    by_design = np.logical_or.reduceat(is_by_design, starts) if len(starts) else is_by_design  # one reason excuses it
    causes = rows.take(starts)[["activityid", "cause", "queue", "order"]].reset_index(drop=True)
    causes["kind"] = pd.array(np.where(by_design, BY_DESIGN, FAULT), dtype="str")
    causes["remediation"] = _remediations(causes["order"].to_numpy(dtype=np.int64), context)
    expected = context.targets.loc[context.targets["expected"], ["activityid", "queueid"]]
    on_expected = isin(causes["activityid"] + "|" + causes["queue"].fillna(""),
                       expected["activityid"] + "|" + expected["queueid"])
    causes["expected"] = (causes["queue"].isna() | on_expected).astype(bool)
    run = np.zeros(len(rows), dtype=np.int64)
    run[starts[1:]] = 1
    evidence = rows[EVIDENCE_COLUMNS[1:]].assign(row=np.cumsum(run))[EVIDENCE_COLUMNS]
    return causes[CAUSE_COLUMNS], evidence


def _sorted_codes(values: pd.Series) -> np.ndarray:
    """Integer codes in the order of the values (missing last): sorting the codes sorts the values."""
    codes, uniques = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), codes)


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts, in rows sorted by them."""
    count = len(keys[0])
    changed = np.zeros(count, dtype=bool)
    changed[:1] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed)


def _remediations(orders: np.ndarray, context: Context) -> pd.array:
    """Each cause row's remediation: one text per cause, taken by its pipeline order."""
    position = np.zeros(max(cause.order for cause in CAUSES) + 1, dtype=np.int64)
    position[[cause.order for cause in CAUSES]] = np.arange(len(CAUSES))
    texts = pa.array([cause.remediation_for(context) for cause in CAUSES], pa.large_string())
    return pd.array(texts.take(pa.array(position[orders])), dtype="str")


def _unchecked(unchecked: list[pd.DataFrame], causes: pd.DataFrame) -> pd.DataFrame:
    if not unchecked:
        return pd.DataFrame(columns=["activityid", "cause", "missing"])
    rows = pd.concat(unchecked, ignore_index=True)
    found = causes["activityid"] + "|" + causes["cause"]
    keep = ~isin(rows["activityid"] + "|" + rows["cause"], found)
    return rows[keep].reset_index(drop=True)


def _verdicts(emails: pd.DataFrame, rows: EmailRows, direction: pd.Series, in_scope: np.ndarray,
              converted: np.ndarray, threaded: np.ndarray, causes: pd.DataFrame, queues: pd.Series) -> pd.DataFrame:
    """One row per email: verdict, primary cause (first in pipeline order on an expected queue) and its kind."""
    verdict = np.select([converted, in_scope, (direction == OUTGOING).to_numpy(), (direction == UNKNOWN).to_numpy()],
                        ["converted", "not-converted", "outgoing", "unknown-direction"], "not-for-a-queue")
    primary = causes[causes["expected"].to_numpy(dtype=bool)].drop_duplicates("activityid")
    primary_rows = rows.of(primary["activityid"])
    pending = rows.among(primary_rows, in_scope & ~converted)
    where = np.full(rows.count, -1)
    where[primary_rows[pending]] = np.flatnonzero(pending)
    return pd.DataFrame({
        "activityid": emails["activityid"].array, "subject": emails["subject"].array,
        "received_on": emails["createdon"].array, "sender": emails["sender_address"].fillna(emails["sender"]).array,
        "queues": queues.to_numpy(), "verdict": pd.array(verdict, dtype="str"),
        "primary_cause": _spread(primary["cause"], where), "primary_kind": _spread(primary["kind"], where),
        "threaded": threaded,
    })


def _spread(values: pd.Series, where: np.ndarray) -> pd.array:
    """``values[where[i]]`` for each email ``i``, missing where ``where`` is -1."""
    taken = pa.array(values.astype("str").array).take(pa.array(where, mask=where < 0))
    return pd.array(taken, dtype="str")


def _notes(context: Context, emails: pd.DataFrame, direction: pd.Series, verdicts: pd.DataFrame,
           thread_notes: pd.DataFrame) -> pd.DataFrame:
    targets = context.targets.merge(context.active_rules[["queueid", "name"]], on="queueid")
    by_design = targets[targets["has_item"] & ~targets["has_active_item"]].drop_duplicates(["activityid", "queueid"])
    by_design_text = ("the queue item in " + context.queue_label(by_design["queueid"]) + " is inactive: the "
                      "active rule '" + by_design["name"].fillna("(unnamed)") + "' deactivated it when it "
                      "processed the email (by design, not a fault)")
    unexplained = verdicts[(verdicts["verdict"] == "not-converted") & verdicts["primary_cause"].isna()]
    out_of_scope = verdicts[verdicts["verdict"] == "not-for-a-queue"]
    parts = [
        pd.DataFrame({"activityid": by_design["activityid"].values, "note": by_design_text.values}),
        pd.DataFrame({"activityid": unexplained["activityid"].values, "note": UNEXPLAINED}),
        pd.DataFrame({"activityid": out_of_scope["activityid"].values, "note": NOT_FOR_A_QUEUE}),
        thread_notes,
        _direction_notes(emails, direction),
    ]
    parts += [cause.notes(context) for cause in CAUSES if cause.notes and not context.snapshot.missing(cause.requires)]
    return pd.concat(parts, ignore_index=True)


def _direction_notes(emails: pd.DataFrame, direction: pd.Series) -> pd.DataFrame:
    """Say when the direction is our inference from statuscode, or unknown."""
    inferred = emails[emails["directioncode"].isna()]
    direction = direction[inferred.index]
    status = inferred["statuscode"].astype("str").fillna("empty")
    label = inferred["statuscode"].map(STATUS_LABELS).fillna("")
    text = ("no directioncode: taken as " + direction + " from statuscode " + status + " " + label
            + " (our inference: no document ties the status to the direction)")
    text = text.where(direction != UNKNOWN, "no directioncode and statuscode " + status + ": the direction is "
                      "unknown, so the email is not diagnosed (export directioncode)")
    return pd.DataFrame({"activityid": inferred["activityid"].values, "note": text.values})


def _findings(context: Context) -> list[dict]:
    """Environment findings: each cause's finding rows grouped by what they are about (scope and subject)."""
    found: list[dict] = []
    for cause in CAUSES:
        if cause.findings and not context.snapshot.missing(cause.requires):
            found += finding_dicts(cause, cause.findings(context))
    return sorted(found, key=lambda finding: (SEVERITY_RANK[finding["severity"]], ORDER[finding["id"]]))


def _queue_summary(context: Context) -> pd.DataFrame:
    queues = context.queues[["queueid", "name", "address"]]
    rules = context.active_rules.groupby("queueid")["name"].agg(list).rename("active_rules")
    return queues.merge(rules, left_on="queueid", right_index=True, how="left").reset_index(drop=True)
