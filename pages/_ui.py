"""What every page shares: the session's current report, banners, the email detail, sharing and exports.

Per-session isolation: an admin's report, snapshot, figures and share links live in ``st.session_state``
only. Two global caches: the demo, which is the same fictional data for everyone, and shared reports, one
parsed copy per link (sessions hold a reference; expiry and revocation are checked on every open). User data
(subjects, senders, names, file names, evidence) is never rendered as HTML: it goes through ``md`` (every
Markdown character escaped), ``st.text``, ``st.code``, ``st.json`` or ``st.dataframe``.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import streamlit as st

from diagnostics import app_state, charts, exports, malloc
from diagnostics import headline as headline_module
from diagnostics.cause_view import CauseView, cause_view
from diagnostics.pipeline import Diagnosed, diagnose_snapshot
from diagnostics.report import Report
from diagnostics.snapshot import Snapshot
from diagnostics.store import SharedRun, StoreError
from pages import _team as team

LOG = logging.getLogger("diagnostics.app")
OVERVIEW = "pages/overview.py"
UPLOAD = "pages/upload.py"
CHECK = "pages/check_email.py"
EMAILS = "pages/emails.py"
QUEUES = "pages/queues.py"
CAUSES = "pages/causes.py"
GUIDE = "pages/export_guide.py"
RUNS = "pages/runs.py"
COMPARE = "pages/compare.py"
HISTORY = "pages/history.py"
DEMO_LABEL = "Demo data: Contoso Coffee, a fictional organisation"
# One toolbar button per chart (download as PNG): a full toolbar adds a dozen tab stops per chart.
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtons": [["toImage"]],
                 "toImageButtonOptions": {"format": "png", "scale": 2}}
SEVERITY_ICON = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}
HEALTH_LABEL = {"error": "Problem", "warning": "Check", "ok": "OK"}
HEALTH_COLOR = {"Problem": "background-color: #FDE2E1; color: #9B1C1C", "Check": "background-color: #FEF3C7; "
                "color: #92400E", "OK": "background-color: #DCFCE7; color: #166534"}

# Session state keys
CURRENT = "current"  # the uploaded or shared report of this session (Current), absent for the demo
SHARE_ERROR = "share_error"  # a ?run= token that opened nothing ("refused": not for this person)
SEEN_RUN = "seen_run"  # the last ?run= token handled
SHARES = "my_shares"  # links created in this session (revocable)
FLASH = "flash"  # a one-time message for the next page
ROUTED = "routed"  # set by streamlit_app.py on every run
KEPT_RUNS = "kept_runs"  # runs (and comparisons) kept in this session: token, name, kind, created, days
PRIVATE_PARAM = "report"  # ?report=TOKEN: this browser's own upload, kept so a reload does not lose it
PRIVATE_OWNER = "(kept for reloads)"
PRIVATE_DAYS = 1
KEEP_AFTER_RUN = "keep_after_run"  # a new upload still to keep for reloads (see keep_upload_after_run)
COMPARISON = "comparison"  # the comparison the Compare page shows (History opens one there)
COMPARISON_OF = "comparison_of"  # what History compared, said above it
UPLOADER = "uploader_generation"  # bumped to give a page a fresh, empty file uploader (one count per uploader)
SNAPSHOT_FILES = "snapshot_files"  # the upload page's uploader
LINK_APPLIED = "emails_link_applied"  # the link whose filters the Emails page has set (see pages/emails.py)
SHARED_CACHE_ENTRIES = 4  # shared reports parsed and kept at once
SHARED_CACHE_TTL = 600  # seconds; sessions that opened a report keep it, later opens parse it again
FIGURE_CACHE_ENTRIES = 8  # figures kept per session, all of its current report


@dataclass
class Current:
    """The report a session is looking at."""

    kind: str  # "demo", "upload" or "shared"
    report: Report
    label: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    snapshot: Snapshot | None = None
    shared: dict | None = None  # created_by, created_at, expires_at, masked, token
    private: str | None = None  # the token that reopens an upload after a reload (never a share link)


# --------------------------------------------------------------------------- text

md = app_state.md_literal


def cause_md(cause_id: str | None) -> str:
    """A cause named as admins quote it: bold title, then the contract id as code."""
    return f"**{md(app_state.cause_title(cause_id))}** `{cause_id or app_state.UNEXPLAINED}`"


def scope_md(finding: dict) -> str:
    """What a finding is about, by name ("Rule 'Billing email to case'"); the record id stays in the detail."""
    label = str(finding.get("subject_label") or finding.get("subject") or "")
    return md(label[:1].upper() + label[1:])


def field_md(label: str, value: object) -> str:
    return f"**{label}:** {md(value) if value not in (None, '') else '—'}"


# --------------------------------------------------------------------------- routing

def routed(url_path: str) -> None:
    """Make sure the router ran: call first on every page.

    Until some session of the server process has called ``st.navigation``, Streamlit treats a ``pages/``
    folder as an old-style multipage app and runs a page opened by its URL (``/upload``) on its own,
    without ``streamlit_app.py``: no page config, no navigation, no ``?run=``. Such a first visit is sent
    through the router, which then opens the page asked for.
    """
    if not st.session_state.get(ROUTED):
        params: dict[str, str | list[str]] = {name: st.query_params.get_all(name) for name in st.query_params}
        st.switch_page("streamlit_app.py", query_params={**params, "page": url_path})


def follow_page_param(current: str, pages: dict[str, str]) -> None:
    """The router's half of ``routed``: open the page a redirected first visit asked for."""
    target = st.query_params.get("page")
    if target is None:
        return
    del st.query_params["page"]
    if target in pages and target != current:
        st.switch_page(pages[target], query_params={name: st.query_params.get_all(name) for name in st.query_params})


