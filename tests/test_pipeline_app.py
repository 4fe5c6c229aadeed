"""The app's three ways in (Upload, Connect to Dataverse, the Compare upload) go through ``pipeline.load_and_diagnose``,
each checks the memory budget, and a refusal is one line after which the app goes on (AppTest)."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import APP, BASIC, zip_folder
from dataverse_standin import TOKEN, StandIn
from streamlit.testing.v1 import AppTest
from test_app import metric, no_exception, plain, snapshot_uploader, upload

from diagnostics import budget, pipeline
from diagnostics.demo import demo_files

TIMEOUT = 120
SINCE, UNTIL = date(2020, 1, 1), date(2026, 11, 30)  # all the stand-in's demo


@pytest.fixture(autouse=True)
def _setting(store_path, monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "0")  # room, unless a test says otherwise
    monkeypatch.setenv("DATAVERSE_TOKEN", TOKEN)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[list[str], bool]]:
    """The file names and the budget check of every call of the one function, which still does the work."""
    made = []
    real = pipeline.load_and_diagnose

    def spy(source, **options):
        made.append(([name for name, _ in source], options.get("check_budget", True)))
        return real(source, **options)

    monkeypatch.setattr(pipeline, "load_and_diagnose", spy)
    return made


@pytest.fixture(scope="module")
def stand_in():
    with StandIn(demo_files(60)) as server:
        yield server


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def connect(at: AppTest, server: StandIn) -> AppTest:
    at.switch_page("pages/upload.py").run()
    at.text_input(key="connect_org").input(server.url)
    at.date_input(key="connect_dates").set_value((SINCE, UNTIL))
    next(button for button in at.button if button.label == "Sign in and pull").click()
    return at.run()


def compare_with_upload(at: AppTest, name: str, data: bytes) -> AppTest:
    """Compare the current report (before) with an uploaded snapshot (after)."""
    at.switch_page("pages/compare.py").run()
    next(widget for widget in at.file_uploader if widget.key.startswith("compare_upload")).set_value(
        [(name, data, "application/zip")])
    next(button for button in at.button if button.label == "Compare").click()
    return at.run()


def test_an_upload_goes_through_the_one_function_and_keeps_the_report_with_its_plan(calls, basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    no_exception(at)
    assert calls == [(["snapshot-basic.zip"], True)]
    assert metric(at, "Incoming") == "4"
    report = at.session_state["current"].report
    assert report.plan is not None and any(entry["about"]["id"] for entry in report.plan)


def test_connect_goes_through_the_one_function(calls, stand_in):
    at = connect(new_app(), stand_in)
    no_exception(at)
    assert calls == [(["snapshot.zip"], True)]
    assert at.session_state["current"].label.startswith("127.0.0.1")
    assert at.session_state["current"].report.plan is not None


def test_the_compare_upload_goes_through_the_one_function_and_is_released(calls, basic_zip):
    at = compare_with_upload(new_app(), "after.zip", basic_zip)
    no_exception(at)
    assert calls == [(["after.zip"], True)]
    assert "comparison" in at.session_state
    assert any("After: the uploaded snapshot after.zip" in plain(caption.value) for caption in at.caption)
    at.run()
    uploader = next(widget for widget in at.file_uploader if widget.key.startswith("compare_upload"))
    assert uploader.key == "compare_upload_1" and not uploader.value  # a fresh, empty uploader


def _over_budget_upload(at: AppTest, basic_zip: bytes, stand_in: StandIn) -> list[str]:
    upload(at, "snapshot-basic.zip", basic_zip)
    assert not snapshot_uploader(at).value  # the refused files are dropped
    return [warning.value for warning in at.warning]


def _over_budget_connect(at: AppTest, basic_zip: bytes, stand_in: StandIn) -> list[str]:
    asked = len(stand_in.requests)
    connect(at, stand_in)
    assert len(stand_in.requests) == asked  # refused before a pull of minutes
    return [warning.value for warning in at.warning]


def _over_budget_compare(at: AppTest, basic_zip: bytes, stand_in: StandIn) -> list[str]:
    compare_with_upload(at, "after.zip", basic_zip)
    assert "comparison" not in at.session_state
    warnings = [warning.value for warning in at.warning]
    at.run()
    uploader = next(widget for widget in at.file_uploader if widget.key.startswith("compare_upload"))
    assert not uploader.value  # the refused files are dropped
    return warnings


@pytest.mark.parametrize("way", [_over_budget_upload, _over_budget_connect, _over_budget_compare],
                         ids=["upload", "connect", "compare"])
def test_over_the_budget_each_way_in_is_refused_in_one_line_and_the_app_goes_on(way, calls, basic_zip, stand_in,
                                                                                  monkeypatch):
    at = new_app()
    monkeypatch.setenv(budget.ENV_VAR, "1")  # 1 MiB: the server is over it
    assert way(at, basic_zip, stand_in) == [budget.BUSY]
    no_exception(at)
    assert not [error.value for error in at.error]
    assert "current" not in at.session_state  # still the demo
    monkeypatch.setenv(budget.ENV_VAR, "0")  # a minute later: the same session diagnoses the upload
    upload(at, "snapshot-basic.zip", basic_zip)
    no_exception(at)
    assert metric(at, "Incoming") == "4"
    assert [check for _, check in calls] == [True] * len(calls) and calls[-1] == (["snapshot-basic.zip"], True)


def test_an_organisation_typed_later_links_records_found_in_the_whole_snapshot(basic_zip):
    def without_context(name, data):
        data.pop("@odata.context", None)
        return data

    at = new_app()
    upload(at, "no-context.zip", zip_folder(BASIC, without_context))
    rule = next(entry for entry in at.session_state["current"].report.plan if entry["about"]["table"] == "convertrules")
    assert rule["about"]["id"] and rule["record_url"] is None  # found in the snapshot's rules, which were not kept
    at.switch_page("pages/overview.py").run()
    next(widget for widget in at.text_input if widget.label == "Organisation URL").input("contoso.crm4.dynamics.com")
    next(button for button in at.button if button.label == "Add links").click()
    at.run()
    no_exception(at)
    rule = next(entry for entry in at.session_state["current"].report.plan if entry["about"]["table"] == "convertrules")
    assert rule["record_url"] == ("https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=convertrule"
                                  f"&id={rule['about']['id']}")
