"""The fix plan: one entry per thing to change, ranked by severity, emails blocked, emails it alone blocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factory import OWNER, QUEUE, RULE, SALES, email, gid, healthy, parties, queue_item, run

from diagnostics import fix_plan
from diagnostics.links import clean_org_url, org_url_in, record_url
from diagnostics.report import Report, render_text

BASIC = Path(__file__).parent / "fixtures" / "snapshot-basic"


def _unknown_to_helpdesk(records: dict, count: int) -> None:
    for number in range(count):
        activityid = gid(f"unknown-{number}")
        sender = f"stranger{number}@example.org"
        records["emails"].append(email(activityid, f"Help {number}", f"<u{number}@example.org>", sender=sender))
        records["activityparties"] += parties(activityid, sender, to=[("help@fourthcoffee.com", QUEUE)])
        records["queueitems"].append(queue_item(activityid, QUEUE, active=False))


def _to_sales(records: dict, count: int) -> None:
    for number in range(count):
        activityid = gid(f"sales-{number}")
        records["emails"].append(email(activityid, f"Quote {number}", f"<s{number}@tailspin.com>",
                                       torecipients="sales@fourthcoffee.com"))
        records["activityparties"] += parties(activityid, "jo@tailspin.com", to=[("sales@fourthcoffee.com", SALES)])
        records["queueitems"].append(queue_item(activityid, SALES, active=True))


def _entry(plan: list[dict], cause: str) -> dict:
    return next(entry for entry in plan if entry["cause"] == cause)


@pytest.mark.parametrize(("unknown", "sales", "first"), [(3, 1, "unknown-sender-not-allowed"),
                                                          (1, 3, "no-active-rule-for-queue")])
def test_more_emails_blocked_ranks_higher_at_equal_severity(unknown, sales, first):
    records = healthy()
    _unknown_to_helpdesk(records, unknown)
    _to_sales(records, sales)
    plan = run(records).fix_plan()
    ranked = [entry["cause"] for entry in plan]
    assert ranked[0] == first
    assert {entry["severity"] for entry in plan[:2]} == {"error"}
    assert _entry(plan, "unknown-sender-not-allowed")["emails_blocked"] == unknown
    sales_entry = _entry(plan, "no-active-rule-for-queue")
    assert sales_entry["emails_blocked"] == sales
    assert sales_entry["about"] == {"table": "queues", "id": SALES, "name": "Sales"}


def test_severity_comes_before_the_number_of_emails():
    records = healthy()
    _to_sales(records, 1)
    for number in range(3):  # the Helpdesk queue reached through an active queue item only: Bcc, a warning
        activityid = gid(f"bcc-{number}")
        records["emails"].append(email(activityid, f"Bcc {number}", f"<b{number}@tailspin.com>",
                                       torecipients="someone@tailspin.com"))
        records["activityparties"] += parties(activityid, "jo@tailspin.com", to=[("someone@tailspin.com", None)])
        records["queueitems"].append(queue_item(activityid, QUEUE, active=True))
    plan = run(records).fix_plan()
    bcc = _entry(plan, "queue-only-in-bcc")
    assert bcc["severity"] == "warning" and bcc["emails_blocked"] == 3
    assert plan.index(bcc) > plan.index(_entry(plan, "no-active-rule-for-queue"))


def test_by_design_never_ranks_and_is_counted_apart():
    records = healthy()
    reply = gid("reply")
    # correlation gave the reply the Regarding of an account: ARC skips it by design (correction 4)
    records["emails"].append(email(reply, "RE: Machine leaks", "<reply@tailspin.com>",
                                   inreplyto="<first@mail.tailspin.com>", correlationmethod=3,
                                   _regardingobjectid_value=gid("account"),
                                   **{"_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"}))
    records["activityparties"] += parties(reply, "jo@tailspin.com", to=[("help@fourthcoffee.com", QUEUE)])
    records["queueitems"].append(queue_item(reply, QUEUE, active=False))
    report = run(records)
    assert "reply-to-tracked-email" in set(report.causes["cause"])
    plan = report.fix_plan()
    assert all(entry["cause"] != "reply-to-tracked-email" for entry in plan)
    assert fix_plan.by_design_count(report) == 1
    assert "working as designed: 1" in render_text(report)


def test_kind_column_decides_when_evaluation_gives_one():
    records = healthy()
    _unknown_to_helpdesk(records, 2)
    report = run(records)
    assert _entry(report.fix_plan(), "unknown-sender-not-allowed")["emails_blocked"] == 2
    report.causes["kind"] = "by-design"  # e.g. a later evaluation calls these by design
    report.plan = None
    assert all(entry["emails_blocked"] == 0 for entry in report.fix_plan())  # only the Sales queue's finding
    assert fix_plan.by_design_count(report) == 2


def test_emails_unblocked_alone_counts_only_emails_with_one_thing_to_fix():
    records = healthy()
    records["systemusers"][0]["isdisabled"] = True  # the rule's owner: a second thing on the same emails
    records["convertruleitems"] = []  # and the rule has no conditions
    _to_sales(records, 2)
    plan = run(records).fix_plan()
    owner = next(entry for entry in plan if entry["about"]["table"] == "systemusers")
    rule = next(entry for entry in plan if entry["about"]["table"] == "convertrules")
    assert owner["about"]["name"] == "Dana Admin" and rule["about"]["name"] == "Helpdesk email to case"
    assert owner["emails_blocked"] == 1 and owner["emails_unblocked_alone"] == 0
    assert rule["about"]["id"] == RULE
    sales = _entry(plan, "no-active-rule-for-queue")
    assert sales["emails_blocked"] == sales["emails_unblocked_alone"] == 2
    assert plan.index(sales) < plan.index(owner)  # same severity, more emails


def test_a_report_saved_before_evidence_had_codes_still_gives_its_plan():
    """Schema 1 held sentences: they read back as items of code ``text``, about their cause's queue."""
    records = healthy()
    _unknown_to_helpdesk(records, 3)
    report = run(records)
    data = report.to_dict()
    data["schema_version"], data["fix_plan"] = 1, None
    for written in data["emails"]:
        for cause in written["causes"]:
            cause["evidence"] = [item["text"] for item in cause["evidence"]]
            del cause["expected"]
    old = Report.from_dict(data)
    entry = _entry(fix_plan.build(old), "unknown-sender-not-allowed")
    assert entry["emails_blocked"] == _entry(report.fix_plan(), "unknown-sender-not-allowed")["emails_blocked"] == 3
    assert entry["about"] == {"table": "queues", "id": QUEUE, "name": "Helpdesk"}
    assert {item["code"] for item in entry["evidence"]} == {"text"}


