"""Columns the real Dataverse tables have, per Web API entity set (logical names; lookups without ``_x_value``).

Transcribed from Microsoft's table/entity reference, the column lists ("Writable columns/attributes" and
"Read-only columns/attributes") of these pages (MicrosoftDocs repositories):

- powerapps-docs/developer/data-platform/reference/entities/: email.md, activityparty.md, queue.md,
  queueitem.md, mailbox.md, asyncoperation.md, workflow.md, contact.md, account.md, systemuser.md,
  environmentvariabledefinition.md, environmentvariablevalue.md
- dynamics-365-customer-engagement/ce/developer/: entities/convertrule.md, entities/convertruleitem.md,
  reference/entities/activitymonitor.md (``recommendation``, a rich-text string), reference/entities/incident.md
  (the current page lists ``deactivatedon``; the old ce/developer/entities/incident.md does not; its
  one-to-many ``Incident_Emails`` is the emails whose ``regardingobjectid`` is the case),
  reference/entities/incidentresolution.md (key ``activityid``, lookup ``incidentid`` whose navigation property
  is ``incidentid``, ``statecode``, ``createdon``); ce/developer/entities/convertrule.md lists
  ``checkactiveentitlement`` ("Check Active SLA", boolean)

Only the columns this project reads or the demo writes are listed: the list is a subset of each table's
columns, so a column that is not on the real table cannot be selected or invented. Note: the current
activitymonitor page does list ``queueid``, but older versions of the table lack it, and a ``$select`` of a
missing column makes the Web API answer 400, so it is deliberately left out here (contract correction 5).
"""

from __future__ import annotations

REAL_COLUMNS: dict[str, frozenset[str]] = {
    "emails": frozenset({
        "activityid", "subject", "messageid", "inreplyto", "conversationindex", "trackingtoken", "directioncode",
        "statecode", "statuscode", "correlationmethod", "sender", "torecipients", "emailsender", "sendersaccount",
        "regardingobjectid", "parentactivityid", "correlatedactivityid", "receivingmailboxid", "acceptingentityid",
        "isduplicatesenderunresolved", "ownerid", "createdon", "modifiedon",
    }),
    "activityparties": frozenset({
        "activitypartyid", "activityid", "partyid", "participationtypemask", "addressused",
    }),
    "queues": frozenset({
        "queueid", "name", "emailaddress", "statecode", "statuscode", "incomingemaildeliverymethod",
        "incomingemailfilteringmethod", "outgoingemaildeliverymethod", "emailrouteraccessapproval",
        "defaultmailbox", "ownerid", "createdon", "modifiedon",
    }),
    "queueitems": frozenset({
        "queueitemid", "objectid", "queueid", "objecttypecode", "statecode", "statuscode", "title", "enteredon",
        "createdon", "modifiedon",
    }),
    "convertrules": frozenset({
        "convertruleid", "name", "queueid", "statecode", "statuscode", "sourcetypecode", "allowunknownsender",
        "checkifresolved", "resolvedsince", "checkactiveentitlement", "sendautomaticresponse", "ownerid",
        "workflowid", "createdon", "modifiedon",
    }),
    "convertruleitems": frozenset({
        "convertruleitemid", "convertruleid", "name", "sequencenumber", "conditionxml", "workflowid", "queueid",
        "ownerid", "createdon", "modifiedon",
    }),
    "activitymonitors": frozenset({
        "activitymonitorid", "ruleid", "conditionid", "monitoredactivityitemid", "currentstate", "reason",
        "contactcreatedbyrule", "recommendation", "name", "statecode", "statuscode", "ownerid", "createdon",
        "modifiedon",
    }),
    "asyncoperations": frozenset({
        "asyncoperationid", "name", "operationtype", "statecode", "statuscode", "message", "friendlymessage",
        "regardingobjectid", "workflowactivationid", "createdon", "completedon", "modifiedon",
    }),
    "workflows": frozenset({
        "workflowid", "name", "category", "statecode", "statuscode", "primaryentity", "ownerid", "createdon",
        "modifiedon",
    }),
    "mailboxes": frozenset({
        "mailboxid", "name", "emailaddress", "regardingobjectid", "incomingemaildeliverymethod",
        "outgoingemaildeliverymethod", "incomingemailstatus", "emailrouteraccessapproval",
        "enabledforincomingemail", "lastsyncerror", "lastsyncerrorcode", "lastsuccessfulsynccompletedon",
        "processemailreceivedafter", "statecode", "ownerid", "createdon", "modifiedon",
    }),
    "contacts": frozenset({
        "contactid", "fullname", "firstname", "lastname", "emailaddress1", "emailaddress2", "emailaddress3",
        "parentcustomerid", "statecode", "statuscode", "ownerid", "createdon", "modifiedon",
    }),
    "accounts": frozenset({
        "accountid", "name", "emailaddress1", "emailaddress2", "emailaddress3", "telephone1", "statecode",
        "statuscode", "ownerid", "createdon", "modifiedon",
    }),
    "systemusers": frozenset({
        "systemuserid", "fullname", "firstname", "lastname", "domainname", "internalemailaddress", "isdisabled",
        "createdon", "modifiedon",
    }),
    "environmentvariabledefinitions": frozenset({
        "environmentvariabledefinitionid", "schemaname", "displayname", "defaultvalue", "type", "createdon",
        "modifiedon",
    }),
    "environmentvariablevalues": frozenset({
        "environmentvariablevalueid", "environmentvariabledefinitionid", "schemaname", "value", "createdon",
        "modifiedon",
    }),
    "incidents": frozenset({
        "incidentid", "title", "ticketnumber", "caseorigincode", "customerid", "statecode", "statuscode",
        "deactivatedon", "ownerid", "createdon", "modifiedon",
    }),
    "incidentresolutions": frozenset({
        "activityid", "incidentid", "subject", "statecode", "statuscode", "ownerid", "createdon", "modifiedon",
    }),
}
