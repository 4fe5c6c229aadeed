"""The Configuration Migration tool reader and writer (diagnostics.cmt)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.cmt import cmt_data_xml, is_cmt_zip, parse_cmt_xml, write_cmt_zip
from diagnostics.errors import SnapshotError

FIXTURE = Path(__file__).parent / "cmt" / "data.xml"
SAMPLE = Path(__file__).parent / "fixtures" / "snapshot-basic"
LOOKUP_TYPE = "@Microsoft.Dynamics.CRM.lookuplogicalname"

FIRST = "09b17da0-94e7-54a1-b7cb-a439d43e40f4"
STRANGER = "82bd9f8d-6e4f-5a24-a34f-290ae964f098"
SALES = "878db23a-3386-5af4-93b3-ac556fa20103"
NUMBERED = "c4711000-0000-4000-8000-000000004711"
BOLD = "b0b0b0b0-0000-4000-8000-00000000000b"
HELPDESK = "80a1701d-08ba-58b0-b461-05ee7692c9e1"


def sample_records() -> dict[str, list[dict]]:
    """The snapshot-basic Web API records, without nulls and FormattedValue annotations."""
    records = {}
    for path in sorted(SAMPLE.glob("*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))["value"]
        records[path.stem] = [
            {key: value for key, value in row.items()
             if value is not None and not key.endswith("@OData.Community.Display.V1.FormattedValue")}
            for row in rows]
    return records


def without_annotations(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if "@" not in key} for row in rows]


@pytest.fixture(scope="module")
def parsed() -> dict[str, list[dict]]:
    return parse_cmt_xml(FIXTURE.read_bytes(), "data.xml")


def by_id(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def parties_of(parsed: dict, email_id: str) -> list[dict]:
    return [row for row in parsed["activityparties"] if row["_activityid_value"] == email_id]


# ------------------------------------------------------------------------------------ the fixture


def test_fixture_is_written_like_a_real_export() -> None:
    raw = FIXTURE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert b"&amp;lt;b&amp;gt;" in raw


def test_fixture_mirrors_the_web_api_sample(parsed) -> None:
    extra_emails = {NUMBERED, BOLD}
    expected = sample_records()
    assert set(parsed) == set(expected)
    for table, rows in expected.items():
        got = [row for row in parsed[table]
               if not {row.get("activityid"), row.get("_activityid_value")} & extra_emails]
        assert without_annotations(got) == without_annotations(rows), table


def test_unknown_entities_are_ignored(parsed) -> None:
    assert "businessunits" not in parsed
    assert "businessunit" not in parsed


def test_primary_key_comes_from_the_record_id(parsed) -> None:
    email = by_id(parsed["emails"], "activityid")[FIRST]
    assert "_activityid_value" not in email
    assert by_id(parsed["queues"], "queueid")[HELPDESK]["name"] == "Helpdesk"


def test_booleans_and_integers_get_their_json_types(parsed) -> None:
    email = by_id(parsed["emails"], "activityid")[FIRST]
    assert email["directioncode"] is False
    assert email["statecode"] == 1 and email["statuscode"] == 4 and email["correlationmethod"] == 0
    assert by_id(parsed["emails"], "activityid")[NUMBERED]["directioncode"] is True
    rule = parsed["convertrules"][0]
    assert rule["allowunknownsender"] is False and rule["statuscode"] == 2
    assert parsed["queueitems"][0]["objecttypecode"] == 4202
    assert parsed["convertruleitems"][0]["sequencenumber"] == 1
    assert parsed["systemusers"][0]["isdisabled"] is False


def test_a_numeric_subject_stays_text(parsed) -> None:
    assert by_id(parsed["emails"], "activityid")[NUMBERED]["subject"] == "4711"


def test_text_is_decoded_from_the_extra_html_encoding(parsed) -> None:
    emails = by_id(parsed["emails"], "activityid")
    assert emails[BOLD]["subject"] == "<b>Urgent</b> Tom & Jerry's \"espresso\" machine"
    assert emails[FIRST]["messageid"] == "<first@mail.tailspin.com>"


def test_dates_are_kept_with_a_time_zone(parsed) -> None:
    assert by_id(parsed["emails"], "activityid")[FIRST]["createdon"] == "2026-11-03T10:00:00Z"
    assert parsed["contacts"][0]["createdon"] == "2026-10-01T08:00:00Z"
    assert by_id(parsed["emails"], "activityid")[NUMBERED]["createdon"] == "2026-11-05T08:30:00.0000000Z"


def test_lookups_become_value_columns_with_their_entity(parsed) -> None:
    email = by_id(parsed["emails"], "activityid")[FIRST]
    assert email["_regardingobjectid_value"] == "f33ffbcc-83d5-512a-a404-0b92a2f1507e"
    assert email[f"_regardingobjectid_value{LOOKUP_TYPE}"] == "incident"
    assert parsed["convertrules"][0][f"_ownerid_value{LOOKUP_TYPE}"] == "systemuser"
    to_party = parties_of(parsed, FIRST)[1]
    assert to_party["_partyid_value"] == HELPDESK and to_party[f"_partyid_value{LOOKUP_TYPE}"] == "queue"


def test_a_known_lookup_without_lookupentity_is_still_a_lookup(parsed) -> None:
    item = by_id(parsed["queueitems"], "queueitemid")["7bd484a5-c9da-5b68-9515-2c5ced5a957b"]
    assert item["_objectid_value"] == STRANGER and item["_queueid_value"] == HELPDESK
    assert not any("@" in key for key in item)


def test_party_lists_at_both_depths_become_activity_parties(parsed) -> None:
    shallow = parties_of(parsed, SALES)
    deep = parties_of(parsed, STRANGER)
    for parties in (shallow, deep):
        assert [party["participationtypemask"] for party in parties] == [1, 2]
    assert deep[0] == {"activitypartyid": "99960759-57dc-523a-998c-34cbb9eb7242",
                       "_activityid_value": STRANGER, "participationtypemask": 1,
                       "addressused": "someone@contoso.net"}


def test_party_mask_comes_from_the_field_or_else_the_list_name(parsed) -> None:
    assert [party["participationtypemask"] for party in parties_of(parsed, BOLD)] == [3]
    first_from = parties_of(parsed, FIRST)[0]
    assert first_from["_activityid_value"] == FIRST and f"_activityid_value{LOOKUP_TYPE}" not in first_from


def test_the_snapshot_loader_accepts_the_records(parsed) -> None:
    from diagnostics.snapshot import snapshot_from_records

    snapshot = snapshot_from_records(parsed, "data.xml")
    assert snapshot.counts["emails"] == 6 and snapshot.counts["activityparties"] == 9


# ------------------------------------------------------------------------------- smaller documents


def document(entities: str) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><entities>{entities}</entities>'.encode()


def test_an_exported_entity_without_records_is_an_empty_table() -> None:
    parsed = parse_cmt_xml(document('<entity name="mailbox"><records /></entity>'))
    assert parsed == {"mailboxes": []}


def test_empty_and_missing_values_are_absent() -> None:
    parsed = parse_cmt_xml(document(
        '<entity name="queue"><records><record id="q1"><field name="name" value="" />'
        '<field name="emailaddress" /></record></records></entity>'))
    assert parsed["queues"] == [{"queueid": "q1"}]


def test_text_columns_keep_numbers_and_flags_as_text() -> None:
    parsed = parse_cmt_xml(document(
        '<entity name="environmentvariabledefinition"><records><record id="d1">'
        '<field name="schemaname" value="msdyn_ArcCreateContactWithRuleOwner" />'
        '<field name="defaultvalue" value="1" /></record></records></entity>'
        '<entity name="email"><records><record id="e1"><field name="subject" value="True" />'
        '<field name="statecode" value="Open" /></record></records></entity>'))
    assert parsed["environmentvariabledefinitions"][0]["defaultvalue"] == "1"
    # a value that does not fit its column stays as it is, for the loader to report
    assert parsed["emails"][0] == {"activityid": "e1", "subject": "True", "statecode": "Open"}


def test_a_separate_activityparty_entity_is_read_and_not_doubled() -> None:
    party = ('<field name="activityid" value="e1" lookupentity="email" />'
             '<field name="participationtypemask" value="2" /><field name="addressused" value="q@x.com" />')
    parsed = parse_cmt_xml(document(
        f'<entity name="activityparty"><records><record id="p1">{party}</record></records></entity>'
        '<entity name="email"><records><record id="e1"><field name="to" value="">'
        f'<activitypointerrecords id="P1">{party}</activitypointerrecords></field>'
        '</record></records></entity>'))
    assert parsed["activityparties"] == [{
        "activitypartyid": "p1", "_activityid_value": "e1", f"_activityid_value{LOOKUP_TYPE}": "email",
        "participationtypemask": 2, "addressused": "q@x.com"}]


# ---------------------------------------------------------------------------------- hostile input


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE entities [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<entities><entity name="email"><records><record id="e1">
<field name="subject" value="&lol3;" /></record></records></entity></entities>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE entities [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<entities><entity name="email"><records><record id="e1">
<field name="subject" value="&secret;" /></record></records></entity></entities>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE entities SYSTEM "http://example.invalid/cmt.dtd">
<entities />"""


