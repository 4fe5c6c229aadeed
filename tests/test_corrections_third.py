"""The contract's "Corrections (third round)" items 1-5 and 13 (snapshot mode), one scenario each.

Every scenario holds a positive email (the correction changes its verdict, causes or texts) and a negative one
(it must not), and is checked twice with the same assertions: through ``diagnose`` and through
``python -m diagnostics diagnose FOLDER --format json``.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson
import pytest
from dataverse_standin import StandIn
from factory import CASE, EMAIL, QUEUE, SALES, gid, healthy, monitor, run
from test_corrections import TYPE, Result, add_email, case, reply_to_first

from diagnostics.export_guide import table_filter

OTHER = gid("email-other")
THIRD = gid("email-third")
FOURTH = gid("email-fourth")
RULE_FLOW = gid("flow-helpdesk-rule")
STRANGER = "someone@contoso.net"
SALES_RULE = gid("rule-sales")


def values(result: Result, cause_id: str, activityid: str = EMAIL) -> list[dict]:
    return [item["values"] for item in result.cause(cause_id, activityid)["evidence"]]


def codes(result: Result, cause_id: str, activityid: str = EMAIL) -> set[str]:
    return {item["code"] for item in result.cause(cause_id, activityid)["evidence"]}


def with_sales_rule(records: dict, **columns) -> None:
    """A second active rule, on the Sales queue, with one condition."""
    records["convertrules"].append({**records["convertrules"][0], "convertruleid": SALES_RULE,
                                    "name": "Sales email to case", "_queueid_value": SALES, **columns})
    records["convertruleitems"].append({"convertruleitemid": gid("item-sales"), "_convertruleid_value": SALES_RULE,
                                        "name": "All", "_workflowid_value": gid("flow-helpdesk")})


def plan_entry(result: Result, code: str) -> dict:
    return next(entry for entry in result.plan if any(item["code"] == code for item in entry["evidence"]))


# --------------------------------------------------------------------------- 1. cases of older emails


def case_not_in_snapshot() -> tuple[dict, Callable[[Result], None]]:
    """1. A reply regarding a case absent from the snapshot is converted and threaded, its state unchecked; a reply
    regarding a resolved case of the snapshot is still judged by the rule's wait."""
    records = healthy()
    records["incidents"] = [case(1, "2026-11-02T10:00:00Z")]
    records["convertrules"][0].update(checkifresolved=False)
    reply_to_first(records, regarding=gid("case-older"), correlationmethod=3)
    add_email(records, OTHER, inreplyto="<first@mail.tailspin.com>", correlationmethod=3,
              _regardingobjectid_value=CASE, **{TYPE: "incident"})

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["verdict"] == "converted" and mine["threaded"] is True and mine["causes"] == []
        assert "the case is not in the snapshot: its state was not checked" in result.notes()
        assert "state was not exported" not in json.dumps(result.data)
        other = result.email(OTHER)
        assert other["verdict"] == "not-converted" and other["primary_cause"] == "reply-to-tracked-email"
        assert other["primary_kind"] == "by-design" and "not in the snapshot" not in result.notes(OTHER)
        assert result.summary["threaded"] == 1
    return records, check


def test_the_incidents_request_takes_the_cases_emails_of_the_period_regard():
    """1. The export guide's incidents request: created in the period, or regarded by an email of the period
    (an older case with no update since the start); a case neither created nor regarded in it stays out."""
    cases = [{"incidentid": gid(name), "createdon": created, "modifiedon": created}
             for name, created in (("new", "2026-11-05T00:00:00Z"), ("old-replied", "2026-09-01T00:00:00Z"),
                                   ("old-quiet", "2026-09-01T00:00:00Z"))]
    emails = [{"activityid": gid(f"e-{name}"), "_regardingobjectid_value": gid(name), "createdon": created}
              for name, created in (("old-replied", "2026-11-10T00:00:00Z"), ("old-quiet", "2026-09-02T00:00:00Z"))]
    resolutions = [{"activityid": gid(f"r-{name}"), "_incidentid_value": gid(name), "statecode": state,
                    "createdon": "2026-09-20T00:00:00Z"}
                   for name, state in (("old-replied", 1), ("old-quiet", 1), ("new", 2))]
    files = {f"{table}.json": orjson.dumps({"value": rows}) for table, rows in (
        ("incidents", cases), ("emails", emails), ("incidentresolutions", resolutions))}
    period = (date(2026, 11, 1), date(2026, 11, 30))
    assert "Incident_Emails/any(e:e/createdon ge 2026-11-01T00:00:00Z" in table_filter("incidents", *period)
    server = StandIn(files)
    taken = {row["incidentid"] for row in server.rows("incidents", None, table_filter("incidents", *period),
                                                       False)}
    assert taken == {gid("new"), gid("old-replied")}
    resolved = {row["activityid"] for row in server.rows(
        "incidentresolutions", None, table_filter("incidentresolutions", *period), False)}
    assert resolved == {gid("r-old-replied")}  # completed, of an exported case


