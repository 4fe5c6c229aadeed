"""The History page through AppTest: three kept watch runs, an alert, a run opened, two runs compared."""

from __future__ import annotations

import pytest
from conftest import APP
from streamlit.testing.v1 import AppTest
from test_watch import three_watch_rounds

from diagnostics.demo import demo_files

TIMEOUT = 120


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return demo_files(120)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [exception.value for exception in at.exception]


def history(store_path, files) -> tuple[AppTest, str]:
    organisation = three_watch_rounds(files, store_path)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("pages/history.py").run()
    no_exception(at)
    return at, organisation


def test_history_shows_three_runs_and_the_alert_and_compares_two(store_path, files):
    at, organisation = history(store_path, files)
    assert at.selectbox(key="history_org").value == organisation
    assert len(at.get("plotly_chart")) == 1
    picker = at.multiselect(key="history_picked")
    assert len(picker.options) == 3 and picker.value == []
    alerts = [expander.label for expander in at.expander]
    assert len(alerts) == 1 and "got worse" in alerts[0]
    assert "Helpdesk email to case" in " ".join(text.value for text in at.text)
    compare = next(button for button in at.button if button.label == "Compare the two runs")
    assert compare.disabled

    first, last = picker.options[0], picker.options[2]
    picker.set_value([first, last]).run()
    next(button for button in at.button if button.label == "Compare the two runs").click().run()
    no_exception(at)
    page = "\n".join(item.value for item in at.markdown)
    assert "New (" in page and "Fixed (" in page, page
    assert len(at.get("plotly_chart")) == 2  # the Compare page's two charts
    said = at.info[-1].value.replace("\\", "")
    assert said.startswith("Two watch runs of " + organisation.removeprefix("http://"))
    assert said.count("became cases") == 2


def test_history_opens_one_run(store_path, files):
    at, organisation = history(store_path, files)
    picker = at.multiselect(key="history_picked")
    picker.set_value([picker.options[1]]).run()
    next(button for button in at.button if button.label == "Open this run").click().run()
    no_exception(at)
    host = organisation.removeprefix("http://")
    assert any(f"Opened the watch run of {host}:" in item.value.replace("\\", "") for item in at.success)
    assert any(item.label == "Incoming" for item in at.metric)


def test_history_without_watch_runs_says_how_to_start(store_path):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("pages/history.py").run()
    no_exception(at)
    assert any("python -m diagnostics watch ORG_URL" in item.value for item in at.info)
