"""Per-email evaluation of a snapshot, as the contract defines it.

Everything works on whole columns: the target queues, the active rules, the activity monitor rows
and the customer records matching each sender are joined once into a ``Context``; each cause then
finds its evidence with merges and masks, and the results are gathered into a ``Report``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from . import schema
from .causes import CAUSES, ORDER
from .causes.base import Context
from .causes.contact_creation_failed import SETTING
from .causes.reply_to_tracked_email import CAUSE as REPLY
from .normalize import address_column, group_lists, isin
from .report import Report
from .snapshot import Snapshot

TO, CC = 2, 3
UNEXPLAINED = ("Nothing in the snapshot explains it: look at the flow run history of the rule's 'ARC: …' "
               "flows (or its failed workflows), and at plug-ins registered on email or case creation.")

Progress = Callable[[str, int, int], None]


def diagnose(snapshot: Snapshot, progress: Progress | None = None) -> Report:
    """Evaluate every email of the snapshot."""
    emails = snapshot.tables["emails"]
    incoming = emails[~emails["directioncode"].fillna(False).astype(bool)]
    context = build_context(snapshot, incoming)
    replies = REPLY.detect(context).assign(cause=REPLY.id)
    converted_ids = _converted(snapshot, incoming, replies)
    ordered = context.targets.sort_values("queueid")
    email_queues = group_lists(ordered["activityid"], ordered["queueid"])
    context = _restrict(context, ~isin(incoming["activityid"], converted_ids))
    found = [replies[isin(replies["activityid"], context.pending["activityid"])]]
    unchecked = []
    for step, cause in enumerate(CAUSES, start=1):
        if progress:
            progress(f"evaluating {cause.id}", step, len(CAUSES))
        missing = snapshot.missing(cause.tables)
        if cause is not REPLY and not snapshot.missing(cause.requires):
            found.append(cause.detect(context).assign(cause=cause.id))
        if missing and cause.id != "email-not-synced":  # never given to an email in the snapshot
            unchecked.append(pd.DataFrame({"activityid": context.pending["activityid"].values,
                                           "cause": cause.id, "missing": [missing] * len(context.pending)}))
    causes = _gather(found, context)
    unchecked_frame = _unchecked(unchecked, causes)
    verdicts = _verdicts(emails, incoming, converted_ids, causes, email_queues)
    return Report(
        tables=snapshot.counts,
        missing_tables=snapshot.missing(schema.TABLES),
        emails=verdicts,
        causes=causes,
        notes=_notes(context, causes, verdicts),
        unchecked=unchecked_frame,
        findings=_findings(context),
        queues=_queue_summary(context),
        source=snapshot.source,
    )


def build_context(snapshot: Snapshot, incoming: pd.DataFrame) -> Context:
    queues = snapshot.table("queues")
    recipients = _recipients(snapshot, incoming)
    targets = _targets(snapshot, incoming, queues, recipients)
    rules = snapshot.table("convertrules")
    email_rules = rules["sourcetypecode"].fillna(2) == 2
    active_rules = rules[(rules["statecode"] == 1).fillna(False).astype(bool) & email_rules.astype(bool)]
    return Context(
        snapshot=snapshot,
        pending=incoming,
        targets=targets,
        queues=queues,
        active_rules=active_rules[["convertruleid", "name", "queueid", "allowunknownsender", "ownerid",
                                   "workflowid"]],
        monitor=_monitor(snapshot, incoming, rules),
        senders=_senders(snapshot, incoming),
        recipients=recipients,
        settings={SETTING: _setting(snapshot, SETTING)},
    )


def _recipients(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """To/Cc recipients: activity parties with mask 2 or 3, else the torecipients text."""
    parties = snapshot.table("activityparties")
    listed = parties[parties["participationtypemask"].isin([TO, CC]).fillna(False).astype(bool)]
    listed = listed[isin(listed["activityid"], incoming["activityid"])]
    from_parties = pd.DataFrame({"activityid": listed["activityid"], "address": listed["address"],
                                 "partyid": listed["partyid"]})
    without = incoming[~isin(incoming["activityid"], parties["activityid"])]
    text = without[["activityid", "torecipients"]].dropna(subset=["torecipients"])
    text = text.assign(address=text["torecipients"].str.split(";")).explode("address")
    from_text = pd.DataFrame({"activityid": text["activityid"], "address": address_column(text["address"]),
                              "partyid": pd.Series(pd.NA, index=text.index, dtype="str")})
    return pd.concat([from_parties, from_text], ignore_index=True).dropna(subset=["address", "partyid"],
                                                                           how="all")


def _targets(snapshot: Snapshot, incoming: pd.DataFrame, queues: pd.DataFrame,
             recipients: pd.DataFrame) -> pd.DataFrame:
    """One row per (email, target queue) with how the queue was reached."""
    by_id = recipients.merge(queues[["queueid"]], left_on="partyid", right_on="queueid")
    by_address = recipients.dropna(subset=["address"]).merge(queues[["queueid", "address"]], on="address")
    addressed = pd.concat([by_id, by_address])[["activityid", "queueid"]].assign(in_recipients=True)
    items = snapshot.table("queueitems")
    items = items[isin(items["objectid"], incoming["activityid"])]
    held = pd.DataFrame({"activityid": items["objectid"], "queueid": items["queueid"], "has_item": True,
                         "has_active_item": (items["statecode"] == 0).fillna(False).astype(bool)})
    received = incoming[["activityid", "receivingmailboxid"]].dropna(subset=["receivingmailboxid"])
    received = received.merge(_mailbox_queues(snapshot, queues), left_on="receivingmailboxid", right_on="mailboxid")
    mailbox = received[["activityid", "queueid"]].assign(via_mailbox=True)
    flags = ["in_recipients", "has_item", "has_active_item", "via_mailbox"]
    targets = pd.concat([addressed, held, mailbox], ignore_index=True).dropna(subset=["queueid"])
    targets[flags] = targets.reindex(columns=flags).fillna(False).astype(bool)
    return targets.groupby(["activityid", "queueid"], as_index=False, sort=False)[flags].max()


def _mailbox_queues(snapshot: Snapshot, queues: pd.DataFrame) -> pd.DataFrame:
    """mailboxid -> queueid, from the queue's default mailbox and the mailbox's regarding queue."""
    pairs = [queues[["defaultmailbox", "queueid"]].rename(columns={"defaultmailbox": "mailboxid"})]
    if snapshot.has("mailboxes"):
        boxes = snapshot.tables["mailboxes"]
        boxes = boxes[boxes["regardingobjectid_type"].fillna("queue") == "queue"]
        pairs.append(boxes[["mailboxid", "regardingobjectid"]].rename(columns={"regardingobjectid": "queueid"}))
    return pd.concat(pairs).dropna().drop_duplicates()


def _monitor(snapshot: Snapshot, incoming: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    rows = snapshot.table("activitymonitors").rename(columns={"monitoredactivityitemid": "activityid"})
    rows = rows[isin(rows["activityid"], incoming["activityid"])]
    rule_queue = rules.set_index("convertruleid")["queueid"].dropna().to_dict()
    return rows.assign(queueid=rows["queueid"].fillna(rows["ruleid"].map(rule_queue)))


def _senders(snapshot: Snapshot, incoming: pd.DataFrame) -> pd.DataFrame:
    """Customer records (contacts, accounts) whose address is each pending email's sender address."""
    customers = pd.concat([_customer_addresses(snapshot, "contacts", "contact", "contactid", "fullname"),
                           _customer_addresses(snapshot, "accounts", "account", "accountid", "name")],
                          ignore_index=True)
    senders = incoming[["activityid", "sender_address", "createdon"]].dropna(subset=["sender_address"])
    matched = senders.merge(customers, left_on="sender_address", right_on="address", suffixes=("", "_record"))
    active = (matched["statecode"].fillna(0) == 0).astype(bool)
    before = (matched["createdon_record"] <= matched["createdon"]).fillna(True).astype(bool)
    label = matched["record_type"] + " '" + matched["record_name"].fillna("(unnamed)") + "'"
    why = (label + " uses it but is inactive").where(~active, label + " uses it but was created after the "
                                                     "email (by the rule for the unknown sender)")
    return matched.assign(known=active & before, label=label, why=why.where(~(active & before)))