# --------------------------------------------------------------------------- the current report

@st.cache_data(show_spinner="Preparing the demo snapshot…", max_entries=1)
def demo_snapshot() -> Snapshot:
    """The embedded demo snapshot (the same fictional data for every session)."""
    from diagnostics.demo import demo_files
    from diagnostics.snapshot import load_uploaded

    return load_uploaded(list(demo_files().items()))


@st.cache_data(show_spinner="Diagnosing the demo snapshot…", max_entries=1)
def demo_report() -> Report:
    report = diagnose_snapshot(demo_snapshot())  # with its fix plan: record ids and links
    report.source = "demo snapshot (Contoso Coffee, fictional)"
    return report


def current() -> Current | None:
    """The session's report: its upload or shared run, else the demo; None after a dead share link."""
    state = st.session_state
    if CURRENT in state:
        return state[CURRENT]
    if state.get(SHARE_ERROR):
        return None
    return Current("demo", demo_report(), DEMO_LABEL, key="demo")


def current_snapshot(cur: Current | None) -> Snapshot | None:
    if cur is None or cur.kind == "shared":
        return None
    return cur.snapshot if cur.kind == "upload" else demo_snapshot()


def set_upload(diagnosed: Diagnosed, label: str) -> None:
    """Make the diagnosed upload current (``pipeline.load_and_diagnose`` kept the tables "Check one email" reads)."""
    st.session_state[CURRENT] = Current("upload", diagnosed.report, label, snapshot=diagnosed.snapshot)
    st.session_state[KEEP_AFTER_RUN] = True  # kept for reloads once the overview is drawn
    st.session_state.pop(SHARE_ERROR, None)
    st.query_params.pop("run", None)
    st.query_params.pop(PRIVATE_PARAM, None)


def open_report(report: Report, label: str, flash: str) -> None:
    """Make a report read from the store (a watch run) current, like an upload whose snapshot is gone; it is
    kept for reloads once the overview is drawn, as an upload is."""
    st.session_state[CURRENT] = Current("upload", report, label)
    st.session_state[KEEP_AFTER_RUN] = True
    st.session_state[FLASH] = flash
    st.session_state.pop(SHARE_ERROR, None)
    st.query_params.pop("run", None)
    st.query_params.pop(PRIVATE_PARAM, None)