# --------------------------------------------------------------------------- 2. Bcc and distribution lists


def bcc_processed_by_the_rule() -> tuple[dict, Callable[[Result], None]]:
    """2. Reached through a distribution list: the rule deactivated the queue item (or logged a monitor row), so
    how it arrived is a note and the other causes decide; an active queue item the rule never touched is the
    cause. Without activity parties only To is known."""
    records = healthy()
    to_list = (("team@tailspin.com", None),)
    records["activityparties"] = [row for row in records["activityparties"] if row["participationtypemask"] == 1]
    records["activityparties"] += [{"activitypartyid": gid("dl-to"), "_activityid_value": EMAIL,
                                    "participationtypemask": 2, "addressused": "team@tailspin.com"}]
    records["emails"][0].update(torecipients="team@tailspin.com", sender=STRANGER)
    records["activityparties"][0]["addressused"] = STRANGER
    add_email(records, OTHER, to=to_list)  # a known sender, the queue item still active
    records["queueitems"][-1]["statecode"] = 0
    add_email(records, THIRD, to=to_list, sender=STRANGER)  # active item, but a monitor row: processed
    records["queueitems"][-1]["statecode"] = 0
    records["activitymonitors"] = [monitor(THIRD, reason=7)]
    add_email(records, FOURTH, to=to_list)  # no activity parties: only the To line is known
    records["activityparties"] = [row for row in records["activityparties"] if row["_activityid_value"] != FOURTH]
    records["queueitems"][-1]["statecode"] = 0

    def check(result: Result) -> None:
        assert "queue-only-in-bcc" not in result.causes()
        assert result.email()["primary_cause"] == "unknown-sender-not-allowed"
        assert "how it arrived explains nothing" in result.notes()
        assert "queue-only-in-bcc" not in result.causes(THIRD) and "how it arrived" in result.notes(THIRD)
        other = result.email(OTHER)
        assert other["primary_cause"] == "queue-only-in-bcc" and "how it arrived" not in result.notes(OTHER)
        assert "in neither To nor Cc" in result.evidence("queue-only-in-bcc", OTHER)
        assert "not in To (Cc and Bcc unknown without activity parties)" in result.evidence("queue-only-in-bcc",
                                                                                               FOURTH)
    return records, check


# --------------------------------------------------------------------------- 3. every activity monitor reason


def monitor_reasons() -> tuple[dict, Callable[[Result], None]]:
    """3. Reasons 1 and 19 are rule faults with fixes of their own, 10/11 no-valid-entitlement (by design), an unknown
    reason shows its number and label; the recommendation is a value. An email without a monitor row has none."""
    records = healthy()
    records["convertrules"][0]["checkactiveentitlement"] = True
    with_sales_rule(records)
    reasons = {EMAIL: (1, 2), OTHER: (19, 2), THIRD: (11, 3), FOURTH: (42, 2)}
    add_email(records, OTHER, to=(("sales@fourthcoffee.com", SALES),), item=SALES)
    for activityid in (THIRD, FOURTH):
        add_email(records, activityid)
    records["activitymonitors"] = [monitor(activityid, reason=reason, state=state,
                                           recommendation="<p>Check the <b>entitlement</b>.</p>")
                                   for activityid, (reason, state) in reasons.items()]
    records["activitymonitors"][1]["_ruleid_value"] = SALES_RULE  # one fix-plan entry per rule
    quiet = gid("email-quiet")
    add_email(records, quiet)

    def check(result: Result) -> None:
        assert result.causes() == ["rule-configuration-error"]
        assert codes(result, "rule-configuration-error") == {"monitor-source-data-missing"}
        source = plan_entry(result, "monitor-source-data-missing")["fix"]
        assert "reprocess them (Add To Queue)" in source and "Microsoft Support if it recurs" in source
        assert codes(result, "rule-configuration-error", OTHER) == {"monitor-flow-trigger-changed"}
        trigger = plan_entry(result, "monitor-flow-trigger-changed")["fix"]
        assert "trigger" in trigger and "deactivate and reactivate the rule" in trigger
        third = result.email(THIRD)
        assert third["primary_cause"] == "no-valid-entitlement" and third["primary_kind"] == "by-design"
        (cited,) = values(result, "no-valid-entitlement", THIRD)
        assert cited["requires"] == "yes" and cited["sender"] == "jo@tailspin.com"
        assert cited["recommendation"] == "Check the entitlement ."
        assert "Require a valid entitlement' to No" in result.cause("no-valid-entitlement", THIRD)["remediation"]
        (unknown,) = values(result, "rule-configuration-error", FOURTH)
        assert (unknown["reason"], unknown["state"]) == ("42", "Failed")
        assert unknown["label"] == "a reason this tool does not know"
        assert result.email(quiet)["causes"] == []
        assert all(entry["cause"] != "no-valid-entitlement" for entry in result.plan)  # by design: not a fix
    return records, check