def refused(data: bytes, source: str = "upload/data.xml") -> str:
    with pytest.raises(SnapshotError) as caught:
        parse_cmt_xml(data, source)
    message = str(caught.value)
    assert message.startswith(f"{source}: ") and "\n" not in message
    return message


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
                         ids=["billion-laughs", "external-entity", "external-dtd"])
def test_document_type_declarations_are_refused(data: bytes) -> None:
    assert "refused" in refused(data)


@pytest.mark.parametrize("data", [
    b"", b"garbage", b"\x00\xff\xfe\x00", b"PK\x03\x04\x14\x00\x00\x00", b'{"value": []}',
    b"\xef\xbb\xbf<entities><entity name='email'>",  # cut off
    b"<entities><entity name='email'></records></entities>",
], ids=["empty", "text", "binary", "zip", "json", "truncated", "mismatched"])
def test_non_xml_is_refused(data: bytes) -> None:
    assert "cannot be read as XML" in refused(data)


def test_a_document_that_is_not_a_cmt_data_xml_is_refused() -> None:
    types = b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types" />'
    assert "not a Configuration Migration data.xml" in refused(types)


def test_a_record_without_id_is_refused() -> None:
    assert "has no id" in refused(document('<entity name="email"><records><record /></records></entity>'))


def test_a_party_without_id_is_refused() -> None:
    xml = document('<entity name="email"><records><record id="e1"><field name="to" value="">'
                   '<activitypointerrecords><field name="addressused" value="a@b.c" />'
                   '</activitypointerrecords></field></record></records></entity>')
    assert "has no id" in refused(xml)


