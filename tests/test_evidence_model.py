"""Evidence as values (issue 19): consumers read codes, records and values, never the sentences.

- Rewording every template changes texts only: the fix plan, the masking decisions and a comparison stay.
- A cause registered from this module alone reaches the JSON, the fix plan, the funnel, the Causes page and the
  HTML export.
- No module outside the renderer runs a regular expression or a substring test over evidence text.
- One problem, one severity: the plan, the findings and the Queues page agree.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import orjson
import pandas as pd
import pytest
from conftest import APP, BASIC
from streamlit.testing.v1 import AppTest

from diagnostics import app_state, exports, fix_plan
from diagnostics.causes import CAUSES, Cause, Context, registered
from diagnostics.compare import compare
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.evidence import Code, rows
from diagnostics.masking import mask_report
from diagnostics.snapshot import load_snapshot, load_uploaded

PACKAGE = Path(__file__).resolve().parents[1] / "diagnostics"


@pytest.fixture(scope="module")
def demo_snapshot():
    return load_uploaded(list(demo_files().items()))


@pytest.fixture
def reworded():
    """Every template of every cause replaced by its code (the values stay)."""
    saved = [(code, code.template) for cause in CAUSES for code in cause.codes]
    for code, _ in saved:
        object.__setattr__(code, "template", f"<{code.code}>")
    yield
    for code, template in saved:
        object.__setattr__(code, "template", template)


def plan_facts(plan: list[dict]) -> list[tuple]:
    return [(entry["id"], entry["cause"], entry["about"]["table"], entry["about"]["id"], entry["about"]["name"],
             entry["severity"], entry["emails_blocked"], entry["emails_unblocked_alone"]) for entry in plan]


def masked_values(report: dict) -> list:
    """What masking decided: every value of every evidence item, and the emails' senders and subjects."""
    masked = mask_report(report)
    items = [item for email in masked["emails"] for cause in email["causes"] for item in cause["evidence"]]
    items += [item for finding in masked["findings"] for item in finding["evidence"]]
    return ([(item["code"], sorted(item["values"].items()), item["about"]) for item in items]
            + [(email["sender"], email["subject"]) for email in masked["emails"]])


def facts(snapshot) -> tuple:
    report = diagnose(snapshot)
    report.fix_plan(snapshot)
    data = orjson.loads(report.to_json())
    return plan_facts(data["fix_plan"]), masked_values(data), data


def comparison_facts(before: dict, after: dict) -> tuple:
    result = compare(before, after)
    findings = {name: sorted(orjson.dumps(entry.get("id")).decode() for entry in result["findings"][name])
                for name in ("fixed", "new", "remaining")}
    return result["totals"], result["causes"], result["queues"], findings