def keep_upload_after_run() -> None:
    """Keep a new upload for reloads (``?report=``) once the overview that follows it is drawn (the overview's
    last call): the admin sees it first, as writing and compressing 100,000 emails takes about 0.4 s."""
    cur = st.session_state.get(CURRENT)
    if not st.session_state.pop(KEEP_AFTER_RUN, False) or cur is None or cur.kind != "upload":
        return
    cur.private = _keep_private(cur.report)
    if cur.private:
        st.query_params[PRIVATE_PARAM] = cur.private


def _keep_private(report: Report) -> str | None:
    """Save the report under a private token (never shown as a share link) so a reload finds it again."""
    from diagnostics.store import RunStore

    try:
        owner = {**team.creator(), "created_by": PRIVATE_OWNER}  # reopens for its creator only
        return RunStore().save(report.to_json(), ttl_days=PRIVATE_DAYS, **owner)
    except (StoreError, OSError) as error:
        LOG.warning("could not keep the report for reloads: %s", error)
        return None


def reopen_private(token: str) -> bool:
    """``?report=TOKEN`` after a reload: the admin's own upload again (its results; the snapshot is gone)."""
    from diagnostics.store import RunStore

    try:
        run = RunStore().load(token)
        report = Report.from_dict(run.report) if run is not None else None
    except (StoreError, OSError, KeyError, TypeError, ValueError) as error:
        LOG.warning("could not reopen a kept report: %s", error)
        run, report = None, None
    mine = run is not None and (not team.sign_in_on() or (team.person() is not None
                                                           and run.creator_oid == team.person().oid))
    if not mine or report is None or run.created_by != PRIVATE_OWNER:
        st.query_params.pop(PRIVATE_PARAM, None)
        return False
    st.session_state[CURRENT] = Current("upload", report, report.source, private=token)
    return True


def uploader_key(name: str = SNAPSHOT_FILES) -> str:
    """The key of the file uploader ``name`` in its current generation; ``release_upload`` changes it."""
    generation = st.session_state.get(f"{UPLOADER}:{name}", 0)
    return f"{name}_{generation}" if generation else name


def release_upload(files: list, name: str = SNAPSHOT_FILES) -> None:
    """Drop the uploaded bytes once diagnosed (or refused) and give uploader ``name`` a fresh, empty generation.

    Streamlit keeps uploaded files in memory for the whole session (and, for a closed session, until it is
    shut down); Streamlit's own chat and audio inputs remove theirs the same way once read.
    """
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None and isinstance(context.uploaded_file_mgr, MemoryUploadedFileManager):
        for file in files:
            context.uploaded_file_mgr.remove_file(session_id=context.session_id, file_id=file.file_id)
    generation = f"{UPLOADER}:{name}"
    st.session_state[generation] = st.session_state.get(generation, 0) + 1
    malloc.release_freed_memory()


STAGES = {"reading": "Reading files", "validating": "Validating tables", "evaluating": "Evaluating causes"}


def stage_progress(bar, line):  # noqa: ANN001, ANN201 - Streamlit elements; a pipeline progress callback
    """A ``load_and_diagnose`` progress callback showing stage, counts and item, at most four updates a second."""
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


def leave_shared() -> None:
    """Back to the demo (or nothing shared): drop the shared report and the link from the address bar."""
    cur = st.session_state.get(CURRENT)
    if cur is not None and cur.kind == "shared":
        del st.session_state[CURRENT]
    st.session_state.pop(SHARE_ERROR, None)
    st.query_params.pop("run", None)


def handle_run_param() -> None:
    """Open ``?run=TOKEN`` once per token; keep the token in the address bar while the shared report is open."""
    state = st.session_state
    kept, mine = st.query_params.get(PRIVATE_PARAM), state.get(CURRENT)
    if kept and not st.query_params.get("run") and (mine is None or mine.private != kept):
        reopen_private(kept)
    elif mine is not None and mine.private and not st.query_params.get("run"):
        st.query_params[PRIVATE_PARAM] = mine.private  # again on every run: a page switch clears the address
    token = st.query_params.get("run")
    if token and token != state.get(SEEN_RUN):
        state[SEEN_RUN] = token
        open_shared(token)
        return
    cur = state.get(CURRENT)
    if cur is not None and cur.kind == "shared" and not token and cur.shared and cur.shared["token"]:
        st.query_params["run"] = cur.shared["token"]  # a kept run opened from the Runs page has no link


