"""Hostile and broken input: every case is refused with one line naming the file and the problem.

Each case builds its input on disk and is run three ways: ``load_snapshot`` on the path, ``load_uploaded``
on the same files as an upload, and ``python -m diagnostics diagnose`` (exit 2, one stderr line, no
traceback, nothing written).
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BASIC, TESTS

from diagnostics import archive
from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot, load_uploaded

SAMPLE = BASIC
GB = 1024**3


# --- building inputs ------------------------------------------------------------------------------------

def sample_files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(SAMPLE.glob("*.json"))}


def zip_of(entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]], level: int = 6,
           method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method, compresslevel=level) as zipped:
        for name, data in entries.items() if isinstance(entries, dict) else entries:
            zipped.writestr(name, data)
    return buffer.getvalue()


def patch_headers(data: bytes, name: str, **fields: int) -> bytes:
    """Rewrite fields of one member's local and central headers (file_size, compress_size, flags, method)."""
    offsets = {"local": {"flags": 6, "method": 8, "compress_size": 18, "file_size": 22},
               "central": {"flags": 8, "method": 10, "compress_size": 20, "file_size": 24}}
    out = bytearray(data)
    for kind, signature, name_at in (("local", b"PK\x03\x04", 30), ("central", b"PK\x01\x02", 46)):
        start = out.find(signature)
        while start != -1:
            length = struct.unpack_from("<H", out, start + name_at - (4 if kind == "local" else 18))[0]
            if out[start + name_at:start + name_at + length] == name.encode():
                for field, value in fields.items():
                    width = "<H" if field in ("flags", "method") else "<I"
                    struct.pack_into(width, out, start + offsets[kind][field], value)
            start = out.find(signature, start + 4)
    return bytes(out)


def gigabyte_of_zeros_zip() -> bytes:
    """A real zip whose one member inflates to 1 GB of zeros from about 1 MB, built without the gigabyte.

    Deflate at level 9 after a full flush starts from a clean state, so one compressed megabyte of zeros can
    be repeated 1024 times; the headers are written by hand (no ZIP64 needed below 4 GB).
    """
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = segment * 1024 + compressor.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(chunk, crc)
    name = b"emails.json"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body), GB, len(name), 0) + name
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body), GB, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


def billion_laughs() -> bytes:
    entities = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE entities [<!ENTITY lol0 "lol">{entities}]>'
            '<entities><entity name="email"><records><record id="1"><field name="subject" value="&lol9;"/>'
            '</record></records></entity></entities>').encode()


EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE entities [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
                   b'<entities><entity name="email"><records><record id="1"><field name="subject" '
                   b'value="&secret;"/></record></records></entity></entities>')


def cmt_zip(data_xml: bytes) -> bytes:
    return zip_of({"data.xml": data_xml, "data_schema.xml": b"<entities/>",
                   "[Content_Types].xml": b'<?xml version="1.0"?><Types/>'})


def rows_json(rows: list[dict]) -> bytes:
    return json.dumps({"value": rows}).encode()


# --- the cases --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """``build`` writes the input under a folder and returns its path; ``expect`` must all be in the message."""

    id: str
    build: Callable[[Path], Path]
    expect: tuple[str, ...]


def file_case(id: str, name: str, data: bytes | Callable[[], bytes], *expect: str) -> Case:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data() if callable(data) else data)
        return path
    return Case(id, build, expect)


def folder_case(id: str, files: Callable[[], dict[str, bytes]], *expect: str) -> Case:
    def build(folder: Path) -> Path:
        snapshot = folder / "snapshot"
        snapshot.mkdir()
        for name, data in files().items():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_bytes(data)
        return snapshot
    return Case(id, build, expect)


def with_sample(**changed: bytes) -> Callable[[], dict[str, bytes]]:
    return lambda: {**sample_files(), **changed}


def lying_member() -> bytes:
    data = zip_of({"emails.json": b'{"value": []}' + b" " * 1_000_000})
    return patch_headers(data, "emails.json", file_size=100)


def many_small_bombs() -> bytes:
    return zip_of({f"emails.{n}.json": bytes(64 * 1024) for n in range(1, 301)}, level=9)


