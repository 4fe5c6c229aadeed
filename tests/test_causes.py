"""Each cause, found when its evidence is present and not found otherwise."""

from __future__ import annotations

from factory import (
    CASE,
    EMAIL,
    MAILBOX,
    QUEUE,
    RULE,
    SALES,
    cause_ids,
    email,
    evidence_of,
    failed_job,
    gid,
    healthy,
    monitor,
    parties,
    queue_item,
    result,
    run,
)

from diagnostics.causes import CAUSES


def test_registry_holds_exactly_the_nine_contract_ids_in_pipeline_order():
    assert [cause.id for cause in CAUSES] == [
        "email-not-synced", "queue-only-in-bcc", "queue-item-missing", "reply-to-tracked-email",
        "no-active-rule-for-queue", "rule-configuration-error", "unknown-sender-not-allowed",
        "contact-creation-failed", "customer-email-conflict", "no-valid-entitlement", "no-condition-matched"]
    assert sorted(cause.seed_number for cause in CAUSES if cause.seed_number) == list(range(1, 10))
    assert len({cause.color for cause in CAUSES}) == len(CAUSES)
    for cause in CAUSES:
        assert cause.title and cause.seed_text and cause.detection and cause.remediation
        assert cause.doc_url.startswith("https://learn.microsoft.com/")
        assert "email-not-converted-to-case" not in cause.doc_url  # correction 8: the published address
    by_design = {cause.id: cause.kind for cause in CAUSES if cause.kind != "fault"}
    assert by_design == {"reply-to-tracked-email": "by-design", "no-valid-entitlement": "by-design",
                         "no-condition-matched": "by-design"}


def test_registry_refuses_bad_definitions_and_duplicates():
    import dataclasses

    import pytest

    from diagnostics.causes import _registry
    from diagnostics.causes.base import Cause

    helpdesk = CAUSES[1]
    for change in ({"kind": "by design"}, {"kind": "configuration"}, {"id": "Not_Kebab"}, {"color": "red"},
                   {"requires": ("nosuchtable",)}, {"doc_url": "https://example.com/"}):
        with pytest.raises(ValueError):
            dataclasses.replace(helpdesk, **change)
    assert isinstance(dataclasses.replace(helpdesk, kind="by-design"), Cause)
    with pytest.raises(ValueError, match="id repeated"):
        _registry((*CAUSES, dataclasses.replace(helpdesk, order=99, seed_number=99, color="#000001")))
    assert _registry(tuple(CAUSES)) == tuple(CAUSES)


def test_healthy_environment_explains_nothing_and_says_where_to_look():
    detail = result(run(healthy()))
    assert detail["verdict"] == "not-converted"
    assert detail["causes"] == [] and detail["primary_cause"] is None
    assert any("flow run history" in note for note in detail["notes"])


def test_converted_email_has_no_causes():
    records = healthy()
    records["emails"][0]["_regardingobjectid_value"] = CASE
    records["emails"][0]["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "incident"
    detail = result(run(records))
    assert detail["verdict"] == "converted" and detail["causes"] == [] and detail["unchecked"] == []


def test_regarding_without_annotation_counts_as_case_when_it_is_an_incident():
    records = healthy()
    records["emails"][0]["_regardingobjectid_value"] = CASE.upper()
    assert result(run(records))["verdict"] == "converted"


def test_outgoing_email_gets_no_causes():
    records = healthy()
    records["emails"][0]["directioncode"] = True
    detail = result(run(records))
    assert detail["verdict"] == "outgoing" and detail["causes"] == [] and detail["primary_cause"] is None


# --- by design note -------------------------------------------------------------------------------------

def test_inactive_queue_item_next_to_active_rule_is_a_note_not_a_cause():
    detail = result(run(healthy()))
    assert "queue-item-missing" not in cause_ids(run(healthy()))
    assert any("by design" in note and "Helpdesk" in note for note in detail["notes"])


# --- queue-only-in-bcc ---------------------------------------------------------------------------------

def _bcc(records):
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("dana@fourthcoffee.com", None)])
    records["emails"][0]["torecipients"] = "dana@fourthcoffee.com"
    records["queueitems"][0]["statecode"] = 0  # active: the rule never touched it (third round, item 2)
    return records