@st.cache_resource(max_entries=SHARED_CACHE_ENTRIES, ttl=SHARED_CACHE_TTL, show_spinner="Opening the report…")
def shared_report(token: str, created_at: str) -> Report | None:
    """One parsed copy of a shared report for every session that opens it (read-only: never change it).

    Keyed by the token and the row's ``created_at``; ``open_shared`` checks expiry and revocation first.
    """
    from diagnostics.store import RunStore

    run = RunStore().load(token)
    report = Report.from_dict(run.report) if run is not None else None
    del run  # the parsed JSON is larger than the report: free it before handing memory back
    malloc.release_freed_memory()
    return report


def open_shared(token: str) -> bool:
    from diagnostics.store import RunStore

    state = st.session_state
    try:
        run = RunStore().lookup(token)  # cheap: expiry and revocation, without reading the report
        refused = run is not None and not team.may_open(run)  # checked before the report is read
        report = shared_report(token, run.created_at) if run is not None and not refused else None
    except (StoreError, OSError, KeyError, TypeError, ValueError) as error:
        LOG.warning("could not open a shared report: %s", error)
        run, report, refused = None, None, False
    if refused or run is None or report is None or run.created_by == PRIVATE_OWNER:  # a reload token never opens
        if state.get(CURRENT) is not None and state[CURRENT].kind == "shared":
            del state[CURRENT]
        state[SHARE_ERROR] = "refused" if refused else True
        return False
    team.record_open(token, run)
    show_shared(report, run, token)
    return True


def show_shared(report: Report, run: SharedRun, token: str | None) -> None:
    """Make a shared report, or a kept run opened from the Runs page (no token), this session's report."""
    st.session_state.pop(SHARE_ERROR, None)
    st.session_state[CURRENT] = Current("shared", report, f"Shared report: {report.source}", shared={
        "token": token, "created_by": run.created_by, "created_at": run.created_at,
        "expires_at": run.expires_at, "masked": run.masked})


def require_report() -> Current:
    """The current report, or the friendly dead-link message and nothing else (the page stops)."""
    cur = current()
    if cur is None:
        dead_link()
        st.stop()
    return cur


def dead_link() -> None:
    if st.session_state.get(SHARE_ERROR) == "refused":  # says nothing of the report, not even who made it
        st.error("This link does not open for the account you are signed in with. Ask whoever sent it for "
                 "access.", icon=":material/block:", title="Not for your account")
    else:
        st.warning("This share link is unknown, has expired or was revoked, so there is nothing to show. "
                   "Ask whoever sent it for a new link.", icon=":material/link_off:", title="Link not found")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        if st.button("Open the demo report", icon=":material/science:"):
            leave_shared()
            st.rerun()
        st.page_link(UPLOAD, label="Upload your own snapshot", icon=":material/upload_file:")


def banner(cur: Current) -> None:
    """Say what data the page shows: the demo, an upload, or a shared run (read-only, who, when, expiry)."""
    if cur.kind == "demo":
        st.info(f"**{DEMO_LABEL}.** Every feature works on it; upload a snapshot of your environment to "
                "diagnose your own emails.", icon=":material/science:")
    elif cur.kind == "shared" and cur.shared:
        shared = cur.shared
        masked = " Email addresses and subjects are masked." if shared["masked"] else ""
        st.info(f"Shared by **{md(shared['created_by'])}** on {md(when(shared['created_at']))}; the link "
                f"expires on {md(when(shared['expires_at']))}. Read-only.{masked}",
                icon=":material/share:", title="Shared report")
        if st.button("Close the shared report", icon=":material/close:", key="close_shared"):
            leave_shared()
            st.rerun()
    flash = st.session_state.pop(FLASH, None)
    if flash and headline_module.unchecked_causes(cur.report):  # not green: the partial warning follows
        st.info(md(flash), icon=":material/info:")
    elif flash:
        st.success(md(flash), icon=":material/check_circle:")


