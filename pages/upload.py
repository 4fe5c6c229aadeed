"""Upload snapshot: a .zip, several .json files, or a Configuration Migration data.zip/data.xml, diagnosed in stages."""

import time

import streamlit as st

from diagnostics import pipeline
from diagnostics.errors import DiagnosisError
from diagnostics.snapshot import Snapshot
from pages import _ui as ui
from pages._connect import connect_panel

ui.routed("upload")

SNAPSHOT_TYPES = (".zip", ".json", ".xml")

st.title("Upload snapshot")
st.markdown("Upload the Web API JSON files you exported (zipped, or several `.json` files at once), or a "
            "Configuration Migration tool `data.zip`. The snapshot is read in this session only and never stored; "
            "the results are kept for a day behind a private link in the address bar, so a reload keeps them.")
st.page_link(ui.GUIDE, label="How to export a snapshot from your environment", icon=":material/help:")
connect_panel()

# Any type is taken and checked below: a file the uploader refuses by its type shows only a red icon.
files = st.file_uploader("Snapshot files (.zip, .json or .xml)", accept_multiple_files=True,
                         key=ui.uploader_key(),
                         help="emails.json, queues.json, … (paged parts as emails.2.json), or one .zip of them.")


def _show_loaded(status):  # noqa: ANN001, ANN202 - a Streamlit status element
    """What was read, shown while the snapshot is evaluated. Written into without "with status:": leaving that
    block marks the status complete (a check mark) while the diagnosis still runs."""
    def show(snapshot: Snapshot) -> None:
        counts = snapshot.counts
        status.update(label=f"Read {sum(counts.values()):,} records in {len(counts)} tables; evaluating…",
                      state="running", expanded=True)
        status.text(", ".join(f"{table} {count:,}" for table, count in sorted(counts.items())))
        if snapshot.ignored_files:
            status.text("Ignored (not a table the diagnosis reads): " + ", ".join(snapshot.ignored_files[:20]))
        for note in snapshot.notes[:20]:
            status.text(note)

    return show


def _diagnose(uploaded: list) -> None:
    state = st.session_state
    started = time.monotonic()
    status = st.status("Reading the snapshot…", expanded=True)
    bar = status.progress(0.0, text="Starting")
    line = status.empty()
    try:
        diagnosed = pipeline.load_and_diagnose([(file.name, file.getvalue()) for file in uploaded],
                                               progress=ui.stage_progress(bar, line), loaded=_show_loaded(status))
    except DiagnosisError as error:
        status.update(label="The snapshot could not be read", state="error", expanded=False)
        if error.reason == "busy":  # a new diagnosis waits, open sessions go on; the refused files are dropped
            state["upload_busy"] = str(error)
            ui.release_upload(uploaded)
            st.rerun()
        state["upload_error"] = str(error)
        return
    names = ", ".join(file.name for file in uploaded)
    label = uploaded[0].name if len(uploaded) == 1 else f"{len(uploaded)} files ({names[:80]})"
    ui.set_upload(diagnosed, label)
    ui.release_upload(uploaded)
    status.update(label="Done", state="complete", expanded=False)
    summary = diagnosed.report.summary()
    state[ui.FLASH] = (f"Diagnosed {label}: {summary['incoming']:,} incoming emails, {summary['converted']:,} "
                       f"converted, {summary['not_converted']:,} not converted "
                       f"({time.monotonic() - started:.1f} s).")
    st.switch_page(ui.OVERVIEW)


def _wrong_type(uploaded: list) -> str | None:
    """One line naming the files that cannot be a snapshot by their type, or None."""
    wrong = [file.name for file in uploaded if not file.name.lower().endswith(SNAPSHOT_TYPES)]
    if not wrong:
        return None
    listed = ", ".join(wrong[:3]) + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
    return (f"{listed}: not a snapshot file. Upload a .zip of the exported tables, the .json files themselves, or "
            "a Configuration Migration data.zip or data.xml.")


busy = st.session_state.pop("upload_busy", None)
if busy:
    st.warning(busy, icon=":material/hourglass_top:")
wrong_type = st.session_state.pop("upload_wrong_type", None)
if wrong_type:
    st.error(ui.md(wrong_type), icon=":material/error:")

if files:
    signature = tuple((file.file_id, file.name, file.size) for file in files)
    if st.session_state.get("upload_signature") != signature:
        st.session_state["upload_signature"] = signature
        st.session_state.pop("upload_error", None)
        wrong_type = _wrong_type(files)
        if wrong_type:  # nothing read: the uploader is emptied and the line says why
            st.session_state["upload_wrong_type"] = wrong_type
            ui.release_upload(files)
            st.rerun()
        _diagnose(files)
    error = st.session_state.get("upload_error")
    if error:
        st.error(ui.md(error), icon=":material/error:", title="This snapshot could not be read")
        cur = ui.current()
        kept = "the demo report" if cur is None or cur.kind == "demo" else "the report you had before"
        st.caption(f"Nothing was loaded from it; the app still shows {kept}. Fix the file and upload it again.")
else:
    st.session_state.pop("upload_signature", None)
    st.session_state.pop("upload_error", None)
    cur = ui.current()
    if cur is not None and cur.kind == "upload":
        st.caption("Current report: " + ui.md(cur.label))
