"""Fuzzing: mutated snapshots, CMT exports and header texts either work or raise ``SnapshotError``.

The mutations are plain functions of a ``random.Random``. Here hypothesis drives them (its ``randoms()``
shrink a failure to a short list of choices); ``benchmarks/fuzz_run.py`` runs the same families on many
seeds and names each case by its seed, so any failure can be replayed.

Families: ``json`` (the sample's Web API files: bytes, JSON values, keys, records and files changed),
``zip`` (the sample zipped, then damaged), ``cmt`` (the sample as a CMT data.xml, then damaged) and
``headers`` (the sample header texts, line by line and byte by byte).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import re
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import orjson
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from diagnostics import schema
from diagnostics.causes import BY_ID
from diagnostics.cmt import cmt_data_xml
from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.headers import analyse_headers, parse_headers
from diagnostics.report import render_text
from diagnostics.snapshot import load_uploaded

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "snapshot-basic"
HEADER_SAMPLES = FIXTURES / "headers"
Files = dict[str, bytes]


# --- the inputs --------------------------------------------------------------------------------------

@cache
def sample_files() -> Files:
    return {path.name: path.read_bytes() for path in sorted(SAMPLE.glob("*.json"))}


@cache
def sample_xml() -> bytes:
    records = {name.removesuffix(".json"): json.loads(data)["value"] for name, data in sample_files().items()}
    return re.sub(rb'timestamp="[^"]*"', b'timestamp="2026-11-20T00:00:00Z"', cmt_data_xml(records))


@cache
def header_texts() -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in sorted(HEADER_SAMPLES.glob("*.txt")))


@cache
def sample_snapshot_and_report():
    snapshot = load_uploaded(list(sample_files().items()))
    return snapshot, diagnose(snapshot)


# --- values ------------------------------------------------------------------------------------------

INTERESTING: list[object] = [
    None, True, False, 0, -1, 1, 2, 3, 4, 5, 6, 7, 9, 13, 16, 31, 2**31, -(2**31) - 1, 2**63 - 1, 2**63,
    -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, "", " ", "0", "1", "true", "True", "null", "not-a-guid",
    "{00000000-0000-0000-0000-000000000000}", "2026-13-45T99:99:99Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "2026-11-03", "yesterday", "<a@b>", "a@b.com", "Jo <JO@TAILSPIN.COM>", "<>", "@",
    "help@fourthcoffee.com", "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "[x](javascript:alert(1))",
    [], [1], {}, {"value": []}, "x" * 10_000,
]
ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789-.@<>",
    "".join(map(chr, range(32))) + "\x7f\x85",
    "éüßøÆ€ŒŠž", "汉字仮名한글", "😀🧨👩‍💻", "\u202e\u200b\u0301\u2028\u2029\ufeff",
    "\"'\\{}[]:,;=?&%", "\ud800\udfff",
]


def random_text(rng: random.Random, longest: int = 40) -> str:
    return "".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randint(0, longest)))


def random_value(rng: random.Random, ids: list[str] | None = None) -> object:
    roll = rng.random()
    if roll < 0.55:
        value = rng.choice(INTERESTING)
        return json.loads(json.dumps(value)) if isinstance(value, list | dict) else value
    if roll < 0.75:
        return random_text(rng)
    if roll < 0.85:
        return rng.randint(-(2**70), 2**70)
    if ids:
        guid = rng.choice(ids)
        return rng.choice([guid, guid.upper(), "{" + guid + "}", " " + guid + " "])
    return rng.random() * 10 ** rng.randint(-5, 30)


# --- snapshot files ----------------------------------------------------------------------------------

def _pick(rng: random.Random, files: Files) -> str | None:
    return rng.choice(sorted(files)) if files else None


def _table(name: str) -> str:
    return name.split("/")[-1].split(".")[0].split(" ")[0].lower()


def _guids(files: Files) -> list[str]:
    return sorted(set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                 b"".join(files.values()).decode("utf-8", "replace"))))


def flip_bytes(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if not name or not files[name]:
        return "flip: nothing"
    data = bytearray(files[name])
    positions = [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))]
    for position in positions:
        data[position] ^= rng.randrange(1, 256)
    files[name] = bytes(data)
    return f"flip {name} at {positions}"


def truncate(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if not name:
        return "truncate: nothing"
    cut = rng.randrange(len(files[name]) + 1)
    files[name] = files[name][:cut]
    return f"truncate {name} at {cut}"


TOKENS = [b'"', b"{", b"}", b"[", b"]", b",", b":", b"\\", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\\ud800",
          b"1e999", b"-0", b"NaN", b"null", b'"value":', b"\r\n", b"\xc3\x28", b"[" * 300]


def insert_bytes(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if not name:
        return "insert: nothing"
    position = rng.randrange(len(files[name]) + 1)
    token = rng.choice(TOKENS) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 16))
    files[name] = files[name][:position] + token + files[name][position:]
    return f"insert {token[:20]!r} into {name} at {position}"


def remove_file(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if name:
        del files[name]
    return f"remove {name}"


def copy_file(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if not name:
        return "copy: nothing"
    table = _table(name)
    new = rng.choice([f"{table}.2.json", f"{table} (2).json", f"{table}/1.json", f"export/{table}.json",
                      f"{table.upper()}.JSON", f"{table}_3.json"])
    files[new] = files[name]
    return f"copy {name} to {new}"


def rename_file(rng: random.Random, files: Files) -> str:
    name = _pick(rng, files)
    if not name:
        return "rename: nothing"
    new = rng.choice(["data.xml", "emails.json", "readme.txt", f"{_table(name)}.json.bak", "x/../emails.json",
                      _pasted(random_text(rng, 12)) + ".json"])
    files[new] = files.pop(name)
    return f"rename {name} to {new!r}"


def add_file(rng: random.Random, files: Files) -> str:
    name = rng.choice([*schema.TABLES, "unknown", "data"]) + rng.choice([".json", ".2.json", ".xml", ".txt"])
    files[name] = rng.choice([b"", b"{}", b"[]", b'{"value": []}', b'{"value": [{}]}', rng.randbytes(64),
                              b'{"value": [' + b'{"x": 1},' * 50 + b"{}]}"])
    return f"add {name}"


def _doc(files: Files, name: str) -> object:
    try:
        return json.loads(files[name])
    except (ValueError, UnicodeDecodeError):
        return None


def _rows(doc: object) -> list | None:
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        return doc["value"]
    return doc if isinstance(doc, list) else None


def _dump(rng: random.Random, doc: object) -> bytes:
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes that are not UTF-8
    return b"\xef\xbb\xbf" + data if rng.random() < 0.1 else data


def _columns(table: str) -> list[str]:
    if table not in schema.TABLES:
        return ["activityid", "value"]
    names = [schema.raw_name(table, column) for column in schema.TABLES[table]]
    return names + [name + schema.LOOKUP_TYPE for name in names if name.startswith("_")]


def mutate_record(rng: random.Random, files: Files) -> str:
    """Change one value, drop or add a key, or duplicate, drop or empty records, in a parsed JSON file."""
    name = _pick(rng, files)
    doc = _doc(files, name) if name else None
    rows = _rows(doc)
    if not rows:
        return f"record: {name} has no records"
    row = rng.choice(rows)
    action = rng.choice(["set", "set", "set", "drop-key", "duplicate-record", "drop-record", "empty",
                         "value-type", "list-form", "nest", "parties"])
    if not isinstance(row, dict):
        action = "drop-record"
    if action == "set":
        column = rng.choice(_columns(_table(name)) + list(row))
        row[column] = random_value(rng, _guids(files))
    elif action == "drop-key" and row:
        column = rng.choice(sorted(row))
        del row[column]
    elif action == "duplicate-record":
        copy = json.loads(json.dumps(row))
        key = next((column for column in copy if column.endswith("id") and isinstance(copy[column], str)), None)
        if key and rng.random() < 0.5:
            copy[key] = copy[key].upper()
        rows.append(copy)
    elif action == "drop-record":
        rows.remove(row)
    elif action == "empty":
        rows.clear()
    elif action == "value-type" and isinstance(doc, dict):
        doc["value"] = random_value(rng)
    elif action == "list-form" and isinstance(doc, dict):
        doc = doc["value"]
    elif action == "nest":
        column = rng.choice(_columns(_table(name)))
        depth = rng.randint(1, 400)
        row[column] = json.loads("[" * depth + "]" * depth)
    elif action == "parties":
        row["email_activity_parties"] = [{"activitypartyid": random_value(rng, _guids(files)),
                                          "participationtypemask": random_value(rng),
                                          "addressused": random_value(rng)} for _ in range(rng.randint(0, 3))]
    files[name] = _dump(rng, doc)
    return f"record {action} in {name}"


def duplicate_key(rng: random.Random, files: Files) -> str:
    """The same key twice in one JSON object, written as text (a parser keeps the last)."""
    name = _pick(rng, files)
    text = files[name].decode("utf-8", "replace") if name else ""
    keys = re.findall(r'"([A-Za-z_@.]+)":', text)
    if not keys:
        return f"duplicate key: {name} has no keys"
    key = rng.choice(keys)
    at = text.find(f'"{key}":')
    value = json.dumps(random_value(rng))
    files[name] = (text[:at] + f'"{key}": {value}, ' + text[at:]).encode("utf-8", "surrogatepass")
    return f"duplicate key {key} in {name}"


SNAPSHOT_MUTATIONS: list[Callable[[random.Random, Files], str]] = [
    flip_bytes, truncate, insert_bytes, remove_file, copy_file, rename_file, add_file,
    mutate_record, mutate_record, mutate_record, mutate_record, duplicate_key,
]


def mutate(rng: random.Random, files: Files, mutations: list, most: int = 4) -> list[str]:
    return [rng.choice(mutations)(rng, files) for _ in range(rng.randint(1, most))]


# offset -> width of the fields of a zip's central directory entry
_CENTRAL_FIELDS = {4: 2, 6: 2, 8: 2, 10: 2, 12: 2, 14: 2, 16: 4, 20: 4, 24: 4, 28: 2, 30: 2, 32: 2, 34: 2, 36: 2,
                   38: 4, 42: 4}


def zip_header_field(rng: random.Random, files: Files) -> str:
    """Set one field of one central directory entry: versions, flags, method, time, sizes, attributes, offset."""
    data = bytearray(files["snapshot.zip"])
    entries = [match.start() for match in re.finditer(rb"PK\x01\x02", bytes(data))]
    if not entries:
        return "zip field: no entries"
    entry, (offset, width) = rng.choice(entries), rng.choice(list(_CENTRAL_FIELDS.items()))
    value = rng.choice([0, 1, 8, 99, 0xFFFF, 0xFFFFFFFF, rng.randrange(256**width)]) % 256**width
    data[entry + offset:entry + offset + width] = value.to_bytes(width, "little")
    files["snapshot.zip"] = bytes(data)
    return f"zip field {offset} of entry at {entry} = {value}"


def zipped(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name.replace("\x00", "_").lstrip("/") or "_", data)  # zipfile cuts a name at NUL
    return buffer.getvalue()


# --- header texts ------------------------------------------------------------------------------------

HEADER_NAMES = ["Message-ID", "In-Reply-To", "References", "From", "To", "Cc", "Bcc", "Date", "Subject",
                "Received", "Return-Path", "Delivered-To", "X-Original-To", "Auto-Submitted",
                "X-Auto-Response-Suppress", "X-MS-Exchange-Organization-SCL", "Authentication-Results",
                "Content-Type", "X-Forefront-Antispam-Report", "Thread-Index", "Sender", "Reply-To"]
HEADER_VALUES = [
    "", " ", "<>", "<<a@b>>", "a@b", "<a@b> <c@d>", "<" + "x" * 5000 + "@y>", "undisclosed-recipients:;",
    '"Smith, Jo" <jo@tailspin.com>, help@fourthcoffee.com', "<@>", "a@@b", "Group: a@b, c@d;",
    "Mon, 32 Foo 2026 25:61:61 +9999", "Thu, 01 Jan 1970 00:00:00 -0000", "Sat, 31 Dec 9999 23:59:59 +1400",
    "1/2/2026", "Tue, 3 Nov 2026 10:00:00 +0000 (UTC)", "=?utf-8?B?!!!?=", "=?x-unknown?Q?abc?=",
    "=?utf-8?Q?=FF=FE?=", "=?iso-8859-1?q?caf=E9?=", "=?utf-8?B?" + base64.b64encode(bytes(range(256))).decode() + "?=",
    "from x by y; Mon, 1 Jan 2026 00:00:00 +0000", "by y;", "from (x [1.2.3.4]) by y with ESMTP id z; garbage",
    "from x by y for <help@fourthcoffee.com>; Tue, 3 Nov 2026 10:00:00 +0000", ";;;;", "(a (b (c (d))))",
    "from " + "(" * 2000, "(" * 50 + "x" + ")" * 49, "auto-replied", "SCL:9;SFV:SPM", "spf=fail dkim=none",
    'multipart/mixed; boundary="x"', "\\", '"', "\t\t", "a\x00b",
]


def header_line(rng: random.Random) -> str:
    value = rng.choice(HEADER_VALUES) if rng.random() < 0.7 else random_text(rng, 80)
    return f"{rng.choice(HEADER_NAMES)}: {value}"


def mutate_header_lines(rng: random.Random, lines: list[str]) -> str:
    action = rng.choice(["drop", "duplicate", "swap", "shuffle", "unindent", "blank", "add", "add", "replace",
                         "replace", "long", "no-colon", "preamble", "unicode"])
    index = rng.randrange(len(lines)) if lines else 0
    if not lines:
        lines.append(header_line(rng))
    elif action == "drop":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "swap":
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    elif action == "shuffle":
        rng.shuffle(lines)
    elif action == "unindent":
        lines[:] = [line.lstrip(" \t") for line in lines]
    elif action == "blank":
        lines.insert(index, "")
    elif action == "add":
        lines.insert(index, header_line(rng))
    elif action == "replace":
        name = lines[index].split(":", 1)[0] if ":" in lines[index] else rng.choice(HEADER_NAMES)
        lines[index] = f"{name}: {header_line(rng).split(': ', 1)[1]}"
    elif action == "long":
        lines[index] += rng.choice([" x", "(", "<a@b>,", "=?utf-8?q?a?="]) * rng.randint(100, 20_000)
    elif action == "no-colon":
        lines[index] = lines[index].replace(":", "")
    elif action == "preamble":
        lines.insert(0, rng.choice(["Microsoft Mail Internet Headers Version 2.0", "From MAILER-DAEMON Mon Nov  2",
                                    "Internet headers:", random_text(rng)]))
    elif action == "unicode":
        lines[index] += random_text(rng)
    return f"line {action} at {index}"


def _pasted(text: str) -> str:
    """Text as a browser or a terminal hands it over: never with lone surrogates."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def header_bytes(rng: random.Random, text: str) -> tuple[str | bytes, str]:
    """The text encoded (or damaged) as a paste or a file might be."""
    action = rng.choice(["utf-8", "utf-8", "utf-8", "str", "latin-1", "utf-16", "crlf", "cr", "flip", "truncate",
                         "nul"])
    if action == "str":
        return _pasted(text), action
    if action in ("latin-1", "utf-16"):
        return text.encode(action, "replace"), action
    data = text.encode("utf-8", "surrogatepass")
    if action == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif action == "cr":
        data = data.replace(b"\n", b"\r")
    elif action == "flip" and data:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= rng.randrange(1, 256)
        data = bytes(flipped)
    elif action == "truncate":
        data = data[:rng.randrange(len(data) + 1)]
    elif action == "nul" and data:
        position = rng.randrange(len(data))
        data = data[:position] + b"\x00" + data[position:]
    return data, action