def headline(report: Report) -> None:
    """The sentence the report opens with: how many did not become cases, in which period, what the first fixes
    would let through."""
    st.markdown(f"#### {md(headline_module.headline(report).sentence)}")


def partial_warning(report: Report) -> None:
    """A snapshot without some tables: say loudly which causes could not be checked and what to export."""
    text = headline_module.partial_warning(report)
    if text:
        causes = headline_module.unchecked_causes(report)
        st.warning(md(text), icon=":material/warning:",
                   title=f"Partial snapshot: {app_state.plural(len(causes), 'cause')} not fully checked")
        st.page_link(GUIDE, label="How to export the missing tables", icon=":material/help:")


def counted_twice_note(report: Report, needing_action: bool = True) -> None:
    """Under a chart or table per queue: why its totals exceed the Overview's (an email sent to two queues)."""
    emails, extra = app_state.counted_twice(report, needing_action)
    if extra:
        numbers = app_state.kpis(report)
        which, total = ("needing action", numbers.needs_action) if needing_action else ("incoming", numbers.incoming)
        st.caption(f":material/info: {app_state.plural(emails, 'email')} {which} went to more than one queue and "
                   f"count{'s' if emails == 1 else ''} under each, so the figures per queue add up to "
                   f"{total + extra:,}, not the Overview's {total:,}.")


def sidebar(cur: Current | None) -> None:
    with st.sidebar:
        if cur is None:
            st.caption("No report: the share link opened nothing.")
        elif cur.kind == "demo":
            st.caption(f":material/science: {DEMO_LABEL}")
        elif cur.kind == "shared":
            st.caption(f":material/share: Shared report (read-only): {md(cur.report.source)}")
        else:
            st.caption(f":material/description: Your snapshot: {md(cur.label)}")
        team.account_panel()


def organisation(cur: Current) -> str:
    """A short name for what the report is about, for default run names."""
    return "Contoso Coffee demo" if cur.kind == "demo" else cur.label.removeprefix("Shared report: ")[:60]


def when(value: object) -> str:
    text = str(value or "")
    return text.replace("T", " ").replace("Z", " UTC") if len(text) >= 19 else text


# --------------------------------------------------------------------------- cached figures

def _session_cached(name: str, key: str, build):  # noqa: ANN001, ANN202
    """One object per name for this session's current report, built once and handed back as is.

    Figures are not cached with ``st.cache_data``: it hands back an unpickled copy whose JSON differs
    from the first (key order), which changes the chart's element id and drops the click on a bar.
    """
    cache = st.session_state.setdefault("_session_cache", {})
    if name not in cache or cache[name][0] != key:
        for stale in [other for other, (built_for, _) in cache.items() if built_for != key]:
            del cache[stale]  # figures of a report this session no longer shows
        while len(cache) >= FIGURE_CACHE_ENTRIES:
            del cache[next(iter(cache))]  # the oldest
        cache[name] = (key, build())
    return cache[name][1]


OVERVIEW_CHARTS = {"causes": charts.cause_bars, "trend": charts.daily_trend, "heatmap": charts.queue_cause_heatmap,
                   "funnel": charts.pipeline_funnel}


@st.cache_resource(max_entries=len(OVERVIEW_CHARTS), show_spinner=False)
def _demo_figure(name: str):  # noqa: ANN202 - a plotly Figure
    """The demo's figures, built once per process: every first visit shows them (never changed once built)."""
    return OVERVIEW_CHARTS[name](demo_report())


def overview_figure(key: str, report: Report, name: str):  # noqa: ANN201 - a plotly Figure
    """One of the overview's figures for one report of this session (``key`` identifies it), built when first
    shown: the first chart goes out before the others are built."""
    if key == "demo":
        return _demo_figure(name)
    return _session_cached(f"overview_{name}", key, lambda: OVERVIEW_CHARTS[name](report))


def queue_heatmap(key: str, report: Report):  # noqa: ANN201 - a plotly Figure
    return _session_cached("queue_heatmap", key, lambda: charts.queue_cause_heatmap(report, limit=60))


def cause_totals(key: str, report: Report):  # noqa: ANN201 - a plotly Figure
    return _session_cached("cause_totals", key, lambda: charts.cause_totals(report))


