"""The contract's "Corrections (second round)" 1-12 and the Direction addition, one scenario each.

Every scenario holds a positive email (the correction changes its verdict or causes) and a negative one
(it must not), and is checked twice with the same assertions: through ``diagnose`` and through
``python -m diagnostics diagnose FOLDER --format json``.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from factory import (
    ACCOUNT,
    CASE,
    EMAIL,
    LOOKUP,
    OWNER,
    QUEUE,
    SALES,
    email,
    gid,
    healthy,
    monitor,
    parties,
    queue_item,
    run,
)

OTHER = gid("email-other")
USER_MAILBOX = gid("mailbox-dana")
TYPE = "_regardingobjectid_value" + LOOKUP


class Result:
    """One diagnosis in the contract's JSON shape, from either way of running it."""

    def __init__(self, data: dict):
        self.summary = data["summary"]
        self.findings = data["findings"]
        self.emails = {item["activityid"]: item for item in data["emails"]}

    def email(self, activityid: str = EMAIL) -> dict:
        return self.emails[activityid]

    def causes(self, activityid: str = EMAIL) -> list[str]:
        return [cause["id"] for cause in self.email(activityid)["causes"]]

    def cause(self, cause_id: str, activityid: str = EMAIL) -> dict:
        return next(cause for cause in self.email(activityid)["causes"] if cause["id"] == cause_id)

    def evidence(self, cause_id: str, activityid: str = EMAIL) -> str:
        return " | ".join(item["text"] for item in self.cause(cause_id, activityid)["evidence"])

    def notes(self, activityid: str = EMAIL) -> str:
        return " | ".join(self.email(activityid)["notes"])


def add_email(records: dict, activityid: str, to=(("help@fourthcoffee.com", QUEUE),), item: str | None = QUEUE,
              sender: str = "jo@tailspin.com", **columns) -> None:
    records["emails"].append(email(activityid, f"Subject {activityid[:8]}", f"<{activityid}@mail.tailspin.com>",
                                   sender=sender, torecipients=";".join(a for a, _ in to), **columns))
    records["activityparties"] += parties(activityid, sender, to=list(to))
    if item:
        records["queueitems"].append(queue_item(activityid, item, active=False))


def case(state: int | None, deactivated: str | None = None, incident: str = CASE) -> dict:
    record = {"incidentid": incident, "title": "Machine leaks", "createdon": "2026-11-01T10:00:05Z"}
    if state is not None:
        record |= {"statecode": state, "deactivatedon": deactivated}
    return record


def reply_to_first(records: dict, activityid: str = EMAIL, regarding: str | None = CASE,
                   regarding_type: str | None = "incident", **columns) -> None:
    """Make ``activityid`` a reply (In-Reply-To) to a tracked first email, regarding what correlation copied."""
    first = gid("email-first")
    records["emails"].append(email(first, "Machine leaks", "<first@mail.tailspin.com>",
                                   createdon="2026-11-01T10:00:00Z", _regardingobjectid_value=CASE,
                                   **{TYPE: "incident"}))
    row = next(row for row in records["emails"] if row["activityid"] == activityid)
    row.update(inreplyto="<first@mail.tailspin.com>", _regardingobjectid_value=regarding, **columns)
    if regarding_type:
        row[TYPE] = regarding_type


# --------------------------------------------------------------------------- scenarios: records + checks


def scope() -> tuple[dict, Callable[[Result], None]]:
    """1. An incoming email with no target queue is out of scope; queue-item-missing needs a target queue."""
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("dana@fourthcoffee.com", None)])
    records["emails"][0]["torecipients"] = "dana@fourthcoffee.com"
    records["queueitems"] = []
    add_email(records, OTHER, item=None)

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["verdict"] == "not-for-a-queue" and mine["causes"] == [] and mine["primary_cause"] is None
        assert "user's own mailbox" in result.notes()
        assert result.summary["not_for_a_queue"] == 1 and result.summary["incoming"] == 1
        assert result.email(OTHER)["primary_cause"] == "queue-item-missing"
    return records, check