def test_rewording_every_template_changes_only_the_texts(demo_snapshot, request):
    plan, masking, report = facts(demo_snapshot)
    half = copy.deepcopy(report)
    half["emails"] = half["emails"][: len(half["emails"]) // 2]
    compared = comparison_facts(half, report)
    request.getfixturevalue("reworded")
    plan_again, masking_again, report_again = facts(demo_snapshot)
    half_again = copy.deepcopy(report_again)
    half_again["emails"] = half_again["emails"][: len(half_again["emails"]) // 2]
    assert plan_again == plan
    assert masking_again == masking
    assert comparison_facts(half_again, report_again) == compared
    texts = {item["text"] for email in report_again["emails"] for cause in email["causes"]
             for item in cause["evidence"]}
    assert texts and all(text.startswith("<") and text.endswith(">") for text in texts)  # the rewording took


def test_masking_renders_the_text_again_from_the_masked_values(demo_snapshot):
    report = diagnose(demo_snapshot).to_dict()
    masked = mask_report(report)
    shared = [(item, masked_item) for email, masked_email in zip(report["emails"], masked["emails"], strict=True)
              for cause, masked_cause in zip(email["causes"], masked_email["causes"], strict=True)
              for item, masked_item in zip(cause["evidence"], masked_cause["evidence"], strict=True)
              if item["code"] == "address-shared"]
    assert shared
    for item, masked_item in shared:
        assert item["values"]["sender"] not in masked_item["text"]
        assert masked_item["values"]["sender"].split("@")[0].endswith("***")
        assert masked_item["values"]["customers"] == "(customer hidden)" in masked_item["text"]


# --------------------------------------------------------------------------- a cause in one file

TOY_CODE = Code("toy-sender", "the sender {sender} writes from the toy domain", about="senders",
                group="senders of the toy domain", fix="Tell the toy domain's senders to write from a real one.")


def _detect_toy(context: Context) -> pd.DataFrame:
    toy = context.pending[context.pending["sender_address"].str.endswith("@tailspin.com").fillna(False).to_numpy(bool)]
    return rows(toy, TOY_CODE, {"sender": toy["sender_address"]}, queue=None)


TOY = Cause(id="toy-domain", order=0, seed_number=0, kind="fault", title="The toy domain writes",
            stage="Not from the toy domain", seed_text="A cause of the test alone.",
            detection="The sender's domain is tailspin.com.", remediation="Write from another domain.",
            doc_url="https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/"
                    "incoming-email-not-converted-case", color="#123456", tables=("emails",), requires=("emails",),
            codes=(TOY_CODE,), detect=_detect_toy)


def test_a_cause_registered_from_one_file_reaches_every_output():
    with registered(TOY):
        snapshot = load_snapshot(BASIC)
        report = diagnose(snapshot)
        data = orjson.loads(report.to_json())
        toy_emails = [email for email in data["emails"]
                      if any(cause["id"] == "toy-domain" for cause in email["causes"])]
        assert toy_emails and all(email["primary_cause"] == "toy-domain" for email in toy_emails
                                  if email["verdict"] == "not-converted")
        entry = next(entry for entry in data["fix_plan"] if entry["cause"] == "toy-domain")
        assert entry["about"] == {"table": "senders", "id": None, "name": "senders of the toy domain"}
        assert entry["fix"].startswith("Tell the toy domain's senders") and entry["emails_blocked"] >= 1
        assert "Not from the toy domain" in set(app_state.funnel(report)["stage"])
        html = exports.report_html(report).decode()
        assert "The toy domain writes" in html
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.switch_page("pages/causes.py").run()
        assert not at.exception
        shown = "\n".join(str(element.value) for kind in ("markdown", "subheader", "caption", "expander")
                          for element in getattr(at, kind) if hasattr(element, "value"))
        shown += "\n".join(str(expander.label) for expander in at.expander)
        assert "The toy domain writes" in shown
    assert "toy-domain" not in {cause.id for cause in CAUSES}  # gone again


def test_a_cause_with_a_code_that_lacks_a_value_is_refused_when_it_runs():
    with pytest.raises(KeyError, match="no value for"):
        rows(pd.DataFrame({"activityid": ["a"]}), TOY_CODE, {}, queue=None)


# --------------------------------------------------------------------------- no sentence parsed back

ALLOWED = {"evidence.py", "cause_view.py", "masking.py"}  # the renderer, and masking of old reports' sentences
TEXT_MATCHERS = {"search", "match", "fullmatch", "findall", "finditer", "sub", "split", "contains", "extract",
                 "startswith", "endswith"}


def _reads_evidence_text(node: ast.AST) -> bool:
    """A call or comparison whose operands name evidence text: a ``sentence``, an ``evidence`` list, ``["text"]``."""
    names = {sub.id.lower() for sub in ast.walk(node) if isinstance(sub, ast.Name)}
    names |= {sub.attr.lower() for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}
    keys = {sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)}
    return bool({"sentence", "sentences", "evidence"} & names) or "text" in keys and "evidence" in keys


def evidence_text_readers() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ALLOWED or "causes" in path.parts or "headers" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            matcher = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                       and node.func.attr in TEXT_MATCHERS)
            substring = isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            if (matcher or substring) and _reads_evidence_text(node):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_no_module_reads_evidence_text_with_a_pattern_or_a_substring_test():
    assert evidence_text_readers() == []


def test_the_scan_finds_a_reader(tmp_path, monkeypatch):
    """The scan can fail: a module that searches a sentence is found."""
    bad = tmp_path / "diagnostics"
    bad.mkdir()
    (bad / "reader.py").write_text("import re\n\ndef owner(sentence):\n    return re.search('owner', sentence)\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", bad)
    assert evidence_text_readers() == ["diagnostics/reader.py:4"]


# --------------------------------------------------------------------------- one finding, one severity

def test_a_finding_has_the_severity_of_its_plan_entry(demo_snapshot):
    report = diagnose(demo_snapshot)
    plan = report.fix_plan(demo_snapshot)
    by_about = {(entry["cause"], entry["about"]["table"], entry["about"]["id"] or entry["about"]["name"]):
                entry["severity"] for entry in plan}
    checked = 0
    for finding in report.findings:
        severities = {by_about[key] for item in finding["evidence"] if (key := (
            finding["id"], item["about"]["table"], item["about"]["id"] or item["about"]["name"])) in by_about}
        if severities:
            checked += 1
            assert finding["severity"] == min(severities, key=fix_plan.SEVERITY_RANK.__getitem__), finding["id"]
    assert checked >= 5


def test_overview_findings_and_queues_show_the_plan_severity():
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    report = diagnose(load_uploaded(list(demo_files().items())))
    plan = report.fix_plan()
    wanted = {app_state.queue_label(report, finding["subject"]): finding["severity"]
              for finding in report.findings if finding["scope"] == "queue"}
    boxes = {"error": [element.value for element in at.error], "warning": [element.value for element in at.warning]}
    for label, severity in wanted.items():
        name = label.split(" (")[0].strip("'")
        assert any(name in body for body in boxes[severity]), (label, severity)
    sales = next(entry for entry in plan if entry["about"]["name"] == "Sales")
    at.switch_page("pages/queues.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["queue"].str.contains("Sales")].iloc[0]
    assert f"{sales['severity']}: " in row["findings"]
