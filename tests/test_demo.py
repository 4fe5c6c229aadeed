"""The embedded demo snapshot (diagnostics.demo): deterministic, paged like the Web API, consistent,
and every contract cause planted where the engine finds it."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from diagnostics.demo import ENTITY_SETS, demo_files, intended_primary_causes, intended_verdicts, write_demo

CONTEXT = "https://contoso-demo.crm.dynamics.com/api/data/v9.2/$metadata#"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CONTRACT_CAUSES = (  # contract.md, pipeline order
    "email-not-synced", "queue-only-in-bcc", "queue-item-missing", "reply-to-tracked-email",
    "no-active-rule-for-queue", "rule-configuration-error", "unknown-sender-not-allowed",
    "contact-creation-failed", "customer-email-conflict",
)
BEYOND_THE_ARTICLE = ("no-valid-entitlement", "no-condition-matched")


def pages(files: dict[str, bytes], entity_set: str) -> list[dict]:
    """The parsed pages of one entity set, in order: name.json, name.2.json, name.3.json..."""
    found, number = [], 1
    while (name := entity_set + (".json" if number == 1 else f".{number}.json")) in files:
        found.append(orjson.loads(files[name]))
        number += 1
    return found


def records(files: dict[str, bytes], entity_set: str) -> list[dict]:
    return [record for page in pages(files, entity_set) for record in page["value"]]


def folder_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict]]:
    files = demo_files()
    return {entity_set: records(files, entity_set) for entity_set in ENTITY_SETS}


def ids(demo: dict[str, list[dict]], entity_set: str) -> set[str]:
    return {record[ENTITY_SETS[entity_set]] for record in demo[entity_set]}


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    write_demo(tmp_path / "a", emails=150, page_size=70)
    write_demo(tmp_path / "b", emails=150, page_size=70)
    first, second = folder_files(tmp_path / "a"), folder_files(tmp_path / "b")
    assert first == second
    assert demo_files(150) == demo_files(150)


def test_demo_files_equal_the_written_folder(tmp_path: Path) -> None:
    write_demo(tmp_path, emails=150)
    assert folder_files(tmp_path) == demo_files(150)


def test_big_tables_are_split_into_linked_pages(tmp_path: Path) -> None:
    counts = write_demo(tmp_path, emails=120, page_size=50)
    files = folder_files(tmp_path)
    assert {"emails.json", "emails.2.json", "emails.3.json"} <= files.keys()
    parts = pages(files, "emails")
    assert [len(page["value"]) for page in parts[:-1]] == [50] * (len(parts) - 1)
    for page in parts[:-1]:
        assert "$skiptoken=" in page["@odata.nextLink"]
        assert page["@odata.nextLink"].startswith("https://contoso-demo.crm.dynamics.com/api/data/v9.2/emails?")
    assert "@odata.nextLink" not in parts[-1]
    activity_ids = [record["activityid"] for record in records(files, "emails")]
    assert len(activity_ids) == len(set(activity_ids)) == counts["emails"] == 120


def test_rewriting_a_folder_leaves_no_stale_pages(tmp_path: Path) -> None:
    write_demo(tmp_path, emails=120, page_size=50)
    write_demo(tmp_path, emails=120)
    assert not (tmp_path / "emails.2.json").exists()
    assert folder_files(tmp_path) == demo_files(120)


def test_returned_counts_match_the_files(tmp_path: Path) -> None:
    counts = write_demo(tmp_path, emails=200, page_size=90)
    files = folder_files(tmp_path)
    assert counts.keys() == ENTITY_SETS.keys()
    for entity_set, count in counts.items():
        parts = pages(files, entity_set)
        assert parts, f"{entity_set}.json is missing"
        assert all(page["@odata.context"] == CONTEXT + entity_set for page in parts)
        assert len(records(files, entity_set)) == count
    expected_files = sum(len(pages(files, entity_set)) for entity_set in ENTITY_SETS)
    assert len(files) == expected_files


def test_every_contract_cause_is_the_primary_cause_of_several_emails(demo) -> None:
    intended = intended_primary_causes()
    assert intended.keys() == ids(demo, "emails")
    counts = Counter(intended.values())
    for cause in CONTRACT_CAUSES[1:]:  # email-not-synced is an environment finding, never an email's
        assert counts[cause] >= 5, cause
    for cause in BEYOND_THE_ARTICLE:
        assert counts[cause] >= 3, cause
    assert set(counts) <= {None, *CONTRACT_CAUSES[1:], *BEYOND_THE_ARTICLE}
    outgoing = [e["activityid"] for e in demo["emails"] if e["directioncode"]]
    assert outgoing and all(intended[activityid] is None for activityid in outgoing)
    converted = sum(1 for e in demo["emails"] if not e["directioncode"] and intended[e["activityid"]] is None)
    assert 0.65 <= converted / len(demo["emails"]) <= 0.75


def test_guids_are_lower_case(demo) -> None:
    checked = 0
    for rows in demo.values():
        for record in rows:
            for key, value in record.items():
                if "@" not in key and isinstance(value, str) and GUID.match(value):
                    assert value == value.lower(), (key, value)
                    checked += 1
    assert checked > 1000


def test_references_between_tables_resolve(demo) -> None:
    emails, queues = ids(demo, "emails"), ids(demo, "queues")
    rules, users = ids(demo, "convertrules"), ids(demo, "systemusers")
    assert {q["_objectid_value"] for q in demo["queueitems"]} <= emails
    assert {q["_queueid_value"] for q in demo["queueitems"]} <= queues
    assert {p["_activityid_value"] for p in demo["activityparties"]} <= emails
    assert {i["_convertruleid_value"] for i in demo["convertruleitems"]} <= rules
    assert {i["_workflowid_value"] for i in demo["convertruleitems"]} <= ids(demo, "workflows")
    assert {r["_queueid_value"] for r in demo["convertrules"]} <= queues
    assert {r["_ownerid_value"] for r in demo["convertrules"]} <= users
    assert {q["_defaultmailbox_value"] for q in demo["queues"]} <= ids(demo, "mailboxes")
    assert {m["_regardingobjectid_value"] for m in demo["mailboxes"]} <= queues | users
    assert {m["_monitoredactivityitemid_value"] for m in demo["activitymonitors"]} <= emails
    customers = ids(demo, "contacts") | ids(demo, "accounts")
    regarding = {e["_regardingobjectid_value"] for e in demo["emails"]} - {None}
    assert regarding <= ids(demo, "incidents") | customers
    related = {p["_partyid_value"] for p in demo["activityparties"] if p["participationtypemask"] == 13}
    assert related and related <= ids(demo, "incidents")
    assert {i["_customerid_value"] for i in demo["incidents"]} <= customers
    parents = {e["_parentactivityid_value"] for e in demo["emails"]} - {None}
    assert parents <= emails


def test_record_shapes_follow_the_web_api(demo) -> None:
    for email in demo["emails"]:
        assert email["createdon"].endswith("Z")
        assert email["messageid"].startswith("<") and email["messageid"].endswith(">")
        assert email["statuscode"] == (3 if email["directioncode"] else 4)
        if email["_regardingobjectid_value"]:
            assert email["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] in (
                "incident", "contact", "account")
    assert {p["participationtypemask"] for p in demo["activityparties"]} == {1, 2, 3, 13}
    for case in demo["incidents"]:
        assert case["statecode"] in (0, 1) and (case["deactivatedon"] is None) == (case["statecode"] == 0)
    assert {q["objecttypecode"] for q in demo["queueitems"]} == {4202}
    assert all(w["name"].startswith(("ARC: ", "ARC | ")) for w in demo["workflows"])
    rule_flows = {r["_workflowid_value"] for r in demo["convertrules"]}
    assert {w["workflowid"] for w in demo["workflows"] if w["name"].startswith("ARC | ")} == rule_flows
    resolved = {case["incidentid"] for case in demo["incidents"] if case["statecode"] == 1}
    assert {r["_incidentid_value"] for r in demo["incidentresolutions"] if r["statecode"] == 1} == resolved


def test_dates_span_thirty_days_with_quieter_weekends(demo) -> None:
    days = Counter(datetime.fromisoformat(e["createdon"].replace("Z", "+00:00")).date() for e in demo["emails"])
    assert max(days).isoformat() == "2026-11-20"
    assert (max(days) - min(days)).days in (28, 29)
    weekday = [n for day, n in days.items() if day.weekday() < 5]
    weekend = [n for day, n in days.items() if day.weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.6 * sum(weekday) / len(weekday)


def test_customers_cover_conflicts_inactive_records_and_rule_created_contacts(demo) -> None:
    accounts = {a["emailaddress1"] for a in demo["accounts"]}
    shared = {c["emailaddress2"] for c in demo["contacts"]} & accounts
    assert shared
    assert any(c["statecode"] == 1 for c in demo["contacts"])
    first_email = {}
    for email in demo["emails"]:
        first_email.setdefault(email["sender"], email["createdon"])
    created_later = [c for c in demo["contacts"]
                     if c["emailaddress1"] in first_email and c["createdon"] > first_email[c["emailaddress1"]]]
    assert created_later


def test_environment_has_a_failing_mailbox_and_the_contact_owner_setting(demo) -> None:
    failing = [m for m in demo["mailboxes"] if m["incomingemailstatus"] == 2]
    assert len(failing) == 1 and failing[0]["lastsyncerror"]
    (definition,) = demo["environmentvariabledefinitions"]
    (value,) = demo["environmentvariablevalues"]
    assert definition["schemaname"] == value["schemaname"] == "msdyn_ArcCreateContactWithRuleOwner"
    assert (definition["defaultvalue"], value["value"]) == ("0", "0")
    assert [r["statecode"] for r in demo["convertrules"]].count(0) == 1


@pytest.mark.parametrize("size", [60, 400, 1500])
def test_the_engine_finds_the_planted_cause_and_verdict_of_every_email(tmp_path: Path, size: int) -> None:
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_snapshot

    write_demo(tmp_path, emails=size)
    report = diagnose(load_snapshot(tmp_path))
    found = {row.activityid: (row.primary_cause if isinstance(row.primary_cause, str) else None, row.verdict)
             for row in report.emails.itertuples()}
    causes, verdicts = intended_primary_causes(size), intended_verdicts(size)
    wrong = {activityid: ((cause, verdicts[activityid]), found.get(activityid))
             for activityid, cause in causes.items() if found.get(activityid) != (cause, verdicts[activityid])}
    assert not wrong
    assert "email-not-synced" in {finding["id"] for finding in report.findings}


def test_the_demo_holds_every_new_fact_of_the_corrections(tmp_path: Path) -> None:
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_snapshot

    write_demo(tmp_path)
    report = diagnose(load_snapshot(tmp_path))
    summary = report.summary()
    assert summary["not_for_a_queue"] >= 2 and summary["threaded"] >= 2 and summary["by_design"] >= 2
    replies = report.causes[report.causes["cause"] == "reply-to-tracked-email"]
    assert set(replies["kind"]) == {"fault", "by-design"}
    sentences = report.evidence.loc[report.evidence["row"].isin(replies.index), "text"].tolist()
    for phrase in ("a new case was expected", "no new case yet, by design", "checkifresolved = false",
                   "ARC skips an email already connected to a record"):
        assert any(phrase in sentence for sentence in sentences), phrase
    notes = report.notes["note"].tolist()
    assert any("correlation did not connect it" in note for note in notes)
    assert any("also sent to queue 'Marketing'" in note and "which has no rule" in note for note in notes)
    marketing = next(f for f in report.findings if f["id"] == "email-not-synced" and any(
        item["about"]["name"] == "Marketing" for item in f["evidence"]))
    assert any("unknown senders is dropped" in item["text"] for item in marketing["evidence"])
    multiple = [row for row in report.emails.itertuples() if row.verdict == "converted" and len(row.queues) == 2]
    assert multiple
    monitor = report.evidence[report.evidence["code"] == "activity-monitor"]
    failed = monitor[monitor["values"].str.contains('"label":"(?:Internal failure|Unable to find the source data)',
                                                    regex=True)]
    failed_rows = report.causes.loc[failed["row"].unique()]
    assert set(failed_rows["cause"]) == {"rule-configuration-error"}  # contactcreatedbyrule false proves nothing


def test_the_demo_carries_no_column_the_real_tables_lack(demo) -> None:
    from reference_columns import REAL_COLUMNS

    for entity_set, rows in demo.items():
        columns = {key.split("@")[0] for row in rows for key in row} - {""}
        lookups = {key[1:-6] for key in columns if key.startswith("_") and key.endswith("_value")}
        plain = {key for key in columns if not key.startswith("_")}
        unknown = (plain | lookups) - REAL_COLUMNS[entity_set]
        assert not unknown, (entity_set, sorted(unknown))
