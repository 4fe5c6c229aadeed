"""Connect to Dataverse (on the upload page): organisation + dates -> device-code sign-in -> progress per
table -> the report, as if the pulled zip had been uploaded; the zip is offered for download. Tables
Dataverse refused are named with the causes they leave unchecked.

The visitor signs in as themselves (device code; ``DATAVERSE_TOKEN`` when the server sets it, for tests
and automation), never with the server's own Azure identities. No token or code is kept in session
state, logged, stored with a shared report or put in a link.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from diagnostics import app_state, dataverse, malloc, pipeline
from diagnostics.errors import DiagnosisError, SnapshotError
from diagnostics.pipeline import Diagnosed
from diagnostics.report import Report
from pages import _ui as ui

LOG = logging.getLogger("diagnostics.app")
PULLED = "pulled_snapshot"  # (file name, zip bytes, key of the report made from it)


def connect_panel() -> None:
    """The "Connect to Dataverse" form and, after a pull, the pulled zip to download."""
    with st.expander("Connect to Dataverse", icon=":material/cloud_download:"):
        st.markdown("Sign in with your own Dynamics 365 account and let the app fetch the tables itself: the same "
                    "addresses as the export guide, every page, zipped for you. You need read access to the tables "
                    "it lists; a table Dataverse refuses is left out and named, and the checks that need it are "
                    "marked unchecked.")
        st.markdown(HOW_IT_CONNECTS)
        with st.form("connect_form", border=False):
            org = st.text_input("Organisation URL", placeholder="https://contoso.crm.dynamics.com", key="connect_org")
            today = date.today()
            period = st.date_input("Emails received between", value=(today - timedelta(days=30), today),
                                   max_value=today + timedelta(days=1), key="connect_dates")
            go = st.form_submit_button("Sign in and pull", icon=":material/login:")
        error_box = st.empty()  # drawn anew on every run: a new attempt clears the last one's error
        if go:
            _connect(org, period, error_box)
    _offer_download()


HOW_IT_CONNECTS = (
    "**How it connects.** This server, not your browser, talks to Dataverse: it signs you in with a *device code* "
    "(it shows an address and a code; open the address in any browser, enter the code and sign in as yourself), "
    "then reads the tables with that sign-in, a few requests at a time within Dataverse's service protection "
    "limits. The token stays in this server's memory for the pull only. The sign-in uses an *app registration*: "
    "by default the one Microsoft's Dataverse Web API samples share (`" + dataverse.SAMPLE_CLIENT_ID + "`). "
    "Your tenant may block it, since it is not yours: it may require an administrator's consent for apps, or "
    "allow only registered apps. The server's administrator can set `DATAVERSE_CLIENT_ID` to your own "
    "registration (the export guide says how to create one).")


def _connect(org: str, period: object, error_box) -> None:  # error_box: a Streamlit placeholder
    if not (isinstance(period, tuple | list) and len(period) == 2):
        error_box.error("Pick the first and the last day of the range.", icon=":material/error:")
        return
    status = st.status("Signing in…", expanded=True)
    with status:
        prompt_box, bar, lines = st.empty(), st.progress(0.0, text="Waiting for the sign-in"), st.empty()
    started = time.monotonic()
    try:
        pipeline.refuse_when_busy()  # before a pull of minutes, and again before the diagnosis
        with tempfile.TemporaryDirectory(prefix="pull-") as folder:
            summary = dataverse.pull_snapshot(
                org, Path(folder) / "snapshot.zip", period[0], period[1], clouds_only=True,
                signin=dataverse.sign_in(_prompt(prompt_box), person_only=True),
                progress=_progress(status, bar, lines))
            data = summary.path.read_bytes()
        prompt_box.empty()
        status.update(label=f"Pulled {summary.rows:,} rows; evaluating…")
        diagnosed = pipeline.load_and_diagnose([("snapshot.zip", data)], progress=ui.stage_progress(bar, lines))
    except DiagnosisError as error:  # one line: the server is busy, or the pulled snapshot could not be diagnosed
        status.update(label="Nothing was diagnosed", state="error", expanded=False)
        if error.reason == "busy":
            error_box.warning(str(error), icon=":material/hourglass_top:")
        else:
            error_box.error(ui.md(error), icon=":material/error:", title="The pulled snapshot could not be read")
        return
    except SnapshotError as error:  # PullError: one line naming the table and Dataverse's message
        status.update(label="The pull did not complete", state="error", expanded=False)
        error_box.error(ui.md(error), icon=":material/error:", title="Nothing was pulled")
        return
    except Exception as error:  # the app carries on; log the kind only, never what might hold a token
        LOG.error("unexpected %s during a pull", type(error).__name__)
        status.update(label="The pull did not complete", state="error", expanded=False)
        error_box.error("The pull stopped on an unexpected error (the server's log names it). Nothing was kept.",
                        icon=":material/error:", title="Nothing was pulled")
        return
    malloc.release_freed_memory()  # the whole snapshot is freed: hand it back (the zip is kept to download)
    _show(diagnosed, data, org, period, time.monotonic() - started, summary.refused)


def _show(diagnosed: Diagnosed, data: bytes, org: str, period: tuple, seconds: float,
          refused: dict[str, str]) -> None:
    host = urlsplit(dataverse.org_root(org)).netloc
    name = f"{host.replace(':', '-')}-{period[0]}-{period[1]}.zip"
    ui.set_upload(diagnosed, f"{host}, {period[0]} to {period[1]} (pulled)")
    st.session_state[PULLED] = (name, data, st.session_state[ui.CURRENT].key)
    summary = diagnosed.report.summary()
    st.session_state[ui.FLASH] = (
        f"Pulled and diagnosed {host} ({seconds:.1f} s): {summary['incoming']:,} incoming emails, "
        f"{summary['converted']:,} converted, {summary['not_converted']:,} not converted. "
        "The pulled snapshot can be downloaded on the Upload snapshot page." + _refusals(refused, diagnosed.report))
    st.switch_page(ui.OVERVIEW)


def _refusals(refused: dict[str, str], report: Report) -> str:
    """Which tables Dataverse refused (its words) and which causes they leave unchecked."""
    if not refused:
        return ""
    return ("\n\nLeft out of the snapshot because Dataverse refused them: " + "; ".join(refused.values()) + ". "
            + " ".join(app_state.unchecked_lines(report)))


def _prompt(box) -> dataverse.Prompt:  # box: a Streamlit placeholder
    def show(address: str, code: str, expires: datetime) -> None:
        box.info(f"To sign in, open {app_state.md_code(address)} in another tab and enter the code "
                 f"{app_state.md_code(code)} (valid until {expires:%H:%M} UTC). This page goes on by itself.",
                 icon=":material/key:")

    return show


def _progress(status, bar, lines) -> dataverse.Progress:  # Streamlit elements
    signed_in = []

    def show(step: dataverse.PullProgress) -> None:
        if not signed_in:  # the first progress comes once the sign-in is done
            signed_in.append(True)
            status.update(label="Pulling from Dataverse…", expanded=True)
        left = step.seconds_left
        bar.progress(step.share, text=f"{step.tables_done} of {len(step.tables)} tables, {step.rows:,} rows"
                                      + (f", about {left:,.0f} s left" if left is not None else ""))
        started = [table.line() for table in step.tables if table.started]
        lines.text("\n".join([*started, step.waiting]).strip())

    return show


def _offer_download() -> None:
    pulled = st.session_state.get(PULLED)
    cur = st.session_state.get(ui.CURRENT)
    if pulled and cur is not None and cur.key == pulled[2]:
        name, data, _key = pulled
        st.download_button(f"Download the pulled snapshot ({len(data) / 1e6:.1f} MB)", data, file_name=name,
                           mime="application/zip", icon=":material/download:", on_click="ignore")
