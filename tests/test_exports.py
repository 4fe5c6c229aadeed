"""Report exports: CSV with formulas neutralised, offline HTML, the contract JSON."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from conftest import BASIC, HOSTILE_SUBJECTS, zip_folder

from diagnostics import exports
from diagnostics.causes import BY_ID
from diagnostics.evaluate import diagnose
from diagnostics.report import Report
from diagnostics.snapshot import load_uploaded

FORMULAS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"]


@pytest.fixture(scope="module")
def report():
    def hostile(name, data):
        for row in data.get("value", []):
            if name == "emails.json":
                original = row.get("subject")
                row["subject"] = HOSTILE_SUBJECTS.get(original, original)
                if original == "Help needed (stranger)":  # a not-converted email, listed in the page
                    row["subject"] = "<script>window.__pwned=1</script> " + row["subject"]
        return data

    return diagnose(load_uploaded([("basic.zip", zip_folder(BASIC, hostile))]))


def rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_neutralise():
    for formula in FORMULAS:
        assert exports.neutralise(formula) == "'" + formula
    assert exports.neutralise("a=b") == "a=b"
    assert exports.neutralise(12) == 12


def test_csv_has_one_row_per_email_and_neutralises_formulas(report):
    report.emails.loc[0, "subject"] = FORMULAS[0]
    report.emails.loc[1, "sender"] = FORMULAS[1]
    report.emails.loc[2, "subject"] = FORMULAS[3]
    table = rows(exports.emails_csv(report))
    assert len(table) == len(report.emails)
    assert list(table[0]) == exports.CSV_COLUMNS
    cells = [value for row in table for value in row.values()]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + FORMULAS[0] in cells and "'" + FORMULAS[1] in cells and "'" + FORMULAS[3] in cells
    by_id = {row["activityid"]: row for row in table}
    stranger = report.emails[report.emails["primary_cause"] == "unknown-sender-not-allowed"].iloc[0]
    row = by_id[stranger.activityid]
    assert row["primary_cause"] == "unknown-sender-not-allowed"
    assert row["primary_cause_title"].endswith("(unknown-sender-not-allowed)")
    assert row["evidence"] and row["queues"]


def test_csv_of_a_filtered_list(report):
    subset = report.emails[report.emails["verdict"] == "not-converted"]
    table = rows(exports.emails_csv(report, subset))
    assert {row["activityid"] for row in table} == set(subset["activityid"])


def test_json_is_the_contract_and_reads_back(report):
    data = orjson.loads(exports.report_json(report))
    assert data == orjson.loads(orjson.dumps(report.to_dict()))
    again = Report.from_dict(data)
    assert again.summary() == report.summary()


def test_html_is_self_contained_and_escapes_snapshot_text(report):
    page = exports.report_html(report).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src=" not in page
    assert page.count('<div class="chart') == 4 and "<svg" in page  # charts drawn without a script
    assert "<script" not in page
    assert "<script>window.__pwned=1</script>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert '<img src=x onerror="window.__pwned=1">' not in page
    assert "unknown-sender-not-allowed" in page


def test_html_works_offline_no_external_resources(report):
    page = exports.report_html(report).decode("utf-8")
    import re

    sources = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']([^\"']+)", page)
    assert sources == []


def test_html_opens_with_the_fix_plan_and_gives_each_email_its_fix(report):
    page = exports.report_html(report).decode("utf-8")
    plan = report.fix_plan()
    assert plan
    assert page.index("Fix first") < page.index('<div class="chart')  # the plan before the charts
    first = plan[0]
    assert first["doc_url"] in page and first["fix"].replace("'", "&#39;") in page
    assert page.count("Microsoft documentation") >= len(plan)
    stranger = report.emails[report.emails["primary_cause"] == "unknown-sender-not-allowed"].iloc[0]
    end = page.index(stranger.activityid)
    row = page[page.rindex("<tr>", 0, end):end]
    cause = BY_ID["unknown-sender-not-allowed"]
    assert cause.doc_url.replace("&", "&amp;") in row or cause.doc_url in row
    assert "turn on &#39;Allow emails from unknown senders&#39;" in row  # the cause's fix
    assert "reply-to-tracked-email" not in page[page.index('<ol class="plan">'):page.index("</ol>")]
    assert "Working as designed" in page


def test_html_template_escapes_names_in_the_plan(report):
    report.queues.loc[report.queues["name"] == "Sales", "name"] = "<script>window.__pwned=2</script>"
    report.plan = None
    try:
        page = exports.report_html(report).decode("utf-8")
    finally:
        report.queues.loc[report.queues["name"] == "<script>window.__pwned=2</script>", "name"] = "Sales"
        report.plan = None
    assert "<script>window.__pwned=2</script>" not in page
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in page


def test_csv_gives_each_email_its_fix_and_link_and_the_plan_apart(report):
    table = rows(exports.emails_csv(report))
    pending = [row for row in table if row["verdict"] == "not-converted"]
    assert pending and all(row["fix"] and row["doc_url"].startswith("https://learn.microsoft.com/")
                           for row in pending)
    plan = rows(exports.fix_plan_csv(report))
    assert [row["about"] for row in plan] == [exports.about_label(entry) for entry in report.fix_plan()]
    assert list(plan[0]) == exports.PLAN_COLUMNS
    assert int(plan[0]["emails_blocked"]) >= int(plan[-1]["emails_blocked"]) or plan[0]["severity"] == "error"


def test_file_names_carry_organisation_and_day(report):
    again = Report.from_dict(orjson.loads(exports.report_json(report)))
    again.org_url, again.created_at = "https://contoso.crm4.dynamics.com", "2026-11-10T08:00:00Z"
    assert exports.file_stem(again) == "contoso-2026-11-10-email-to-case"
    assert exports.file_stem(again, "fix-plan") == "contoso-2026-11-10-fix-plan"
    again.org_url = None
    again.source = "../Snapshot Basic.zip"
    assert exports.file_stem(again) == "snapshot-basic-2026-11-10-email-to-case"