def chart(figure, key: str, clickable: bool = True) -> list[dict]:  # noqa: ANN001
    """Show a figure; return the clicked points (their custom data says which cause/queue)."""
    if not clickable:
        st.plotly_chart(figure, key=key, config=PLOTLY_CONFIG)
        return []
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode="points", config=PLOTLY_CONFIG)
    try:
        return list(event.selection.points)
    except AttributeError:
        return []


def go_to_emails(**params: str) -> None:
    st.switch_page(EMAILS, query_params={name: value for name, value in params.items() if value})


# --------------------------------------------------------------------------- one email

def cause_block(view: CauseView, fix: bool = True) -> None:
    """One cause's evidence (words and the raw field), fix and documentation: every page shows a cause so."""
    if view.lines:
        where = f"**Evidence** (queue {md(view.queue_label)})" if view.queue_label else "**Evidence**"
        st.markdown(where + "  \n" + "  \n".join(
            f"• {app_state.md_literal(words)}" + (f" {app_state.md_code(raw)}" if raw else "")
            for words, raw in view.lines))
    if fix:
        st.markdown("**Fix:** " + md(view.fix))
        if view.doc_url:
            st.markdown(f"[Microsoft documentation]({view.doc_url})")


def email_detail(report: Report, activityid: str) -> None:
    detail = app_state.email_view(report, activityid)
    if detail is None:
        st.warning("No email with this id in the report.")
        return
    verdict = detail["verdict"]
    color = {"converted": "green", "not-converted": "red"}.get(verdict, "gray")
    st.badge(app_state.VERDICT_LABELS.get(verdict, verdict), color=color)
    st.markdown(field_md("Subject", detail["subject"]))
    st.markdown(field_md("Sender", detail["sender"]))
    st.markdown(field_md("Received", when(detail["received_on"])))
    st.markdown(field_md("Queues", ", ".join(detail["queue_labels"]) or app_state.NO_QUEUE))
    if verdict == "not-converted":
        st.markdown("**Primary cause:** " + cause_md(detail["primary_cause"]))
    groups: dict[str, list[dict]] = {}
    for cause in detail["causes"]:
        groups.setdefault(cause["id"], []).append(cause)
    if groups:
        st.markdown(f"##### Every cause found ({len(groups)}), in pipeline order")
    for number, (cause_id, rows) in enumerate(groups.items(), start=1):
        with st.container(border=True):
            primary = " · primary cause" if cause_id == detail["primary_cause"] else ""
            st.markdown(f"{number}. {cause_md(cause_id)}{primary}")
            seen: set[str] = set()
            for row in rows:
                cause_block(cause_view(row, row.get("queue_label"), seen), fix=row is rows[-1])
    if detail["notes"]:
        st.markdown("##### Notes")
        st.markdown("  \n".join(f"• {md(note)}" for note in detail["notes"]))
    if detail["unchecked"]:
        tables = sorted({table for item in detail["unchecked"] for table in item["missing"]})
        st.caption(f"Not checked for this email: {md(', '.join(item['id'] for item in detail['unchecked']))} "
                   f"(the snapshot has no {md(', '.join(tables))}; see the Overview).")
    st.markdown("##### Record ids")
    ids = [f"email activityid: {detail['activityid']}"]
    ids += [f"queue {detail['queue_names'].get(queue, queue)}: {queue}" for queue in detail["queues"]]
    st.code("\n".join(ids), language=None, wrap_lines=True)
    with st.expander("The email in the report's JSON"):
        st.json({key: value for key, value in detail.items()
                 if key in ("activityid", "subject", "received_on", "sender", "queues", "verdict", "primary_cause",
                            "causes", "notes", "unchecked")}, expanded=2)


# --------------------------------------------------------------------------- sharing and exports

def app_url() -> str:
    """The app's root URL as the browser sees it (for share links)."""
    url = None
    try:
        url = st.context.url
    except (AttributeError, RuntimeError):
        url = None
    parts = urlsplit(url or "http://localhost:8501/")
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}/" + (f"{base}/" if base else "")


