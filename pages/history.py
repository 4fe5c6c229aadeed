"""History: an organisation's watch rounds over time; a point opens its run, two points open Compare."""

import sqlite3
from urllib.parse import urlsplit

import streamlit as st

from diagnostics.compare import compare
from diagnostics.history import history_figure, history_frame, run_label
from diagnostics.report import Report
from diagnostics.store import RunStore
from pages import _ui as ui

ui.routed("history")

PICKED = "history_picked"  # the multiselect's key: the runs picked, by id, at most two
LAST_SELECTION = "history_last_selection"  # the chart selection already turned into picks

st.title("History")
st.markdown("Each point is a round of `python -m diagnostics watch` (see the README to schedule it). Click a "
            "point to pick its run, then **open** it or pick a second point and **compare** the two.")


def _picks_from_chart(points: list[dict], run_ids: list[str]) -> None:
    """A new chart selection adds its runs to the picks (a several at once: the first and the last)."""
    selected = list(dict.fromkeys(str(point["customdata"]) for point in points
                                  if isinstance(point.get("customdata"), str) and point["customdata"] in run_ids))
    if not selected or tuple(selected) == st.session_state.get(LAST_SELECTION):
        return
    st.session_state[LAST_SELECTION] = tuple(selected)
    ends = sorted(selected, key=run_ids.index)
    ends = [ends[0], ends[-1]] if len(ends) > 1 else ends
    picked = [run_id for run_id in st.session_state.get(PICKED, []) if run_id not in ends] + ends
    st.session_state[PICKED] = picked[-2:]


def _load(store: RunStore, run_id: str) -> dict | None:
    run = store.load_watch_run(run_id)
    return run.report if run is not None else None


def _open(store: RunStore, run_id: str, label: str, organisation: str) -> None:
    report = _load(store, run_id)
    if report is None:
        st.error("This run has expired; pick another.")
        return
    host = urlsplit(organisation).netloc or organisation
    ui.open_report(Report.from_dict(report), f"Watch run of {host}: {label}",
                   f"Opened the watch run of {host}: {label}.")
    st.switch_page(ui.OVERVIEW)


def _compare(store: RunStore, picked: list[str], run_ids: list[str], labels: dict[str, str], host: str) -> None:
    before, after = sorted(picked, key=run_ids.index)
    reports = _load(store, before), _load(store, after)
    if None in reports:
        st.error("One of the runs has expired; pick another.")
        return
    st.session_state[ui.COMPARISON] = compare(*reports)
    st.session_state[ui.COMPARISON_OF] = (f"Two watch runs of {host}: before, {labels[before]}; after, "
                                          f"{labels[after]}.")
    st.switch_page(ui.COMPARE)


def _alerts(alerts: list) -> None:
    st.subheader("Alerts sent")
    if not alerts:
        st.caption("No alert yet: nothing got worse since the watch started.")
    for alert in alerts[:20]:
        state = "" if alert.delivered else " · not delivered"
        with st.expander(ui.md(f"{alert.sent_at.replace('T', ' ')[:16]} UTC · {alert.title}{state}"),
                         icon=":material/notifications:" if alert.delivered else ":material/notifications_off:"):
            st.text(alert.body)


store = RunStore()
try:
    organisations = store.watch_organisations()
except (sqlite3.Error, OSError) as error:
    ui.LOG.error("could not read the watch history: %s", error)
    st.error("The run store cannot be read; try again later.")
    st.stop()
if not organisations:
    st.info("No organisation is watched into this app's store yet. Run `python -m diagnostics watch ORG_URL` "
            "with the same DIAGNOSTICS_STORE, every 30 minutes from a scheduler.", icon=":material/monitoring:")
    st.stop()

organisation = st.selectbox("Organisation", organisations, key="history_org")
frame = history_frame(store.watch_runs(organisation))
alerts = store.watch_alerts(organisation)
run_ids = frame["run_id"].tolist()
labels = {row["run_id"]: run_label(row) for _, row in frame.iterrows()}

if frame.empty:
    st.caption("No kept run: every round since the last expired one failed. The alerts below say why.")
else:
    points = ui.chart(history_figure(frame, alerts), key=f"history_chart_{organisation}")
    _picks_from_chart(points, run_ids)
    st.session_state[PICKED] = [run_id for run_id in st.session_state.get(PICKED, []) if run_id in labels]
    picked = st.multiselect("Picked runs", run_ids, format_func=lambda run_id: labels[run_id], max_selections=2,
                            key=PICKED, placeholder="Click a point of the chart, or pick runs here")
    with st.container(horizontal=True, gap="small"):
        if st.button("Open this run", icon=":material/open_in_new:", disabled=not picked, key="history_open"):
            _open(store, picked[-1], labels[picked[-1]], organisation)
        if st.button("Compare the two runs", icon=":material/compare_arrows:", type="primary",
                     disabled=len(picked) != 2, key="history_compare"):
            _compare(store, picked, run_ids, labels, urlsplit(organisation).netloc or organisation)
_alerts(alerts)
