"""The headline sentence, the period, needs_action, the partial-snapshot warning: in the engine, the HTML report,
the command line's text and the app (AppTest)."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from conftest import APP, BASIC, zip_folder
from streamlit.testing.v1 import AppTest

from diagnostics import exports, headline
from diagnostics.causes import BY_ID
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.report import Report
from diagnostics.snapshot import load_uploaded


@pytest.fixture(scope="module")
def demo() -> Report:
    snapshot = load_uploaded(list(demo_files().items()))
    report = diagnose(snapshot)
    report.fix_plan(snapshot)
    return report


@pytest.fixture(scope="module")
def basic() -> Report:
    """snapshot-basic: no mailboxes, activitymonitors, asyncoperations, … (a partial snapshot)."""
    return diagnose(load_uploaded([("basic.zip", zip_folder(BASIC))]))


def _days(*texts: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(texts), utc=True))


def test_period_as_an_admin_writes_it():
    assert headline.period_text(_days("2026-11-30T23:00:00Z", "2026-11-01T08:00:00Z")) == "1 Nov – 30 Nov 2026"
    assert headline.period_text(_days("2025-12-28T10:00:00Z", "2026-01-03T10:00:00Z")) == "28 Dec 2025 – 3 Jan 2026"
    assert headline.period_text(_days("2026-11-04T10:00:00Z", "2026-11-04T18:00:00Z")) == "4 Nov 2026"
    assert headline.period_text(pd.Series([pd.NaT], dtype="datetime64[ns, UTC]")) == ""


def test_demo_headline_counts_agree_with_the_summary_and_the_plan(demo):
    line = headline.headline(demo)
    summary = demo.summary()
    assert (line.incoming, line.not_converted, line.by_design) == (
        summary["incoming"], summary["not_converted"], summary["by_design"])
    assert line.needs_action == summary["needs_action"] == summary["not_converted"] - summary["by_design"]
    assert line.by_design > 0 and line.needs_action > 0
    alone = sum(entry["emails_unblocked_alone"] for entry in demo.fix_plan()[:3])
    assert line.let_through == min(alone, line.needs_action) > 0
    incoming = demo.emails[demo.emails["verdict"].isin(["converted", "not-converted"])]["received_on"]
    first, last = incoming.min(), incoming.max()
    assert line.period == f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    assert line.sentence == (f"{line.not_converted} of {line.incoming} incoming emails ({line.period}) did not "
                             f"become cases; {line.by_design} of them are working as designed; the first three "
                             f"fixes would let about {line.let_through} through.")


@pytest.mark.parametrize(("counts", "expected"), [
    ((0, 0, 0, 0, 0), "No incoming email sent to a queue (1 Nov – 30 Nov 2026): nothing to diagnose."),
    ((40, 0, 0, 3, 0), "All 40 incoming emails (1 Nov – 30 Nov 2026) became cases."),
    ((40, 2, 2, 0, 0), "2 of 40 incoming emails (1 Nov – 30 Nov 2026) did not become cases; all of them are "
                       "working as designed."),
    ((40, 1, 0, 1, 1), "1 of 40 incoming emails (1 Nov – 30 Nov 2026) did not become cases; the first fix would "
                       "let about 1 through."),
    ((40, 5, 1, 2, 0), "5 of 40 incoming emails (1 Nov – 30 Nov 2026) did not become cases; 1 of them is working "
                       "as designed; the first two fixes would let none through on their own (their emails have "
                       "other problems too)."),
    ((40, 5, 0, 0, 0), "5 of 40 incoming emails (1 Nov – 30 Nov 2026) did not become cases; nothing in the "
                       "snapshot says what stopped them."),
])
def test_sentence_variants(counts, expected):
    incoming, pending, by_design, fixes, through = counts
    assert headline._sentence(incoming, pending, by_design, pending - by_design, fixes, through,
                              "1 Nov – 30 Nov 2026") == expected


def test_needs_action_is_in_the_json_summary_and_survives_a_round_trip(demo):
    data = demo.to_dict()
    assert data["summary"]["needs_action"] == data["summary"]["not_converted"] - data["summary"]["by_design"]
    again = Report.from_dict(data)
    assert headline.headline(again).sentence == headline.headline(demo).sentence  # a shared report says the same


def test_partial_snapshot_names_the_unchecked_causes_and_the_tables_to_export(basic, demo):
    assert headline.partial_warning(demo) is None
    text = headline.partial_warning(basic)
    causes = headline.unchecked_causes(basic)
    assert causes and text
    for cause in causes:
        assert cause.title in text and set(cause.missing) <= set(basic.missing_tables)
        assert set(cause.missing) <= set(BY_ID[cause.cause].tables)
    for table in {table for cause in causes for table in cause.missing}:
        assert table in text.split("upload again:")[1]
    assert "mailboxes" in text


def test_html_report_opens_with_the_headline_and_warns_of_a_partial_snapshot(demo, basic):
    page = exports.report_html(demo).decode("utf-8")
    sentence = headline.headline(demo).sentence
    assert sentence in page and page.index(sentence) < page.index("Fix first")
    assert "Partial snapshot" not in page
    partial = exports.report_html(basic).decode("utf-8")
    assert "Partial snapshot" in partial
    assert headline.partial_warning(basic).replace("'", "&#39;") in partial
    assert partial.index("Partial snapshot") < partial.index("Fix first")


def test_html_report_is_small_draws_no_script_and_bounds_its_email_list(demo):
    page = exports.report_html(demo)
    assert len(page) < 1_500_000, len(page)
    text = page.decode("utf-8")
    assert "<script" not in text  # no chart library at all: charts are HTML and SVG
    assert text.count('<div class="chart') == 4
    assert text.count('<td class="id">') == demo.summary()["not_converted"]  # all listed for 400 emails
    started = time.perf_counter()
    big = diagnose(load_uploaded(list(demo_files(5000).items())))
    pending = big.summary()["not_converted"]
    assert pending > exports.HTML_EMAIL_LIMIT
    page = exports.report_html(big)
    assert len(page) < 1_500_000, len(page)
    text = page.decode("utf-8")
    assert text.count('<td class="id">') == exports.HTML_EMAIL_LIMIT
    assert f"The first {exports.HTML_EMAIL_LIMIT:,} of {pending:,}" in text
    assert time.perf_counter() - started < 60


def test_charts_and_tables_leave_working_as_designed_out(demo):
    from diagnostics import app_state

    summary = demo.summary()
    assert app_state.primary_cause_counts(demo)["count"].sum() == summary["needs_action"]
    long, _totals = app_state.daily_counts(demo)
    assert long["count"].sum() == summary["needs_action"]
    stages = app_state.funnel(demo)
    assert stages["remaining"].iloc[0] + stages["dropped"].iloc[0] == summary["incoming"] - summary["by_design"]
    assert stages["remaining"].iloc[-1] == summary["converted"]
    matrix = app_state.queue_cause_matrix(demo, limit=100)
    emails, extra = app_state.counted_twice(demo, needing_action=True)
    assert int(matrix.values.sum()) == summary["needs_action"] + extra
    health = app_state.queue_health(demo)
    _emails, extra_incoming = app_state.counted_twice(demo)
    assert health["emails"].sum() == summary["incoming"] + extra_incoming
    assert (health["converted"] + health["not_converted"] + health["by_design"] == health["emails"]).all()


def test_cli_text_opens_with_the_headline(tmp_path, capsys):
    from diagnostics.cli import main

    snapshot = tmp_path / "demo.zip"
    assert main(["demo", str(snapshot)]) == 0
    assert snapshot.is_file()  # a zip, not a folder named demo.zip
    capsys.readouterr()
    assert main(["diagnose", str(snapshot), "--format", "text"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert re.match(r"\d+ of \d+ incoming emails \(\d+ \w{3} – \d+ \w{3} \d{4}\) did not become cases;", first)


# --------------------------------------------------------------------------- the app (AppTest)

def _app(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(query)
    return at.run()


def _page_text(at: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "caption", "warning") for element in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(part) for part in parts))


def test_overview_opens_with_the_headline_and_shows_by_design_apart(demo, store_path):
    at = _app()
    assert not at.exception
    first = next(item.value for item in at.markdown if item.value.startswith("#### "))
    assert re.sub(r"\\(.)", r"\1", first) == "#### " + headline.headline(demo).sentence
    metrics = {item.label: item.value for item in at.metric}
    summary = demo.summary()
    assert metrics["Not converted, needs action"] == f"{summary['needs_action']:,}"
    assert metrics["Working as designed"] == f"{summary['by_design']:,}"
    rate = summary["converted"] / (summary["incoming"] - summary["by_design"])
    assert metrics["Conversion rate"] == f"{rate:.1%}"
    assert not [item for item in at.warning if "Partial snapshot" in (item.proto.title or "")]  # complete


def test_overview_of_a_partial_upload_warns_first(basic, store_path):
    at = _app()
    at.switch_page("pages/upload.py").run()
    uploader = next(widget for widget in at.file_uploader if widget.key.startswith("snapshot_files"))
    uploader.set_value([("basic.zip", zip_folder(BASIC), "application/zip")])
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    warning = at.warning[0]
    assert "Partial snapshot" in (warning.proto.title or "")
    text = re.sub(r"\\(.)", r"\1", warning.value)
    for cause in headline.unchecked_causes(basic):
        assert cause.title in text
    assert headline.headline(basic).sentence in _page_text(at)


def test_a_wrong_file_type_is_refused_in_one_line(store_path):
    at = _app()
    at.switch_page("pages/upload.py").run()
    uploader = next(widget for widget in at.file_uploader if widget.key.startswith("snapshot_files"))
    uploader.set_value([("notes.txt", b"hello", "text/plain")])
    at.run()
    assert not at.exception
    errors = [re.sub(r"\\(.)", r"\1", error.value) for error in at.error]
    assert errors == ["notes.txt: not a snapshot file. Upload a .zip of the exported tables, the .json files "
                      "themselves, or a Configuration Migration data.zip or data.xml."]
    assert at.title[0].value == "Upload snapshot"


def test_hop_table_shows_a_dash_for_what_a_received_line_lacks(store_path):
    at = _app()
    at.switch_page("pages/check_email.py").run()
    at.text_area[0].input("Received: by mx.contoso.com; Wed, 4 Nov 2026 10:00:05 +0000\n"
                          "Received: from relay.example by mx.example with ESMTP; Wed, 4 Nov 2026 10:00:00 +0000\n"
                          "From: a@example.com\nTo: help@contoso.com\nSubject: hi\nMessage-ID: <hop@example.com>\n")
    next(button for button in at.button if button.label == "Check this email").click()
    at.run()
    assert not at.exception
    hops = next(frame.value for frame in at.dataframe if "delay (s)" in frame.value.columns)
    cells = [str(value) for column in hops.columns for value in hops[column]]
    assert "None" not in cells and "nan" not in cells
    assert "—" in list(hops["from"]) and "—" in list(hops["with"])  # the first line has no from, no with


def test_a_bar_or_a_plan_link_lists_as_many_emails_as_it_counts(demo):
    from diagnostics import app_state

    for row in app_state.primary_cause_counts(demo).itertuples():  # a click on a bar of the cause chart
        wanted = app_state.filter_from_params({"cause": row.cause, "verdict": "not-converted", "action": "1"}, demo)
        assert len(app_state.filter_emails(demo, wanted)) == row.count, row.cause
    replies = next(entry for entry in app_state.plan_entries(demo) if entry.cause == "reply-to-tracked-email")
    wanted = app_state.filter_from_params({"cause": replies.cause, "verdict": "not-converted", "any": "1",
                                           "action": "1"}, demo)
    assert len(app_state.filter_emails(demo, wanted)) == replies.blocked  # the faults, not the by-design replies
