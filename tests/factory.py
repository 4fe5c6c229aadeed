"""Small Web-API-shaped snapshots for cause tests: one healthy environment, then one change per test.

`healthy()` gives a Helpdesk queue with an active rule (one condition, an activated flow, an enabled
owner), a known contact, and one incoming email to the queue that the rule processed (inactive queue
item) but that did not become a case. Nothing in it explains that, so every cause is negative there;
each positive test adds exactly the evidence of its cause.
"""

from __future__ import annotations

import copy
import uuid

from diagnostics.evaluate import diagnose
from diagnostics.report import Report
from diagnostics.snapshot import snapshot_from_records

LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def gid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


QUEUE = gid("queue-helpdesk")
SALES = gid("queue-sales")
RULE = gid("rule-helpdesk")
ITEM = gid("item-helpdesk")
FLOW = gid("flow-helpdesk")
OWNER = gid("user-dana")
CONTACT = gid("contact-jo")
ACCOUNT = gid("account-tailspin")
MAILBOX = gid("mailbox-helpdesk")
EMAIL = gid("email-1")
CASE = gid("case-1")


def healthy() -> dict[str, list[dict]]:
    return {
        "queues": [
            {"queueid": QUEUE, "name": "Helpdesk", "emailaddress": "help@fourthcoffee.com", "statecode": 0,
             "incomingemaildeliverymethod": 2, "incomingemailfilteringmethod": 0, "emailrouteraccessapproval": 1,
             "_defaultmailbox_value": MAILBOX},
            {"queueid": SALES, "name": "Sales", "emailaddress": "sales@fourthcoffee.com", "statecode": 0,
             "incomingemaildeliverymethod": 2, "incomingemailfilteringmethod": 0, "emailrouteraccessapproval": 1},
        ],
        "mailboxes": [
            {"mailboxid": MAILBOX, "emailaddress": "help@fourthcoffee.com", "_regardingobjectid_value": QUEUE,
             "_regardingobjectid_value" + LOOKUP: "queue", "incomingemaildeliverymethod": 2,
             "incomingemailstatus": 1, "emailrouteraccessapproval": 1, "enabledforincomingemail": True},
        ],
        "convertrules": [
            {"convertruleid": RULE, "name": "Helpdesk email to case", "_queueid_value": QUEUE, "statecode": 1,
             "sourcetypecode": 2, "allowunknownsender": False, "_ownerid_value": OWNER},
        ],
        "convertruleitems": [
            {"convertruleitemid": ITEM, "_convertruleid_value": RULE, "name": "All email", "sequencenumber": 1,
             "_workflowid_value": FLOW},
        ],
        "workflows": [{"workflowid": FLOW, "name": "ARC: All email", "category": 5, "statecode": 1}],
        "systemusers": [{"systemuserid": OWNER, "fullname": "Dana Admin", "isdisabled": False}],
        "contacts": [
            {"contactid": CONTACT, "fullname": "Jo Brown", "emailaddress1": "jo@tailspin.com", "statecode": 0,
             "createdon": "2026-10-01T08:00:00Z"},
        ],
        "accounts": [
            {"accountid": ACCOUNT, "name": "Tailspin Toys", "emailaddress1": "info@tailspin.com", "statecode": 0,
             "createdon": "2026-10-01T08:00:00Z"},
        ],
        "emails": [email(EMAIL, "Machine leaks", "<first@mail.tailspin.com>")],
        "activityparties": parties(EMAIL, "jo@tailspin.com", to=[("help@fourthcoffee.com", QUEUE)]),
        "queueitems": [queue_item(EMAIL, QUEUE, active=False)],
        "activitymonitors": [],
        "asyncoperations": [],
        "incidents": [{"incidentid": CASE, "title": "Machine leaks", "createdon": "2026-11-03T10:00:05Z"}],
        "environmentvariabledefinitions": [
            {"environmentvariabledefinitionid": gid("envdef"), "schemaname": "msdyn_ArcCreateContactWithRuleOwner",
             "defaultvalue": "0"},
        ],
        "environmentvariablevalues": [],
    }


def email(activityid: str, subject: str, messageid: str, **columns) -> dict:
    record = {"activityid": activityid, "subject": subject, "messageid": messageid, "inreplyto": None,
              "directioncode": False, "statecode": 1, "statuscode": 4, "correlationmethod": 0,
              "sender": "jo@tailspin.com", "torecipients": "help@fourthcoffee.com",
              "createdon": "2026-11-03T10:00:00Z", "_regardingobjectid_value": None}
    record.update(columns)
    return record


def parties(activityid: str, sender: str, to=(), cc=()) -> list[dict]:
    rows = [{"activitypartyid": gid(f"{activityid}-from"), "_activityid_value": activityid,
             "participationtypemask": 1, "addressused": sender}]
    for mask, recipients in ((2, to), (3, cc)):
        for address, queueid in recipients:
            row = {"activitypartyid": gid(f"{activityid}-{mask}-{address}"), "_activityid_value": activityid,
                   "participationtypemask": mask, "addressused": address}
            if queueid:
                row |= {"_partyid_value": queueid, "_partyid_value" + LOOKUP: "queue"}
            rows.append(row)
    return rows


def queue_item(activityid: str, queueid: str, active: bool) -> dict:
    return {"queueitemid": gid(f"qi-{activityid}-{queueid}"), "_objectid_value": activityid,
            "_queueid_value": queueid, "objecttypecode": 4202, "statecode": 0 if active else 1}


def monitor(activityid: str, reason: int, state: int = 3, **columns) -> dict:
    return {"activitymonitorid": gid(f"am-{activityid}-{reason}-{state}"), "_monitoredactivityitemid_value": activityid,
            "_ruleid_value": RULE, "currentstate": state, "reason": reason,
            "createdon": "2026-11-03T10:00:02Z", **columns}


def failed_job(regarding: str, message: str) -> dict:
    return {"asyncoperationid": gid(f"job-{regarding}-{message}"), "name": "ARC: All email", "operationtype": 10,
            "statecode": 3, "statuscode": 31, "message": message, "_regardingobjectid_value": regarding,
            "createdon": "2026-11-03T10:00:03Z"}


def run(records: dict[str, list[dict]], drop: tuple[str, ...] = ()) -> Report:
    records = {table: rows for table, rows in copy.deepcopy(records).items() if table not in drop}
    return diagnose(snapshot_from_records(records, "test"))


def result(report: Report, activityid: str = EMAIL) -> dict:
    detail = report.email_detail(activityid)
    assert detail is not None, f"no email {activityid} in the report"
    return detail


def cause_ids(report: Report, activityid: str = EMAIL) -> list[str]:
    return [cause["id"] for cause in result(report, activityid)["causes"]]


def evidence_of(report: Report, cause_id: str, activityid: str = EMAIL) -> list[str]:
    return [sentence for cause in result(report, activityid)["causes"] if cause["id"] == cause_id
            for sentence in (item["text"] for item in cause["evidence"])]
