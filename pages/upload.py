"""Upload snapshot: a .zip, several .json files, or a Configuration Migration data.zip/data.xml, diagnosed in stages."""

import logging
import time

import streamlit as st

from diagnostics import app_state, budget
from diagnostics.errors import SnapshotError
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_uploaded
from pages import _ui as ui
from pages._connect import connect_panel

ui.routed("upload")

LOG = logging.getLogger("diagnostics.app")
STAGES = {"reading": "Reading files", "validating": "Validating tables", "evaluating": "Evaluating causes"}
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


def _progress(bar, line):  # noqa: ANN001, ANN202 - Streamlit elements
    """A progress callback that shows stage, counts and item, at most four updates a second."""
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.25 and done < total:
            return
        last[0] = now
        verb, _, item = stage.partition(" ")
        name = STAGES.get(verb, verb.capitalize())
        if verb == "evaluating":
            item = app_state.cause_label(item)
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"{name}: {done:,} of {total:,}")
        line.text(item)

    return report


def _diagnose(uploaded: list) -> None:  # noqa: C901 - one linear story with its error exits
    state = st.session_state
    started = time.monotonic()
    # Written into without "with status:": leaving that block marks the status complete (a check mark) while
    # the diagnosis still runs.
    status = st.status("Reading the snapshot…", expanded=True)
    bar = status.progress(0.0, text="Starting")
    line = status.empty()
    progress = _progress(bar, line)
    names = ", ".join(file.name for file in uploaded)
    try:
        snapshot = load_uploaded([(file.name, file.getvalue()) for file in uploaded], progress=progress)
        counts = snapshot.counts
        status.update(label=f"Read {sum(counts.values()):,} records in {len(counts)} tables; evaluating…",
                      state="running", expanded=True)
        status.text(", ".join(f"{table} {count:,}" for table, count in sorted(counts.items())))
        if snapshot.ignored_files:
            status.text("Ignored (not a table the diagnosis reads): " + ", ".join(snapshot.ignored_files[:20]))
        for note in snapshot.notes[:20]:
            status.text(note)
        report = diagnose(snapshot, progress=progress)
    except SnapshotError as error:
        status.update(label="The snapshot could not be read", state="error", expanded=False)
        state["upload_error"] = str(error)
        return
    except MemoryError:
        status.update(label="The snapshot could not be read", state="error", expanded=False)
        state["upload_error"] = f"{names}: too large for this server's memory"
        return
    except Exception as error:  # noqa: BLE001 - the app must carry on whatever the input does
        LOG.exception("unexpected error while diagnosing an upload")
        status.update(label="The snapshot could not be read", state="error", expanded=False)
        state["upload_error"] = f"{names}: unexpected {type(error).__name__} while reading it"
        return
    summary = report.summary()
    label = uploaded[0].name if len(uploaded) == 1 else f"{len(uploaded)} files ({names[:80]})"
    ui.set_upload(report, snapshot, label)
    del snapshot  # set_upload kept the tables "Check one email" reads
    ui.release_upload(uploaded)
    status.update(label="Done", state="complete", expanded=False)
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
        refused = budget.refusal()
        if refused:  # the server is near its memory budget: a new diagnosis waits, open sessions go on
            LOG.warning("upload refused: the server holds %d MiB, over its budget", budget.resident_bytes() >> 20)
            st.session_state["upload_busy"] = refused
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