def _customer_addresses(snapshot: Snapshot, table: str, record_type: str, key: str, name: str) -> pd.DataFrame:
    if not snapshot.has(table):
        return pd.DataFrame(columns=["record_type", "record_id", "record_name", "statecode", "createdon",
                                     "address"])
    records = snapshot.tables[table]
    long = records.melt(id_vars=[key, name, "statecode", "createdon"],
                        value_vars=["emailaddress1", "emailaddress2", "emailaddress3"], value_name="raw")
    long = long.assign(address=address_column(long["raw"])).dropna(subset=["address"])
    long = long.drop_duplicates([key, "address"])
    return pd.DataFrame({"record_type": record_type, "record_id": long[key], "record_name": long[name],
                         "statecode": long["statecode"], "createdon": long["createdon"],
                         "address": long["address"]})


def _setting(snapshot: Snapshot, name: str) -> str | None:
    """Effective value of an environment variable: its value row, else its definition's default."""
    if not snapshot.has("environmentvariabledefinitions"):
        return None
    definitions = snapshot.tables["environmentvariabledefinitions"]
    definition = definitions[definitions["schemaname"].str.lower() == name.lower()]
    if definition.empty:
        return None
    values = snapshot.table("environmentvariablevalues")
    value = values[isin(values["environmentvariabledefinitionid"], definition["environmentvariabledefinitionid"])
                   | (values["schemaname"].str.lower() == name.lower())]["value"].dropna()
    if value.empty:
        value = definition["defaultvalue"].dropna()
    return None if value.empty else str(value.iloc[0])