def mailbox_owner() -> tuple[dict, Callable[[Result], None]]:
    """2. A mailbox regarding a user (no annotations) never yields a queue; one regarding a queue does."""
    records = healthy()
    records["systemusers"].append({"systemuserid": gid("user-jo"), "fullname": "Jo Agent", "isdisabled": False})
    records["mailboxes"].append({"mailboxid": USER_MAILBOX, "emailaddress": "dana@fourthcoffee.com",
                                 "_regardingobjectid_value": gid("user-jo")})
    records["mailboxes"][0].pop("_regardingobjectid_value" + LOOKUP)  # the queue's mailbox, also unannotated
    records["queues"][0]["_defaultmailbox_value"] = None
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("dana@fourthcoffee.com", None)])
    records["emails"][0].update(torecipients="dana@fourthcoffee.com", _receivingmailboxid_value=USER_MAILBOX)
    records["queueitems"] = []
    add_email(records, OTHER, to=(("dana@fourthcoffee.com", None),), item=None,
              _receivingmailboxid_value=records["mailboxes"][0]["mailboxid"])

    def check(result: Result) -> None:
        assert result.email()["verdict"] == "not-for-a-queue" and result.email()["queues"] == []
        assert result.email(OTHER)["queues"] == [QUEUE]
        assert result.email(OTHER)["primary_cause"] == "queue-only-in-bcc"
    return records, check


def primary_across_queues() -> tuple[dict, Callable[[Result], None]]:
    """3 and 10. To Helpdesk (active rule, unknown senders not allowed), Cc Sales (no rule at all)."""
    records = healthy()
    stranger = "someone@contoso.net"
    records["emails"][0]["sender"] = stranger
    records["activityparties"] = parties(EMAIL, stranger, to=[("help@fourthcoffee.com", QUEUE)],
                                         cc=[("sales@fourthcoffee.com", SALES)])
    records["queueitems"].append(queue_item(EMAIL, SALES, active=True))
    add_email(records, OTHER, to=(("sales@fourthcoffee.com", SALES),), item=SALES)

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["primary_cause"] == "unknown-sender-not-allowed"
        assert result.cause("unknown-sender-not-allowed")["queue"] == QUEUE
        assert result.cause("no-active-rule-for-queue")["queue"] == SALES  # still listed
        assert "our inference" in result.evidence("no-active-rule-for-queue")
        assert "also sent to queue 'Sales'" in result.notes() and "which has no rule" in result.notes()
        assert "our inference" in result.notes()
        assert result.email(OTHER)["primary_cause"] == "no-active-rule-for-queue"  # the only queue: expected
        assert "also sent to" not in result.notes(OTHER)
    return records, check


def _reply_records(state, deactivated=None, checkifresolved=None, resolvedsince=None) -> dict:
    records = healthy()
    records["incidents"] = [case(state, deactivated)]
    records["convertrules"][0].update(checkifresolved=checkifresolved, resolvedsince=resolvedsince)
    reply_to_first(records, correlationmethod=3)
    add_email(records, OTHER, _regardingobjectid_value=CASE, **{TYPE: "incident"})  # not a reply
    return records


def reply_active_case() -> tuple[dict, Callable[[Result], None]]:
    """4. A reply regarding an active case is threaded: converted, counted in summary.threaded."""
    records = _reply_records(0)

    def check(result: Result) -> None:
        assert result.email()["verdict"] == "converted" and result.email()["threaded"] is True
        assert result.email(OTHER)["verdict"] == "converted" and result.email(OTHER)["threaded"] is False
        assert result.summary["threaded"] == 1 and result.summary["converted"] == 3
        assert "threaded" in result.notes()
    return records, check


def reply_resolved_without_setting() -> tuple[dict, Callable[[Result], None]]:
    """4. Resolved case, rule without checkifresolved: by design, with the setting named."""
    records = _reply_records(1, "2026-11-02T10:00:00Z", checkifresolved=False, resolvedsince=0)

    def check(result: Result) -> None:
        mine = result.email()
        assert mine["verdict"] == "not-converted" and mine["primary_cause"] == "reply-to-tracked-email"
        assert mine["primary_kind"] == "by-design" and result.cause("reply-to-tracked-email")["kind"] == "by-design"
        assert "Wait for a specific amount of time after the connected case has been resolved" in result.evidence(
            "reply-to-tracked-email")
        assert result.summary["by_design"] == 1
        assert result.email(OTHER)["verdict"] == "converted"  # a non-reply regarding a case
    return records, check


