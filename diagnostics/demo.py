"""The embedded demo snapshot: a fictional Contoso Coffee org, saved as Web API JSON files.

Contoso Coffee (contoso-coffee.com) sells espresso machines and beans to cafés, offices and
consumers, and runs email-to-case on five queues over the 30 days ending 2026-11-20:

- Helpdesk (help@): active modern rule, creates contacts for unknown senders.
- Billing (billing@): active legacy rule (classic workflows, so system jobs), known senders only.
- Sales (sales@): only a Draft rule.
- Returns (returns@): active rule whose condition's flow "ARC: Return requests" is still Draft.
- Wholesale orders (wholesale@): active rule with no conditions, owned by a disabled user; its
  mailbox stopped syncing on 2026-11-14 (incoming status Failure, `lastsyncerror`).
- Marketing (marketing@): no rule at all, and it tracks only mail from leads, contacts and accounts.

Billing's rule does not wait after a case is resolved (`checkifresolved` false); Helpdesk's waits a
day (`resolvedsince` 1440). About half the cases are resolved (`deactivatedon`), so customers'
replies are threaded into active cases, or arrive for resolved cases within the wait, after it, or
on Billing without the setting. Agents' own mailboxes track some mail that is for no queue (Priya's
mailbox record carries no lookup annotations), some emails were converted by the "multiple cases"
feature (cases as Related parties, no Regarding), some replies are regarding an account or contact
rather than a case, and some match a tracked email by In-Reply-To without being correlated.

About 68% of the emails became cases, 8% are agents' replies (outgoing), and the rest are planted
so that every cause of the contract is the primary cause of several emails: queue only in Bcc,
queue item removed, customer replies to tracked emails, no active rule, broken rules (draft flow,
no conditions, failed system jobs, failed activity monitor rows), unknown senders on Billing,
contact creation failures on Helpdesk (with `msdyn_ArcCreateContactWithRuleOwner` = "0"),
addresses shared by a contact and its account, and, beyond the support article, customers without an
entitlement on Billing (whose rule requires one) and emails none of Helpdesk's conditions matches (it
has no catch-all condition). Every rule has its own flow "ARC | rule name", and resolved cases have
their completed case resolution (`incidentresolutions`). `intended_primary_causes` and
`intended_verdicts` tell which is which.

Everything is deterministic (a fixed random seed, uuid5 ids) and streamed page by page, so the
same generator scales to a million emails for the benchmarks.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import random
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from urllib.parse import quote

import orjson

BASE_URL = "https://contoso-demo.crm.dynamics.com/api/data/v9.2"
DOMAIN = "contoso-coffee.com"
SEED = 20261120
NAMESPACE = uuid.UUID("6f1d3c2a-8b4e-5d7f-9a01-c0ffee0c0ffe")
LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"

# Entity set -> primary key column.
ENTITY_SETS = {
    "emails": "activityid",
    "activityparties": "activitypartyid",
    "queues": "queueid",
    "queueitems": "queueitemid",
    "convertrules": "convertruleid",
    "convertruleitems": "convertruleitemid",
    "workflows": "workflowid",
    "activitymonitors": "activitymonitorid",
    "asyncoperations": "asyncoperationid",
    "mailboxes": "mailboxid",
    "contacts": "contactid",
    "accounts": "accountid",
    "systemusers": "systemuserid",
    "environmentvariabledefinitions": "environmentvariabledefinitionid",
    "environmentvariablevalues": "environmentvariablevalueid",
    "incidents": "incidentid",
    "incidentresolutions": "activityid",
}

WINDOW_END = calendar.timegm((2026, 11, 21, 0, 0, 0))  # exclusive: the last day is 2026-11-20
DAYS = 30
WHOLESALE_SYNC_FAILED = calendar.timegm((2026, 11, 14, 3, 17, 42))
SYNC_ERROR = (
    "Email cannot be received because the credentials of the mailbox wholesale@contoso-coffee.com "
    "are incorrect or the mailbox owner doesn't have permission to access the mailbox "
    "(The remote server returned an error: (401) Unauthorized.)"
)

# --------------------------------------------------------------------------- organisation

USERS = {  # key: (full name, disabled)
    "dana": ("Dana Whitfield", False),
    "sam": ("Sam Taylor", False),
    "priya": ("Priya Natarajan", False),
    "luis": ("Luis Ortega", False),
    "marco": ("Marco Rossi", True),
}
QUEUES = {  # key: (name, address, owner)
    "helpdesk": ("Helpdesk", f"help@{DOMAIN}", "dana"),
    "billing": ("Billing", f"billing@{DOMAIN}", "priya"),
    "sales": ("Sales", f"sales@{DOMAIN}", "luis"),
    "returns": ("Returns", f"returns@{DOMAIN}", "sam"),
    "wholesale": ("Wholesale orders", f"wholesale@{DOMAIN}", "marco"),
    "marketing": ("Marketing", f"marketing@{DOMAIN}", "luis"),
}
FILTERING = {"marketing": 2}  # From leads, contacts and accounts: unknown senders' mail is never tracked
UNANNOTATED_MAILBOXES = ("priya",)  # exported without lookup annotations (a URL opened in a browser tab)
AGENT_MAILBOXES = ("sam", "priya")


@dataclass(frozen=True)
class Rule:
    key: str
    name: str
    state: int  # 0 Draft, 1 Active
    allow_unknown: bool
    owner: str
    items: tuple[tuple[str, int, int], ...]  # (condition name, workflow statecode, workflow category)
    check_if_resolved: bool = True  # wait RESOLVED_WAIT minutes after a case is resolved, then open a new one
    entitlement: bool = False  # 'Require a valid entitlement' on the rule's case connection


RULES = (
    Rule("helpdesk", "Helpdesk email to case", 1, True, "dana",
         (("Coffee machine issues", 1, 5), ("Machine service and parts", 1, 5))),
    Rule("billing", "Billing email to case", 1, False, "priya",
         (("Invoices and payments", 1, 0), ("Other billing email", 1, 0)), check_if_resolved=False, entitlement=True),
    Rule("sales", "Sales enquiries to case", 0, True, "luis", (("Quote requests", 0, 5),)),
    Rule("returns", "Returns email to case", 1, False, "sam", (("Return requests", 0, 5),)),
    Rule("wholesale", "Wholesale orders to case", 1, False, "marco", ()),
)
RULE_BY_QUEUE = {rule.key: rule for rule in RULES}
RESOLVED_WAIT = 1440  # minutes (convertrule.resolvedsince)

# Scenario: (intended primary cause, share of all emails, minimum count).
SCENARIOS = {
    "outgoing": (None, 0.08, 2),
    "converted-new-contact": (None, 0.04, 2),
    "converted-external-reply": (None, 0.02, 1),
    "bcc": ("queue-only-in-bcc", 0.02, 4),
    "no-item": ("queue-item-missing", 0.02, 5),
    "user-tracked": (None, 0.015, 2),
    "reply": ("reply-to-tracked-email", 0.07, 12),
    "reply-other-record": ("reply-to-tracked-email", 0.01, 2),
    "reply-uncorrelated": ("unknown-sender-not-allowed", 0.008, 2),
    "multiple-cases": (None, 0.008, 2),
    "two-queues": ("unknown-sender-not-allowed", 0.008, 2),
    "sales": ("no-active-rule-for-queue", 0.025, 4),
    "returns": ("rule-configuration-error", 0.012, 2),
    "wholesale": ("rule-configuration-error", 0.008, 2),
    "job-failed": ("rule-configuration-error", 0.012, 2),
    "monitor-failed": ("rule-configuration-error", 0.008, 2),  # failed rows, reasons 1 or 18
    "stranger": ("unknown-sender-not-allowed", 0.02, 3),
    "inactive-contact": ("unknown-sender-not-allowed", 0.008, 1),
    "contact-failed": ("contact-creation-failed", 0.02, 4),
    "conflict": ("customer-email-conflict", 0.02, 4),
    "no-entitlement": ("no-valid-entitlement", 0.008, 3),  # Billing requires an entitlement: reasons 10, 11
    "no-condition": ("no-condition-matched", 0.008, 3),  # Helpdesk has no catch-all condition: reason 13
}
CONVERTED = "converted"
SCENARIO_NAMES = (CONVERTED, *SCENARIOS)  # a plan stores indexes into this
NEEDS_HISTORY = 3  # the first emails are plain conversions, so replies have something to reply to

# --------------------------------------------------------------------------- vocabulary

FIRST = ("Maria", "James", "Aiko", "Omar", "Sofia", "Liam", "Chen", "Fatima", "Noah", "Elena",
         "Ravi", "Grace", "Mateo", "Hannah", "Kwame", "Ingrid", "Yusuf", "Chloe", "Diego", "Mei",
         "Lukas", "Amara", "Tomás", "Zoe", "Arjun", "Nina", "Felix", "Leila", "Oscar", "Ana",
         "Henrik", "Priya", "Samuel", "Isla", "Kenji", "Lucia", "Erik", "Nadia", "Pablo", "Freya")
LAST = ("Garcia", "Smith", "Tanaka", "Haddad", "Rossi", "Murphy", "Wang", "Khan", "Dubois",
        "Petrova", "Patel", "Okafor", "Silva", "Müller", "Mensah", "Larsen", "Yilmaz", "Martin",
        "Lopez", "Chen", "Fischer", "Nwosu", "Alves", "Novak", "Sharma", "Berg", "Costa", "Kowalski",
        "Ahmed", "Jensen", "Moreau", "Ito", "Reyes", "Walsh", "Kim", "Horvat", "Santos", "Lindqvist",
        "Osei", "Bianchi")
BUSINESS = ("Northwind", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Proseware", "Adatum",
            "Woodgrove", "Lucerne", "Alpine", "Coho", "Fourth Street", "Humongous", "Lamna",
            "Relecloud", "Trey", "Margie's", "Blue Yonder", "Wide World", "Graphic Arts")
TRADE = ("Café", "Roasters", "Bakery", "Bistro", "Hotel", "Offices", "Diner", "Espresso Bar",
         "Deli", "Tea House")
CONSUMER_DOMAINS = ("northwindmail.com", "fabrikammail.net", "tailspinmail.com",
                    "woodgrove-mail.net", "litwaremail.com", "relecloudmail.com")
MACHINES = ("BaristaPro 3000", "Contoso Brew S2", "Espresso One", "CafeMaster X", "Grindr 60")
SUBJECTS = {
    "helpdesk": ("Coffee machine leaks", "Grinder makes a loud noise", "Espresso machine won't heat up",
                 "Error E04 on the display", "Milk frother not working", "Water tank cracked",
                 "Descaling light stays on", "Machine trips the breaker", "Bean hopper jammed",
                 "Steam wand blocked", "Touch screen unresponsive", "Cups overflow",
                 "Need a technician visit", "Coffee tastes burnt after the service",
                 "Pump very loud since Monday", "Drip tray sensor fault"),
    "billing": ("Invoice {n} charged twice", "Question about invoice {n}", "Please update our billing address",
                "Refund for order {n}", "Direct debit failed", "VAT number missing on invoice {n}",
                "Payment reminder received by mistake", "Credit note request for invoice {n}"),
    "sales": ("Quote for 3 espresso machines", "Pricing for an office coffee subscription",
              "Demo request for the BaristaPro 3000", "Bulk bean order pricing", "Partnership enquiry",
              "Lease options for our café"),
    "returns": ("Return request for order {n}", "Damaged on arrival - order {n}", "Wrong grinder delivered",
                "RMA for faulty frother"),
    "wholesale": ("Wholesale order {n}: 40 kg house blend", "Restock request for next month",
                  "Change to our standing order"),
    "direct": ("Following up on our call", "Your technician visit on Tuesday", "Thanks for the quick help",
               "Re: service appointment"),
}
JOB_ERRORS = (
    "The case is missing customer.",
    "An error has occurred. Try this action again. If the problem continues, check the Microsoft "
    "Dynamics 365 Community for solutions or contact your organization's Microsoft Dynamics 365 "
    "Administrator. Finally, you can contact Microsoft Support.",
)
RECOMMENDATIONS = {
    1: "Check that the email still exists and retry the rule.",
    3: "No action needed: the email was linked to the existing case.",
    7: "Select 'Create contact for unknown sender' in the rule, or add the sender as a contact.",
    9: "Give the rule owner permission to create contacts.",
    14: "Deactivate and activate the rule so that its Power Automate flow is connected again.",
    10: "Check the customer's entitlements, or don't require a valid entitlement on the rule.",
    11: "Check the customer's entitlements, or don't require a valid entitlement on the rule.",
    13: "Review the rule's conditions: none applies to this email.",
    16: "Give the email owner permission to create contacts, or set msdyn_ArcCreateContactWithRuleOwner to 1.",
    17: "Make the rule owner an active user, then deactivate and activate the rule.",
    18: "Retry the rule; contact Microsoft Support if it keeps failing.",
}


@lru_cache(maxsize=1 << 14)
def _id(kind: str, key: object) -> str:
    """uuid5(NAMESPACE, "kind/key") as a lower-case string; the same value, computed faster."""
    digest = bytearray(hashlib.sha1(NAMESPACE.bytes + f"{kind}/{key}".encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=256)
def _salt(kind: str) -> int:
    return int(_id("salt", kind)[:8], 16) or 1


def _child_id(parent: str, kind: str) -> str:
    """The id of a record that belongs to `parent` (an email): still a version 5 GUID, unique per kind."""
    return f"{int(parent[:8], 16) ^ _salt(kind):08x}{parent[8:]}"


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    return time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))


def _iso(ts: int) -> str:
    day, second = divmod(ts, 86400)
    hour, rest = divmod(second, 3600)
    return f"{_day_prefix(day)}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _lookup(column: str, target_id: str | None, logical_name: str) -> dict:
    """A lookup column with its logical-name annotation (absent when the lookup is empty)."""
    if target_id is None:
        return {column: None}
    return {column: target_id, column + LOOKUP: logical_name}


def _user_address(key: str) -> str:
    first, last = USERS[key][0].lower().split()
    return f"{first}.{last}@{DOMAIN}"


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class Party:
    address: str
    party_id: str | None = None
    logical_name: str | None = None
    account_id: str | None = None  # the sender's account, for `_sendersaccount_value`


def _ascii(text: str) -> str:
    return text.lower().replace("ü", "u").replace("é", "e").replace("á", "a").replace("'", "")


FIRST_ASCII = tuple(_ascii(name) for name in FIRST)
LAST_ASCII = tuple(_ascii(name) for name in LAST)


class Customers:
    """Contacts and accounts, derived from their index so any of them can be rebuilt at any time."""

    def __init__(self, emails: int):
        total = min(max(emails // 2, 60), 100_000)
        self.n_accounts = max(total // 5, 12)
        self.n_contacts = total - self.n_accounts
        self.domains = [_ascii(self.account_name(a)).replace(" ", "-") + ".com" for a in range(self.n_accounts)]

    # accounts ------------------------------------------------------------
    def account_name(self, a: int) -> str:
        branch = a // (len(BUSINESS) * len(TRADE))
        name = f"{BUSINESS[a % len(BUSINESS)]} {TRADE[(a // len(BUSINESS)) % len(TRADE)]}"
        return f"{name} {branch + 1}" if branch else name

    def account_domain(self, a: int) -> str:
        return self.domains[a]

    def account_active(self, a: int) -> bool:
        return a % 31 != 11

    def conflict(self, a: int) -> bool:
        """The account's info@ address is also the second address of its first contact."""
        return a % 7 == 3 and a % 6 != 5 and self.account_active(a) and a % 23 != 7

    def account_party(self, a: int) -> Party:
        return Party(f"info@{self.account_domain(a)}", _id("account", a), "account", _id("account", a))

    # contacts ------------------------------------------------------------
    def consumer(self, k: int) -> bool:
        return k % 6 == 5

    def contact_active(self, k: int) -> bool:
        return k % 23 != 7

    def contact_parent(self, k: int) -> int | None:
        return None if self.consumer(k) else k % self.n_accounts

    def contact_name(self, k: int) -> tuple[str, str]:
        if self.consumer(k):
            return FIRST[k % len(FIRST)], LAST[(k // len(FIRST)) % len(LAST)]
        a, m = k % self.n_accounts, k // self.n_accounts
        return FIRST[(m + a) % len(FIRST)], LAST[(m // len(FIRST) + 7 * a) % len(LAST)]

    def contact_address(self, k: int) -> str:
        if self.consumer(k):
            first, last = FIRST_ASCII[k % len(FIRST)], LAST_ASCII[(k // len(FIRST)) % len(LAST)]
            return f"{first}.{last}{k}@{CONSUMER_DOMAINS[k % len(CONSUMER_DOMAINS)]}"
        a, m = k % self.n_accounts, k // self.n_accounts
        first, last = FIRST_ASCII[(m + a) % len(FIRST)], LAST_ASCII[(m // len(FIRST) + 7 * a) % len(LAST)]
        suffix = m // (len(FIRST) * len(LAST)) or ""
        return f"{first}.{last}{suffix}@{self.domains[a]}"

    def contact_party(self, k: int) -> Party:
        parent = self.contact_parent(k)
        account = None if parent is None else _id("account", parent)
        return Party(self.contact_address(k), _id("contact", k), "contact", account)

    # records -------------------------------------------------------------
    def account_records(self, rng: random.Random) -> Iterator[dict]:
        for a in range(self.n_accounts):
            yield {
                "accountid": _id("account", a),
                "name": self.account_name(a),
                "emailaddress1": f"info@{self.account_domain(a)}",
                "emailaddress2": None,
                "emailaddress3": None,
                "telephone1": f"+1 425 555 {rng.randrange(10000):04d}",
                "statecode": 0 if self.account_active(a) else 1,
                "createdon": _iso(_before_window(rng)),
            }

    def contact_records(self, rng: random.Random) -> Iterator[dict]:
        for k in range(self.n_contacts):
            parent = self.contact_parent(k)
            shared = parent is not None and k == parent and self.conflict(parent)
            yield _contact_record(
                _id("contact", k), self.contact_name(k), self.contact_address(k),
                f"info@{self.account_domain(parent)}" if shared else None,
                None if parent is None else _id("account", parent),
                0 if self.contact_active(k) else 1, _before_window(rng),
            )


def _contact_record(contact_id, name, address, address2, parent_id, state, created) -> dict:
    return {
        "contactid": contact_id,
        "fullname": f"{name[0]} {name[1]}",
        "firstname": name[0],
        "lastname": name[1],
        "emailaddress1": address,
        "emailaddress2": address2,
        "emailaddress3": None,
        **_lookup("_parentcustomerid_value", parent_id, "account"),
        "statecode": state,
        "createdon": _iso(created),
    }


def _before_window(rng: random.Random) -> int:
    start = calendar.timegm((2023, 3, 1, 0, 0, 0))
    return rng.randrange(start, WINDOW_END - (DAYS + 5) * 86400)


# --------------------------------------------------------------------------- static tables


def _static_tables() -> dict[str, list[dict]]:
    created = calendar.timegm((2025, 2, 3, 9, 30, 0))
    tables = {
        "systemusers": [_user_record(key, created) for key in USERS],
        "queues": [_queue_record(key, created) for key in QUEUES],
        "mailboxes": [_queue_mailbox(key, created) for key in QUEUES]
        + [_user_mailbox(key, created) for key in AGENT_MAILBOXES],
        "convertrules": [_rule_record(rule, created) for rule in RULES],
        "convertruleitems": [item for rule in RULES for item in _rule_items(rule)],
        "workflows": [wf for rule in RULES for wf in _rule_workflows(rule, created)],
        "environmentvariabledefinitions": [{
            "environmentvariabledefinitionid": _id("envdef", 1),
            "schemaname": "msdyn_ArcCreateContactWithRuleOwner",
            "displayname": "Create contact with rule owner",
            "defaultvalue": "0",
            "type": 100000000,
        }],
        "environmentvariablevalues": [{
            "environmentvariablevalueid": _id("envvalue", 1),
            **_lookup("_environmentvariabledefinitionid_value", _id("envdef", 1),
                      "environmentvariabledefinition"),
            "schemaname": "msdyn_ArcCreateContactWithRuleOwner",
            "value": "0",
        }],
    }
    return tables


def _user_record(key: str, created: int) -> dict:
    name, disabled = USERS[key]
    return {
        "systemuserid": _id("systemuser", key),
        "fullname": name,
        "internalemailaddress": _user_address(key),
        "domainname": _user_address(key),
        "isdisabled": disabled,
        "createdon": _iso(created),
    }


def _queue_record(key: str, created: int) -> dict:
    name, address, owner = QUEUES[key]
    return {
        "queueid": _id("queue", key),
        "name": name,
        "emailaddress": address,
        "statecode": 0,
        "incomingemaildeliverymethod": 2,
        "incomingemaildeliverymethod" + FORMATTED: "Server-Side Synchronization or Email Router",
        "incomingemailfilteringmethod": FILTERING.get(key, 0),
        "emailrouteraccessapproval": 1,
        **_lookup("_defaultmailbox_value", _id("mailbox", key), "mailbox"),
        **_lookup("_ownerid_value", _id("systemuser", owner), "systemuser"),
        "createdon": _iso(created),
    }


def _mailbox_record(key: str, address: str, regarding: dict, failing: bool, created: int) -> dict:
    return {
        "mailboxid": _id("mailbox", key),
        "name": address,
        "emailaddress": address,
        **regarding,
        "incomingemaildeliverymethod": 2,
        "outgoingemaildeliverymethod": 2,
        "incomingemailstatus": 2 if failing else 1,
        "emailrouteraccessapproval": 1,
        "enabledforincomingemail": True,
        "lastsyncerror": SYNC_ERROR if failing else None,
        "lastsuccessfulsynccompletedon": _iso(WHOLESALE_SYNC_FAILED if failing else WINDOW_END - 240),
        "processemailreceivedafter": _iso(created),
    }


def _queue_mailbox(key: str, created: int) -> dict:
    regarding = _lookup("_regardingobjectid_value", _id("queue", key), "queue")
    return _mailbox_record(key, QUEUES[key][1], regarding, key == "wholesale", created)


def _user_mailbox(key: str, created: int) -> dict:
    regarding = _lookup("_regardingobjectid_value", _id("systemuser", key), "systemuser")
    if key in UNANNOTATED_MAILBOXES:
        regarding = {"_regardingobjectid_value": _id("systemuser", key)}
    return _mailbox_record(key, _user_address(key), regarding, False, created)


def _rule_record(rule: Rule, created: int) -> dict:
    return {
        "convertruleid": _id("convertrule", rule.key),
        "name": rule.name,
        **_lookup("_queueid_value", _id("queue", rule.key), "queue"),
        "statecode": rule.state,
        "statecode" + FORMATTED: "Active" if rule.state else "Draft",
        "statuscode": 2 if rule.state else 1,
        "sourcetypecode": 2,
        "allowunknownsender": rule.allow_unknown,
        "checkifresolved": rule.check_if_resolved,
        "resolvedsince": RESOLVED_WAIT,
        "checkactiveentitlement": rule.entitlement,
        "sendautomaticresponse": rule.key == "helpdesk",
        **_lookup("_workflowid_value", _rule_flow_id(rule), "workflow"),
        **_lookup("_ownerid_value", _id("systemuser", rule.owner), "systemuser"),
        "createdon": _iso(created),
    }


def _item_id(rule: Rule, index: int) -> str:
    return _id("convertruleitem", f"{rule.key}/{index}")


def _workflow_id(rule: Rule, index: int) -> str:
    return _id("workflow", f"{rule.key}/{index}")


def _rule_flow_id(rule: Rule) -> str:
    """The rule's own flow, "ARC | rule name", besides one per condition."""
    return _id("workflow", f"{rule.key}/rule")


def _rule_items(rule: Rule) -> Iterator[dict]:
    for index, (name, _state, _category) in enumerate(rule.items):
        condition = "" if name.startswith(("Everything", "Other")) else name.split()[0].lower()
        yield {
            "convertruleitemid": _item_id(rule, index),
            **_lookup("_convertruleid_value", _id("convertrule", rule.key), "convertrule"),
            "name": name,
            "sequencenumber": index + 1,
            "conditionxml": (f'<filter type="and"><condition attribute="subject" operator="like" '
                             f'value="%{condition}%" /></filter>' if condition else None),
            **_lookup("_workflowid_value", _workflow_id(rule, index), "workflow"),
            **_lookup("_queueid_value", _id("queue", rule.key), "queue"),
        }


def _rule_workflows(rule: Rule, created: int) -> Iterator[dict]:
    yield {  # the rule's own flow: on while the rule is active
        "workflowid": _rule_flow_id(rule),
        "name": f"ARC | {rule.name}",
        "category": 5,
        "statecode": rule.state,
        "statecode" + FORMATTED: "Activated" if rule.state else "Draft",
        "primaryentity": "email",
        **_lookup("_ownerid_value", _id("systemuser", rule.owner), "systemuser"),
        "createdon": _iso(created),
    }
    for index, (name, state, category) in enumerate(rule.items):
        yield {
            "workflowid": _workflow_id(rule, index),
            "name": f"ARC: {name}",
            "category": category,
            "statecode": state,
            "statecode" + FORMATTED: "Activated" if state else "Draft",
            "primaryentity": "email",
            **_lookup("_ownerid_value", _id("systemuser", rule.owner), "systemuser"),
            "createdon": _iso(created),
        }


# --------------------------------------------------------------------------- timeline


HOUR_WEIGHTS = list(accumulate((1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 13, 11, 9, 11, 12, 11, 9, 7, 5, 4, 3, 2, 2, 1)))


def _timeline(rng: random.Random, emails: int) -> Iterator[int]:
    """Sorted receive times: busier on weekdays and in office hours."""
    start = WINDOW_END - DAYS * 86400
    weights = [(1.0 if time.gmtime(start + d * 86400).tm_wday < 5 else 0.3) * rng.uniform(0.85, 1.15)
               for d in range(DAYS)]
    counts = _apportion(emails, weights)
    for day, count in enumerate(counts):
        hours = rng.choices(range(24), cum_weights=HOUR_WEIGHTS, k=count)
        for second in sorted(hour * 3600 + rng.randrange(3600) for hour in hours):
            yield start + day * 86400 + second


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` along `weights` (largest remainder), so the counts add up exactly."""
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _scenario_plan(rng: random.Random, emails: int) -> bytearray:
    """One index into SCENARIO_NAMES per email, shuffled; the first few are plain conversions."""
    counts = [max(minimum, round(share * emails)) for _cause, share, minimum in SCENARIOS.values()]
    plan = bytearray()
    for index, count in enumerate(counts, start=1):
        plan.extend([index] * count)
    plan.extend([0] * max(emails - len(plan) - NEEDS_HISTORY, 0))
    rng.shuffle(plan)
    plan = bytearray([0] * NEEDS_HISTORY) + plan
    del plan[emails:]
    return plan


# --------------------------------------------------------------------------- emails


@dataclass
class Mail:
    """What one email needs before it becomes records."""

    index: int
    activityid: str
    ts: int
    subject: str
    sender: Party
    to: list[Party]
    queue: str | None  # the queue that received it (queue item, mailbox); None: nobody's queue
    cc: list[Party] = field(default_factory=list)
    outgoing: bool = False
    regarding: str | None = None
    inreplyto: str | None = None
    correlation: int = 0
    parent: str | None = None
    mailbox: str | None = None
    owner: str = "dana"
    token: str | None = None
    conversation: str | None = None
    regarding_type: str = "incident"
    related: list[Party] = field(default_factory=list)  # Related parties (mask 13): ARC's "multiple cases"
    cause: str | None = None  # set by a scenario whose outcome depends on the thread it picked
    verdict: str | None = None


@dataclass
class Thread:
    """A converted email (or an agent's reply) that later emails can answer."""

    activityid: str
    messageid: str
    subject: str
    incident: str
    queue: str
    customer: Party
    conversation: str
    token: str
    case_state: int = 0  # 0 Active, 1 Resolved
    resolved_at: int | None = None


Records = list[tuple[str, dict]]


@dataclass(frozen=True)
class Intent:
    """What the engine should give for one planted email."""

    cause: str | None
    verdict: str


class EmailFactory:
    """Builds every email scenario; each call returns the records of one email and its cause."""

    def __init__(self, rng: random.Random, customers: Customers):
        self.rng = rng
        self.customers = customers
        self.incoming: deque[Thread] = deque(maxlen=200)
        self.replies: deque[Thread] = deque(maxlen=200)
        self.etag = 4_810_000
        self.cases = 0
        self.scenarios: dict[str, Callable[[Mail], Records]] = {
            CONVERTED: self.converted,
            "outgoing": self.outgoing,
            "converted-new-contact": self.converted_new_contact,
            "converted-external-reply": self.converted_external_reply,
            "bcc": self.bcc,
            "no-item": self.no_item,
            "user-tracked": self.user_tracked,
            "reply": self.reply,
            "reply-other-record": self.reply_other_record,
            "reply-uncorrelated": self.reply_uncorrelated,
            "multiple-cases": self.multiple_cases,
            "two-queues": self.two_queues,
            "sales": self.sales,
            "returns": self.returns,
            "wholesale": self.wholesale,
            "job-failed": self.job_failed,
            "monitor-failed": self.monitor_failed,
            "stranger": self.stranger,
            "inactive-contact": self.inactive_contact,
            "contact-failed": self.contact_failed,
            "conflict": self.conflict,
            "no-entitlement": self.no_entitlement,
            "no-condition": self.no_condition,
        }

    def build(self, index: int, ts: int, scenario: str) -> tuple[str, Intent, Records]:
        if scenario == "wholesale" and ts >= WHOLESALE_SYNC_FAILED:
            scenario = "job-failed"  # the wholesale mailbox no longer receives anything
        mail = Mail(index, _id("email", index), ts, "", Party(""), [], None)
        records = self.scenarios[scenario](mail)
        cause = mail.cause if mail.verdict else SCENARIOS[scenario][0] if scenario in SCENARIOS else None
        verdict = mail.verdict or ("outgoing" if mail.outgoing else "converted" if cause is None else "not-converted")
        return mail.activityid, Intent(cause, verdict), records

    # senders and subjects -------------------------------------------------
    def known_sender(self) -> Party:
        c, rng = self.customers, self.rng
        while True:
            if rng.random() < 0.12:
                a = rng.randrange(c.n_accounts)
                if c.account_active(a) and not c.conflict(a):
                    return c.account_party(a)
            else:
                k = int(c.n_contacts * rng.random() ** 1.6)
                if c.contact_active(k):
                    return c.contact_party(k)

    def stranger_address(self, index: int) -> str:
        first, last = self.rng.choice(FIRST_ASCII), self.rng.choice(LAST_ASCII)
        return f"{first}.{last}.{index}@{self.rng.choice(CONSUMER_DOMAINS)}"

    def subject(self, kind: str) -> str:
        text = self.rng.choice(SUBJECTS[kind]).format(n=self.rng.randrange(4000, 9999))
        if kind == "helpdesk" and self.rng.random() < 0.3:
            text = f"{text} ({self.rng.choice(MACHINES)})"
        return text

    def fill(self, mail: Mail, queue: str | None, kind: str, sender: Party | None = None) -> Mail:
        mail.sender = sender or self.known_sender()
        mail.subject = self.subject(kind)
        mail.queue = queue
        if queue:
            mail.to = [self.queue_party(queue)]
            mail.mailbox = _id("mailbox", queue)
            mail.owner = QUEUES[queue][2]
        return mail

    def queue_party(self, queue: str) -> Party:
        return Party(QUEUES[queue][1], _id("queue", queue), "queue")

    def healthy_queue(self) -> str:
        return "helpdesk" if self.rng.random() < 0.7 else "billing"

    def maybe_cc(self, mail: Mail) -> None:
        domain = mail.sender.address.split("@")[1]
        if self.rng.random() < 0.15 and domain not in CONSUMER_DOMAINS:
            first, last = self.rng.choice(FIRST_ASCII), self.rng.choice(LAST_ASCII)
            mail.cc.append(Party(f"{first[0]}{last}@{domain}"))

    # healthy traffic --------------------------------------------------------
    def converted(self, mail: Mail) -> Records:
        queue = self.healthy_queue()
        self.fill(mail, queue, queue)
        self.maybe_cc(mail)
        return self.convert(mail, mail.sender)

    def converted_new_contact(self, mail: Mail) -> Records:
        address = self.stranger_address(mail.index)
        self.fill(mail, "helpdesk", "helpdesk", Party(address))
        first, last = address.split("@")[0].split(".")[:2]
        contact_id = _child_id(mail.activityid, "newcontact")
        contact = _contact_record(contact_id, (first.title(), last.title()), address, None, None, 0,
                                  mail.ts + self.rng.randrange(2, 5))
        customer = Party(address, contact_id, "contact")
        return [("contacts", contact), *self.convert(mail, customer)]

    def converted_external_reply(self, mail: Mail) -> Records:
        """A reply in a thread Dynamics never saw: In-Reply-To points outside the snapshot."""
        queue = self.healthy_queue()
        self.fill(mail, queue, queue)
        mail.subject = f"RE: {mail.subject}"
        token = _child_id(mail.activityid, "external").replace("-", "")[:20].upper()
        mail.inreplyto = f"<{token}@mail.{self.domain(mail)}>"
        return self.convert(mail, mail.sender)

    def domain(self, mail: Mail) -> str:
        return mail.sender.address.split("@")[1]

    def convert(self, mail: Mail, customer: Party) -> Records:
        self.cases += 1
        incident = _child_id(mail.activityid, "incident")
        mail.regarding = incident
        created = mail.ts + self.rng.randrange(3, 21)
        resolved_at = created + self.rng.randrange(3600, 4 * 86400) if self.rng.random() < 0.55 else None
        if resolved_at is not None and resolved_at >= WINDOW_END:
            resolved_at = None  # still open when the snapshot was taken
        records = self.email_records(mail)
        records.append(("queueitems", self.queue_item(mail, state=1)))
        records.append(("incidents", self.incident(incident, mail.subject, created, customer, resolved_at)))
        if resolved_at is not None:
            records.append(("incidentresolutions", self.resolution(incident, resolved_at)))
        rule = RULE_BY_QUEUE[mail.queue]
        if rule.items[0][2] == 0:  # classic workflows leave system jobs behind
            records.append(("asyncoperations", self.job(mail, rule, 30, None)))
        email = records[0][1]
        self.incoming.append(Thread(mail.activityid, email["messageid"], mail.subject, incident,
                                    mail.queue, customer, email["conversationindex"], self.token(),
                                    0 if resolved_at is None else 1, resolved_at))
        return records

    def token(self) -> str:
        return f"CRM:{self.cases:07d}"

    def outgoing(self, mail: Mail) -> Records:
        thread = self.rng.choice(self.incoming)
        queue = thread.queue
        mail.outgoing = True
        mail.subject = f"RE: {thread.subject} {thread.token}"
        mail.sender = self.queue_party(queue)
        mail.to = [thread.customer]
        mail.owner = self.rng.choice(("sam", "priya", "dana"))
        mail.regarding = thread.incident
        mail.inreplyto = thread.messageid
        mail.parent = thread.activityid
        mail.token = thread.token
        mail.conversation = self.child_index(thread.conversation)
        records = self.email_records(mail)
        email = records[0][1]
        self.replies.append(Thread(mail.activityid, email["messageid"], mail.subject, thread.incident,
                                   queue, thread.customer, email["conversationindex"], thread.token,
                                   thread.case_state, thread.resolved_at))
        return records

    # planted failures --------------------------------------------------------
    def queued(self, mail: Mail, state: int = 0) -> Records:
        """The records of an email that reached its queue (queue item included) but became no case."""
        return [*self.email_records(mail), ("queueitems", self.queue_item(mail, state=state))]

    def bcc(self, mail: Mail) -> Records:
        queue = self.healthy_queue()
        self.fill(mail, queue, queue)
        agent = self.rng.choice(AGENT_MAILBOXES)
        mail.to = [Party(_user_address(agent), _id("systemuser", agent), "systemuser")]
        mail.subject = f"FW: {mail.subject}"
        return self.queued(mail)

    def no_item(self, mail: Mail) -> Records:
        queue = self.healthy_queue()
        self.fill(mail, queue, queue)
        return self.email_records(mail)  # an agent removed its queue item

    def user_tracked(self, mail: Mail) -> Records:
        """Mail an agent's own mailbox tracked: for no queue, out of scope."""
        mail.verdict = "not-for-a-queue"
        agent = self.rng.choice(AGENT_MAILBOXES)
        self.fill(mail, None, "direct")
        mail.to = [Party(_user_address(agent), _id("systemuser", agent), "systemuser")]
        mail.mailbox = _id("mailbox", agent)
        mail.owner = agent
        return self.email_records(mail)

    def reply(self, mail: Mail) -> Records:
        """A customer's reply, correlated to the thread's case: threaded while the case is active, else skipped
        (by design) or, on Helpdesk once its wait after resolution has passed, a new case was expected."""
        thread = self.rng.choice(self.replies if self.replies and self.rng.random() < 0.7 else self.incoming)
        waiting = [t for t in self.incoming if t.resolved_at and 0 <= mail.ts - t.resolved_at < RESOLVED_WAIT * 60]
        if waiting and self.rng.random() < 0.4:  # a reply soon after its case was resolved
            thread = self.rng.choice(waiting)
        self.answer(mail, thread)
        mail.regarding = thread.incident
        mail.correlation = 3
        mail.parent = thread.activityid
        if thread.case_state == 0:
            mail.cause, mail.verdict = None, "converted"
        records = self.queued(mail, state=1)
        if thread.case_state == 0 and self.rng.random() < 0.5:
            records.append(("activitymonitors", self.monitor(mail, 3, 3)))
        return records

    def answer(self, mail: Mail, thread: Thread) -> None:
        self.fill(mail, thread.queue, thread.queue, thread.customer)
        mail.subject = thread.subject if thread.subject.startswith("RE: ") else f"RE: {thread.subject}"
        mail.inreplyto = thread.messageid
        mail.conversation = self.child_index(thread.conversation)

    def reply_other_record(self, mail: Mail) -> Records:
        """A reply correlated to an email that was regarding the customer's record, not a case."""
        thread = self.rng.choice(self.incoming)
        self.answer(mail, thread)
        mail.regarding, mail.regarding_type = thread.customer.party_id, thread.customer.logical_name or "contact"
        mail.correlation = 3
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, 2))]

    def reply_uncorrelated(self, mail: Mail) -> Records:
        """In-Reply-To names a tracked email, but correlation did not connect it: the sender decides."""
        thread = self.rng.choice(self.incoming)
        self.fill(mail, "billing", "billing", Party(self.stranger_address(mail.index)))
        mail.subject = f"RE: {thread.subject}"
        mail.inreplyto = thread.messageid
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, 7))]

    def multiple_cases(self, mail: Mail) -> Records:
        """To Helpdesk, Cc Billing: ARC's "multiple cases" opened one case per queue, Regarding stays blank."""
        self.fill(mail, "helpdesk", "helpdesk")
        mail.cc.append(self.queue_party("billing"))
        cases = []
        for queue in ("helpdesk", "billing"):
            self.cases += 1
            incident = _child_id(mail.activityid, f"incident/{queue}")
            mail.related.append(Party("", incident, "incident"))
            cases.append(("incidents", self.incident(incident, mail.subject, mail.ts + 9, mail.sender, None)))
        return [*self.email_records(mail), ("queueitems", self.queue_item(mail, state=1)),
                ("queueitems", self.queue_item(mail, state=1, queue="billing")), *cases]

    def two_queues(self, mail: Mail) -> Records:
        """To Billing (active rule, known senders only), Cc Marketing (no rule at all), from a stranger."""
        self.fill(mail, "billing", "billing", Party(self.stranger_address(mail.index)))
        mail.cc.append(self.queue_party("marketing"))
        return [*self.queued(mail, state=1), ("queueitems", self.queue_item(mail, state=0, queue="marketing")),
                ("activitymonitors", self.monitor(mail, 3, 7))]

    def sales(self, mail: Mail) -> Records:
        self.fill(mail, "sales", "sales")
        return self.queued(mail)

    def returns(self, mail: Mail) -> Records:
        self.fill(mail, "returns", "returns")
        return [*self.queued(mail), ("activitymonitors", self.monitor(mail, 2, 14, condition=0))]

    def wholesale(self, mail: Mail) -> Records:
        self.fill(mail, "wholesale", "wholesale")
        return [*self.queued(mail), ("activitymonitors", self.monitor(mail, 2, 17))]

    def job_failed(self, mail: Mail) -> Records:
        c = self.customers
        k = self.pick(lambda k: c.consumer(k) and c.contact_active(k), c.n_contacts)
        self.fill(mail, "billing", "billing", c.contact_party(k))
        job = self.job(mail, RULE_BY_QUEUE["billing"], 31, self.rng.choice(JOB_ERRORS))
        return [*self.queued(mail, state=1), ("asyncoperations", job)]

    def monitor_failed(self, mail: Mail) -> Records:
        self.fill(mail, "helpdesk", "helpdesk")
        monitor = self.monitor(mail, 2, self.rng.choice((18, 1)))
        return [*self.queued(mail, state=1), ("activitymonitors", monitor)]

    def stranger(self, mail: Mail) -> Records:
        self.fill(mail, "billing", "billing", Party(self.stranger_address(mail.index)))
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, 7))]

    def inactive_contact(self, mail: Mail) -> Records:
        c = self.customers
        k = self.pick(lambda k: not c.contact_active(k), c.n_contacts)
        self.fill(mail, "billing", "billing", c.contact_party(k))
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, 7))]

    def contact_failed(self, mail: Mail) -> Records:
        self.fill(mail, "helpdesk", "helpdesk", Party(self.stranger_address(mail.index)))
        reason = 16 if self.rng.random() < 0.75 else 9
        monitor = self.monitor(mail, 2, reason)
        return [*self.queued(mail, state=1), ("activitymonitors", monitor)]

    def conflict(self, mail: Mail) -> Records:
        c = self.customers
        a = self.pick(c.conflict, c.n_accounts)
        sender = Party(f"info@{c.account_domain(a)}", _id("contact", a), "contact", _id("account", a))
        queue = self.healthy_queue()
        self.fill(mail, queue, queue, sender)
        records = self.queued(mail, state=1)
        records[0][1]["isduplicatesenderunresolved"] = self.rng.random() < 0.5
        return records

    def no_entitlement(self, mail: Mail) -> Records:
        """A known customer without an active entitlement writes to Billing, whose rule requires one."""
        self.fill(mail, "billing", "billing")
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, self.rng.choice((10, 11))))]

    def no_condition(self, mail: Mail) -> Records:
        """An email none of Helpdesk's conditions matches (it has no catch-all condition): skipped by design."""
        self.fill(mail, "helpdesk", "direct")
        return [*self.queued(mail, state=1), ("activitymonitors", self.monitor(mail, 3, 13))]

    def pick(self, accept: Callable[[int], bool], limit: int) -> int:
        while True:
            k = self.rng.randrange(limit)
            if accept(k):
                return k

    # records ------------------------------------------------------------------
    def next_etag(self) -> str:
        self.etag += self.rng.randrange(1, 40)
        return f'W/"{self.etag}"'

    def message_id(self, mail: Mail) -> str:
        """A Message-ID in the style of the sender's mail system, unique through the activity id."""
        token = mail.activityid.replace("-", "").upper()
        number = int(token[:6], 16)
        if mail.outgoing or self.domain(mail) == DOMAIN:
            host = f"DM6PR{number % 90 + 10:02d}MB{number % 9000 + 1000}"
            return f"<{host}{token[6:26]}@{host}.namprd{number % 9 + 1:02d}.prod.outlook.com>"
        style = self.rng.random()
        if style < 0.45:
            host = f"AM0PR{number % 9 + 1:02d}MB{number % 9000 + 1000}"
            return f"<{host}{token[6:26]}@{host}.eurprd{number % 7 + 1:02d}.prod.outlook.com>"
        if style < 0.75:
            return f"<CA{base64.b32encode(bytes.fromhex(token[:30])).decode().rstrip('=')}@mail.gmail.com>"
        return f"<{token[:16].lower()}.{mail.ts}@{self.domain(mail)}>"

    def new_index(self, mail: Mail) -> str:
        filetime = (mail.ts + 11_644_473_600) * 10_000_000
        guid = _child_id(mail.activityid, "conversation").replace("-", "")
        raw = filetime.to_bytes(8, "big")[:6] + bytes.fromhex(guid)
        return base64.b64encode(raw).decode()

    def child_index(self, parent: str) -> str:
        return base64.b64encode(base64.b64decode(parent) + self.rng.randbytes(5)).decode()

    def email_records(self, mail: Mail) -> Records:
        email = self.email(mail)
        parties = [self.party(mail, mail.sender, 1, 0)]
        parties += [self.party(mail, p, 2, n) for n, p in enumerate(mail.to)]
        parties += [self.party(mail, p, 3, n) for n, p in enumerate(mail.cc)]
        parties += [self.party(mail, p, 13, n) for n, p in enumerate(mail.related)]
        return [("emails", email), *(("activityparties", p) for p in parties)]

    def email(self, mail: Mail) -> dict:
        sender = mail.sender
        return {
            "@odata.etag": self.next_etag(),
            "activityid": mail.activityid,
            "subject": mail.subject,
            "messageid": self.message_id(mail),
            "inreplyto": mail.inreplyto,
            "conversationindex": mail.conversation or self.new_index(mail),
            "trackingtoken": mail.token,
            "directioncode": mail.outgoing,
            "directioncode" + FORMATTED: "Outgoing" if mail.outgoing else "Incoming",
            "statecode": 1,
            "statuscode": 3 if mail.outgoing else 4,
            "correlationmethod": mail.correlation,
            "sender": sender.address,
            "torecipients": ";".join(p.address for p in mail.to),
            **_lookup("_emailsender_value", sender.party_id, sender.logical_name or ""),
            **_lookup("_sendersaccount_value", sender.account_id, "account"),
            **_lookup("_regardingobjectid_value", mail.regarding, mail.regarding_type),
            **_lookup("_parentactivityid_value", mail.parent, "email"),
            **_lookup("_correlatedactivityid_value", mail.parent if mail.correlation else None, "email"),
            **_lookup("_receivingmailboxid_value", mail.mailbox, "mailbox"),
            "isduplicatesenderunresolved": False,
            **_lookup("_ownerid_value", _id("systemuser", mail.owner), "systemuser"),
            "createdon": _iso(mail.ts),
            "modifiedon": _iso(mail.ts + 30),
        }

    def party(self, mail: Mail, party: Party, mask: int, position: int) -> dict:
        return {
            "activitypartyid": _child_id(mail.activityid, f"activityparty/{mask}/{position}"),
            **_lookup("_activityid_value", mail.activityid, "email"),
            "participationtypemask": mask,
            "addressused": party.address or None,
            **_lookup("_partyid_value", party.party_id, party.logical_name or ""),
        }

    def queue_item(self, mail: Mail, state: int, queue: str | None = None) -> dict:
        queue = queue or mail.queue
        return {
            "queueitemid": _child_id(mail.activityid, "queueitem" if queue == mail.queue else f"queueitem/{queue}"),
            "title": mail.subject,
            **_lookup("_objectid_value", mail.activityid, "email"),
            **_lookup("_queueid_value", _id("queue", queue), "queue"),
            "objecttypecode": 4202,
            "statecode": state,
            "statuscode": 2 if state else 1,
            "enteredon": _iso(mail.ts + 1),
            "createdon": _iso(mail.ts + 1),
        }

    def incident(self, incident: str, title: str, created: int, customer: Party, resolved_at: int | None) -> dict:
        suffix = "".join(self.rng.choices("BCDFGHJKLMNPQRSTVWXZ0123456789", k=6))
        return {
            "@odata.etag": self.next_etag(),
            "incidentid": incident,
            "ticketnumber": f"CAS-{self.cases:05d}-{suffix}",
            "title": title,
            "caseorigincode": 2,
            "statecode": 0 if resolved_at is None else 1,
            "statuscode": 1 if resolved_at is None else 5,
            "deactivatedon": None if resolved_at is None else _iso(resolved_at),
            **_lookup("_customerid_value", customer.party_id, customer.logical_name or "contact"),
            "createdon": _iso(created),
        }

    def resolution(self, incident: str, resolved_at: int) -> dict:
        """The completed case resolution that closed the case (Dataverse writes it when a case is resolved)."""
        return {
            "activityid": _child_id(incident, "incidentresolution"),
            "subject": "Resolved",
            **_lookup("_incidentid_value", incident, "incident"),
            "statecode": 1,
            "statuscode": 2,
            "createdon": _iso(resolved_at),
        }

    def monitor(self, mail: Mail, state: int, reason: int, *, condition: int | None = None,
                contact_created: bool = False) -> dict:
        """An activity monitor row; like the real table it has no queue column, and contactcreatedbyrule is
        false unless the rule created a contact."""
        rule = RULE_BY_QUEUE[mail.queue]
        return {
            "activitymonitorid": _child_id(mail.activityid, "activitymonitor"),
            **_lookup("_ruleid_value", _id("convertrule", rule.key), "convertrule"),
            **_lookup("_conditionid_value", None if condition is None else _item_id(rule, condition),
                      "convertruleitem"),
            **_lookup("_monitoredactivityitemid_value", mail.activityid, "email"),
            "currentstate": state,
            "reason": reason,
            "contactcreatedbyrule": contact_created,
            "recommendation": RECOMMENDATIONS.get(reason),
            "createdon": _iso(mail.ts + self.rng.randrange(2, 6)),
        }

    def job(self, mail: Mail, rule: Rule, status: int, message: str | None) -> dict:
        item = 0 if "invoice" in mail.subject.lower() else len(rule.items) - 1
        created = mail.ts + self.rng.randrange(3, 9)
        return _job_record(_child_id(mail.activityid, "asyncoperation"), f"ARC: {rule.items[item][0]}", 10, status,
                           message, _lookup("_regardingobjectid_value", mail.activityid, "email"),
                           _workflow_id(rule, item), created)


def _job_record(job_id, name, operation, status, message, regarding, workflow_id, created) -> dict:
    return {
        "asyncoperationid": job_id,
        "name": name,
        "operationtype": operation,
        "statecode": 3,
        "statuscode": status,
        "statuscode" + FORMATTED: {30: "Succeeded", 31: "Failed"}[status],
        "message": message,
        "friendlymessage": message,
        **regarding,
        **_lookup("_workflowactivationid_value", workflow_id, "workflow"),
        "createdon": _iso(created),
        "completedon": _iso(created + 2),
    }


def _environment_jobs() -> list[dict]:
    """Failed jobs that are not about one email: the wholesale rule and its mailbox."""
    rule_wide = _job_record(
        _id("asyncoperation", "wholesale-rule"), "ARC: Wholesale orders to case", 10, 31,
        "Unknown error matching rules. Contact Microsoft Support.",
        _lookup("_regardingobjectid_value", _id("convertrule", "wholesale"), "convertrule"), None,
        WINDOW_END - 27 * 86400 + 8 * 3600)
    mailbox = _job_record(
        _id("asyncoperation", "wholesale-mailbox"), "Mailbox Test Access (wholesale@contoso-coffee.com)",
        52, 31, SYNC_ERROR, _lookup("_regardingobjectid_value", _id("mailbox", "wholesale"), "mailbox"),
        None, WHOLESALE_SYNC_FAILED + 600)
    return [rule_wide, mailbox]


# --------------------------------------------------------------------------- generation


def _generate(emails: int) -> Iterator[tuple[str, Intent | None, Records]]:
    """Everything in the snapshot, in writing order: (email id or "", what it should give, records)."""
    rng = random.Random(SEED)
    customers = Customers(emails)
    for entity_set, records in _static_tables().items():
        yield "", None, [(entity_set, record) for record in records]
    yield "", None, [("asyncoperations", job) for job in _environment_jobs()]
    yield from _customer_batches("accounts", customers.account_records(rng))
    yield from _customer_batches("contacts", customers.contact_records(rng))
    plan = _scenario_plan(rng, emails)
    factory = EmailFactory(rng, customers)
    for index, ts in enumerate(_timeline(rng, emails)):
        yield factory.build(index, ts, SCENARIO_NAMES[plan[index]])


def _customer_batches(entity_set: str, records: Iterator[dict]) -> Iterator[tuple[str, None, Records]]:
    for record in records:
        yield "", None, [(entity_set, record)]


class PageWriter:
    """Collects one entity set's records and hands out full pages, as an admin saves them."""

    def __init__(self, entity_set: str, page_size: int, sink: Callable[[str, bytes], None]):
        self.entity_set = entity_set
        self.page_size = page_size
        self.sink = sink
        self.buffer: list[dict] = []
        self.page = 1
        self.count = 0

    def add(self, record: dict) -> None:
        if len(self.buffer) == self.page_size:
            self.flush(last=False)
        self.buffer.append(record)
        self.count += 1

    def flush(self, last: bool) -> None:
        body: dict = {"@odata.context": f"{BASE_URL}/$metadata#{self.entity_set}", "value": self.buffer}
        if not last:
            body["@odata.nextLink"] = self.next_link()
        name = f"{self.entity_set}.json" if self.page == 1 else f"{self.entity_set}.{self.page}.json"
        self.sink(name, orjson.dumps(body))
        self.buffer = []
        self.page += 1

    def next_link(self) -> str:
        key = ENTITY_SETS[self.entity_set]
        first, last = (self.buffer[i][key].upper() for i in (0, -1))
        cookie = f'<cookie page="{self.page}"><{key} last="{{{last}}}" first="{{{first}}}" /></cookie>'
        token = f'<cookie pagenumber="{self.page + 1}" pagingcookie="{quote(cookie, safe="")}" istracking="False" />'
        return f"{BASE_URL}/{self.entity_set}?$skiptoken={quote(token, safe='=')}"


def _write(emails: int, page_size: int, sink: Callable[[str, bytes], None]) -> dict[str, int]:
    if emails < 0 or page_size < 1:
        raise ValueError("emails must be >= 0 and page_size >= 1")
    writers = {name: PageWriter(name, page_size, sink) for name in ENTITY_SETS}
    for _activityid, _intent, records in _generate(emails):
        for entity_set, record in records:
            writers[entity_set].add(record)
    for writer in writers.values():
        writer.flush(last=True)
    return {name: writer.count for name, writer in writers.items()}


def write_demo(out_dir: str | Path, emails: int = 400, page_size: int = 5000) -> dict[str, int]:
    """Write the demo snapshot as Web API JSON files into `out_dir`; returns record counts per set."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):  # pages of an earlier, bigger demo would be read as ours
        if stale.name.split(".")[0] in ENTITY_SETS:
            stale.unlink()
    return _write(emails, page_size, lambda name, data: (folder / name).write_bytes(data))


def write_demo_zip(path: str | Path, emails: int = 400, page_size: int = 5000) -> dict[str, int]:
    """Write the demo snapshot as one .zip of Web API JSON files, as a manual export is zipped; returns record
    counts per set. Written beside the target first, so an interrupted run leaves no half zip under its name."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        counts = _write(emails, page_size, archive.writestr)
    partial.replace(target)
    return counts


def demo_files(emails: int = 400) -> dict[str, bytes]:
    """The demo snapshot in memory: file name -> bytes."""
    files: dict[str, bytes] = {}
    _write(emails, 5000, files.__setitem__)
    return files


def intended_primary_causes(emails: int = 400) -> dict[str, str | None]:
    """Email activityid -> the cause the demo planted (None for conversions and outgoing emails)."""
    return {activityid: intent.cause for activityid, intent, _records in _generate(emails) if intent}


def intended_verdicts(emails: int = 400) -> dict[str, str]:
    """Email activityid -> the verdict the demo planted (converted, not-converted, outgoing, not-for-a-queue)."""
    return {activityid: intent.verdict for activityid, intent, _records in _generate(emails) if intent}
