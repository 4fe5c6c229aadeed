"""Sign-in and whose runs a session sees: the layout only; the rules are in ``diagnostics/access.py``.

Sign-in is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section: then every page needs a person of
an allowed tenant (``gate``), and runs are listed per tenant. Without it the app is open as before, and the
runs kept from this browser are found again through its HttpOnly key (``diagnostics/browser_key.py``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from diagnostics import access, browser_key
from diagnostics.app_state import md_literal
from diagnostics.store import RunStore, SharedRun, StoreError

LOG = logging.getLogger("diagnostics.app")
PERSON = "person"  # session key: the signed-in access.Person, set by gate() on every run
KEPT_RUNS = "kept_runs"  # as in _ui: runs kept in this session (with their links)
PRIVATE_OWNER = "(kept for reloads)"  # as in _ui: reload copies are never listed as runs
ANONYMOUS_CREATOR = "a run kept in the app"


def sign_in_on() -> bool:
    try:
        return bool(st.secrets.get("auth"))
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


@st.cache_resource
def policy() -> access.Policy:
    return access.Policy.from_environment()


def gate() -> None:
    """With sign-in on, stop the page here unless a person of an allowed tenant is signed in."""
    if not sign_in_on():
        st.session_state.pop(PERSON, None)
        return
    checked = access.check_sign_in(st.user.to_dict(), policy(), time.time())
    if checked.person is not None:
        st.session_state[PERSON] = checked.person
        return
    st.session_state.pop(PERSON, None)
    if checked.problem is access.Problem.EXPIRED:
        LOG.info("a sign-in expired: signing the person out")
        st.logout()
    elif checked.problem is access.Problem.SIGNED_OUT:
        _sign_in_page()
    else:
        LOG.warning("sign-in refused: %s", checked.reason)
        _refusal_page()
    st.stop()


def person() -> access.Person | None:
    return st.session_state.get(PERSON)


def creator() -> dict[str, str]:
    """What a save records of who made the run: the signed-in person, or nobody in particular."""
    me = person()
    if me is None:
        return {"created_by": ANONYMOUS_CREATOR}
    return {"created_by": me.name, "creator_oid": me.oid, "creator_tid": me.tid}


def this_browser() -> str | None:
    """This browser's long-lived key (None when the app is not served by serve.py, e.g. in AppTest)."""
    try:
        return browser_key.valid_key(st.context.cookies.get(browser_key.COOKIE))
    except (AttributeError, RuntimeError):
        return None


def may_open(run: SharedRun) -> bool:
    return not sign_in_on() or access.may_open(person(), run.creator_tid)


def may_manage(creator_oid: str, creator_tid: str) -> bool:
    return not sign_in_on() or access.may_manage(person(), creator_oid, creator_tid, policy())


def record_open(token: str | None, run: SharedRun) -> None:
    """Note who opened a shared report or a listed run (signed-in people other than its creator)."""
    me = person()
    if me is None or me.oid == run.creator_oid:
        return
    try:
        if token:
            RunStore().record_open(token, name=me.name, oid=me.oid, tid=me.tid)
        else:
            RunStore().record_run_open(run.run_id, name=me.name, oid=me.oid, tid=me.tid)
    except StoreError as error:
        LOG.warning("could not record the opening of a shared report: %s", error)


def _sign_in_page() -> None:
    st.title("Email-to-Case Diagnostics")
    st.markdown("This server is for the people of your organisation. **Sign in with your work account** "
                "(Microsoft Entra ID) to diagnose snapshots and open the reports and runs your colleagues shared. "
                "If you came through a share link, it opens once you are signed in.")
    providers = [name for name, value in st.secrets["auth"].items() if hasattr(value, "items")]
    for provider in providers or [None]:
        label = "Sign in with Microsoft" + (f" ({provider})" if provider and len(providers) > 1 else "")
        if st.button(label, type="primary", icon=":material/login:", key=f"sign_in_{provider}"):
            st.login(provider) if provider else st.login()


def _refusal_page() -> None:
    st.title("Email-to-Case Diagnostics")
    st.error("This server is not open to the account you signed in with. Sign out and sign in with the work "
             "account of the organisation that runs it.", icon=":material/block:", title="Not allowed")
    if st.button("Sign out", icon=":material/logout:"):
        st.logout()


def account_panel() -> None:
    """Who is signed in, in the sidebar, with a way to sign out."""
    me = person()
    if me is None:
        return
    st.caption(f":material/account_circle: Signed in as {md_literal(me.name)}")
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.logout()


# --------------------------------------------------------------------------- kept runs

@dataclass(frozen=True)
class KeptRun:
    """A run this session may list: kept from this browser, in this session, or in the person's tenant."""

    run_id: str
    name: str
    kind: str
    created_by: str
    created_at: str
    expires_at: str
    creator_oid: str = ""
    creator_tid: str = ""
    token: str | None = None  # known only in the session that kept it: the store keeps its hash


def kept_runs() -> list[KeptRun]:
    """Newest first: the tenant's runs when signed in, else those kept from this browser; and this session's."""
    me, key = person(), this_browser()
    listed: list[KeptRun] = []
    try:
        if me is not None or key is not None:
            store = RunStore()
            infos = store.list_runs(tenant=me.tid) if me is not None else store.list_runs(browser_key=key)
            listed = [KeptRun(info.run_id, info.name, info.kind, info.created_by, info.created_at, info.expires_at,
                              info.creator_oid, info.creator_tid) for info in infos
                      if info.created_by != PRIVATE_OWNER]
    except StoreError as error:
        LOG.warning("could not list the kept runs: %s", error)
    tokens = {run["run_id"]: run["token"] for run in st.session_state.get(KEPT_RUNS, []) if run.get("run_id")}
    found = {run.run_id for run in listed}
    listed = [replace(run, token=tokens.get(run.run_id)) for run in listed]
    mine = [KeptRun(run["run_id"], run["name"], run["kind"], ANONYMOUS_CREATOR, run["created"], "",
                    token=run["token"]) for run in st.session_state.get(KEPT_RUNS, [])
            if run.get("run_id") and run["run_id"] not in found]
    order = {run["run_id"]: index for index, run in enumerate(st.session_state.get(KEPT_RUNS, []))}
    # times are whole seconds: of two runs kept in the same second, the one kept later in this session first
    return sorted(listed + mine, key=lambda run: (run.created_at, order.get(run.run_id, -1)), reverse=True)


def load_kept(run_id: str) -> SharedRun | None:
    """A listed run's report, only when this session may list it."""
    visible = next((run for run in kept_runs() if run.run_id == run_id), None)
    if visible is None:
        return None
    if visible.token:
        return RunStore().load(visible.token)
    run = RunStore().load_run(run_id)
    return run if run is not None and may_open(run) else None
