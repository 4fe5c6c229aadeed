"""Cause 8 of the article: contact creation failed for an unknown sender."""

from __future__ import annotations

import pandas as pd

from .. import docs
from ..evidence import SETTING_TABLE, Code, empty_rows, rows
from .base import Cause, Context, finding_rows, monitor_code, monitor_evidence, monitor_rows
from .keys import NONE, first_positions
from .unknown_sender_not_allowed import unknown_sender_targets

SETTING = "msdyn_ArcCreateContactWithRuleOwner"
NO_CONTACT = Code("contact-not-created", "rule '{rule}' allows emails from unknown senders, yet no contact with "
                  "{sender} exists", about=SETTING_TABLE, raw="allowunknownsender = true")
# The snapshot cannot tell which 'Manage unknown senders by' option the rule uses: the fix names both.
MANUAL = (" If the rule's 'Manage unknown senders by' is 'Mapping in Power Automate manually' rather than 'Creating a "
          "new contact automatically', its flow decides what happens to the sender: the flow's run history says why "
          "no contact was made (not a permissions problem).")
SETTING_VALUE = Code("setting-value", "the setting that says whose permissions create contacts is {value}: contacts "
                     "for unknown senders are created with {whose} permissions", about=SETTING_TABLE,
                     severity="info", unproven="info", raw=SETTING + " = {value}")
MONITOR = monitor_code(about=SETTING_TABLE)


def detect(context: Context) -> pd.DataFrame:
    parts = []
    if context.has("convertrules", "contacts", "accounts"):
        found = unknown_sender_targets(context, allow=True)
        any_contact = context.senders.loc[(context.senders["record_type"] == "contact").to_numpy(), "activityid"]
        found = found[first_positions(found["activityid"], any_contact) == NONE]
        parts.append(rows(found, NO_CONTACT, {"rule": found["name"].astype("str").fillna("(unnamed)"),
                                              "sender": found["sender_address"].astype("str").fillna("(none)")},
                          about_name=SETTING))
    if context.has("activitymonitors"):  # contactcreatedbyrule is false by default: it proves nothing alone
        monitor = monitor_evidence(monitor_rows(context, reasons={9, 16}), MONITOR)
        parts.append(monitor.assign(about_id=pd.NA, about_name=SETTING))  # the fix is the setting's, not the rule's
    return pd.concat(parts or [empty_rows()], ignore_index=True)


def remediation_for(context: Context) -> str:
    return _permissions(context) + MANUAL


def _permissions(context: Context) -> str:
    value = context.settings.get(SETTING)
    if value is None and not context.has("environmentvariabledefinitions"):
        return (f"Contacts for unknown senders are created with the email owner's permissions unless the "
                f"environment variable {SETTING} is 1 (the snapshot has no environment variables, so the "
                "setting is unknown): grant the email owner (usually the queue owner) create rights on "
                f"Contact, or set {SETTING} to 1 and grant them to the rule owner.")
    if str(value).strip() == "1":
        return (f"{SETTING} is 1, so contacts are created with the rule owner's permissions: give the rule "
                "owner a security role with Create on Contact (and check the owner is enabled).")
    return (f"{SETTING} is {value if value is not None else 'not set'}, so contacts are created with the email "
            "owner's permissions: give the email owner (usually the queue owner) Create on Contact, or set "
            f"{SETTING} to 1 so the rule owner's permissions are used.")


def findings(context: Context) -> pd.DataFrame:
    if not context.has("environmentvariabledefinitions"):
        return empty_rows()
    value = context.settings.get(SETTING)
    whose = "the rule owner's" if str(value).strip() == "1" else "the email owner's"
    setting = pd.DataFrame(index=[0])
    found = rows(setting, SETTING_VALUE, {"value": value if value is not None else "(not set)", "whose": whose},
                 about_name=SETTING)
    return finding_rows(found, "environment", pd.Series([SETTING]))


CAUSE = Cause(
    id="contact-creation-failed",
    order=8,
    seed_number=8,
    kind="fault",
    title="Contact creation failed when the incoming email is from an unknown sender",
    stage="Contact found or created",
    seed_text=("By default, a contact for an unknown email sender is created with the email owner context. A "
               "case might not get created if the email owner doesn't have the required permissions. "
               "Alternatively, you may choose to use the rule owner permissions to create the new contact by "
               "configuring the msdyn_ArcCreateContactWithRuleOwner environment variable."),
    detection=("The sender is unknown, the queue's active rule allows emails from unknown senders, and no contact "
               "with the address exists at all; or the rule's activity monitor says the contact could not be "
               "created. (A contact's 'created by rule' flag is off by default, so it proves nothing alone.)"),
    remediation=(f"With 'Creating a new contact automatically': grant Create on Contact to the email owner, or set "
                 f"{SETTING} to 1 and grant it to the rule owner." + MANUAL),
    doc_url=docs.RULE_OWNER_CONTACTS,
    color="#F0E442",
    tables=("convertrules", "contacts", "accounts", "activitymonitors"),
    requires=(),
    codes=(NO_CONTACT, SETTING_VALUE, MONITOR),
    detect=detect,
    findings=findings,
    advice=remediation_for,
)