def test_queue_only_in_bcc_found_through_queue_item():
    report = run(_bcc(healthy()))
    assert result(report)["primary_cause"] == "queue-only-in-bcc"
    assert any("dana@fourthcoffee.com" in sentence and "Helpdesk" in sentence
               for sentence in evidence_of(report, "queue-only-in-bcc"))


def test_queue_only_in_bcc_found_through_receiving_mailbox():
    records = _bcc(healthy())
    records["queueitems"] = []
    records["emails"][0]["_receivingmailboxid_value"] = MAILBOX.upper()
    assert "queue-only-in-bcc" in cause_ids(run(records))


def test_queue_in_cc_is_not_bcc():
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("dana@fourthcoffee.com", None)],
                                         cc=[("Help@FourthCoffee.com", None)])
    assert "queue-only-in-bcc" not in cause_ids(run(records))


def test_queue_address_with_display_name_in_torecipients_is_not_bcc():
    records = healthy()
    records["activityparties"] = []
    records["emails"][0]["torecipients"] = "Dana <dana@fourthcoffee.com>; Helpdesk <HELP@fourthcoffee.com>"
    assert cause_ids(run(records)) == []


# --- queue-item-missing ------------------------------------------------------------------------------------

def test_queue_item_missing_when_sent_to_queue_without_item():
    records = healthy()
    records["queueitems"] = []
    report = run(records)
    assert result(report)["primary_cause"] == "queue-item-missing"
    assert any("Helpdesk" in sentence for sentence in evidence_of(report, "queue-item-missing"))


def test_no_target_queue_at_all_is_not_for_a_queue_not_queue_item_missing():
    records = _bcc(healthy())
    records["queueitems"] = []
    report = run(records)
    detail = result(report)
    assert detail["verdict"] == "not-for-a-queue" and detail["causes"] == [] and detail["primary_cause"] is None
    assert report.summary()["not_for_a_queue"] == 1 and report.summary()["incoming"] == 0


def test_queue_item_missing_not_guessed_without_queueitems_table():
    records = healthy()
    report = run(records, drop=("queueitems",))
    assert "queue-item-missing" not in cause_ids(report)
    unchecked = {item["id"]: item["missing"] for item in result(report)["unchecked"]}
    assert unchecked["queue-item-missing"] == ["queueitems"]


# --- reply-to-tracked-email -------------------------------------------------------------------------------