def reply_resolved_wait_passed() -> tuple[dict, Callable[[Result], None]]:
    """4. Resolved case, rule waits 60 minutes, the reply came 24 hours later: a fault, a new case was expected.
    The negative: the same with activity monitor reason 5 (resolved for less than the required time)."""
    records = _reply_records(1, "2026-11-02T10:00:00Z", checkifresolved=True, resolvedsince=60)
    add_email(records, gid("email-third"), inreplyto="<first@mail.tailspin.com>", _regardingobjectid_value=CASE,
              **{TYPE: "incident"})
    records["activitymonitors"] = [monitor(gid("email-third"), reason=5)]

    def check(result: Result) -> None:
        assert result.email()["primary_kind"] == "fault" and result.summary["by_design"] == 1
        assert result.cause("reply-to-tracked-email")["kind"] == "fault"
        assert "a new case was expected" in result.evidence("reply-to-tracked-email")
        assert result.email(gid("email-third"))["primary_kind"] == "by-design"
    return records, check


def reply_resolved_within_wait() -> tuple[dict, Callable[[Result], None]]:
    """4. Resolved case, rule waits a day, the reply came two hours after resolution: within the wait, by design."""
    records = _reply_records(1, "2026-11-03T08:00:00Z", checkifresolved=True, resolvedsince=1440)

    def check(result: Result) -> None:
        assert result.email()["primary_kind"] == "by-design"
        assert "waits 1440 minutes" in result.evidence("reply-to-tracked-email")
        assert "arrived 120 minutes after" in result.evidence("reply-to-tracked-email")
    return records, check


def reply_other_record_and_uncorrelated() -> tuple[dict, Callable[[Result], None]]:
    """4. A reply regarding an account: by design, naming the record type. A match with no Regarding: a note,
    and the email is diagnosed by the other causes (here: an unknown sender)."""
    records = healthy()
    reply_to_first(records, regarding=ACCOUNT, regarding_type="account")
    add_email(records, OTHER, sender="someone@contoso.net", inreplyto="<first@mail.tailspin.com>")

    def check(result: Result) -> None:
        assert result.email()["primary_cause"] == "reply-to-tracked-email"
        assert result.email()["primary_kind"] == "by-design"
        assert "account record" in result.evidence("reply-to-tracked-email")
        assert "reply-to-tracked-email" not in result.causes(OTHER)
        assert result.email(OTHER)["primary_cause"] == "unknown-sender-not-allowed"
        assert "correlation did not connect it" in result.notes(OTHER)
    return records, check


def monitor_queue_and_contact_flag() -> tuple[dict, Callable[[Result], None]]:
    """5. The monitor's queue comes from the rule; contactcreatedbyrule false alone proves nothing."""
    records = healthy()
    records["activitymonitors"] = [monitor(EMAIL, reason=0, state=2, contactcreatedbyrule=False)]
    add_email(records, OTHER)
    records["activitymonitors"].append(monitor(OTHER, reason=16, state=2, contactcreatedbyrule=False))

    def check(result: Result) -> None:
        assert result.causes() == ["rule-configuration-error"]
        assert result.cause("rule-configuration-error")["queue"] == QUEUE
        assert result.causes(OTHER) == ["contact-creation-failed"]
        assert result.cause("contact-creation-failed", OTHER)["queue"] == QUEUE
    return records, check


