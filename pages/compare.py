"""Compare: did the fix work? Two runs (or the current report and a new upload) side by side, by cause and queue."""

import pandas as pd
import streamlit as st

from diagnostics import app_state, charts, pipeline
from diagnostics.compare import RULE_TAKES_NEW_MAIL, SAME_PERIOD, compare, verdict, without_subjects
from diagnostics.errors import DiagnosisError, SnapshotError
from diagnostics.store import RunStore, StoreError, run_id
from pages import _team as team
from pages import _ui as ui

ui.routed("compare")

COMPARISON = ui.COMPARISON  # session key: the comparison shown on this page
COMPARED_UPLOAD = "compared_upload"  # session key: the file names of an upload compared as the after run
UPLOADER = "compare_upload"  # the after-run uploader (a fresh, empty one once its files are diagnosed)
CURRENT_OPTION = "current"

st.title("Compare two runs")


def _open_shared(token: str) -> dict | None:
    """The comparison behind a link, when it is one and this person may open it (else None: one message)."""
    try:
        run = RunStore().lookup(token)
        if run is None or run.kind != "comparison" or not team.may_open(run):
            return None
        team.record_open(token, run)
        run = RunStore().load(token)
    except (StoreError, OSError) as error:
        ui.LOG.warning("could not open a shared comparison: %s", error)
        return None
    return run.report if run is not None else None


def _choices(cur: ui.Current | None) -> dict[str, str]:
    """Kept runs, newest first, then the current report: by default the last kept run is *before* and the
    current report *after*."""
    options = {run.run_id: f"Kept run: {run.name} ({ui.when(run.created_at)})"
               for run in team.kept_runs() if run.kind == "report"}
    if cur is not None:
        options[CURRENT_OPTION] = f"Current report: {cur.label}"
    return options


def _report_of(choice: str, cur: ui.Current | None) -> dict | None:
    if choice == CURRENT_OPTION:
        return cur.report.to_dict() if cur is not None else None
    run = team.load_kept(choice)
    return run.report if run is not None else None


def _pick(cur: ui.Current | None) -> None:
    options = _choices(cur)
    st.markdown("Pick the run **before** the fix and the run **after** it, or upload a new export to compare "
                "with the current report. Keep runs on the Runs page.")
    st.page_link(ui.RUNS, label="Keep the current report as a run", icon=":material/bookmark_add:")
    labels = list(options.values())
    keys = list(options)
    left, right = st.columns(2)
    before = left.selectbox("Before", range(len(keys)), format_func=lambda i: labels[i], key="compare_before")
    after = right.selectbox("After", range(len(keys)), index=len(keys) - 1 if keys else None,
                            format_func=lambda i: labels[i], key="compare_after",
                            disabled=bool(st.session_state.get(ui.uploader_key(UPLOADER))),
                            help="Not used while a snapshot is uploaded below: the upload is the after run.")
    upload = right.file_uploader("…or upload a newer snapshot as the after run", type=["zip", "json", "xml"],
                                 accept_multiple_files=True, key=ui.uploader_key(UPLOADER))
    if not st.button("Compare", type="primary", icon=":material/compare_arrows:", disabled=not keys):
        return
    try:
        with st.spinner("Comparing…"):
            old = _report_of(keys[before], cur)
            new = _uploaded_report(upload) if upload else _report_of(keys[after], cur)
            if old is None or new is None:
                st.error("A kept run has expired or was deleted; pick another.")
                return
            st.session_state[COMPARISON] = compare(old, new)
            st.session_state.pop(ui.COMPARISON_OF, None)  # picked here, not opened from History
            st.session_state[COMPARED_UPLOAD] = ", ".join(file.name for file in upload) if upload else None
    except DiagnosisError as error:
        if error.reason == "busy":
            st.warning(str(error), icon=":material/hourglass_top:")
        else:
            st.error(f"The snapshot could not be read: {error}")
    except SnapshotError as error:
        st.error(f"The snapshot could not be read: {error}")


def _uploaded_report(upload: list) -> dict:
    """The after run from an upload, its fix plan with record ids (entries match the kept run's by record);
    the uploaded files are released once diagnosed, or when the server is busy."""
    try:
        report = pipeline.load_and_diagnose([(file.name, file.getvalue()) for file in upload], keep=()).report
    except DiagnosisError as error:
        if error.reason == "busy":
            ui.release_upload(upload, UPLOADER)
        raise
    ui.release_upload(upload, UPLOADER)
    return report.to_dict()


