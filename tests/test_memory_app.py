"""Memory in the app (AppTest): one copy of a shared report, a released upload, the budget's refusal."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import APP, BASIC
from streamlit.testing.v1 import AppTest
from test_app import EXPECTED, metric, new_app, no_exception, snapshot_uploader, texts, upload

from diagnostics import budget, pipeline
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot
from diagnostics.store import RunStore

sys.path.insert(0, str(Path(APP).parent))  # pages/ is imported by the app as a top-level package
from pages import _ui as ui  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_shared_cache():
    ui.shared_report.clear()
    yield
    ui.shared_report.clear()


@pytest.fixture
def token(store_path) -> str:
    """The basic sample's report shared in this test's store."""
    report = diagnose(load_snapshot(BASIC))
    return RunStore(store_path).save(report.to_dict(), created_by="Dana")


def shown_report(at: AppTest):  # the Report object the session holds
    return at.session_state["current"].report


def test_sessions_opening_one_link_share_one_parsed_report(token, store_path):
    first, second = new_app(run=token), new_app(run=token)
    no_exception(first)
    no_exception(second)
    assert metric(first, "Incoming") == metric(second, "Incoming") == "4"
    assert shown_report(first) is shown_report(second)  # a reference, not a copy
    assert set(shown_report(first).emails["subject"]) == set(EXPECTED)


def test_another_link_gets_its_own_report(token, store_path):
    other = RunStore(store_path).save(diagnose(load_snapshot(BASIC)).to_dict(), created_by="Sam", mask=True)
    first, second = new_app(run=token), new_app(run=other)
    assert shown_report(first) is not shown_report(second)
    assert "Shared by **Sam**" in texts(second) and "Shared by **Dana**" in texts(first)


def test_a_revoked_link_opens_nothing_although_its_report_is_cached(token, store_path):
    assert new_app(run=token).metric
    assert RunStore(store_path).revoke(token)
    gone = new_app(run=token)
    no_exception(gone)
    assert any("unknown, has expired or was revoked" in warning.value for warning in gone.warning)
    assert not gone.metric and "current" not in gone.session_state


def test_an_expired_link_opens_nothing_although_its_report_is_cached(token, store_path):
    assert new_app(run=token).metric
    with sqlite3.connect(store_path) as db:
        db.execute("UPDATE runs SET expires_at = '2000-01-01T00:00:00Z'")
    gone = new_app(run=token)
    assert gone.warning and not gone.metric


def test_a_diagnosed_upload_keeps_only_what_check_email_reads_and_a_fresh_uploader(basic_zip):
    at = new_app()
    upload(at, "snapshot-basic.zip", basic_zip)
    no_exception(at)
    assert metric(at, "Incoming") == "4"
    sample = {path.name.removesuffix(".json") for path in BASIC.glob("*.json")}
    assert {"activityparties", "queueitems", "convertrules"} <= sample  # tables the diagnosis read
    assert set(at.session_state["current"].snapshot.tables) == sample & set(pipeline.CHECK_EMAIL_TABLES)
    at.switch_page("pages/upload.py").run()
    uploader = snapshot_uploader(at)
    assert uploader.key != "snapshot_files" and not uploader.value  # a new, empty uploader
    assert "Current report: snapshot-basic.zip" in texts(at)


def test_release_upload_drops_the_bytes_streamlit_holds():
    def script():
        import sys

        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        sys.path.insert(0, st.session_state["root"])
        from pages import _ui as ui

        files = st.file_uploader("Files", accept_multiple_files=True, key=ui.uploader_key())
        if files:
            context = get_script_run_ctx()
            ids = [file.file_id for file in files]
            st.session_state["held"] = len(context.uploaded_file_mgr.get_files(context.session_id, ids))
            ui.release_upload(files)
            st.session_state["left"] = len(context.uploaded_file_mgr.get_files(context.session_id, ids))

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["root"] = str(Path(APP).parent)
    at.run()
    at.file_uploader[0].set_value([("a.json", b"{}", "application/json"), ("b.json", b"[]", "application/json")])
    at.run()
    no_exception(at)
    assert at.session_state["held"] == 2 and at.session_state["left"] == 0
    at.run()  # the next run draws a new, empty uploader
    assert at.file_uploader[0].key == "snapshot_files_1" and not at.file_uploader[0].value


def test_above_the_budget_an_upload_is_refused_and_an_open_session_goes_on(basic_zip, monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "0")  # off: the first admin's upload is diagnosed
    first = new_app()
    upload(first, "snapshot-basic.zip", basic_zip)
    assert metric(first, "Incoming") == "4"

    monkeypatch.setenv(budget.ENV_VAR, "1")  # 1 MiB: the server is over it
    second = new_app()
    upload(second, "snapshot-basic.zip", basic_zip)
    no_exception(second)
    assert [warning.value for warning in second.warning] == [budget.BUSY]
    assert "current" not in second.session_state  # nothing was loaded: still the demo
    assert not snapshot_uploader(second).value  # the refused file is not kept either
    second.switch_page("pages/overview.py").run()
    assert any("Demo data" in info.value for info in second.info)

    first.switch_page("pages/emails.py").run()  # the open session keeps its report, page after page
    no_exception(first)
    assert set(first.dataframe[0].value["Subject"]) == set(EXPECTED)
    first.switch_page("pages/overview.py").run()
    assert metric(first, "Incoming") == "4"

    monkeypatch.setenv(budget.ENV_VAR, "0")  # a minute later there is room again
    upload(second, "snapshot-basic.zip", basic_zip)
    assert metric(second, "Incoming") == "4"


def test_a_session_keeps_figures_of_its_current_report_only(basic_zip):
    at = new_app()
    at.switch_page("pages/queues.py").run()
    at.switch_page("pages/causes.py").run()
    assert {key for key, _ in at.session_state["_session_cache"].values()} == {"demo"}
    upload(at, "snapshot-basic.zip", basic_zip)  # lands on the overview of the upload
    cache = at.session_state["_session_cache"]
    assert set(cache) == {f"overview_{name}" for name in ui.OVERVIEW_CHARTS}  # built one by one, as shown
    assert {key for key, _ in cache.values()} == {at.session_state["current"].key}
    assert len(cache) <= ui.FIGURE_CACHE_ENTRIES


def test_the_store_lookup_tells_a_live_link_without_reading_its_report(token, store_path):
    store = RunStore(store_path)
    run = store.lookup(token)
    assert run is not None and run.report == {} and run.created_by == "Dana" and not run.masked
    full = store.load(token)
    assert (run.created_at, run.expires_at) == (full.created_at, full.expires_at) and full.report["emails"]
    for dead in ("bogus-token-that-was-never-issued", "x", None, token + "x"):
        assert store.lookup(dead) is None
    store.revoke(token)
    assert store.lookup(token) is None