def share_panel(cur: Current) -> None:
    """Create a link to this report (optionally masked), list this session's links, revoke them."""
    from diagnostics.store import RunStore, run_id

    if cur.kind == "shared":
        st.markdown("This is a shared report, read-only. Whoever shared it can revoke the link.")
        return
    signed_in = team.person() is not None
    with st.form("share_form", border=False):
        if signed_in:  # the link records who made it; only people of the same organisation can open it
            st.caption("Only people of your organisation can open the link, once signed in; you see who did.")
            name = ""
        else:
            name = st.text_input("Your name or team", max_chars=80, placeholder="e.g. Dana, Service admin team",
                                 help="Shown to whoever opens the link.")
        mask = st.checkbox("Mask email addresses and subjects", help="Customer addresses become a***@contoso.com "
                           "and subjects are hidden; queue addresses stay readable.")
        days = st.number_input("Link expires after (days)", min_value=1, max_value=365, value=30, step=1)
        create = st.form_submit_button("Create share link", type="primary", icon=":material/link:")
    if create:
        try:
            with st.spinner("Saving the report…"):
                who = team.creator() if signed_in else {"created_by": name.strip() or "an admin"}
                token = RunStore().save(cur.report.to_json(), ttl_days=int(days), mask=mask,
                                        name=f"Share link: {cur.label}", **who)
        except (StoreError, OSError) as error:
            LOG.error("could not save a shared report: %s", error)
            st.error("The report could not be saved for sharing; try again later.")
        else:
            st.session_state.setdefault(SHARES, []).append({
                "token": token, "report_key": cur.key, "label": cur.label, "masked": mask, "days": int(days),
                "created": time.strftime("%H:%M"), "revoked": False})
    shares = [share for share in st.session_state.get(SHARES, []) if share["report_key"] == cur.key]
    for index, share in enumerate(reversed(shares)):
        revoked = share["revoked"]
        state = "revoked" if revoked else f"expires in {share['days']} days"
        st.markdown(f"**Link created at {share['created']}** ({'masked, ' if share['masked'] else ''}{state})")
        if revoked:
            st.caption("This link no longer opens anything.")
            continue
        st.code(f"{app_url()}?run={share['token']}", language=None, wrap_lines=True)
        if signed_in:
            openings_caption(run_id(share["token"]))
        if st.button("Revoke this link", key=f"revoke_{share['token'][:12]}_{index}", icon=":material/link_off:"):
            RunStore().revoke(share["token"])
            share["revoked"] = True
            st.rerun()


def openings_caption(run_id: str) -> None:
    """Who opened a link this person shared, and when."""
    from diagnostics.store import RunStore

    try:
        opened = RunStore().openings(run_id)
    except StoreError as error:
        LOG.warning("could not read who opened a link: %s", error)
        return
    if not opened:
        st.caption("Not opened by anyone yet.")
        return
    st.caption("Opened by " + "; ".join(f"{md(opening.name)} on {md(when(opening.opened_at))}"
                                        for opening in opened[:20]))


def export_panel(cur: Current) -> None:
    report = cur.report
    stem = exports.file_stem(report)
    note = DEMO_LABEL if cur.kind == "demo" else None
    st.download_button("Report as HTML (charts included, works offline)",
                       lambda: exports.report_html(report, note=note), file_name=f"{stem}.html", mime="text/html",
                       icon=":material/html:", on_click="ignore", width="stretch")
    st.download_button("Emails as CSV (each with its fix)", lambda: exports.emails_csv(report),
                       file_name=f"{stem}.csv", mime="text/csv", icon=":material/table:", on_click="ignore",
                       width="stretch")
    st.download_button("Fix plan as CSV", lambda: exports.fix_plan_csv(report),
                       file_name=f"{exports.file_stem(report, 'fix-plan')}.csv", mime="text/csv",
                       icon=":material/build:", on_click="ignore", width="stretch")
    st.download_button("Report as JSON (the contract's format)", lambda: exports.report_json(report),
                       file_name=f"{stem}.json", mime="application/json", icon=":material/data_object:",
                       on_click="ignore", width="stretch")
