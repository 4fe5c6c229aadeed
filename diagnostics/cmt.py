"""Configuration Migration tool (CMT) exports: ``data.xml`` <-> Web-API-shaped records.

A CMT ``data.zip`` holds ``data.xml``, ``data_schema.xml`` and ``[Content_Types].xml``. ``data.xml`` is
``<entities><entity name="email"><records><record id="…"><field name="…" value="…" [lookupentity="…"]/>``.
``parse_cmt_xml`` turns it into records per entity set in exactly the shape of a Web API JSON export,
so the snapshot loader validates both the same way:

- the record id becomes the primary key column (``activityid`` for email, ``<logicalname>id`` otherwise);
- a lookup ``x`` (a field with ``lookupentity``, or a column ``schema`` knows as a lookup) becomes
  ``_x_value`` plus ``_x_value@Microsoft.Dynamics.CRM.lookuplogicalname`` when the entity is given;
- "True"/"False" and integer strings become JSON booleans and integers, but only in columns known to
  be booleans or integers (``schema`` plus a few system columns): a subject "4711" stays text;
- dates are kept as given, with a ``Z`` added when the time zone is missing;
- other values were HTML-encoded once more by CMT and are decoded; empty or absent fields are absent;
- party lists (``from``, ``to``, ``cc``, ``bcc``) nest ``<activitypointerrecords id="…">`` elements, or
  ``<activitypointerrecords><activitypointerrecord id="…">`` in some exports, holding activity-party
  fields: each becomes an ``activityparties`` record of the activity.

The XML is read with ``defusedxml``: document type declarations, entities and external references are
refused. ``write_cmt_zip`` is the reverse, used by tests and to prove both formats diagnose the same.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import Element  # the type only: parsing goes through defusedxml

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from . import schema
from .errors import SnapshotError

LOOKUP_TYPE = schema.LOOKUP_TYPE

# logical name -> (entity set, display name)
ENTITIES: dict[str, tuple[str, str]] = {
    "email": ("emails", "Email"),
    "activityparty": ("activityparties", "Activity Party"),
    "queue": ("queues", "Queue"),
    "queueitem": ("queueitems", "Queue Item"),
    "convertrule": ("convertrules", "Record Creation and Update Rule"),
    "convertruleitem": ("convertruleitems", "Record Creation and Update Rule Item"),
    "workflow": ("workflows", "Process"),
    "activitymonitor": ("activitymonitors", "Activity Monitor"),
    "asyncoperation": ("asyncoperations", "System Job"),
    "mailbox": ("mailboxes", "Mailbox"),
    "contact": ("contacts", "Contact"),
    "account": ("accounts", "Account"),
    "systemuser": ("systemusers", "User"),
    "environmentvariabledefinition": ("environmentvariabledefinitions", "Environment Variable Definition"),
    "environmentvariablevalue": ("environmentvariablevalues", "Environment Variable Value"),
    "incident": ("incidents", "Case"),
    "incidentresolution": ("incidentresolutions", "Case Resolution"),
}
LOGICAL_NAMES = {entity_set: logical for logical, (entity_set, _) in ENTITIES.items()}
ACTIVITIES = {"email", "incidentresolution"}  # activity tables: their key is activityid

# Party list fields of an activity and the participation type each implies.
PARTY_LISTS = {"from": 1, "to": 2, "cc": 3, "bcc": 4}
_PARTY_TAGS = {"activitypointerrecords", "activitypointerrecord"}

# Columns outside ``schema`` that CMT exports often carry, so they get their JSON type too.
_COMMON_KINDS = {"statecode": "int", "statuscode": "int", "modifiedon": "date", "overriddencreatedon": "date"}
_EXTRA_KINDS: dict[str, dict[str, str]] = {
    "emails": {"prioritycode": "int", "deliveryattempts": "int", "senton": "date", "actualend": "date",
               "conversationindex": "str", "trackingtoken": "str"},
    "activityparties": {"ispartydeleted": "bool"},
    "queues": {"outgoingemaildeliverymethod": "int", "queueviewtype": "int"},
    "queueitems": {"objecttypecode": "int", "enteredon": "date"},
    "convertrules": {"checkblockedsocialprofile": "bool", "checkifresolved": "bool", "resolvedsince": "int",
                     "checkactiveentitlement": "bool", "sendautomaticresponse": "bool"},
    "convertruleitems": {"sequencenumber": "int"},
    "activitymonitors": {"recommendation": "str"},
    "contacts": {"parentcustomerid": "lookup"},
    "workflows": {"type": "int", "mode": "int", "scope": "int", "ondemand": "bool"},
    "asyncoperations": {"errorcode": "int", "retrycount": "int", "startedon": "date", "completedon": "date",
                        "operationtype": "int"},
    "mailboxes": {"outgoingemaildeliverymethod": "int", "outgoingemailstatus": "int",
                  "enabledforoutgoingemail": "bool", "isforwardmailbox": "bool", "lastsyncerrorcode": "int",
                  "processemailreceivedafter": "date"},
    "environmentvariabledefinitions": {"type": "int"},
    "incidents": {"prioritycode": "int", "caseorigincode": "int", "casetypecode": "int", "createdon": "date",
                  "customerid": "lookup"},
}

_INTEGER = re.compile(r"[+-]?\d+")
_NO_ZONE = re.compile(r"T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_LOOKUP_KEY = re.compile(r"_(?P<name>\w+)_value")
# Characters XML 1.0 cannot carry, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REFUSED = {
    DTDForbidden: "XML with a document type declaration (<!DOCTYPE>) is refused: "
                  "it can declare entities and load external files",
    EntitiesForbidden: "XML entity declarations are refused",
    ExternalReferenceForbidden: "XML external references are refused",
}


def primary_key(logical_name: str) -> str:
    """The primary key column of a table: activities share ``activityid``."""
    return "activityid" if logical_name in ACTIVITIES else f"{logical_name}id"


def is_cmt_zip(names: list[str]) -> bool:
    """True when the archive members include ``data.xml`` and ``data_schema.xml`` (at any depth)."""
    basenames = {name.replace("\\", "/").rsplit("/", 1)[-1].lower() for name in names}
    return {"data.xml", "data_schema.xml"} <= basenames


# ---------------------------------------------------------------------------------------------- reading


@dataclass
class CmtExport:
    """What a ``data.xml`` holds: records per entity set we read, and every entity name it exports."""

    tables: dict[str, list[dict]]
    entities: list[str]  # logical names in document order, the ones we do not read included


def parse_cmt_xml(data: bytes, source: str = "data.xml") -> dict[str, list[dict]]:
    """Records per Web API entity set from a CMT ``data.xml``; entities we do not use are skipped."""
    return read_cmt_xml(data, source).tables


def read_cmt_xml(data: bytes, source: str = "data.xml") -> CmtExport:
    """``parse_cmt_xml`` plus the names of all exported entities (to say what a file holds instead)."""
    tables: dict[str, list[dict]] = {}
    entities: list[str] = []
    parties: dict[str, dict] = {}
    for logical, record in _records(data, source):
        if record is None:  # an entity starts
            entities += [logical] if logical else []
            if logical in ENTITIES:
                tables.setdefault(ENTITIES[logical][0], [])
            continue
        entity_set = ENTITIES[logical][0]
        row = _record(logical, record, source)
        if entity_set == "activityparties":
            parties.setdefault(row["activitypartyid"].lower(), row)
        else:
            tables[entity_set].append(row)
        for party in _party_rows(logical, record, row[primary_key(logical)], source):
            parties.setdefault(party["activitypartyid"].lower(), party)
    if parties:
        tables["activityparties"] = list(parties.values())
    return CmtExport(tables, entities)


def _records(data: bytes, source: str) -> Iterator[tuple[str, Element | None]]:
    """(logical name, None) when an entity starts, then (logical name, record) for each record we read.

    Records are streamed and dropped once read, so memory stays near the size of the input bytes.
    """
    stack: list[Element] = []
    logical = ""
    try:
        for event, element in DefusedET.iterparse(io.BytesIO(data), ("start", "end"), forbid_dtd=True):
            tag = element.tag
            if event == "start":
                if not stack and tag != "entities":
                    raise SnapshotError(f"{source}: not a Configuration Migration data.xml "
                                        f"(root element <{tag}>, expected <entities>)")
                stack.append(element)
                if tag == "entity" and len(stack) == 2:
                    logical = element.get("name", "").strip().lower()
                    yield logical, None
                continue
            stack.pop()
            if tag == "entity":
                logical = ""
            elif tag == "record" and stack and stack[-1].tag == "records":
                if logical in ENTITIES:
                    yield logical, element
                stack[-1].remove(element)
    except DefusedXmlException as error:
        reason = _REFUSED.get(type(error), "unsafe XML is refused")
        raise SnapshotError(f"{source}: {reason}") from None
    except DefusedET.ParseError as error:
        raise SnapshotError(f"{source}: cannot be read as XML ({error})") from None
    except (LookupError, ValueError) as error:  # an encoding declaration expat does not know or cannot use
        raise SnapshotError(f"{source}: cannot be read as XML ({type(error).__name__}: {error}); "
                            "save it as UTF-8") from None


def _fields(element: Element) -> list[Element]:
    return [child for child in element if child.tag == "field"]


def _record(logical: str, record: Element, source: str) -> dict:
    key = primary_key(logical)
    record_id = (record.get("id") or "").strip()
    if not record_id:
        raise SnapshotError(f"{source}: a record of entity '{logical}' has no id")
    row = {key: record_id}
    row.update(_values(ENTITIES[logical][0], _fields(record), skip=key))
    return _with_full_name(logical, row)


def _with_full_name(logical: str, row: dict) -> dict:
    """CMT leaves out ``fullname`` (Dataverse computes it): rebuild it as "first last" for people."""
    if logical in ("contact", "systemuser") and not row.get("fullname"):
        parts = [str(row.get(part) or "").strip() for part in ("firstname", "lastname")]
        if any(parts):
            row["fullname"] = " ".join(part for part in parts if part)
    return row


def _values(table: str, fields: list[Element], skip: str) -> dict:
    """The Web API columns of a record's (or party's) plain fields; party lists are read elsewhere."""
    row: dict = {}
    for field in fields:
        name = (field.get("name") or "").strip()
        value = field.get("value")
        if not name or name == skip or value in (None, "") or len(field):
            continue
        lookup = (field.get("lookupentity") or "").strip()
        if lookup or _kind(table, name) == "lookup":
            row[f"_{name}_value"] = value.strip()
            if lookup:
                row[f"_{name}_value{LOOKUP_TYPE}"] = lookup
        else:
            row[name] = _typed(_kind(table, name), value)
    return row


def _kind(table: str, column: str) -> str | None:
    return (schema.TABLES.get(table, {}).get(column) or _EXTRA_KINDS.get(table, {}).get(column)
            or _COMMON_KINDS.get(column))


def _typed(kind: str | None, value: str) -> str | int | bool:
    """A CMT field value as the Web API gives it; values that do not fit their kind stay text."""
    text = value.strip()
    if kind == "bool" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    if kind == "int" and _INTEGER.fullmatch(text):
        return int(text)
    decoded = html.unescape(value)
    if kind == "date" and _NO_ZONE.search(decoded.strip()):
        return decoded.strip() + "Z"
    return decoded


def _party_rows(logical: str, record: Element, activity_id: str, source: str) -> Iterator[dict]:
    """Activity-party records from the party-list fields (``from``, ``to``, ``cc``, ``bcc``…)."""
    for field in _fields(record):
        list_name = (field.get("name") or "").strip().lower()
        for party in field.iter():
            if party.tag not in _PARTY_TAGS or not _fields(party):
                continue
            party_id = (party.get("id") or "").strip()
            if not party_id:
                raise SnapshotError(f"{source}: a party in field '{list_name}' of {logical} {activity_id} "
                                    "has no id")
            row = {"activitypartyid": party_id, "_activityid_value": activity_id}
            values = _values("activityparties", _fields(party), skip="activitypartyid")
            values.pop("_activityid_value", None)
            values.pop(f"_activityid_value{LOOKUP_TYPE}", None)
            row.update(values)
            if "participationtypemask" not in row and list_name in PARTY_LISTS:
                row["participationtypemask"] = PARTY_LISTS[list_name]
            yield row


# ---------------------------------------------------------------------------------------------- writing


def write_cmt_zip(records: dict[str, list[dict]], out_path: str | Path, *,
                  deep_party_lists: bool = False) -> None:
    """Write Web-API-shaped records as a CMT ``data.zip`` (BOM, CRLF, values HTML-encoded once more).

    An email's activity parties are nested in its ``from``/``to``/``cc``/``bcc`` fields, as
    ``<activitypointerrecords id>`` or, with ``deep_party_lists``, one level deeper as
    ``<activitypointerrecord id>``; other parties go to an ``activityparty`` entity. Null and empty
    values are left out (CMT omits them) and annotations other than the lookup's logical name dropped.
    """
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types())
        archive.writestr("data_schema.xml", cmt_schema_xml(records))
        archive.writestr("data.xml", cmt_data_xml(records, deep_party_lists=deep_party_lists))


def cmt_data_xml(records: dict[str, list[dict]], *, deep_party_lists: bool = False) -> bytes:
    """The ``data.xml`` of ``write_cmt_zip``."""
    nested, loose = _split_parties(records)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<entities xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
             f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" timestamp="{stamp}">']
    for entity_set, rows in records.items():
        if entity_set == "activityparties":
            if not loose and rows:
                continue
            rows = loose
        logical = _logical(entity_set)
        lines.append(f'  <entity name="{logical}" displayname="{_attr(ENTITIES[logical][1])}">')
        lines.append("    <records>")
        for row in rows:
            lines.extend(_record_lines(logical, row, nested, deep_party_lists))
        lines += ["    </records>", "    <m2mrelationships />", "  </entity>"]
    lines.append("</entities>")
    return _document(lines)


def _split_parties(records: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Parties that nest in an email's party list (by email id), and the ones that cannot."""
    email_ids = {row.get("activityid") for row in records.get("emails", [])}
    nested: dict[str, list[dict]] = {}
    loose: list[dict] = []
    for party in records.get("activityparties", []):
        activity = party.get("_activityid_value")
        fits = (activity in email_ids and party.get("participationtypemask") in PARTY_LISTS.values()
                and f"_activityid_value{LOOKUP_TYPE}" not in party)
        if fits:
            nested.setdefault(activity, []).append(party)
        else:
            loose.append(party)
    return nested, loose