def no_condition_matched() -> tuple[dict, Callable[[Result], None]]:
    """3. Reason 13 of a rule with a condition: no-condition-matched, by design, never 'deactivate and
    reactivate'; the same reason for a rule without conditions stays the rule-without-items fault."""
    records = healthy()
    records["activitymonitors"] = [monitor(EMAIL, reason=13)]
    records["convertrules"].append({**records["convertrules"][0], "convertruleid": SALES_RULE,
                                    "name": "Sales email to case", "_queueid_value": SALES})  # no conditions
    add_email(records, OTHER, to=(("sales@fourthcoffee.com", SALES),), item=SALES)
    records["activitymonitors"].append({**monitor(OTHER, reason=13), "_ruleid_value": SALES_RULE})

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["primary_cause"] == "no-condition-matched" and mine["primary_kind"] == "by-design"
        assert result.causes() == ["no-condition-matched"]
        (cited,) = values(result, "no-condition-matched")
        assert cited["items"] == "1 condition(s)" and cited["reason"] == "13"
        advice = result.cause("no-condition-matched")["remediation"]
        assert "widen a condition" in advice and "reactivate" not in advice
        assert result.email(OTHER)["primary_cause"] == "rule-configuration-error"
        assert "no-condition-matched" not in result.causes(OTHER)
        assert "monitor-rule-without-items" in codes(result, "rule-configuration-error", OTHER)
    return records, check


# --------------------------------------------------------------------------- 4. the rule's own flow


def rule_flow() -> tuple[dict, Callable[[Result], None]]:
    """4. The rule's own flow 'ARC | rule name' off: a rule fault for its queue, 'deactivate and reactivate the
    rule'; the same rule with its flow activated has none (the negative is a second snapshot, see the tests)."""
    records = healthy()
    records["convertrules"][0]["_workflowid_value"] = RULE_FLOW
    records["workflows"].append({"workflowid": RULE_FLOW, "name": "ARC | Helpdesk email to case", "category": 5,
                                 "statecode": 0})

    def check(result: Result) -> None:
        assert result.causes() == ["rule-configuration-error"]
        assert codes(result, "rule-configuration-error") == {"rule-flow-not-activated"}
        fix = plan_entry(result, "rule-flow-not-activated")["fix"]
        assert "deactivate and reactivate the rule" in fix and "turn the flow on" not in fix
        assert result.cause("rule-configuration-error")["queue"] == QUEUE
    return records, check


def rule_flow_missing() -> tuple[dict, Callable[[Result], None]]:
    """4. A rule pointing at a flow of its own that does not exist; the negative: its flow activated."""
    records = healthy()
    records["convertrules"][0]["_workflowid_value"] = RULE_FLOW
    with_sales_rule(records, _workflowid_value=gid("flow-sales-rule"))
    records["workflows"].append({"workflowid": gid("flow-sales-rule"), "name": "ARC | Sales email to case",
                                 "category": 5, "statecode": 1})
    add_email(records, OTHER, to=(("sales@fourthcoffee.com", SALES),), item=SALES)

    def check(result: Result) -> None:
        assert codes(result, "rule-configuration-error") == {"rule-flow-missing"}
        assert values(result, "rule-configuration-error")[0]["flow_id"] == RULE_FLOW
        assert "rule-configuration-error" not in result.causes(OTHER)
    return records, check


# --------------------------------------------------------------------------- 5. unknown senders, current words


def unknown_sender_words() -> tuple[dict, Callable[[Result], None]]:
    """5. The setting's current name and place, the legacy name in brackets; where the data cannot tell which
    'Manage unknown senders by' option is set, both are named. A known sender gets neither cause."""
    records = healthy()
    records["emails"][0]["sender"] = STRANGER
    records["activityparties"][0]["addressused"] = STRANGER
    with_sales_rule(records, allowunknownsender=True)
    add_email(records, OTHER, to=(("sales@fourthcoffee.com", SALES),), item=SALES, sender=STRANGER)
    add_email(records, THIRD)  # a known sender

    def check(result: Result) -> None:
        advice = result.cause("unknown-sender-not-allowed")["remediation"]
        for words in ("Advanced tab", "'Allow emails from unknown senders'", "(legacy name: 'Create contact for "
                      "unknown sender')", "'Manage unknown senders by'", "'Creating a new contact automatically'",
                      "'Mapping in Power Automate manually'"):
            assert words in advice, words
        fix = plan_entry(result, "unknown-sender-refused")["fix"]
        assert "'Allow emails from unknown senders'" in fix
        created = result.cause("contact-creation-failed", OTHER)["remediation"]
        assert "'Mapping in Power Automate manually'" in created and "run history" in created
        assert "not a permissions problem" in created and "Create on Contact" in created
        assert {"unknown-sender-not-allowed", "contact-creation-failed"}.isdisjoint(result.causes(THIRD))
    return records, check