def direction() -> tuple[dict, Callable[[Result], None]]:
    """6 and the Direction addition: without directioncode, statuscode decides; otherwise unknown-direction."""
    records = healthy()
    records["emails"][0].pop("directioncode")  # statuscode 4 Received: incoming
    third, fourth, fifth = gid("email-third"), gid("email-fourth"), gid("email-fifth")
    add_email(records, OTHER, statuscode=3, directioncode=None)  # Sent: outgoing
    add_email(records, third, statuscode=2, directioncode=None)  # Completed: unknown
    add_email(records, fourth, statuscode=None, directioncode=None)
    add_email(records, fifth, statuscode=3, directioncode=False)  # directioncode wins

    def check(result: Result) -> None:
        assert result.email()["verdict"] == "not-converted"
        assert "our inference" in result.notes() and "statuscode 4" in result.notes()
        assert result.email(OTHER)["verdict"] == "outgoing"
        assert result.email(third)["verdict"] == "unknown-direction" and result.email(third)["causes"] == []
        assert result.email(fourth)["verdict"] == "unknown-direction"
        assert result.email(fifth)["verdict"] == "not-converted" and result.notes(fifth) .find("inference") < 0
        assert result.summary["direction_unknown"] == 2 and result.summary["outgoing"] == 1
        assert result.summary["incoming"] == 2
    return records, check


def queue_filtering() -> tuple[dict, Callable[[Result], None]]:
    """7. A queue that tracks only known senders' mail is an email-not-synced finding; a queue without an
    address gets no mailbox findings; a queue tracking all mail gets none."""
    records = healthy()
    records["queues"][1].update(incomingemailfilteringmethod=2)
    records["queues"].append({"queueid": gid("queue-noaddress"), "name": "Internal", "statecode": 0,
                              "incomingemaildeliverymethod": 0, "incomingemailfilteringmethod": 4,
                              "emailrouteraccessapproval": 0})

    def check(result: Result) -> None:
        synced = {f["subject"]: f for f in result.findings if f["id"] == "email-not-synced"}
        assert set(synced) == {SALES}
        assert any("unknown senders is dropped" in item["text"] and "'Sales'" in item["text"]
                   for item in synced[SALES]["evidence"])
    return records, check


def arc_remediation() -> tuple[dict, Callable[[Result], None]]:
    """8. Fix advice for ARC flows: deactivate and reactivate the rule, never toggle the flow."""
    records = healthy()
    records["workflows"][0]["statecode"] = 0
    add_email(records, OTHER, sender="someone@contoso.net")

    def check(result: Result) -> None:
        advice = result.cause("rule-configuration-error")["remediation"]
        assert "Deactivate and reactivate the rule" in advice and "never turn them on or off" in advice
        assert "activate each condition's flow" not in advice
        assert "rule-configuration-error" in result.causes(OTHER)  # the rule-wide fault reaches every email
        assert "Deactivate and reactivate" not in result.cause("unknown-sender-not-allowed", OTHER)["remediation"]
    return records, check


def distribution_list() -> tuple[dict, Callable[[Result], None]]:
    """9. A queue reached but not addressed may have got the mail by Bcc, a distribution list or forwarding."""
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("team@tailspin.com", None)])
    records["emails"][0]["torecipients"] = "team@tailspin.com"
    records["queueitems"][0]["statecode"] = 0  # active: the rule never touched it (third round, item 2)
    add_email(records, OTHER)

    def check(result: Result) -> None:
        assert result.email()["primary_cause"] == "queue-only-in-bcc"
        assert "distribution list or forwarding" in result.evidence("queue-only-in-bcc")
        advice = result.cause("queue-only-in-bcc")["remediation"]
        assert "Bcc" in advice and "distribution list" in advice
        assert "queue-only-in-bcc" not in result.causes(OTHER)
    return records, check


def more_ways_in_and_out() -> tuple[dict, Callable[[Result], None]]:
    """10. The accepting queue is a target queue; cases as Related parties (multiple cases) mean converted."""
    records = healthy()
    records["activityparties"] = parties(EMAIL, "jo@tailspin.com", to=[("dana@fourthcoffee.com", None)])
    records["emails"][0].update(torecipients="dana@fourthcoffee.com", _acceptingentityid_value=QUEUE)
    records["queueitems"] = []
    third, fourth, fifth = gid("email-third"), gid("email-fourth"), gid("email-fifth")
    add_email(records, OTHER, to=(("dana@fourthcoffee.com", None),), item=None, _acceptingentityid_value=OWNER,
              **{"_acceptingentityid_value" + LOOKUP: "systemuser"})
    add_email(records, third)
    records["incidents"].append(case(0, incident=gid("case-sales")))
    records["activityparties"] += [
        {"activitypartyid": gid(f"{third}-13-{n}"), "_activityid_value": third, "participationtypemask": 13,
         "_partyid_value": incident, "_partyid_value" + LOOKUP: "incident"}
        for n, incident in enumerate((CASE, gid("case-sales")))]
    add_email(records, fourth)
    records["activityparties"].append({"activitypartyid": gid(f"{fourth}-13"), "_activityid_value": fourth,
                                       "participationtypemask": 13, "_partyid_value": ACCOUNT,
                                       "_partyid_value" + LOOKUP: "account"})
    add_email(records, fifth)

    def check(result: Result) -> None:
        assert result.email()["queues"] == [QUEUE] and result.email()["verdict"] == "not-converted"
        assert "accepting queue" in result.evidence("queue-only-in-bcc")
        assert result.email(OTHER)["verdict"] == "not-for-a-queue"
        assert result.email(third)["verdict"] == "converted"
        assert result.email(fourth)["verdict"] == "not-converted"
        assert result.email(fifth)["verdict"] == "not-converted"
    return records, check


