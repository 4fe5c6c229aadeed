"""Runs: keep the current diagnosis under a name, to compare it with a later one; list and delete kept runs."""

import sqlite3
import time
from datetime import UTC, datetime

import streamlit as st

from diagnostics.store import RunStore
from pages import _ui as ui

ui.routed("runs")

cur = ui.require_report()
st.title("Runs")
ui.banner(cur)
st.markdown("Keep a diagnosis as a **run**, fix what it found, export again a day later, and **compare** the two "
            "runs to see whether emails now become cases. A run stores the evaluated report, never the snapshot. "
            "It is private: only whoever holds its link can open it, and the list below shows the runs kept in "
            "this browser session.")

kept = st.session_state.setdefault(ui.KEPT_RUNS, [])

if cur.kind != "shared":
    default_name = f"{ui.organisation(cur)} {datetime.now(UTC):%Y-%m-%d}"
    with st.form("keep_run", border=True):
        st.markdown(f"**Keep the current report:** {ui.md(cur.label)}")
        name = st.text_input("Name of the run", value=default_name, max_chars=120)
        days = st.number_input("Keep it for (days)", min_value=1, max_value=365, value=30, step=1)
        keep = st.form_submit_button("Keep this run", type="primary", icon=":material/bookmark_add:")
    if keep:
        try:
            with st.spinner("Saving the run…"):
                token = RunStore().save(cur.report.to_json(), created_by="a run kept in the app",
                                        ttl_days=int(days), name=name.strip() or default_name)
        except (sqlite3.Error, OSError) as error:
            ui.LOG.error("could not keep a run: %s", error)
            st.error("The run could not be saved; try again later.")
        else:
            kept.append({"token": token, "name": name.strip() or default_name, "kind": "report",
                         "created": time.strftime("%Y-%m-%d %H:%M"), "days": int(days)})
            st.success(f"Kept as {ui.md(kept[-1]['name'])}.", icon=":material/check_circle:")

st.subheader("Runs kept in this session")
if not kept:
    st.caption("No run kept yet. Keep the current report above, then compare it with a later export.")
for index, run in enumerate(reversed(kept)):
    with st.container(border=True):
        kind = "Comparison" if run["kind"] == "comparison" else "Report"
        st.markdown(f"**{ui.md(run['name'])}** · {kind} · kept {ui.md(run['created'])}, "
                    f"for {run['days']} days")
        path = "compare?compare=" if run["kind"] == "comparison" else "?run="
        st.code(f"{ui.app_url()}{path}{run['token']}", language=None, wrap_lines=True)
        if st.button("Delete this run", key=f"delete_run_{index}_{run['token'][:10]}", icon=":material/delete:"):
            RunStore().revoke(run["token"])
            kept.remove(run)
            st.rerun()
st.page_link(ui.COMPARE, label="Compare two runs", icon=":material/compare_arrows:")