def test_record_links_need_the_organisation_and_an_id():
    records = healthy()
    records["systemusers"][0]["isdisabled"] = True
    _to_sales(records, 1)
    report = run(records)
    report.org_url = "https://contoso.crm4.dynamics.com"
    plan = fix_plan.build(report)
    owner = next(entry for entry in plan if entry["about"]["table"] == "systemusers")
    # the evidence names the owner's record: a link without the snapshot
    assert owner["record_url"].endswith(f"etn=systemuser&id={owner['about']['id']}") and owner["about"]["id"]
    queue = next(entry for entry in plan if entry["about"]["table"] == "queues")
    assert queue["record_url"] == ("https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord"
                                   f"&etn=queue&id={SALES}")
    for entry in plan:
        assert entry["doc_url"].startswith("https://learn.microsoft.com/")
        assert entry["fix"]


def test_snapshot_gives_ids_by_name():
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import snapshot_from_records

    records = healthy()
    records["systemusers"][0]["isdisabled"] = True
    snapshot = snapshot_from_records(records, "test")
    snapshot.org_url = "https://contoso.crm.dynamics.com"
    report = diagnose(snapshot)
    owner = next(entry for entry in report.fix_plan(snapshot) if entry["about"]["table"] == "systemusers")
    assert owner["about"]["id"] == OWNER
    assert owner["record_url"].endswith(f"etn=systemuser&id={OWNER}")