def _kpis(result: dict) -> None:
    totals = result["totals"]
    per_day = result["per_day"]
    key = "_per_day" if per_day else ""
    blocked = totals["not_converted"]
    with st.container(horizontal=True, wrap=True, gap="small"):
        st.metric("Not converted, before" + (" (per day)" if per_day else ""), f"{blocked['before' + key]:,}",
                  width=220)
        st.metric("Not converted, after" + (" (per day)" if per_day else ""), f"{blocked['after' + key]:,}",
                  delta=blocked["delta" + key], delta_color="inverse", width=220)
        for name in ("before", "after"):
            rate = totals[f"rate_{name}"]
            st.metric(f"Share not converted, {name}", "—" if rate is None else f"{rate:.0%}", width=200)
    periods = result["periods"]
    st.caption(" · ".join(f"{name.capitalize()}: {ui.md(period['from'] or '—')} to {ui.md(period['to'] or '—')} "
                          f"({period['days']} days)" for name, period in periods.items())
               + (". The periods differ in length, so counts are compared per day." if per_day else ""))


def _findings(result: dict) -> None:
    findings = result["findings"]
    titles = {"fixed": ("Fixed", ":material/check_circle:"), "new": ("New", ":material/error:"),
              "remaining": ("Remaining", ":material/pending:")}
    columns = st.columns(3)
    for column, (status, (title, icon)) in zip(columns, titles.items(), strict=True):
        entries = findings[status]
        column.markdown(f"#### {title} ({len(entries)})")
        if not entries:
            column.caption("None.")
        for entry in entries:
            cause = entry.get("cause") or entry.get("id")
            column.markdown(f"{icon} **{ui.md(entry['label'])}**  \n{ui.md(app_state.cause_title(cause))}")
            if entry.get("changed"):
                column.caption(":material/schedule: " + RULE_TAKES_NEW_MAIL)
    if findings["remaining"]:
        columns[2].caption("A rule or setting changed after the emails arrived does not process them again: only "
                           "mail received after the change shows the effect.")


def _evidence(result: dict) -> None:
    evidence = result["now_converting"]
    st.markdown(f"**Evidence that the fix works:** {app_state.plural(evidence['same_sender'], 'sender')} and "
                f"{app_state.plural(evidence['same_queue'], 'queue')} that were blocked before have emails converted "
                "after.")
    if evidence["examples"]:
        rows = pd.DataFrame([{"Matched by": example["matched_by"], "Sender": example["sender"],
                              "Queue": example["queue"], "Before": example["before"]["subject"],
                              "Blocked by": app_state.cause_label(example["before"]["primary_cause"]),
                              "After (converted)": example["after"]["subject"]} for example in evidence["examples"]])
        st.dataframe(rows, hide_index=True, width="stretch")


def _share(result: dict) -> None:
    with st.popover("Share this comparison", icon=":material/share:"):
        with st.form("share_comparison", border=False):
            name = "" if team.person() is not None else st.text_input("Your name or team", max_chars=80)
            mask = st.checkbox("Mask email addresses and subjects")
            days = st.number_input("Link expires after (days)", min_value=1, max_value=365, value=30)
            create = st.form_submit_button("Create share link", type="primary", icon=":material/link:")
        if create:
            try:
                shared = without_subjects(result) if mask else result
                who = team.creator() if team.person() is not None else {"created_by": name.strip() or "an admin"}
                token = RunStore().save(shared, ttl_days=int(days), mask=mask, name="comparison",
                                        kind="comparison", browser_key=team.this_browser() or "", **who)
            except (StoreError, OSError) as error:
                ui.LOG.error("could not share a comparison: %s", error)
                st.error("The comparison could not be saved for sharing; try again later.")
            else:
                st.session_state.setdefault(ui.KEPT_RUNS, []).append({
                    "token": token, "run_id": run_id(token), "name": "comparison", "kind": "comparison",
                    "days": int(days), "created": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")})
                st.code(f"{ui.app_url()}compare?compare={token}", language=None, wrap_lines=True)


def _show(result: dict, read_only: bool) -> None:
    st.markdown(f"#### {ui.md(verdict(result))}")
    if result.get("same_period"):
        st.warning(SAME_PERIOD, icon=":material/date_range:", title="Same period")
    _kpis(result)
    st.plotly_chart(charts.comparison_by_cause(result), key="compare_causes", config=ui.PLOTLY_CONFIG)
    _findings(result)
    st.plotly_chart(charts.comparison_by_queue(result), key="compare_queues", config=ui.PLOTLY_CONFIG)
    _evidence(result)
    if not read_only:
        _share(result)


token = st.query_params.get("compare")
if token:
    shared = _open_shared(token)
    if shared is None:
        st.warning("This comparison link is unknown, has expired or was revoked. Ask whoever sent it for a new "
                   "link.", icon=":material/link_off:")
    else:
        st.info("A shared comparison, read-only.", icon=":material/share:")
        _show(shared, read_only=True)
else:
    cur = ui.current()
    if cur is not None:
        ui.banner(cur)
    _pick(cur)
    if COMPARISON in st.session_state:
        if st.session_state.get(COMPARED_UPLOAD):
            st.caption("After: the uploaded snapshot " + ui.md(st.session_state[COMPARED_UPLOAD]))
        if st.session_state.get(ui.COMPARISON_OF):
            st.info(ui.md(st.session_state[ui.COMPARISON_OF]), icon=":material/monitoring:")
        _show(st.session_state[COMPARISON], read_only=False)
