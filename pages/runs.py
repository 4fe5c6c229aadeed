"""Runs: keep the current diagnosis under a name, to compare it with a later one; list, open and delete kept runs."""

from datetime import UTC, datetime

import streamlit as st

from diagnostics.report import Report
from diagnostics.store import RunStore, StoreError, run_id
from pages import _team as team
from pages import _ui as ui

ui.routed("runs")

cur = ui.require_report()
st.title("Runs")
ui.banner(cur)
me = team.person()
st.markdown("Keep a diagnosis as a **run**, fix what it found, export again a day later, and **compare** the two "
            "runs to see whether emails now become cases. A run stores the evaluated report, never the snapshot.")
if me is not None:
    where = ("**Where your runs are:** this list shows the runs kept by you and the people of your organisation, "
             "from any browser or server of this app, until they expire. Only whoever kept a run (or an admin) "
             "can delete it.")
elif team.this_browser() is not None:
    where = ("**Where your runs are:** this list shows the runs kept **from this browser**, also after you close "
             "it, until they expire. In another browser or on another computer, open a run through its link, "
             "which is shown here only in the session that kept it (the server keeps a fingerprint of it, "
             "never the link): copy it if you will need it elsewhere. Whoever runs the server can list every run "
             "with `python -m diagnostics runs list`.")
else:
    where = ("**Where your runs are:** this list shows the runs kept in this session only. Copy a run's link to "
             "open it later; whoever runs the server can list every run with `python -m diagnostics runs list`.")
st.markdown(where)

kept = st.session_state.setdefault(ui.KEPT_RUNS, [])

if cur.kind != "shared":
    default_name = f"{ui.organisation(cur)} {datetime.now(UTC):%Y-%m-%d}"
    with st.form("keep_run", border=True):
        st.markdown(f"**Keep the current report:** {ui.md(cur.label)}")
        name = st.text_input("Name of the run", value=default_name, max_chars=120)
        days = st.number_input("Keep it for (days)", min_value=1, max_value=365, value=30, step=1)
        keep = st.form_submit_button("Keep this run", type="primary", icon=":material/bookmark_add:")
    if keep:
        name = name.strip() or default_name
        try:
            with st.spinner("Saving the run…"):
                token = RunStore().save(cur.report.to_json(), ttl_days=int(days), name=name,
                                        browser_key=team.this_browser() or "", **team.creator())
        except StoreError as error:
            ui.LOG.error("could not keep a run: %s", error)
            st.error("The run could not be saved; try again later.")
        else:
            kept.append({"token": token, "run_id": run_id(token), "name": name, "kind": "report",
                         "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "days": int(days)})
            st.success(f"Kept as {ui.md(name)}.", icon=":material/check_circle:")


def _open(run: team.KeptRun) -> None:
    """Open a kept report read-only as this session's report, or a kept comparison on the Compare page."""
    found = team.load_kept(run.run_id)
    if found is None:
        st.error("This run has expired or was deleted.")
        return
    team.record_open(run.token, found)
    if run.kind == "comparison":
        st.session_state["comparison"] = found.report
        st.switch_page(ui.COMPARE)
    try:
        report = Report.from_dict(found.report)
    except (KeyError, TypeError, ValueError):
        st.error("This run cannot be read.")
        return
    ui.show_shared(report, found, run.token)
    st.switch_page(ui.OVERVIEW)


def _delete(run: team.KeptRun) -> None:
    try:
        RunStore().delete_run(run.run_id)
    except StoreError as error:
        ui.LOG.error("could not delete a run: %s", error)
        st.error("The run could not be deleted; try again later.")
        return
    kept[:] = [entry for entry in kept if entry.get("run_id") != run.run_id]
    st.rerun()


st.subheader("Runs of your organisation" if me is not None else "Kept runs")
runs = team.kept_runs()
if not runs:
    st.caption("No run kept yet. Keep the current report above, then compare it with a later export.")
for index, run in enumerate(runs):
    with st.container(border=True):
        kind = "Comparison" if run.kind == "comparison" else "Report"
        by = f" by **{ui.md(run.created_by)}**" if me is not None else ""
        until = f", until {ui.md(run.expires_at[:10])}" if run.expires_at else ""
        st.markdown(f"**{ui.md(run.name or '(unnamed)')}** · {kind} · kept {ui.md(ui.when(run.created_at))}"
                    f"{by}{until}")
        if run.token:
            path = "compare?compare=" if run.kind == "comparison" else "?run="
            st.code(f"{ui.app_url()}{path}{run.token}", language=None, wrap_lines=True)
        if me is not None and run.creator_oid == me.oid:
            ui.openings_caption(run.run_id)
        with st.container(horizontal=True):
            if st.button("Open", key=f"open_run_{run.run_id}_{index}", icon=":material/open_in_new:"):
                _open(run)
            if team.may_manage(run.creator_oid, run.creator_tid) and st.button(
                    "Delete this run", key=f"delete_run_{run.run_id}_{index}", icon=":material/delete:"):
                _delete(run)
st.page_link(ui.COMPARE, label="Compare two runs", icon=":material/compare_arrows:")