def over_total() -> bytes:
    data = zip_of({f"emails.{n}.json": b"{}" for n in range(1, 6)})
    for n in range(1, 6):  # 5 x 1.9 GB declared, each 160:1: only the total is over a limit
        data = patch_headers(data, f"emails.{n}.json", file_size=int(1.9 * GB), compress_size=int(1.9 * GB) // 160)
    return data


def symlink_zip() -> bytes:
    link = zipfile.ZipInfo("emails.json")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zip_of([(link, b"/etc/passwd")])


def corrupt_deflate() -> bytes:
    payload = rows_json([{"activityid": f"{n:08d}", "subject": f"subject {n * 7919 % 10007}"} for n in range(3000)])
    data = bytearray(zip_of({"emails.json": payload}))
    start = data.find(b"emails.json") + len("emails.json")
    for offset in range(start + 200, start + 260):
        data[offset] ^= 0x5A
    return bytes(data)


def wrong_types_10k() -> dict[str, bytes]:
    rows = [{"activityid": f"id{n}", "directioncode": "maybe", "correlationmethod": "x"} for n in range(10_000)]
    return {"emails.json": rows_json(rows)}


def bad_queue_row() -> dict[str, bytes]:
    queues = json.loads(sample_files()["queues.json"])["value"]
    queues = [*queues, *[dict(queues[0], queueid=f"q{n}") for n in range(3)]]
    queues[3]["statecode"] = "active"
    return with_sample(**{"queues.json": rows_json(queues)})()


def duplicated_email() -> dict[str, bytes]:
    emails = json.loads(sample_files()["emails.json"])["value"]
    second = dict(emails[1], activityid=emails[0]["activityid"].upper())
    return with_sample(**{"emails.json": rows_json([*emails, second])})()


CASES = [
    # zip bombs and limits
    file_case("zip-member-lies-about-its-size", "snapshot.zip", lying_member, "snapshot.zip: emails.json"),
    file_case("zip-gigabyte-of-zeros", "snapshot.zip", gigabyte_of_zeros_zip, "emails.json", "zip bomb"),
    file_case("zip-many-small-bombs", "snapshot.zip", many_small_bombs, "snapshot.zip", "overall", "zip bomb"),
    file_case("zip-total-over-limit", "snapshot.zip", over_total, "snapshot.zip", "over the 8 GB limit"),
    file_case("zip-too-many-files", "snapshot.zip",
              lambda: zip_of({f"f{n}.txt": b"" for n in range(archive.MAX_MEMBERS + 1)}, method=zipfile.ZIP_STORED),
              "snapshot.zip", f"{archive.MAX_MEMBERS + 1} files is over the limit"),
    file_case("zip-empty", "snapshot.zip", lambda: zip_of({}), "snapshot.zip: the zip file is empty"),
    file_case("zip-corrupt-data", "snapshot.zip", corrupt_deflate, "snapshot.zip: emails.json", "cannot be inflated"),
    file_case("zip-encrypted", "snapshot.zip",
              lambda: patch_headers(zip_of({"emails.json": b"{}"}), "emails.json", flags=1),
              "snapshot.zip: emails.json: encrypted"),
    file_case("zip-unknown-method", "snapshot.zip",
              lambda: patch_headers(zip_of({"emails.json": b"{}"}), "emails.json", method=99),
              "emails.json", "cannot be inflated"),
    file_case("zip-truncated", "snapshot.zip", lambda: zip_of(sample_files())[:-300],
              "snapshot.zip: not a readable zip file"),
    file_case("zip-random-bytes", "snapshot.zip", lambda: os.urandom(5000), "snapshot.zip: not a readable zip file"),
    # paths and links
    file_case("zip-dotdot", "snapshot.zip", lambda: zip_of({"../emails.json": b"{}"}), "unsafe path",
              "'../emails.json'"),
    file_case("zip-absolute", "snapshot.zip", lambda: zip_of({"/etc/emails.json": b"{}"}), "unsafe path"),
    file_case("zip-backslash-dotdot", "snapshot.zip", lambda: zip_of({"..\\..\\emails.json": b"{}"}), "unsafe path"),
    file_case("zip-drive-letter", "snapshot.zip", lambda: zip_of({"C:/Windows/emails.json": b"{}"}), "unsafe path"),
    file_case("zip-newline-in-name", "snapshot.zip", lambda: zip_of({"emails.json\nFAKE: line": b"{}"}),
              "control characters"),
    file_case("zip-symlink", "snapshot.zip", symlink_zip, "snapshot.zip: emails.json", "links are not allowed"),
    file_case("zip-nested", "snapshot.zip", lambda: zip_of({"inner.zip": zip_of(sample_files())}),
              "inner.zip", "archives inside the archive"),
    file_case("zip-same-name-twice", "snapshot.zip",
              lambda: zip_of([("emails.json", sample_files()["emails.json"])] * 2), "emails.json more than once"),
    # XML
    file_case("xml-billion-laughs", "data.xml", billion_laughs, "data.xml", "document type declaration"),
    file_case("xml-billion-laughs-in-zip", "data.zip", lambda: cmt_zip(billion_laughs()), "data.xml",
              "document type declaration"),
    file_case("xml-external-entity", "data.xml", EXTERNAL_ENTITY, "data.xml", "document type declaration"),
    file_case("xml-external-entity-in-zip", "data.zip", lambda: cmt_zip(EXTERNAL_ENTITY), "data.xml",
              "document type declaration"),
    file_case("xml-unknown-encoding", "data.xml",
              b'<?xml version="1.0" encoding="utf-5"?><entities></entities>', "data.xml"),
    file_case("xml-multibyte-encoding", "data.xml",
              b'<?xml version="1.0" encoding="shift_jis"?><entities></entities>', "data.xml"),
    file_case("xml-broken", "data.xml", b"<entities><entity name='email'><records>", "data.xml",
              "cannot be read as XML"),
    # not JSON, not UTF-8, too deep
    folder_case("not-json", with_sample(**{"emails.json": b"hello, world"}), "emails.json", "not a JSON document"),
    folder_case("latin-1", with_sample(**{"emails.json": '{"value": [{"subject": "Café"}]}'.encode("latin-1")}),
                "emails.json", "not UTF-8"),
    folder_case("utf-16", with_sample(**{"emails.json": sample_files()["emails.json"].decode().encode("utf-16")}),
                "emails.json", "UTF-16"),
    folder_case("deeply-nested-list", with_sample(**{"emails.json": b"[" * 100_000}), "emails.json",
                "not valid JSON"),
    folder_case("deeply-nested-value", with_sample(**{"emails.json": b'{"value": ' + b"[" * 100_000}),
                "emails.json", "not valid JSON"),
    folder_case("truncated-json", with_sample(**{"emails.json": sample_files()["emails.json"][:500]}),
                "emails.json", "not valid JSON"),
    folder_case("value-not-a-list", with_sample(**{"emails.json": b'{"value": {"activityid": "x"}}'}),
                "emails.json", "not a Web API page of emails"),
    # wrong values, keys, emptiness
    folder_case("wrong-types-10000-rows", wrong_types_10k, "emails.json", "table emails",
                "'directioncode' (10000 rows)", "'correlationmethod' (10000 rows)", "row 1"),
    folder_case("wrong-type-in-one-queue-row", bad_queue_row, "queues.json", "table queues", "'statecode' (1 rows)",
                "row 4"),
    folder_case("integer-beyond-64-bits",
                with_sample(**{"queues.json": rows_json([{"queueid": "q1", "statecode": 10**30}])}),
                "table queues", "'statecode'", "64 bits"),
    folder_case("integer-just-beyond-64-bits",
                with_sample(**{"queues.json": rows_json([{"queueid": "q1", "statecode": 2**63}])}),
                "table queues", "'statecode' (1 rows)", "64 bits", "row 1"),
    folder_case("duplicate-primary-key", duplicated_email, "emails has 1 records whose activityid repeats"),
    folder_case("page-saved-twice", with_sample(**{"emails.2.json": sample_files()["emails.json"]}),
                "emails has 4 records whose activityid repeats"),
    folder_case("record-without-primary-key",
                with_sample(**{"emails.json": rows_json([{"activityid": "a"}, {"subject": "no key"}])}),
                "emails has 1 records without activityid", "row 2"),
    folder_case("no-emails-table", lambda: {"queues.json": sample_files()["queues.json"]}, "no emails table"),
    folder_case("emails-table-empty", with_sample(**{"emails.json": b'{"value": []}'}), "holds no emails"),
    folder_case("no-snapshot-files", lambda: {"readme.txt": b"hello"}, "no Web API JSON files"),
]


def as_upload(path: Path) -> list[tuple[str, bytes]]:
    if path.is_dir():
        return [(file.name, file.read_bytes()) for file in sorted(path.iterdir())]
    return [(path.name, path.read_bytes())]


def assert_message(error: SnapshotError, case: Case) -> None:
    text = str(error)
    assert "\n" not in text and "\r" not in text, text
    for part in case.expect:
        assert part in text, f"{part!r} not in {text!r}"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], capture_output=True, timeout=300,
                          cwd=TESTS.parent)