def _with_reply(records, **columns):
    reply = gid("email-reply")
    records["emails"][0].update({"_regardingobjectid_value": CASE,
                                 "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "incident"})
    records["emails"].append(email(reply, "RE: Machine leaks", "<reply@mail.tailspin.com>", **columns))
    records["activityparties"] += parties(reply, "jo@tailspin.com", to=[("help@fourthcoffee.com", QUEUE)])
    records["queueitems"].append(queue_item(reply, QUEUE, active=False))
    records["incidents"][0].update(statecode=1, deactivatedon="2026-11-03T09:00:00Z")  # resolved: no threading
    return records, reply


def test_reply_found_by_in_reply_to_with_message_id_normalisation():
    records, reply = _with_reply(healthy(), inreplyto="  <FIRST@Mail.Tailspin.com> ",
                                 _regardingobjectid_value=CASE,
                                 **{"_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "incident"})
    report = run(records)
    detail = result(report, reply)
    assert detail["verdict"] == "not-converted" and detail["primary_cause"] == "reply-to-tracked-email"
    assert any("Machine leaks" in sentence and CASE in sentence
               for sentence in evidence_of(report, "reply-to-tracked-email", reply))
    assert result(report)["verdict"] == "converted"


REGARDING_CASE = {"_regardingobjectid_value": CASE,
                  "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "incident"}


def test_reply_found_by_correlation_method_and_parent_activity():
    records, reply = _with_reply(healthy(), correlationmethod=5, **REGARDING_CASE)
    assert cause_ids(run(records), reply)[0] == "reply-to-tracked-email"
    records, reply = _with_reply(healthy(), _parentactivityid_value=EMAIL, **REGARDING_CASE)
    assert cause_ids(run(records), reply)[0] == "reply-to-tracked-email"


def test_reply_found_by_activity_monitor_reason():
    records, reply = _with_reply(healthy())
    records["activitymonitors"] = [monitor(reply, reason=3)]
    assert "reply-to-tracked-email" in cause_ids(run(records), reply)


def test_in_reply_to_an_unknown_message_is_not_a_reply():
    records, reply = _with_reply(healthy(), inreplyto="<elsewhere@mail.tailspin.com>")
    assert "reply-to-tracked-email" not in cause_ids(run(records), reply)


def test_email_is_not_a_reply_to_itself():
    records = healthy()
    records["emails"][0]["inreplyto"] = "<first@mail.tailspin.com>"
    assert "reply-to-tracked-email" not in cause_ids(run(records))


# --- no-active-rule-for-queue --------------------------------------------------------------------------

def test_no_active_rule_names_the_draft_rule():
    records = healthy()
    records["convertrules"][0]["statecode"] = 0
    report = run(records)
    assert result(report)["primary_cause"] == "no-active-rule-for-queue"
    assert any("Draft" in sentence and "Helpdesk email to case" in sentence
               for sentence in evidence_of(report, "no-active-rule-for-queue"))


def test_no_active_rule_for_a_cc_queue_with_uppercase_guid():
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("help@fourthcoffee.com", QUEUE)],
                                         cc=[("sales@fourthcoffee.com", "{" + SALES.upper() + "}")])
    records["queueitems"].append(queue_item(EMAIL, SALES, active=True))
    report = run(records)
    causes = result(report)["causes"]
    assert [(cause["id"], cause["queue"]) for cause in causes] == [("no-active-rule-for-queue", SALES)]


def test_active_rule_means_no_such_cause():
    assert "no-active-rule-for-queue" not in cause_ids(run(healthy()))


# --- rule-configuration-error ---------------------------------------------------------------------------

def test_rule_without_items():
    records = healthy()
    records["convertruleitems"] = []
    report = run(records)
    assert result(report)["primary_cause"] == "rule-configuration-error"
    assert any("no conditions" in sentence for sentence in evidence_of(report, "rule-configuration-error"))


def test_item_flow_not_activated_or_missing():
    records = healthy()
    records["workflows"][0]["statecode"] = 0
    assert any("Draft" in sentence for sentence in evidence_of(run(records), "rule-configuration-error"))
    records = healthy()
    records["workflows"] = [{"workflowid": gid("other"), "name": "ARC: other", "category": 5, "statecode": 1}]
    assert any("no existing workflow" in s for s in evidence_of(run(records), "rule-configuration-error"))


def test_disabled_rule_owner():
    records = healthy()
    records["systemusers"][0]["isdisabled"] = True
    assert any("Dana Admin" in sentence and "disabled" in sentence
               for sentence in evidence_of(run(records), "rule-configuration-error"))


def test_failed_job_regarding_the_email_or_the_rule_counts():
    records = healthy()
    records["asyncoperations"] = [failed_job(EMAIL.upper(), "The case is missing customer.")]
    assert any("missing customer" in s for s in evidence_of(run(records), "rule-configuration-error"))
    records["asyncoperations"] = [failed_job(RULE, "Unknown error matching rules. Contact Microsoft Support")]
    assert any("Unknown error" in s for s in evidence_of(run(records), "rule-configuration-error"))


def test_job_that_failed_for_another_email_does_not_count():
    records = healthy()
    records["asyncoperations"] = [failed_job(gid("another-email"), "The case is missing customer.")]
    assert "rule-configuration-error" not in cause_ids(run(records))


def test_succeeded_job_does_not_count():
    records = healthy()
    job = failed_job(EMAIL, "fine")
    job["statuscode"] = 30
    records["asyncoperations"] = [job]
    assert "rule-configuration-error" not in cause_ids(run(records))


def test_monitor_reasons_of_rule_configuration():
    for reason in (1, 14, 15, 17, 18, 19):
        records = healthy()
        records["activitymonitors"] = [monitor(EMAIL, reason=reason)]
        assert cause_ids(run(records)) == ["rule-configuration-error"], reason


def test_failed_monitor_row_with_reason_claimed_elsewhere_is_not_rule_configuration():
    records = healthy()
    records["activitymonitors"] = [monitor(EMAIL, reason=7, state=2)]
    assert cause_ids(run(records)) == ["unknown-sender-not-allowed"]
    records["activitymonitors"] = [monitor(EMAIL, reason=0, state=2)]
    assert cause_ids(run(records)) == ["rule-configuration-error"]


# --- unknown-sender-not-allowed ------------------------------------------------------------------------

def _stranger(records, address="someone@contoso.net"):
    records["emails"][0]["sender"] = address
    records["activityparties"][0]["addressused"] = address
    return records


def test_unknown_sender_not_allowed():
    report = run(_stranger(healthy()))
    assert result(report)["primary_cause"] == "unknown-sender-not-allowed"
    sentences = evidence_of(report, "unknown-sender-not-allowed")
    assert any("Helpdesk email to case" in s and "someone@contoso.net" in s for s in sentences)


def test_sender_with_display_name_and_case_is_known():
    records = healthy()
    records["activityparties"][0]["addressused"] = "Jo Brown <JO@Tailspin.com>"
    assert cause_ids(run(records)) == []


def test_sender_known_through_account_or_second_address():
    records = _stranger(healthy(), "info@tailspin.com")
    assert cause_ids(run(records)) == []
    records = _stranger(healthy(), "jo.b@tailspin.com")
    records["contacts"][0]["emailaddress3"] = "jo.b@tailspin.com"
    assert cause_ids(run(records)) == []


def test_inactive_contact_does_not_make_sender_known():
    records = healthy()
    records["contacts"][0]["statecode"] = 1
    report = run(records)
    assert cause_ids(report) == ["unknown-sender-not-allowed"]
    assert any("inactive" in s for s in evidence_of(report, "unknown-sender-not-allowed"))


def test_contact_created_after_the_email_does_not_make_sender_known():
    records = healthy()
    records["contacts"][0]["createdon"] = "2026-11-03T10:00:01Z"
    assert cause_ids(run(records)) == ["unknown-sender-not-allowed"]


def test_unknown_sender_from_monitor_reason_even_without_customer_tables():
    records = _stranger(healthy())
    records["activitymonitors"] = [monitor(EMAIL, reason=7)]
    report = run(records, drop=("contacts", "accounts"))
    assert "unknown-sender-not-allowed" in cause_ids(report)


def test_unknown_sender_not_guessed_without_accounts():
    report = run(_stranger(healthy()), drop=("accounts",))
    assert "unknown-sender-not-allowed" not in cause_ids(report)
    unchecked = {item["id"]: item["missing"] for item in result(report)["unchecked"]}
    assert "accounts" in unchecked["unknown-sender-not-allowed"]


# --- contact-creation-failed ---------------------------------------------------------------------------

def _allow_unknown(records):
    records["convertrules"][0]["allowunknownsender"] = True
    return _stranger(records)


def test_contact_creation_failed_when_no_contact_was_created():
    report = run(_allow_unknown(healthy()))
    detail = result(report)
    assert detail["primary_cause"] == "contact-creation-failed"
    remediation = detail["causes"][0]["remediation"]
    assert "msdyn_ArcCreateContactWithRuleOwner is 0" in remediation and "email owner" in remediation


def test_contact_created_by_the_rule_after_the_email_means_creation_worked():
    records = _allow_unknown(healthy())
    records["contacts"].append({"contactid": gid("created"), "fullname": "someone", "statecode": 0,
                                "emailaddress1": "someone@contoso.net", "createdon": "2026-11-03T10:00:01Z"})
    assert "contact-creation-failed" not in cause_ids(run(records))


def test_contact_creation_failed_from_monitor_and_rule_owner_setting():
    records = healthy()
    records["activitymonitors"] = [monitor(EMAIL, reason=16, state=2, contactcreatedbyrule=False)]
    records["environmentvariablevalues"] = [{"environmentvariablevalueid": gid("envval"),
                                             "_environmentvariabledefinitionid_value": gid("envdef"),
                                             "value": "1"}]
    detail = result(run(records))
    assert "contact-creation-failed" in [cause["id"] for cause in detail["causes"]]
    remediation = next(c["remediation"] for c in detail["causes"] if c["id"] == "contact-creation-failed")
    assert "rule owner" in remediation and "is 1" in remediation
    for reason in (9, 16):
        records["activitymonitors"] = [monitor(EMAIL, reason=reason)]
        assert cause_ids(run(records)) == ["contact-creation-failed"]


def test_known_sender_is_never_contact_creation_failed():
    records = healthy()
    records["convertrules"][0]["allowunknownsender"] = True
    assert cause_ids(run(records)) == []


# --- customer-email-conflict ------------------------------------------------------------------------------

def test_customer_email_conflict_between_contact_and_account():
    records = healthy()
    records["accounts"][0]["emailaddress2"] = "JO@tailspin.com"
    report = run(records)
    assert cause_ids(report) == ["customer-email-conflict"]
    assert any("Jo Brown" in s and "Tailspin Toys" in s for s in evidence_of(report, "customer-email-conflict"))


def test_customer_email_conflict_flag_on_email():
    records = healthy()
    records["emails"][0]["isduplicatesenderunresolved"] = True
    assert cause_ids(run(records)) == ["customer-email-conflict"]


def test_inactive_or_later_duplicate_is_no_conflict():
    records = healthy()
    records["accounts"][0]["emailaddress2"] = "jo@tailspin.com"
    records["accounts"][0]["statecode"] = 1
    assert cause_ids(run(records)) == []
    records["accounts"][0].update(statecode=0, createdon="2026-12-01T00:00:00Z")
    assert cause_ids(run(records)) == []


# --- email-not-synced ---------------------------------------------------------------------------------------

def test_email_not_synced_is_never_given_to_a_snapshot_email_but_is_a_queue_finding():
    records = healthy()
    records["mailboxes"][0].update(incomingemailstatus=2, lastsyncerror="Mailbox test access failed")
    report = run(records)
    assert "email-not-synced" not in cause_ids(report)
    assert all(item["id"] != "email-not-synced" for item in result(report)["unchecked"])
    finding = next(f for f in report.findings if f["id"] == "email-not-synced")
    assert finding["subject"] == QUEUE
    assert {item["code"] for item in finding["evidence"]} >= {"mailbox-failure", "mailbox-sync-error"}
    assert any(item["values"].get("error") == "Mailbox test access failed" for item in finding["evidence"])


def test_email_not_synced_queue_settings():
    records = healthy()
    records["queues"][0].update(incomingemailfilteringmethod=4, emailrouteraccessapproval=2)
    evidence = next(f for f in run(records).findings if f["id"] == "email-not-synced")["evidence"]
    texts = [item["text"] for item in evidence]
    assert any("No email messages" in text for text in texts) and any("Pending" in text for text in texts)


def test_healthy_mailbox_gives_no_sync_finding():
    assert not [f for f in run(healthy()).findings if f["id"] == "email-not-synced"]


# --- findings and ordering ------------------------------------------------------------------------------------

def test_primary_cause_is_first_in_pipeline_order_and_all_causes_are_listed():
    records = _stranger(healthy())
    records["convertruleitems"] = []
    records["accounts"][0]["emailaddress1"] = "nobody@tailspin.com"
    records["activitymonitors"] = [monitor(EMAIL, reason=13)]
    detail = result(run(records))
    assert [cause["id"] for cause in detail["causes"]] == ["rule-configuration-error", "unknown-sender-not-allowed"]
    assert detail["primary_cause"] == "rule-configuration-error"


def test_environment_findings_name_rules_owners_and_settings():
    records = healthy()
    records["systemusers"][0]["isdisabled"] = True
    findings = run(records).findings
    rule = next(f for f in findings if f["scope"] == "rule")
    assert rule["subject"] == RULE and any(item["code"] == "owner-disabled" and "disabled" in item["text"]
                                           for item in rule["evidence"])
    setting = next(f for f in findings if f["scope"] == "environment")
    assert setting["evidence"][0]["values"]["value"] == "0"
    # Sales has no rule but no incoming email reached it in the period: no finding (third round, item 7)
    assert not [f for f in findings if f["id"] == "no-active-rule-for-queue"]


def test_a_queue_without_a_rule_is_a_finding_once_incoming_email_reached_it():
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("help@fourthcoffee.com", QUEUE)],
                                         cc=[("sales@fourthcoffee.com", SALES)])
    report = run(records)
    sales = next(f for f in report.findings if f["id"] == "no-active-rule-for-queue")
    assert sales["subject"] == SALES
    entry = next(e for e in report.fix_plan() if e["about"]["id"] == SALES)
    # Helpdesk has the active rule, so Sales is not expected: a warning that blocks nothing (item 6)
    assert (entry["severity"], entry["emails_blocked"], sales["severity"]) == ("warning", 0, "warning")


def test_ids_in_output_are_lower_case():
    records = healthy()
    records["emails"][0]["activityid"] = EMAIL.upper()
    for row in records["activityparties"]:
        row["_activityid_value"] = "{" + EMAIL.upper() + "}"
    records["queueitems"][0]["_objectid_value"] = EMAIL.upper()
    report = run(records)
    assert report.emails["activityid"].tolist() == [EMAIL]
    assert result(report)["queues"] == [QUEUE]