def mutated_headers(rng: random.Random) -> tuple[str | bytes, str | None, list[str]]:
    text = rng.choice(header_texts()).decode("utf-8", "replace")
    head, blank, body = text.partition("\n\n")
    lines = head.splitlines()
    log = [mutate_header_lines(rng, lines) for _ in range(rng.randint(1, 5))]
    raw, encoding = header_bytes(rng, "\n".join(lines) + blank + body)
    queue = rng.choice([None, "help@fourthcoffee.com", "HELP@FOURTHCOFFEE.COM", "Help <help@fourthcoffee.com>",
                        "", "not an address", _pasted(random_text(rng))])
    return raw, queue, [*log, encoding]


# --- one case of each family -------------------------------------------------------------------------

VERDICTS = {"converted", "not-converted", "outgoing", "not-for-a-queue", "unknown-direction"}  # the contract's


def check_report(report) -> None:
    """What the contract promises of any report, beyond not crashing."""
    data = report.to_dict()
    orjson.dumps(data)
    render_text(report)
    summary = data["summary"]
    assert summary["incoming"] == summary["converted"] + summary["not_converted"], summary
    for email in data["emails"]:
        assert email["verdict"] in VERDICTS, email
        causes = [cause["id"] for cause in email["causes"]]
        assert all(cause in BY_ID for cause in causes), email
        assert email["primary_cause"] is None or email["primary_cause"] in causes, email
        if email["verdict"] != "not-converted":
            assert email["primary_cause"] is None and not causes, email