def assert_cli_refuses(path: Path, out: Path, *expect: str) -> None:
    done = cli("diagnose", str(path), "--output", str(out))
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert all(part in stderr for part in expect), stderr
    assert done.stdout == b"" and not out.exists()  # nothing half-written


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_load_snapshot_refuses(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    with pytest.raises(SnapshotError) as error:
        diagnose(load_snapshot(path))
    assert_message(error.value, case)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_load_uploaded_refuses(case: Case, tmp_path: Path) -> None:
    files = as_upload(case.build(tmp_path))
    with pytest.raises(SnapshotError) as error:
        diagnose(load_uploaded(files))
    assert_message(error.value, case)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_command_line_refuses(case: Case, tmp_path: Path) -> None:
    assert_cli_refuses(case.build(tmp_path), tmp_path / "report.json", *case.expect)


# --- checked before inflating or reading --------------------------------------------------------------

class Spy:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        raise AssertionError("the member was opened")


def test_bomb_is_a_real_bomb() -> None:
    """The crafted zip is what it claims: a valid member inflating to zeros, 1 GB from about 1 MB."""
    data = gigabyte_of_zeros_zip()
    assert len(data) < 1.1 * 1024**2
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        (info,) = zipped.infolist()
        assert info.file_size == GB
        with zipped.open(info) as stream:
            assert stream.read(8 << 20) == bytes(8 << 20)


@pytest.mark.parametrize("build", [gigabyte_of_zeros_zip, many_small_bombs, over_total])
def test_bombs_are_refused_before_inflating(build, monkeypatch: pytest.MonkeyPatch) -> None:
    data = build()
    spy = Spy()
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(SnapshotError, match="zip bomb|over the"):
        load_uploaded([("snapshot.zip", data)])
    assert spy.calls == 0


def test_inflating_stops_at_the_declared_size() -> None:
    """A member that inflates to more than it declares is refused while inflating (zipfile stops at the size)."""
    payload = b'{"value": [], "padding": "' + os.urandom(2_500_000).hex().encode() + b'"}'  # compresses 2:1 only
    data = patch_headers(zip_of({"emails.json": payload}), "emails.json", file_size=2_000_000)
    (member,) = archive.uploaded_members([("snapshot.zip", data)])
    with pytest.raises(SnapshotError, match="emails.json") as error:
        member.read()
    assert "cannot be inflated" in str(error.value) or "declared size" in str(error.value)


class HugeUpload:
    """An upload of 2 GB + 1 byte that fails the test if any byte of it is looked at."""

    def __len__(self) -> int:
        return 2 * GB + 1

    def __getitem__(self, index):
        raise AssertionError("the upload was read")

    def __bytes__(self) -> bytes:
        raise AssertionError("the upload was read")


def test_two_gigabyte_upload_refused_by_size() -> None:
    with pytest.raises(SnapshotError, match=r"huge\.zip: 2\.0 GB is over the 2 GB limit"):
        load_uploaded([("huge.zip", HugeUpload())])  # type: ignore[list-item]


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as stream:
        stream.truncate(size)
    return path


@pytest.mark.parametrize("name", ["emails.json", "snapshot.zip"])
def test_two_gigabyte_file_refused_by_size(name: str, tmp_path: Path) -> None:
    path = sparse(tmp_path / name, 2 * GB + 1)
    with pytest.raises(SnapshotError, match=f"{name}: 2.0 GB is over the 2 GB limit"):
        load_snapshot(path)
    assert_cli_refuses(path, tmp_path / "report.json", name, "over the 2 GB limit")


def test_folder_with_a_two_gigabyte_file(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    sparse(folder / "emails.json", 2 * GB + 1)
    with pytest.raises(SnapshotError, match="emails.json: 2.0 GB is over the 2 GB limit"):
        load_snapshot(folder)
    assert_cli_refuses(folder, tmp_path / "report.json", "emails.json", "over the 2 GB limit")


def test_folder_over_the_total_limit(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    for n in range(1, 6):
        sparse(folder / f"emails.{n}.json", int(1.9 * GB))
    with pytest.raises(SnapshotError, match="over the 8 GB limit"):
        load_snapshot(folder)
    assert_cli_refuses(folder, tmp_path / "report.json", "over the 8 GB limit")


def test_device_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not a regular file"):
        load_snapshot("/dev/zero")
    assert_cli_refuses(Path("/dev/zero"), tmp_path / "report.json", "not a regular file")


def test_symlink_in_folder(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    for name, data in sample_files().items():
        (folder / name).write_bytes(data)
    (folder / "contacts.json").unlink()
    (folder / "contacts.json").symlink_to("/etc/passwd")
    with pytest.raises(SnapshotError, match="links are not allowed"):
        load_snapshot(folder)
    assert_cli_refuses(folder, tmp_path / "report.json", "links are not allowed")


def test_newline_in_a_folder_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "emails.json").write_bytes(sample_files()["emails.json"])
    (folder / "queues.json\nerror: forged").write_bytes(b"{}")
    with pytest.raises(SnapshotError, match="control characters"):
        load_snapshot(folder)
    assert_cli_refuses(folder, tmp_path / "report.json", "control characters")


def test_upload_names_with_control_characters() -> None:
    with pytest.raises(SnapshotError) as error:
        load_uploaded([("emails.json\r\nerror: forged", b"{}")])
    assert "\n" not in str(error.value) and "\r" not in str(error.value)


# --- hostile but readable: loaded without harm --------------------------------------------------------

def test_xinclude_is_not_followed() -> None:
    data = (b'<entities xmlns:xi="http://www.w3.org/2001/XInclude"><entity name="email"><records>'
            b'<record id="11111111-1111-1111-1111-111111111111"><field name="subject" value="hi"/>'
            b'<xi:include href="/etc/passwd" parse="text"/></record></records></entity></entities>')
    report = diagnose(load_uploaded([("data.xml", data)])).to_dict()
    assert "root:" not in json.dumps(report)
    assert report["emails"][0]["subject"] == "hi"


def test_only_an_emails_table_is_diagnosed() -> None:
    """Every other table missing: the causes that need them are listed as unchecked, nothing crashes."""
    report = diagnose(load_uploaded([("emails.json", sample_files()["emails.json"])])).to_dict()
    assert len(report["emails"]) == 4
    assert "queues" in report["missing_tables"]
    assert all(email["unchecked"] for email in report["emails"] if email["verdict"] == "not-converted")


def test_sample_still_loads_from_a_zip_with_folders_and_extras() -> None:
    entries = {f"export/{name}": data for name, data in sample_files().items()}
    entries["export/README.txt"] = b"exported by Dana"
    snapshot = load_uploaded([("snapshot.zip", zip_of(entries))])
    assert snapshot.counts["emails"] == 4 and snapshot.ignored_files == ["export/README.txt"]


def test_command_line_accepts_the_sample_after_all(tmp_path: Path) -> None:
    """The refusals above are not a command line that refuses everything."""
    done = cli("diagnose", str(SAMPLE), "--output", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads((tmp_path / "report.json").read_bytes())["summary"]["incoming"] == 4