def kinds_in_json() -> tuple[dict, Callable[[Result], None]]:
    """11. Cause kinds in the JSON are fault and by-design."""
    records = _reply_records(1, "2026-11-02T10:00:00Z", checkifresolved=False)
    add_email(records, gid("email-third"), sender="someone@contoso.net")

    def check(result: Result) -> None:
        kinds = {cause["kind"] for item in result.emails.values() for cause in item["causes"]}
        assert kinds == {"fault", "by-design"}
        assert result.cause("unknown-sender-not-allowed", gid("email-third"))["kind"] == "fault"
        assert result.cause("reply-to-tracked-email")["kind"] == "by-design"
    return records, check


def environment_variable_value() -> tuple[dict, Callable[[Result], None]]:
    """12. The value row is found through its definition id, whatever its own schemaname; a row with the
    name but another definition is not the value."""
    records = healthy()
    records["convertrules"][0]["allowunknownsender"] = True
    records["emails"][0]["sender"] = "someone@contoso.net"
    records["activityparties"][0]["addressused"] = "someone@contoso.net"
    records["environmentvariablevalues"] = [
        {"environmentvariablevalueid": gid("envval"), "_environmentvariabledefinitionid_value": gid("envdef"),
         "schemaname": "new_ArcCreateContactWithRuleOwnerValue", "value": "1"},
        {"environmentvariablevalueid": gid("envval-other"), "_environmentvariabledefinitionid_value": gid("other"),
         "schemaname": "msdyn_ArcCreateContactWithRuleOwner", "value": "7"},
    ]

    def check(result: Result) -> None:
        advice = result.cause("contact-creation-failed")["remediation"]
        assert "msdyn_ArcCreateContactWithRuleOwner is 1" in advice and "rule owner" in advice
        setting = next(f for f in result.findings if f["scope"] == "environment")
        assert setting["evidence"][0]["code"] == "setting-value"
        assert setting["evidence"][0]["values"]["value"] == "1"
    return records, check


SCENARIOS = {scenario.__name__: scenario for scenario in (
    scope, mailbox_owner, primary_across_queues, reply_active_case, reply_resolved_without_setting,
    reply_resolved_wait_passed, reply_resolved_within_wait, reply_other_record_and_uncorrelated,
    monitor_queue_and_contact_flag, direction, queue_filtering, arc_remediation, distribution_list,
    more_ways_in_and_out, kinds_in_json, environment_variable_value)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_through_diagnose(name):
    records, check = SCENARIOS[name]()
    check(Result(run(records).to_dict()))


@pytest.mark.parametrize("name", SCENARIOS)
def test_through_the_command_line(name, tmp_path: Path):
    records, check = SCENARIOS[name]()
    for table, rows in copy.deepcopy(records).items():
        (tmp_path / f"{table}.json").write_text(json.dumps({"value": rows}))
    done = subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(tmp_path), "--format", "json"],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    check(Result(json.loads(done.stdout)))


def test_the_checks_can_fail():
    """A scenario's check rejects the diagnosis of another scenario (they are not vacuous)."""
    records, _check = scope()
    _other, check = primary_across_queues()
    with pytest.raises(AssertionError):
        check(Result(run(records).to_dict()))