def load_and_diagnose(files: list[tuple[str, bytes]]) -> str:
    """'ok' or 'input-error'; anything else is raised."""
    try:
        report = diagnose(load_uploaded(files))
    except SnapshotError as error:
        assert "\n" not in str(error), str(error)
        return "input-error"
    check_report(report)
    return "ok"


def json_case(rng: random.Random) -> tuple[list[tuple[str, bytes]], list[str]]:
    files = dict(sample_files())
    log = mutate(rng, files, SNAPSHOT_MUTATIONS)
    if rng.random() < 0.25:
        return [("snapshot.zip", zipped(files))], [*log, "zipped"]
    return list(files.items()), log


def zip_case(rng: random.Random) -> tuple[list[tuple[str, bytes]], list[str]]:
    files = {"snapshot.zip": zipped(sample_files())}
    log = mutate(rng, files, [zip_header_field, zip_header_field, zip_header_field, flip_bytes, truncate,
                              insert_bytes], most=2)
    return list(files.items()), log


def cmt_case(rng: random.Random) -> tuple[list[tuple[str, bytes]], list[str]]:
    files = {"data.xml": sample_xml()}
    log = mutate(rng, files, [flip_bytes, truncate, insert_bytes, xml_value, xml_value, xml_value, xml_element])
    if rng.random() < 0.3:
        return [("data.zip", zipped({**files, "[Content_Types].xml": b"<Types/>"}))], [*log, "zipped"]
    return list(files.items()), log