def _record_lines(logical: str, row: dict, nested: dict[str, list[dict]], deep: bool) -> list[str]:
    key = primary_key(logical)
    if not row.get(key):
        raise ValueError(f"a {logical} record has no {key}")
    lines = [f'      <record id="{_attr(str(row[key]))}">']
    lines += [" " * 8 + field for field in _field_tags(logical, row, skip={key})]
    if logical == "email":
        lines += _party_list_lines(nested.get(row[key], []), deep)
    lines.append("      </record>")
    return lines


def _party_list_lines(parties: list[dict], deep: bool) -> list[str]:
    lines: list[str] = []
    for list_name, mask in PARTY_LISTS.items():
        members = [party for party in parties if party.get("participationtypemask") == mask]
        if not members:
            continue
        lines.append(f'        <field name="{list_name}" value="" lookupentity="" lookupentityname="">')
        if deep:
            lines.append("          <activitypointerrecords>")
        indent = " " * (12 if deep else 10)
        tag = "activitypointerrecord" if deep else "activitypointerrecords"
        for party in members:
            lines.append(f'{indent}<{tag} id="{_attr(str(party["activitypartyid"]))}">')
            skip = {"activitypartyid", "_activityid_value"}
            lines += [indent + "  " + field for field in _field_tags("activityparty", party, skip)]
            lines.append(f"{indent}</{tag}>")
        if deep:
            lines.append("          </activitypointerrecords>")
        lines.append("        </field>")
    return lines


