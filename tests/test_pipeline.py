"""One path from bytes to report (diagnostics/pipeline.py): the report with its fix plan, what is kept, one error."""

from __future__ import annotations

import logging

import pytest
from conftest import BASIC

from diagnostics import budget, cli, compare, pipeline
from diagnostics.errors import DiagnosisError, SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot, load_uploaded


@pytest.fixture(autouse=True)
def _room(monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "0")  # the budget is off unless a test turns it on


def test_a_folder_and_its_upload_give_the_report_with_the_fix_plan_built_from_the_whole_snapshot(basic_zip):
    whole = load_snapshot(BASIC)
    expected = diagnose(whole)
    expected_plan = expected.fix_plan(whole)
    assert expected_plan != diagnose(whole).fix_plan()  # the snapshot adds record ids: the test can tell
    for source in (BASIC, str(BASIC), [("snapshot-basic.zip", basic_zip)]):
        report = pipeline.load_and_diagnose(source, check_budget=False).report
        assert report.plan == expected_plan  # built, not left for a page to build
        assert report.summary() == expected.summary()


def test_only_the_tables_asked_for_are_kept_with_what_the_whole_snapshot_said(basic_zip):
    whole = load_uploaded([("snapshot-basic.zip", basic_zip)])
    kept = pipeline.load_and_diagnose([("snapshot-basic.zip", basic_zip)]).snapshot
    assert set(kept.tables) == set(whole.tables) & set(pipeline.CHECK_EMAIL_TABLES)
    assert set(whole.tables) - set(kept.tables)  # something was dropped
    for name in kept.tables:
        assert kept.tables[name].equals(whole.tables[name])
    assert (kept.source, kept.notes, kept.ignored_files, kept.org_url) == (
        whole.source, whole.notes, whole.ignored_files, whole.org_url)
    assert pipeline.load_and_diagnose(BASIC, keep=()).snapshot.tables == {}


def test_progress_and_the_loaded_snapshot_are_reported():
    stages, seen = [], []
    pipeline.load_and_diagnose(BASIC, progress=lambda stage, done, total: stages.append((stage, done, total)),
                               loaded=seen.append)
    verbs = {stage.split(" ")[0] for stage, _, _ in stages}
    assert {"reading", "validating", "evaluating"} <= verbs
    assert all(0 <= done <= total for _, done, total in stages)
    assert len(seen) == 1 and "convertrules" in seen[0].tables  # the whole snapshot, before it is cut down


def test_input_that_cannot_be_read_is_one_line_naming_the_file():
    files = [("broken.zip", b"PK\x03\x04 not really a zip")]
    with pytest.raises(SnapshotError) as direct:
        load_uploaded(files)
    with pytest.raises(DiagnosisError) as error:
        pipeline.load_and_diagnose(files)
    assert error.value.reason == "unreadable"
    assert str(error.value) == str(direct.value) and "\n" not in str(error.value)


def test_a_file_that_cannot_be_opened_is_one_line(monkeypatch):
    def refuse(path, progress=None):
        raise PermissionError(13, "Permission denied", "/data/emails.json")

    monkeypatch.setattr(pipeline, "load_snapshot", refuse)
    with pytest.raises(DiagnosisError, match=r"^/data/emails\.json: Permission denied$") as error:
        pipeline.load_and_diagnose("/data")
    assert error.value.reason == "unreadable"


def test_over_the_budget_nothing_is_read(monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "1")  # 1 MiB: the process holds more
    read = []
    monkeypatch.setattr(pipeline, "load_uploaded", lambda *args, **kwargs: read.append(args))
    with pytest.raises(DiagnosisError) as error:
        pipeline.load_and_diagnose([("snapshot.zip", b"")])
    assert (error.value.reason, str(error.value)) == ("busy", budget.BUSY)
    assert not read
    assert pipeline.load_and_diagnose(BASIC, check_budget=False).report  # the command line never checks it


FOUR_FILES = "a.json, b.json, c.json and 1 more files"


@pytest.mark.parametrize(("raised", "reason", "line"), [
    (KeyError("queueid"), "unexpected", f"{FOUR_FILES}: unexpected KeyError while reading it"),
    (MemoryError(), "too-large", f"{FOUR_FILES}: too large for this machine's memory"),
])
def test_anything_else_is_one_line_and_the_traceback_goes_to_the_log(monkeypatch, caplog, raised, reason, line):
    def fail(snapshot, progress=None):
        raise raised

    monkeypatch.setattr(pipeline, "diagnose", fail)
    files = [(name, (BASIC / "emails.json").read_bytes() if name == "emails.json" else b"[]")
             for name in ("a.json", "b.json", "c.json", "emails.json")]
    with caplog.at_level(logging.ERROR, logger="diagnostics.pipeline"), pytest.raises(DiagnosisError) as error:
        pipeline.load_and_diagnose(files)
    assert (error.value.reason, str(error.value)) == (reason, line)
    logged = [record for record in caplog.records if record.name == "diagnostics.pipeline"]
    assert bool(logged and logged[0].exc_info) == (reason == "unexpected")


def test_the_command_line_diagnoses_through_the_pipeline(monkeypatch, tmp_path, capsys):
    calls = []
    real = pipeline.load_and_diagnose

    def spy(source, **options):
        calls.append((str(source), options.get("check_budget")))
        return real(source, **options)

    monkeypatch.setattr(pipeline, "load_and_diagnose", spy)
    assert cli.main(["diagnose", str(BASIC), "--output", str(tmp_path / "report.json")]) == 0
    assert compare.load_report(BASIC)["summary"]["incoming"] == 4
    assert calls == [(str(BASIC), False), (str(BASIC), False)]


def test_the_command_line_says_an_unexpected_error_in_one_line_and_exits_1(monkeypatch, capsys):
    def fail(snapshot, progress=None):
        raise KeyError("queueid")

    monkeypatch.setattr(pipeline, "diagnose", fail)
    assert cli.main(["diagnose", str(BASIC)]) == 1
    assert capsys.readouterr().err == "error: snapshot-basic: unexpected KeyError while reading it\n"
    assert cli.main(["diagnose", str(BASIC / "nothing-here")]) == 2  # bad input stays exit 2