def xml_value(rng: random.Random, files: Files) -> str:
    """Replace one attribute value of data.xml with a random (escaped) one."""
    text = files["data.xml"].decode("utf-8", "replace") if "data.xml" in files else ""
    spans = [match.span(1) for match in re.finditer(r'(?:value|id|name|lookupentity)="([^"]*)"', text)]
    if not spans:
        return "xml value: none"
    start, end = rng.choice(spans)
    value = random_value(rng, _guids(files))
    new = str(value).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    files["data.xml"] = (text[:start] + new + text[end:]).encode("utf-8", "surrogatepass")
    return f"xml value at {start} = {new[:30]!r}"


XML_SNIPPETS = ["<!DOCTYPE x>", "&amp;", "&#0;", "&#x110000;", "]]>", "<![CDATA[x]]>", "<?pi x?>",
                '<field name="directioncode" value="maybe" />', '<field name="statecode" value="1e9" />',
                '<record id="">', "</record>", '<entity name="email"><records>', "<a>" * 200]


def xml_element(rng: random.Random, files: Files) -> str:
    """Insert a snippet or drop an element of data.xml."""
    text = files["data.xml"].decode("utf-8", "replace") if "data.xml" in files else ""
    starts = [match.start() for match in re.finditer("<", text)] or [0]
    at = rng.choice(starts)
    if rng.random() < 0.5:
        snippet = rng.choice(XML_SNIPPETS)
        text = text[:at] + snippet + text[at:]
        action = f"insert {snippet[:30]!r}"
    else:
        end = text.find(">", at) + 1
        text = text[:at] + text[end:]
        action = "drop tag"
    files["data.xml"] = text.encode("utf-8", "surrogatepass")
    return f"xml {action} at {at}"