def test_organisation_url_from_odata_context_and_typed_text():
    page = b'{"@odata.context":"https://fourthcoffee.crm4.dynamics.com/api/data/v9.2/$metadata#emails","value":[]}'
    assert org_url_in(page) == "https://fourthcoffee.crm4.dynamics.com"
    assert org_url_in(b'{"value": []}') is None
    assert org_url_in(b'{"@odata.context":"http://evil.example/api/data/v9.2/$metadata#emails"}') is None
    assert clean_org_url("contoso.crm.dynamics.com/main.aspx?x=1") == "https://contoso.crm.dynamics.com"
    assert clean_org_url("javascript:alert(1)") is None
    assert clean_org_url("http://contoso.crm.dynamics.com") is None
    assert record_url("https://a.crm.dynamics.com", "queues", "not-a-guid") is None


def test_diagnose_json_and_text_carry_the_fix_plan():
    done = subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(BASIC)], capture_output=True,
                          check=True)
    data = json.loads(done.stdout)
    assert data["fix_plan"], "snapshot-basic has problems to fix"
    for entry in data["fix_plan"]:
        assert set(entry) >= {"id", "cause", "severity", "about", "emails_blocked", "emails_unblocked_alone",
                              "fix", "doc_url", "record_url"}
        assert entry["severity"] in ("error", "warning", "info")
        assert entry["cause"] != "reply-to-tracked-email"
    assert data["org_url"] == "https://fourthcoffee.crm4.dynamics.com"
    assert any(entry["record_url"] and entry["record_url"].startswith("https://fourthcoffee.crm4.dynamics.com/")
               for entry in data["fix_plan"])
    assert Report.from_dict(data).fix_plan() == data["fix_plan"]  # a shared report keeps it as it was
    ranks = [(fix_plan.SEVERITY_RANK[entry["severity"]], -entry["emails_blocked"], -entry["emails_unblocked_alone"])
             for entry in data["fix_plan"]]
    assert ranks == sorted(ranks)
    text = subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(BASIC), "--format", "text"],
                          capture_output=True, check=True, text=True).stdout
    assert "Fix first" in text and "queue 'Sales'" in text
    counts = [int(line.split()[0]) for line in text.split("by primary cause (most first):\n")[1].split("\n\n")[0]
              .splitlines() if line.strip() and line.split()[0].isdigit()]
    assert counts == sorted(counts, reverse=True)


@pytest.fixture(scope="module")
def demo():
    from diagnostics.demo import demo_files
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_uploaded

    snapshot = load_uploaded(list(demo_files().items()))
    report = diagnose(snapshot)
    report.fix_plan(snapshot)
    return report


def test_demo_plan_names_each_thing_once_and_merges_duplicate_messages(demo):
    plan = demo.fix_plan()
    about = [(entry["about"]["table"], entry["about"]["name"]) for entry in plan]
    assert len(about) == len(set(about)) or len({entry["id"] for entry in plan}) == len(plan)
    assert ("mailboxes", "wholesale@contoso-coffee.com") in about
    assert ("systemusers", "Marco Rossi") in about and ("workflows", "ARC: Return requests") in about
    # the demo plants 17 unknown senders on Billing, whose rule creates no contacts; Sales has no active rule
    # the failing mailbox first (it stops all of its queue's mail), then the 17 unknown senders on Billing
    assert plan[0]["about"]["name"] == "wholesale@contoso-coffee.com" and plan[0]["stops_queue"]
    assert plan[1]["about"] == {"table": "convertrules", "id": plan[1]["about"]["id"], "name": "Billing email to case"}
    assert plan[1]["emails_blocked"] == 17
    assert next(entry for entry in plan if entry["about"]["name"] == "Sales")["emails_blocked"] == 10
    # the mailbox's 401 is one entry, not also a failed-job entry; its finding is shown once
    assert not [entry for entry in plan if entry["about"]["table"] == "asyncoperations" and "401" in entry["fix"]
                + entry["about"]["name"]]
    shown = fix_plan.distinct_findings(demo)
    assert not [finding for finding in demo.findings
                if finding["scope"] == "system jobs" and "401" in finding["subject"]]
    assert [finding for finding in shown if finding["scope"] == "queue" and any(
        "401" in item["text"] for item in finding["evidence"])]
    assert all(entry["record_url"].startswith("https://contoso-demo.crm.dynamics.com/main.aspx?pagetype=entityrecord")
               for entry in plan if entry["about"]["id"])