def _field_tags(logical: str, row: dict, skip: set[str]) -> list[str]:
    tags = []
    for key, value in row.items():
        if key in skip or "@" in key or value is None or value == "":
            continue
        where = f"{logical}.{key}"
        lookup = _LOOKUP_KEY.fullmatch(key)
        if lookup:
            entity = row.get(key + LOOKUP_TYPE)
            extra = f' lookupentity="{_attr(entity, where)}" lookupentityname=""' if entity else ""
            tags.append(f'<field name="{lookup["name"]}" value="{_attr(str(value), where)}"{extra} />')
        else:
            tags.append(f'<field name="{_attr(key)}" value="{_attr(_cmt_text(value, where), where)}" />')
    return tags


def _cmt_text(value: object, where: str) -> str:
    """A value in CMT's text form: True/False, invariant numbers, HTML-encoded strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return html.escape(value)
    raise ValueError(f"{where}: cannot write a {type(value).__name__} value to a CMT field")


def _attr(text: str, where: str = "name") -> str:
    """Text escaped for an XML attribute; line breaks and tabs kept as character references."""
    if _NOT_XML.search(text):
        raise ValueError(f"{where}: holds a control character that XML cannot carry")
    escaped = html.escape(text, quote=True)
    return escaped.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")


def _logical(entity_set: str) -> str:
    if entity_set not in LOGICAL_NAMES:
        raise ValueError(f"{entity_set}: not an entity set the CMT writer knows")
    return LOGICAL_NAMES[entity_set]


def _document(lines: list[str]) -> bytes:
    """As CMT writes it: UTF-8 with a byte order mark, CRLF line ends."""
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def cmt_schema_xml(records: dict[str, list[dict]]) -> bytes:
    """A ``data_schema.xml`` describing the entities and fields of ``cmt_data_xml``."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<entities>"]
    for entity_set, rows in records.items():
        logical = _logical(entity_set)
        key = primary_key(logical)
        lines.append(f'  <entity name="{logical}" displayname="{_attr(ENTITIES[logical][1])}" '
                     f'primaryidfield="{key}" disableplugins="false">')
        lines.append("    <fields>")
        lines.append(f'      <field displayname="{key}" name="{key}" type="guid" primaryKey="true" />')
        for name, field_type in _schema_fields(entity_set, rows, key).items():
            name = _attr(name)
            lines.append(f'      <field displayname="{name}" name="{name}" type="{field_type}" />')
        if logical == "email":
            for list_name in PARTY_LISTS:
                lines.append(f'      <field displayname="{list_name}" name="{list_name}" type="partylist" '
                             'lookupType="account|contact|queue|systemuser" />')
        lines += ["    </fields>", "    <relationships />", "  </entity>"]
    lines.append("</entities>")
    return _document(lines)


def _schema_fields(entity_set: str, rows: list[dict], key: str) -> dict[str, str]:
    """Field name -> CMT type, from the columns the records carry."""
    types: dict[str, str] = {}
    for row in rows:
        for column, value in row.items():
            lookup = _LOOKUP_KEY.fullmatch(column)
            if "@" in column or column == key or value is None:
                continue
            name = lookup["name"] if lookup else column
            types.setdefault(name, _schema_type(entity_set, name, value, bool(lookup)))
    return types


def _schema_type(entity_set: str, name: str, value: object, is_lookup: bool) -> str:
    if is_lookup:
        return "owner" if name == "ownerid" else "entityreference"
    if name in ("statecode", "statuscode"):
        return name[:-4]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    return "datetime" if _kind(entity_set, name) == "date" else "string"


def _content_types() -> bytes:
    return _document(['<?xml version="1.0" encoding="utf-8"?>',
                      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                      '<Default Extension="xml" ContentType="application/octet-stream" /></Types>'])