def _converted(snapshot: Snapshot, incoming: pd.DataFrame, replies: pd.DataFrame) -> pd.Index:
    regarding_case = incoming["regardingobjectid_type"] == "incident"
    if snapshot.has("incidents"):
        untyped = incoming["regardingobjectid_type"].isna()
        regarding_case = regarding_case.fillna(False) | (untyped & isin(incoming["regardingobjectid"],
            snapshot.tables["incidents"]["incidentid"]))
    cases = incoming.loc[regarding_case.fillna(False).astype(bool), "activityid"]
    return pd.Index(cases[~isin(cases, replies["activityid"])])


def _restrict(context: Context, mask: pd.Series) -> Context:
    pending = context.pending[mask]
    ids = pending["activityid"]
    context.pending = pending
    context.targets = context.targets[isin(context.targets["activityid"], ids)]
    context.monitor = context.monitor[isin(context.monitor["activityid"], ids)]
    context.senders = context.senders[isin(context.senders["activityid"], ids)]
    context.recipients = context.recipients[isin(context.recipients["activityid"], ids)]
    return context


def _gather(found: list[pd.DataFrame], context: Context) -> pd.DataFrame:
    """One row per (email, cause, queue) with its evidence sentences, in pipeline order."""
    rows = pd.concat([frame for frame in found if not frame.empty] or [pd.DataFrame(
        columns=["activityid", "queue", "evidence", "cause"])], ignore_index=True)
    rows = rows.drop_duplicates(["activityid", "cause", "queue", "evidence"])
    rows["order"] = rows["cause"].map(ORDER)
    rows = rows.sort_values(["activityid", "order", "queue"], kind="stable").reset_index(drop=True)
    rows["group"] = rows.groupby(["activityid", "order", "cause", "queue"], dropna=False, sort=False).ngroup()
    evidence = group_lists(rows["group"], rows["evidence"])
    causes = rows.drop_duplicates("group").reset_index(drop=True)
    causes["evidence"] = causes["group"].map(evidence)
    causes = causes[["activityid", "order", "cause", "queue", "evidence"]]
    remediation = {cause.id: cause.remediation_for(context) for cause in CAUSES}
    causes["remediation"] = causes["cause"].map(remediation)
    return causes.drop(columns="order")


def _unchecked(unchecked: list[pd.DataFrame], causes: pd.DataFrame) -> pd.DataFrame:
    if not unchecked:
        return pd.DataFrame(columns=["activityid", "cause", "missing"])
    rows = pd.concat(unchecked, ignore_index=True)
    found = causes["activityid"] + "|" + causes["cause"]
    keep = ~isin(rows["activityid"] + "|" + rows["cause"], found)
    return rows[keep].reset_index(drop=True)


def _verdicts(emails: pd.DataFrame, incoming: pd.DataFrame, converted: pd.Index, causes: pd.DataFrame,
              queues: pd.Series) -> pd.DataFrame:
    is_incoming = isin(emails["activityid"], incoming["activityid"])
    verdict = pd.Series("not-converted", index=emails.index, dtype="str")
    verdict[~is_incoming] = "outgoing"
    verdict[isin(emails["activityid"], converted)] = "converted"
    primary = causes.drop_duplicates("activityid").set_index("activityid")["cause"]
    sender = emails["sender_address"].fillna(emails["sender"])
    return pd.DataFrame({
        "activityid": emails["activityid"], "subject": emails["subject"], "received_on": emails["createdon"],
        "sender": sender, "queues": emails["activityid"].map(queues), "verdict": verdict,
        "primary_cause": emails["activityid"].map(primary).where(verdict == "not-converted"),
    }).reset_index(drop=True)


def _notes(context: Context, causes: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    targets = context.targets.merge(context.active_rules[["queueid", "name"]], on="queueid")
    by_design = targets[targets["has_item"] & ~targets["has_active_item"]].drop_duplicates(["activityid", "queueid"])
    by_design_text = ("the queue item in " + context.queue_label(by_design["queueid"]) + " is inactive: the "
                      "active rule '" + by_design["name"].fillna("(unnamed)") + "' deactivated it when it "
                      "processed the email (by design, not a fault)")
    unexplained = verdicts[(verdicts["verdict"] == "not-converted") & verdicts["primary_cause"].isna()]
    return pd.concat([
        pd.DataFrame({"activityid": by_design["activityid"].values, "note": by_design_text.values}),
        pd.DataFrame({"activityid": unexplained["activityid"].values, "note": UNEXPLAINED}),
    ], ignore_index=True)


def _findings(context: Context) -> list[dict]:
    found: list[dict] = []
    for cause in CAUSES:
        if cause.findings and not context.snapshot.missing(cause.requires):
            found += cause.findings(context)
    severity = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda finding: (severity[finding["severity"]], ORDER[finding["id"]]))


def _queue_summary(context: Context) -> pd.DataFrame:
    queues = context.queues[["queueid", "name", "address"]]
    rules = context.active_rules.groupby("queueid")["name"].agg(list).rename("active_rules")
    return queues.merge(rules, left_on="queueid", right_index=True, how="left").reset_index(drop=True)
