"""Runs and Compare pages through AppTest: keep a run, compare it with a newer upload, share the comparison."""

from __future__ import annotations

import copy

import pytest
from conftest import APP, BASIC, zip_folder
from streamlit.testing.v1 import AppTest

TIMEOUT = 120
SALES_EMAIL = "878db23a-3386-5af4-93b3-ac556fa20103"


def no_exception(at: AppTest) -> None:
    assert not at.exception, [exception.value for exception in at.exception]


def sales_converted(name: str, data: dict) -> dict:
    """The after snapshot: the Sales email became a case and Sales got an active rule."""
    data = copy.deepcopy(data)
    rows = data.get("value", [])
    if name == "emails.json":
        for row in rows:
            if row["activityid"] == SALES_EMAIL:
                row["_regardingobjectid_value"] = "f33ffbcc-83d5-512a-a404-0b92a2f1507e"
                row["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "incident"
    if name == "convertrules.json":
        rows.append(dict(rows[0], convertruleid="5a1e5a1e-0000-4000-8000-000000000002",
                         _queueid_value="bd244268-0c82-5ba9-9983-9dd5f32f8c77", name="Sales email to case"))
    if name == "convertruleitems.json":
        rows.append(dict(rows[0], convertruleitemid="5a1e5a1e-0000-4000-8000-000000000003",
                         _convertruleid_value="5a1e5a1e-0000-4000-8000-000000000002"))
    return data


@pytest.fixture(autouse=True)
def _own_store(store_path):
    return store_path


def keep_current(at: AppTest, name: str) -> None:
    at.switch_page("pages/runs.py").run()
    next(widget for widget in at.text_input if widget.label == "Name of the run").input(name)
    next(button for button in at.button if button.label == "Keep this run").click()
    at.run()
    no_exception(at)


def test_keep_a_run_compare_with_an_upload_and_share_it(basic_zip):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("pages/upload.py").run()
    at.file_uploader(key="snapshot_files").set_value([("before.zip", basic_zip, "application/zip")])
    at.run()
    keep_current(at, "fourth coffee before")
    assert any("fourth coffee before" in item.value for item in at.markdown)
    assert any("?run=" in code.value for code in at.code)

    at.switch_page("pages/compare.py").run()
    no_exception(at)
    before = at.selectbox(key="compare_before")
    assert "Kept run: fourth coffee before" in before.options[before.value]  # the default: the last kept run
    after = zip_folder(BASIC, sales_converted)
    at.file_uploader(key="compare_upload").set_value([("after.zip", after, "application/zip")])
    next(button for button in at.button if button.label == "Compare").click()
    at.run()
    no_exception(at)
    assert len(at.get("plotly_chart")) == 2
    page = "\n".join(item.value for item in at.markdown)
    assert "Fixed (1)" in page and "New (0)" in page, page

    next(widget for widget in at.text_input if widget.label == "Your name or team").input("Dana")
    next(button for button in at.button if button.label == "Create share link").click()
    at.run()
    link = next(code.value for code in at.code if "compare?compare=" in code.value)
    token = link.rsplit("=", 1)[1]

    viewer = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    viewer.query_params["compare"] = token
    viewer.run()
    viewer.switch_page("pages/compare.py").run()
    no_exception(viewer)
    assert any("read-only" in item.value for item in viewer.info)
    assert len(viewer.get("plotly_chart")) == 2
    assert "Create share link" not in [button.label for button in viewer.button]


def test_a_bogus_comparison_link_says_so():
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["compare"] = "x" * 43
    at.run()
    at.switch_page("pages/compare.py").run()
    no_exception(at)
    assert any("unknown, has expired or was revoked" in item.value for item in at.warning)


def test_runs_page_on_the_demo_starts_empty_and_deletes_what_it_kept():
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    no_exception(at)
    assert any("No run kept yet" in item.value for item in at.caption)
    keep_current(at, "demo run")
    next(button for button in at.button if button.label == "Delete this run").click()
    at.run()
    assert any("No run kept yet" in item.value for item in at.caption)


def test_compare_takes_the_last_kept_run_as_before_and_the_current_report_as_after():
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    keep_current(at, "monday")
    keep_current(at, "tuesday")
    at.switch_page("pages/runs.py").run()
    listed = [item.value for item in at.markdown if "· Report ·" in item.value]
    assert [text.split("**")[1] for text in listed] == ["tuesday", "monday"]  # newest first
    assert any("kept in this session only" in item.value for item in at.markdown)  # no browser key here
    at.switch_page("pages/compare.py").run()
    no_exception(at)
    before, after = at.selectbox(key="compare_before"), at.selectbox(key="compare_after")
    assert before.options[before.value].startswith("Kept run: tuesday")
    assert after.options[after.value].startswith("Current report:")