def headers_case(rng: random.Random) -> tuple[tuple[str | bytes, str | None], list[str]]:
    raw, queue, log = mutated_headers(rng)
    return (raw, queue), log


def check_headers(case: tuple[str | bytes, str | None]) -> str:
    """'ok' or 'input-error'; anything else is raised."""
    raw, queue = case
    try:
        parse_headers(raw)
        orjson.dumps(analyse_headers(raw, queue=queue))
        snapshot, report = sample_snapshot_and_report()
        orjson.dumps(analyse_headers(raw, snapshot=snapshot, queue=queue, report=report))
    except SnapshotError as error:
        assert "\n" not in str(error), str(error)
        return "input-error"
    return "ok"


# family -> (build an input and its mutation log from a Random, run the input to its outcome)
FAMILIES: dict[str, tuple[Callable[[random.Random], tuple], Callable[[object], str]]] = {
    "json": (json_case, load_and_diagnose),
    "zip": (zip_case, load_and_diagnose),
    "cmt": (cmt_case, load_and_diagnose),
    "headers": (headers_case, check_headers),
}


def run_family(family: str, rng: random.Random, noted: bool = False) -> str:
    build, run = FAMILIES[family]
    case, log = build(rng)
    if noted:
        note(f"{family} mutations: {log}")  # shown when the property fails
    return run(case)


