"""Comparing two diagnoses: a fixed cause falls to 0 for its queue, a new problem shows as new, periods of
different length compare per day, a run compared with itself shows no change; the command line and the store."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BASIC

from diagnostics.compare import compare, load_report, render_compare_text, without_subjects
from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import snapshot_from_records
from diagnostics.store import RunStore

SALES = "bd244268-0c82-5ba9-9983-9dd5f32f8c77"
HELPDESK = "80a1701d-08ba-58b0-b461-05ee7692c9e1"
SALES_EMAIL = "878db23a-3386-5af4-93b3-ac556fa20103"
NEW_CASE = "5e1e5e1e-0000-4000-8000-000000000001"
ROOT = Path(__file__).resolve().parents[1]


def records() -> dict[str, list[dict]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))["value"] for path in BASIC.glob("*.json")}


def report_of(tables: dict[str, list[dict]]) -> dict:
    return diagnose(snapshot_from_records(tables)).to_dict()


def sales_rule_activated(tables: dict) -> dict:
    """The fix: an active rule for Sales, and the Sales email became a case."""
    tables = copy.deepcopy(tables)
    rule = dict(tables["convertrules"][0], convertruleid="5a1e5a1e-0000-4000-8000-000000000002",
                name="Sales email to case", _queueid_value=SALES)
    tables["convertrules"].append(rule)
    tables["convertruleitems"].append(dict(tables["convertruleitems"][0],
                                           convertruleitemid="5a1e5a1e-0000-4000-8000-000000000003",
                                           _convertruleid_value=rule["convertruleid"]))
    tables["incidents"].append(dict(tables["incidents"][0], incidentid=NEW_CASE, title="Sales question"))
    for email in tables["emails"]:
        if email["activityid"] == SALES_EMAIL:
            email["_regardingobjectid_value"] = NEW_CASE
            email["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "incident"
    return tables


@pytest.fixture(scope="module")
def before() -> dict:
    return report_of(records())


def by_cause(result: dict) -> dict[str, dict]:
    return {row["cause"]: row for row in result["causes"]}


def by_queue(result: dict) -> dict[str, dict]:
    return {row["queue"]: row for row in result["queues"]}


def test_a_run_compared_with_itself_changes_nothing(before: dict) -> None:
    result = compare(before, before)
    assert result["causes"] and all(row["delta"] == 0 for row in result["causes"])
    assert all(row["delta"] == 0 for row in result["queues"])
    assert result["findings"]["fixed"] == [] and result["findings"]["new"] == []
    assert len(result["findings"]["remaining"]) == len(before.get("fix_plan", before["findings"]))
    assert result["per_day"] is False


def test_activating_the_rule_fixes_that_cause_for_its_queue_and_nothing_else(before: dict) -> None:
    after = report_of(sales_rule_activated(records()))
    result = compare(before, after)
    causes = by_cause(result)
    assert causes["no-active-rule-for-queue"]["before"] == 1
    assert causes["no-active-rule-for-queue"]["after"] == 0
    assert by_queue(result)[SALES]["causes"]["no-active-rule-for-queue"]["after"] == 0
    assert [row["cause"] for row in result["causes"] if row["delta"]] == ["no-active-rule-for-queue"]
    assert by_queue(result)[HELPDESK]["delta"] == 0
    fixed = result["findings"]["fixed"]
    assert fixed and all(SALES in json.dumps(entry) for entry in fixed)
    assert result["findings"]["new"] == []
    assert result["totals"]["not_converted"]["delta"] == -1


def test_a_new_problem_is_new(before: dict) -> None:
    tables = records()
    for rule in tables["convertrules"]:
        rule["statecode"] = 0  # the Helpdesk rule deactivated (back to Draft)
    result = compare(before, report_of(tables))
    assert any(HELPDESK in json.dumps(entry) for entry in result["findings"]["new"])
    assert result["findings"]["fixed"] == []
    assert by_cause(result)["no-active-rule-for-queue"]["delta"] > 0


def test_periods_of_different_length_compare_per_day(before: dict) -> None:
    tables = records()
    for email in tables["emails"]:
        if email["activityid"] == SALES_EMAIL:
            email["createdon"] = "2026-11-12T10:00:00Z"  # the after run covers 10 days instead of 2
    result = compare(before, report_of(tables))
    assert result["periods"]["before"]["days"] == 2 and result["periods"]["after"]["days"] == 10
    assert result["per_day"] is True
    row = by_cause(result)["no-active-rule-for-queue"]
    assert row["delta"] == 0 and row["before_per_day"] == 0.5 and row["after_per_day"] == 0.1
    assert "per day" in render_compare_text(result)


def test_the_fix_is_shown_working_for_the_same_sender(before: dict) -> None:
    result = compare(before, report_of(sales_rule_activated(records())))
    evidence = result["now_converting"]
    assert evidence["same_sender"] >= 1
    assert any(example["before"]["activityid"] == SALES_EMAIL and example["after"]["activityid"] == SALES_EMAIL
               for example in evidence["examples"])


def test_not_a_report_is_refused(before: dict) -> None:
    with pytest.raises(SnapshotError, match="not a diagnosis report"):
        compare(before, {"value": []})


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def write_snapshot(folder: Path, tables: dict) -> Path:
    folder.mkdir()
    for name, rows in tables.items():
        (folder / f"{name}.json").write_text(json.dumps({"value": rows}), encoding="utf-8")
    return folder


def test_command_line_compares_snapshots_and_saved_reports(tmp_path: Path, before: dict) -> None:
    after_folder = write_snapshot(tmp_path / "after", sales_rule_activated(records()))
    saved = tmp_path / "before.json"
    saved.write_text(json.dumps(before), encoding="utf-8")
    assert load_report(saved) == before
    for first in (str(BASIC), str(saved)):
        done = cli("compare", first, str(after_folder))
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["schema_version"] == 1
        assert by_cause(result)["no-active-rule-for-queue"]["after"] == 0
        assert set(result["findings"]) >= {"fixed", "new", "remaining"}
    text = cli("compare", str(saved), str(after_folder), "--format", "text")
    assert text.returncode == 0 and "Fixed (" in text.stdout and "no-active-rule-for-queue" in text.stdout


def test_command_line_refuses_bad_input_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    done = cli("compare", str(broken), str(BASIC))
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_runs_are_kept_named_listed_and_deleted(tmp_path: Path, before: dict, monkeypatch) -> None:
    store_file = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DIAGNOSTICS_STORE", str(store_file))
    store = RunStore()
    token = store.save(before, created_by="Dana", name="contoso 2026-11-30")
    comparison = store.save(compare(before, before), created_by="Dana", name="before/after", kind="comparison")
    assert store.load(token).name == "contoso 2026-11-30" and store.load(comparison).kind == "comparison"
    listed = cli("runs", "list")
    assert listed.returncode == 0 and "contoso 2026-11-30" in listed.stdout and token not in listed.stdout
    run_id = next(run.run_id for run in store.list_runs() if run.kind == "report")
    assert cli("runs", "delete", run_id).returncode == 0
    assert store.load(token) is None and store.load(comparison) is not None


def test_a_masked_comparison_keeps_no_subject_or_customer_address(tmp_path: Path, before: dict) -> None:
    result = compare(before, report_of(sales_rule_activated(records())))
    assert "jo@tailspin.com" in json.dumps(result) and "Help needed (sales)" in json.dumps(result)
    store = RunStore(tmp_path / "runs.sqlite")
    token = store.save(without_subjects(result), created_by="Dana", mask=True, kind="comparison")
    shared = json.dumps(store.load(token).report)
    assert "jo@tailspin.com" not in shared and "Help needed" not in shared
    assert store.load(token).report["causes"] == result["causes"]
