"""The contract end to end through the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import BASIC

SAMPLE = BASIC
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], capture_output=True, input=stdin,
                          timeout=300)


def diagnose_json(snapshot: Path) -> dict:
    done = cli("diagnose", str(snapshot), "--format", "json")
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def expected_table() -> dict[str, tuple[str, str | None]]:
    rows = {}
    for line in (SAMPLE / "EXPECTED.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1] in ("converted", "not-converted"):
            rows[cells[0]] = (cells[1], None if cells[2] in ("—", "-", "") else cells[2])
    return rows


def by_subject(report: dict) -> dict[str, tuple[str, str | None]]:
    return {email["subject"]: (email["verdict"], email["primary_cause"]) for email in report["emails"]}


def test_sample_snapshot_gives_expected_md_through_the_command_line():
    expected = expected_table()
    assert len(expected) == 4
    report = diagnose_json(SAMPLE)
    assert by_subject(report) == expected


def test_sample_output_has_the_contract_shape():
    report = diagnose_json(SAMPLE)
    assert report["schema_version"] == 2
    assert report["tables"]["emails"] == 4
    assert {"mailboxes", "activitymonitors", "asyncoperations"} <= set(report["missing_tables"])
    summary = report["summary"]
    assert (summary["incoming"], summary["converted"], summary["not_converted"]) == (4, 2, 2)
    assert sum(summary["by_primary_cause"].values()) == 2
    for email in report["emails"]:
        assert GUID.match(email["activityid"])
        assert all(GUID.match(queue) for queue in email["queues"])
        assert set(email) >= {"activityid", "subject", "received_on", "sender", "queues", "verdict",
                              "primary_cause", "primary_kind", "threaded", "causes", "notes", "unchecked"}
        for cause in email["causes"]:
            assert set(cause) == {"id", "kind", "queue", "expected", "evidence", "remediation"} and cause["evidence"]
            assert all(set(item) == {"code", "about", "values", "text"} for item in cause["evidence"])
            assert cause["kind"] in ("fault", "by-design")
    for key in ("not_for_a_queue", "threaded", "by_design", "direction_unknown"):
        assert summary[key] == (1 if key == "threaded" else 0), key  # the reply: its case's state unchecked
    reply = next(email for email in report["emails"] if email["subject"] == "Help needed (reply)")
    assert reply["verdict"] == "converted" and reply["threaded"] and reply["causes"] == []
    assert any("its state was not checked" in note for note in reply["notes"])
    stranger = next(email for email in report["emails"] if email["subject"] == "Help needed (stranger)")
    unchecked = {item["id"]: item["missing"] for item in stranger["unchecked"]}
    assert "activitymonitors" in unchecked["contact-creation-failed"]
    for finding in report["findings"]:
        assert set(finding) >= {"id", "scope", "subject", "evidence"}


def test_zip_with_sub_folder_uppercase_guids_bom_and_bare_arrays(tmp_path):
    folder = tmp_path / "export" / "nested"
    folder.mkdir(parents=True)
    for path in SAMPLE.glob("*.json"):
        text = path.read_text()
        text = re.sub(r'"([0-9a-f]{8}-[0-9a-f-]{27})"', lambda m: '"{' + m[1].upper() + '}"', text)
        if path.name == "queues.json":
            text = json.dumps(json.loads(text)["value"])
        (folder / path.name).write_bytes(b"\xef\xbb\xbf" + text.encode())
    archive = tmp_path / "snapshot.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in folder.iterdir():
            zipped.write(path, f"export/nested/{path.name}")
    assert by_subject(diagnose_json(archive)) == expected_table()


def test_paged_files_and_expanded_parties(tmp_path):
    snapshot = tmp_path / "paged"
    shutil.copytree(SAMPLE, snapshot)
    emails = json.loads((snapshot / "emails.json").read_text())
    parties = json.loads((snapshot / "activityparties.json").read_text())["value"]
    (snapshot / "activityparties.json").unlink()
    for email in emails["value"]:
        email["email_activity_parties"] = [
            {key: value for key, value in party.items() if key != "_activityid_value"}
            for party in parties if party["_activityid_value"] == email["activityid"]]
    first, second = emails["value"][:2], emails["value"][2:]
    (snapshot / "emails.json").write_text(json.dumps({"value": first, "@odata.nextLink": "https://x/?$skiptoken=1"}))
    (snapshot / "emails").mkdir()
    (snapshot / "emails" / "2.json").write_text(json.dumps({"value": second}))
    report = diagnose_json(snapshot)
    assert by_subject(report) == expected_table()
    assert report["tables"]["activityparties"] == len(parties)


def test_text_format_names_causes_and_counts():
    done = cli("diagnose", str(SAMPLE), "--format", "text")
    assert done.returncode == 0
    text = done.stdout.decode()
    assert "not converted 2" in text and "unknown-sender-not-allowed" in text
    assert "no-active-rule-for-queue" in text


def test_output_file(tmp_path):
    out = tmp_path / "report.json"
    done = cli("diagnose", str(SAMPLE), "--output", str(out))
    assert done.returncode == 0 and done.stdout == b""
    assert json.loads(out.read_text())["summary"]["not_converted"] == 2


@pytest.mark.parametrize("name, content, message", [
    ("emails.json", b"{not json", "emails.json: not valid JSON"),
    ("emails.json", b"\x00\x01\x02binary", "emails.json: not a JSON document"),
    ("emails.json", b'{"value": [{"activityid": "a", "correlationmethod": "open"}]}', "'correlationmethod'"),
    ("readme.txt", b"hello", "no Web API JSON files"),
    ("queues.json", b'{"value": []}', "no emails table"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    done = cli("diagnose", str(tmp_path))
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert message in stderr and stderr.count("\n") == 1 and "Traceback" not in stderr


def test_missing_path_exits_2():
    done = cli("diagnose", "/no/such/snapshot")
    assert done.returncode == 2 and "no such file or folder" in done.stderr.decode()


def test_wrong_types_are_summarised_per_column(tmp_path):
    rows = [{"activityid": f"id{i}", "correlationmethod": "x", "directioncode": "maybe"} for i in range(5000)]
    (tmp_path / "emails.json").write_text(json.dumps({"value": rows}))
    done = cli("diagnose", str(tmp_path))
    stderr = done.stderr.decode()
    assert done.returncode == 2 and stderr.count("\n") == 1
    assert "'correlationmethod' (5000 rows)" in stderr and "'directioncode' (5000 rows)" in stderr
    assert "row 1" in stderr


def test_duplicate_primary_keys_are_refused(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "s")
    shutil.copy(tmp_path / "s" / "emails.json", tmp_path / "s" / "emails.2.json")
    done = cli("diagnose", str(tmp_path / "s"))
    assert done.returncode == 2 and "repeats another" in done.stderr.decode()