# --- the properties ----------------------------------------------------------------------------------

# No shrinking: a case takes up to half a second, and the noted mutation log already says what was done.
FAST = settings(max_examples=40, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(st.randoms(use_true_random=False))
def test_mutated_json_snapshot_loads_or_is_refused(rng: random.Random) -> None:
    assert run_family("json", rng, noted=True) in ("ok", "input-error")


@settings(FAST, max_examples=25)
@given(st.randoms(use_true_random=False))
def test_damaged_zip_loads_or_is_refused(rng: random.Random) -> None:
    assert run_family("zip", rng, noted=True) in ("ok", "input-error")


@settings(FAST, max_examples=30)
@given(st.randoms(use_true_random=False))
def test_mutated_cmt_export_loads_or_is_refused(rng: random.Random) -> None:
    assert run_family("cmt", rng, noted=True) in ("ok", "input-error")


@settings(FAST, max_examples=40)
@given(st.randoms(use_true_random=False))
def test_mutated_headers_parse_or_are_refused(rng: random.Random) -> None:
    assert run_family("headers", rng, noted=True) in ("ok", "input-error")


@settings(FAST, max_examples=40)
@given(st.binary(max_size=2000) | st.text(max_size=2000))
def test_arbitrary_header_input(raw: bytes | str) -> None:
    with contextlib.suppress(SnapshotError):
        orjson.dumps(analyse_headers(raw, queue="help@fourthcoffee.com"))


@settings(FAST, max_examples=40)
@given(st.sampled_from(sorted(schema.TABLES)), st.binary(max_size=500))
def test_arbitrary_bytes_as_a_table(table: str, data: bytes) -> None:
    files = {**sample_files(), f"{table}.json": data}
    assert load_and_diagnose(list(files.items())) in ("ok", "input-error")


def test_mutations_do_reach_both_outcomes() -> None:
    """The fuzzing is not vacuous: over a fixed set of seeds each family both succeeds and is refused."""
    for family in FAMILIES:
        outcomes = {run_family(family, random.Random(f"{family}:{seed}")) for seed in range(20)}
        assert outcomes == {"ok", "input-error"}, (family, outcomes)