# --------------------------------------------------------------------------- 13. resolved-case time


def resolution_time() -> tuple[dict, Callable[[Result], None]]:
    """13. No deactivatedon: the newest completed case resolution gives the time (a cancelled resolution row does
    not); neither: 'the case's resolution time is empty'. A reply to a cancelled case is judged like a resolved one,
    labelled as our inference."""
    records = healthy()
    older, cancelled = gid("case-older"), gid("case-cancelled")
    records["incidents"] = [case(1, None), case(1, None, incident=older), case(2, "2026-11-01T10:00:00Z",
                                                                            incident=cancelled)]
    records["convertrules"][0].update(checkifresolved=True, resolvedsince=60)
    records["incidentresolutions"] = [
        {"activityid": gid("res-1"), "_incidentid_value": CASE, "statecode": 1, "createdon": "2026-11-01T08:00:00Z"},
        {"activityid": gid("res-2"), "_incidentid_value": CASE, "statecode": 1, "createdon": "2026-11-03T09:30:00Z"},
        {"activityid": gid("res-3"), "_incidentid_value": older, "statecode": 2, "createdon": "2026-11-01T08:00:00Z"},
    ]
    reply_to_first(records, correlationmethod=3)  # CASE: newest completed resolution 30 minutes before
    add_email(records, OTHER, inreplyto="<first@mail.tailspin.com>", correlationmethod=3,
              _regardingobjectid_value=older, **{TYPE: "incident"})
    add_email(records, THIRD, inreplyto="<first@mail.tailspin.com>", correlationmethod=3,
              _regardingobjectid_value=cancelled, **{TYPE: "incident"})

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["primary_cause"] == "reply-to-tracked-email" and mine["primary_kind"] == "by-design"
        evidence = result.evidence("reply-to-tracked-email")
        assert "2026-11-03 09:30 UTC (from a completed case resolution)" in evidence
        assert "arrived 30 minutes after" in evidence
        other = result.evidence("reply-to-tracked-email", OTHER)
        assert "the case's resolution time is empty" in other and "not exported" not in other
        assert result.email(OTHER)["primary_kind"] == "by-design"
        assert result.email(THIRD)["primary_kind"] == "fault"
        assert "judged like a resolved one (our inference)" in result.evidence("reply-to-tracked-email", THIRD)
        assert "our inference" not in evidence
    return records, check


SCENARIOS = {scenario.__name__: scenario for scenario in (
    case_not_in_snapshot, bcc_processed_by_the_rule, monitor_reasons, no_condition_matched, rule_flow,
    rule_flow_missing, unknown_sender_words, resolution_time)}


class ThirdResult(Result):
    def __init__(self, data: dict):
        super().__init__(data)
        self.data = data
        self.plan = data["fix_plan"]


def through_the_command_line(records: dict, folder: Path) -> ThirdResult:
    for table, rows in copy.deepcopy(records).items():
        (folder / f"{table}.json").write_text(json.dumps({"value": rows}))
    done = subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(folder), "--format", "json"],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return ThirdResult(json.loads(done.stdout))


@pytest.mark.parametrize("name", SCENARIOS)
def test_through_diagnose(name):
    records, check = SCENARIOS[name]()
    check(ThirdResult(run(records).to_dict()))


@pytest.mark.parametrize("name", SCENARIOS)
def test_through_the_command_line(name, tmp_path: Path):
    records, check = SCENARIOS[name]()
    check(through_the_command_line(records, tmp_path))


@pytest.mark.parametrize("way", ["diagnose", "command line"])
def test_an_activated_rule_flow_is_no_fault(way, tmp_path: Path):
    """4, the negative: the rule's own flow activated."""
    records, _check = rule_flow()
    records["workflows"][-1]["statecode"] = 1
    result = ThirdResult(run(records).to_dict()) if way == "diagnose" else through_the_command_line(records, tmp_path)
    assert "rule-configuration-error" not in result.causes()


def test_the_checks_can_fail():
    """A scenario's check rejects the diagnosis of another scenario (they are not vacuous)."""
    for mine, other in (("rule_flow", "monitor_reasons"), ("case_not_in_snapshot", "resolution_time"),
                        ("no_condition_matched", "rule_flow")):
        records, _check = SCENARIOS[mine]()
        _records, check = SCENARIOS[other]()
        with pytest.raises((AssertionError, StopIteration, KeyError)):
            check(ThirdResult(run(records).to_dict()))
