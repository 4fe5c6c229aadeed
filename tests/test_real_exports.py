"""Exports as real systems write them (issue 10, items 7 and 9-17).

The fixtures under ``tests/real/`` are shaped like what Dataverse, Xrm.WebApi and the Configuration
Migration tool write — annotations, ``@odata.nextLink``, ``$entity`` and ``$delta`` responses, error
bodies, a CMT export with BOM, CRLF and first/last names only — not like what our own writer emits.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import TESTS

from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.report import Report, render_text
from diagnostics.snapshot import load_snapshot, load_uploaded

REAL = TESTS / "real"
EXPANDED = REAL / "webapi-expanded"
CMT = REAL / "cmt-contacts-only"
NO_SENDER = "1d4e3c7a-9f8b-ef11-8a6a-000d3a5c1f02"  # in EXPANDED: sender null, From party jo@tailspin.com
ONE_EMAIL = {"value": [{"activityid": "e1", "directioncode": False, "sender": "jo@tailspin.com"}]}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], capture_output=True, timeout=300,
                          cwd=TESTS.parent)


def folder(tmp_path: Path, *sources: Path, **files: bytes | dict) -> Path:
    """A snapshot folder holding the files of ``sources`` and ``files`` (dicts written as JSON)."""
    out = tmp_path / "snapshot"
    out.mkdir(exist_ok=True)
    for source in sources:
        for path in source.iterdir():
            shutil.copy(path, out / path.name)
    for name, data in files.items():
        (out / name).write_bytes(json.dumps(data).encode() if isinstance(data, dict) else data)
    return out


def zipped(source: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()


def refusal(path: Path) -> str:
    with pytest.raises(SnapshotError) as caught:
        load_snapshot(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------- the fixtures are real-shaped


def test_fixtures_carry_what_real_exports_carry() -> None:
    page = json.loads((EXPANDED / "emails.json").read_bytes())
    assert page["@odata.context"].endswith("))") and "@odata.nextLink" in page
    assert "directioncode@OData.Community.Display.V1.FormattedValue" in page["value"][0]
    assert "@odata.etag" in page["value"][0]["email_activity_parties"][0]
    data = (CMT / "data.xml").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b'name="fullname"' not in data and b'name="firstname"' in data


def test_the_real_shaped_web_api_folder_loads_and_is_diagnosed() -> None:
    snapshot = load_snapshot(EXPANDED)
    assert snapshot.counts["emails"] == 3 and snapshot.counts["activityparties"] == 6
    report = diagnose(snapshot).to_dict()
    assert report["summary"]["incoming"] == 3


# ------------------------------------------------------------------- 7: sender from the From party


def test_issue_reproduction_sender_comes_from_the_from_party(tmp_path: Path) -> None:
    page = {"value": [{"activityid": "11111111-0000-4000-8000-000000000001", "directioncode": False,
                       "email_activity_parties": [{"activitypartyid": "22222222-0000-4000-8000-000000000002",
                                                   "participationtypemask": 1,
                                                   "addressused": "cust@example.com"}]}]}
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": page}))
    assert snapshot.tables["emails"]["sender_address"].tolist() == ["cust@example.com"]
    assert diagnose(snapshot).to_dict()["emails"][0]["sender"] == "cust@example.com"


def test_sender_from_the_from_party_reaches_the_sender_checks() -> None:
    report = diagnose(load_snapshot(EXPANDED)).to_dict()
    email = next(email for email in report["emails"] if email["activityid"] == NO_SENDER)
    assert email["sender"] == "jo@tailspin.com"
    evidence = " ".join(item["text"] for cause in email["causes"] for item in cause["evidence"])
    assert "jo@tailspin.com" in evidence and "(no sender address)" not in evidence


def test_a_given_sender_is_kept_and_other_parties_are_not_the_sender(tmp_path: Path) -> None:
    parties = [{"activitypartyid": "p1", "participationtypemask": 2, "addressused": "help@contoso.com"},
               {"activitypartyid": "p2", "participationtypemask": 1, "addressused": "From@Example.com"}]
    page = {"value": [
        {"activityid": "e1", "sender": "kept@example.com", "email_activity_parties": parties[1:]},
        {"activityid": "e2", "sender": "", "email_activity_parties": [dict(parties[1], activitypartyid="p3")]},
        {"activityid": "e3", "email_activity_parties": parties[:1]}]}
    emails = load_snapshot(folder(tmp_path, **{"emails.json": page})).tables["emails"]
    assert emails["sender_address"].tolist()[:2] == ["kept@example.com", "from@example.com"]
    assert emails["sender_address"].isna().tolist()[2]  # a To party is no sender


# ----------------------------------------------------------------------- 9: the same party twice


def test_identical_expanded_and_separate_parties_are_kept_once() -> None:
    parties = load_snapshot(EXPANDED).tables["activityparties"]
    assert parties["activitypartyid"].is_unique and len(parties) == 6
    queue_party = parties[parties["addressused"] == "help@contoso.com"].iloc[0]
    assert queue_party["partyid_type"] == "queue"


def test_a_copy_missing_an_annotation_is_the_same_party(tmp_path: Path) -> None:
    party = {"activitypartyid": "P1", "_activityid_value": "e1", "participationtypemask": 2,
             "addressused": "help@contoso.com", "_partyid_value": "q1"}
    annotated = dict(party, activitypartyid="p1", **{"_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname":
                                                       "queue"})
    snapshot = load_snapshot(folder(tmp_path, **{
        "emails.json": {"value": [{"activityid": "e1", "email_activity_parties": [party]}]},
        "activityparties.json": {"value": [annotated]}}))
    assert snapshot.tables["activityparties"][["activitypartyid", "partyid_type"]].values.tolist() == [
        ["p1", "queue"]]


def test_conflicting_copies_of_a_party_are_refused(tmp_path: Path) -> None:
    page = json.loads((EXPANDED / "activityparties.json").read_bytes())
    page["value"][0]["addressused"] = "someone.else@tailspin.com"
    message = refusal(folder(tmp_path, EXPANDED, **{"activityparties.json": page}))
    assert "activityparties has 1 records whose activitypartyid repeats another with different values" in message
    assert "'addressused'" in message


def test_a_repeated_email_is_still_refused(tmp_path: Path) -> None:
    page = json.loads((EXPANDED / "emails.2.json").read_bytes())
    message = refusal(folder(tmp_path, EXPANDED, **{"emails.3.json": page}))
    assert "emails has 1 records whose activityid repeats another" in message


# ------------------------------------------------- 10: single records and Xrm.WebApi output as pages


def test_a_single_record_entity_response_is_a_page_of_one(tmp_path: Path) -> None:
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": ONE_EMAIL,
                                                 "systemusers.json": (REAL / "systemuser-entity.json").read_bytes()}))
    users = snapshot.tables["systemusers"]
    assert users[["systemuserid", "fullname"]].values.tolist() == [
        ["d1e2f3a4-b5c6-ee11-be6f-000d3a4b2c11", "Dana Admin"]]
    assert not users["isdisabled"].iloc[0]


def test_a_single_record_without_annotations_is_known_by_its_key(tmp_path: Path) -> None:
    record = {"systemuserid": "u1", "fullname": "Dana Admin", "isdisabled": True}  # Xrm.WebApi.retrieveRecord
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": ONE_EMAIL, "systemusers.json": record}))
    assert snapshot.tables["systemusers"]["fullname"].tolist() == ["Dana Admin"]


def test_xrm_webapi_retrieve_multiple_output_is_a_page(tmp_path: Path) -> None:
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": (REAL / "xrm-webapi-emails.json").read_bytes()}))
    emails = snapshot.tables["emails"]
    assert emails["subject"].tolist() == ["Order 1182 arrived broken", "Invoice question"]
    assert emails["sender_address"].tolist() == ["jo@tailspin.com", "ana@fabrikam.com"]


def test_wrong_values_in_xrm_output_name_the_row(tmp_path: Path) -> None:
    page = json.loads((REAL / "xrm-webapi-emails.json").read_bytes())
    page["entities"][1]["directioncode"] = "maybe"
    message = refusal(folder(tmp_path, **{"emails.json": page}))
    assert "table emails" in message and "'directioncode' (1 rows)" in message and "row 2" in message


def test_an_object_that_is_no_page_is_still_refused(tmp_path: Path) -> None:
    message = refusal(folder(tmp_path, **{"emails.json": {"@odata.context": "…$metadata#emails", "values": []}}))
    assert "not a Web API page of emails ('value': Field required)" in message


# ------------------------------------------------------------------------ 11: a saved error body


def test_a_saved_error_body_is_named(tmp_path: Path) -> None:
    message = refusal(folder(tmp_path, **{"emails.json": (REAL / "error-body.json").read_bytes()}))
    assert message.endswith("emails.json holds a Dataverse error, not data: "
                            "Resource not found for the segment 'emailz'. (0x80060888)")


def test_an_error_message_stays_on_one_line(tmp_path: Path) -> None:
    body = {"error": {"code": "0x80040217", "message": "Line one\r\nerror: forged second line"}}
    message = refusal(folder(tmp_path, **{"queues.json": body, "emails.json": ONE_EMAIL}))
    assert "queues.json holds a Dataverse error, not data: Line one\\r\\nerror: forged" in message


# ----------------------------------------------------------------- 12: change-tracking tombstones


def test_delta_tombstones_are_skipped_and_counted(tmp_path: Path) -> None:
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": (REAL / "delta-emails.json").read_bytes()}))
    assert snapshot.tables["emails"]["subject"].tolist() == ["Invoice question", "Re: Delivery times"]
    assert snapshot.notes == ["emails.json: skipped 2 deleted-record markers ($deletedEntity) of a "
                              "change-tracking export"]


def test_a_page_without_tombstones_has_no_note(tmp_path: Path) -> None:
    page = json.loads((REAL / "delta-emails.json").read_bytes())
    page["value"] = [row for row in page["value"] if "id" not in row]
    snapshot = load_snapshot(folder(tmp_path, **{"emails.json": page}))
    assert snapshot.notes == [] and len(snapshot.tables["emails"]) == 2


def test_a_record_without_key_beside_tombstones_is_still_refused(tmp_path: Path) -> None:
    page = json.loads((REAL / "delta-emails.json").read_bytes())
    page["value"].append({"subject": "no key"})
    assert "emails has 1 records without activityid" in refusal(folder(tmp_path, **{"emails.json": page}))


# --------------------------------------------------------------- 13: data.xml beside its data.zip


def test_data_xml_beside_its_zip_uses_the_xml(tmp_path: Path) -> None:
    unzipped = folder(tmp_path, CMT, **{"emails.json": ONE_EMAIL, "data.zip": zipped(CMT)})
    snapshot = load_snapshot(unzipped)
    assert "data.zip" in snapshot.ignored_files
    assert snapshot.counts["contacts"] == 2


def test_uploaded_data_xml_with_its_zip_uses_the_xml() -> None:
    files = [(path.name, path.read_bytes()) for path in sorted(CMT.iterdir())]
    files += [("data.zip", zipped(CMT)), ("emails.json", json.dumps(ONE_EMAIL).encode())]
    snapshot = load_uploaded(files)
    assert snapshot.counts["contacts"] == 2 and "data.zip" in snapshot.ignored_files


def test_an_uploaded_zip_of_json_pages_beside_a_data_xml_is_read() -> None:
    files = [("data.xml", (CMT / "data.xml").read_bytes()), ("pages.zip", zipped(EXPANDED))]
    snapshot = load_uploaded(files)
    assert snapshot.counts["emails"] == 3 and snapshot.counts["contacts"] == 3
    assert snapshot.ignored_files == []


def test_a_zip_without_a_data_xml_beside_it_is_still_refused(tmp_path: Path) -> None:
    snapshot = folder(tmp_path, **{"emails.json": ONE_EMAIL, "data.zip": zipped(CMT)})
    assert "archives inside the snapshot folder are not allowed" in refusal(snapshot)
    (snapshot / "sub").mkdir()
    (snapshot / "sub" / "data.xml").write_bytes((CMT / "data.xml").read_bytes())
    assert "archives inside the snapshot folder are not allowed" in refusal(snapshot)  # beside, not below


# ------------------------------------------------------ 14: JSON pages beside a CMT data.xml, both read


def test_json_beside_a_cmt_data_xml_reads_both(tmp_path: Path) -> None:
    snapshot = load_snapshot(folder(tmp_path, EXPANDED, CMT))
    assert snapshot.counts["emails"] == 3 and snapshot.counts["contacts"] == 1 + 2
    assert snapshot.counts["accounts"] == 0 + 1 and snapshot.counts["queues"] == 1
    assert not {"data_schema.xml", "[Content_Types].xml"} & set(snapshot.ignored_files)


def test_tables_in_both_formats_are_merged(tmp_path: Path) -> None:
    contacts = {"value": [{"contactid": "c2", "fullname": "Ana Díaz", "emailaddress1": "ana@fabrikam.com",
                           "statecode": 0}]}
    snapshot = load_snapshot(folder(tmp_path, CMT, **{"emails.json": ONE_EMAIL, "contacts.json": contacts}))
    assert sorted(snapshot.tables["contacts"]["fullname"]) == ["Ana Díaz", "Ishikawa", "Jo Brown"]


def test_the_same_record_in_both_formats_is_refused(tmp_path: Path) -> None:
    contacts = {"value": [{"contactid": "8D2B3C4E-5F6A-EE11-BE6F-000D3A4B2C11", "fullname": "Jo Brown"}]}
    message = refusal(folder(tmp_path, CMT, **{"emails.json": ONE_EMAIL, "contacts.json": contacts}))
    assert "contacts has 1 records whose contactid repeats another" in message


# ------------------------------------------------------------------------------ 15: CMT wording


def test_a_cmt_zip_without_emails_names_what_it_holds(tmp_path: Path) -> None:
    archive = tmp_path / "data.zip"
    archive.write_bytes(zipped(CMT))
    assert refusal(archive) == "data.zip: data.xml has no email entity (found: account, contact, appointment)"
    done = cli("diagnose", str(archive))
    assert done.returncode == 2
    assert done.stderr.decode() == ("error: data.zip: data.xml has no email entity "
                                    "(found: account, contact, appointment)\n")


def test_a_cmt_folder_without_emails_beside_other_json_says_both(tmp_path: Path) -> None:
    message = refusal(folder(tmp_path, CMT, **{"queues.json": {"value": []}}))
    assert message.endswith("data.xml has no email entity (found: account, contact, appointment) "
                            "and there is no emails.json")


def test_a_json_snapshot_without_emails_keeps_its_wording(tmp_path: Path) -> None:
    assert "no emails table (emails.json)" in refusal(folder(tmp_path, **{"queues.json": {"value": []}}))


# ------------------------------------------------------------------ 16: CMT contacts have no fullname


def test_cmt_contacts_are_named_from_first_and_last_name(tmp_path: Path) -> None:
    contacts = load_snapshot(folder(tmp_path, CMT, **{"emails.json": ONE_EMAIL})).tables["contacts"]
    assert contacts.set_index("emailaddress1")["fullname"].to_dict() == {
        "jo@tailspin.com": "Jo Brown", "mei@tailspin.com": "Ishikawa"}


def test_evidence_names_the_cmt_contact(tmp_path: Path) -> None:
    report = diagnose(load_snapshot(folder(tmp_path, EXPANDED, CMT))).to_dict()
    text = json.dumps(report)
    assert "(unnamed)" not in text
    email = next(email for email in report["emails"] if email["activityid"] == NO_SENDER)
    evidence = " ".join(item["text"] for cause in email["causes"] for item in cause["evidence"])
    assert "contact 'Jo Brown'" in evidence


# ---------------------------------------------------------------------- 17: text output has no None


def test_text_output_prints_a_dash_for_a_missing_date_or_sender(tmp_path: Path) -> None:
    page = {"value": [{"activityid": "e1", "subject": "EMAIL", "directioncode": False,
                       "torecipients": "help@contoso.com", "_regardingobjectid_value": None}]}
    queues = {"value": [{"queueid": "q1", "name": "Help", "emailaddress": "help@contoso.com"}]}
    report = diagnose(load_snapshot(folder(tmp_path, **{"emails.json": page, "queues.json": queues})))
    text = render_text(report)
    line = next(line for line in text.splitlines() if "'EMAIL'" in line)
    assert "None" not in line and line.startswith("  -  'EMAIL' from - to Help  ")
    again = render_text(Report.from_dict(report.to_dict()))
    assert next(line for line in again.splitlines() if "'EMAIL'" in line) == line