# ------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("deep", [False, True], ids=["activitypointerrecords", "activitypointerrecord"])
def test_round_trip_through_a_cmt_zip(tmp_path: Path, deep: bool) -> None:
    records = sample_records()
    out = tmp_path / "data.zip"
    write_cmt_zip(records, out, deep_party_lists=deep)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        data = archive.read("data.xml")
    assert sorted(names) == ["[Content_Types].xml", "data.xml", "data_schema.xml"]
    assert is_cmt_zip(names)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    assert (b"<activitypointerrecord " in data) is deep
    assert parse_cmt_xml(data) == records


def test_the_writer_encodes_text_once_more() -> None:
    data = cmt_data_xml({"emails": [{"activityid": "e1", "subject": "<b>4711</b>", "directioncode": False}]})
    assert b'value="&amp;lt;b&amp;gt;4711&amp;lt;/b&amp;gt;"' in data
    assert b'name="directioncode" value="False"' in data


def test_parties_that_cannot_nest_are_written_as_their_own_entity() -> None:
    records = {
        "emails": [{"activityid": "e1", "subject": "hello"}],
        "activityparties": [
            {"activitypartyid": "p1", "_activityid_value": "e1", "participationtypemask": 2},
            {"activitypartyid": "p2", "_activityid_value": "other", "participationtypemask": 1},
            {"activitypartyid": "p3", "_activityid_value": "e1", "participationtypemask": 9},
        ],
    }
    data = cmt_data_xml(records)
    assert b'<entity name="activityparty"' in data
    parties = parse_cmt_xml(data)["activityparties"]
    assert sorted(parties, key=lambda row: row["activitypartyid"]) == records["activityparties"]


def test_the_writer_refuses_what_xml_cannot_carry() -> None:
    with pytest.raises(ValueError, match="email.subject"):
        cmt_data_xml({"emails": [{"activityid": "e1", "subject": "bell \x07"}]})
    with pytest.raises(ValueError, match="not an entity set"):
        cmt_data_xml({"leads": [{"leadid": "l1"}]})


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"
                                 + "".join(map(chr, range(32))).replace("\t", "").replace("\n", "")
                                 .replace("\r", "")), min_size=1)


@settings(max_examples=200, deadline=None)
@given(subject=XML_TEXT)
def test_any_text_survives_the_round_trip(subject: str) -> None:
    records = {"emails": [{"activityid": "e1", "subject": subject, "sender": f"&{subject};"}]}
    assert parse_cmt_xml(cmt_data_xml(records)) == records


@pytest.mark.parametrize(("names", "expected"), [
    (["data.xml", "data_schema.xml", "[Content_Types].xml"], True),
    (["export/Data.xml", "export/data_schema.xml"], True),
    (["data.xml"], False),
    (["emails.json", "queues.json"], False),
])
def test_is_cmt_zip(names: list[str], expected: bool) -> None:
    assert is_cmt_zip(names) is expected


def test_people_without_fullname_are_named_from_first_and_last_name() -> None:
    def person(entity: str, record_id: str, **fields: str) -> str:
        tags = "".join(f'<field name="{name}" value="{value}" />' for name, value in fields.items())
        return f'<entity name="{entity}"><records><record id="{record_id}">{tags}</record></records></entity>'

    parsed = parse_cmt_xml(document(
        person("contact", "c1", firstname="Jo", lastname="Brown")
        + person("systemuser", "u1", firstname=" Dana ", lastname="  ")
        + person("account", "a1", name="Tailspin Toys")))
    assert parsed["contacts"][0]["fullname"] == "Jo Brown"
    assert parsed["systemusers"][0]["fullname"] == "Dana"
    assert "fullname" not in parsed["accounts"][0] and parsed["accounts"][0]["name"] == "Tailspin Toys"
    given = parse_cmt_xml(document(person("contact", "c2", fullname="Dr. Jo Brown", firstname="Jo")))
    assert given["contacts"][0]["fullname"] == "Dr. Jo Brown"
    nameless = parse_cmt_xml(document(person("contact", "c3", emailaddress1="x@y.z")))
    assert "fullname" not in nameless["contacts"][0]
