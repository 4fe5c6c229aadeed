"""Email-to-Case Diagnostics: the router. Pages live in ``pages/``; everything they compute is in ``diagnostics/``.

``streamlit run streamlit_app.py`` opens the Overview of the embedded demo snapshot; ``?run=TOKEN`` opens a
shared report read-only.
"""

import streamlit as st

from diagnostics import malloc
from pages import _team as team
from pages import _ui as ui

st.set_page_config(page_title="Email-to-Case Diagnostics", page_icon=":material/forward_to_inbox:",
                   layout="wide", initial_sidebar_state="auto",
                   menu_items={"About": "Email-to-Case Diagnostics: why incoming emails did not become cases in "
                                        "Dynamics 365 Customer Service."})

st.session_state[ui.ROUTED] = True
malloc.configure()  # the app's allocators (diagnostics/malloc.py); once per process
malloc.keep_releasing_freed_memory()  # once per process: glibc would keep what closed sessions freed
team.gate()  # with sign-in on ([auth] in secrets.toml), nothing below runs for someone not allowed in
ui.handle_run_param()

navigation = st.navigation([
    st.Page(ui.OVERVIEW, title="Overview", icon=":material/dashboard:", default=True),
    st.Page(ui.UPLOAD, title="Upload snapshot", icon=":material/upload_file:", url_path="upload"),
    st.Page(ui.CHECK, title="Check one email", icon=":material/mail:", url_path="check-email"),
    st.Page(ui.EMAILS, title="Emails", icon=":material/inbox:", url_path="emails"),
    st.Page(ui.QUEUES, title="Queues & rules", icon=":material/rule:", url_path="queues"),
    st.Page(ui.CAUSES, title="Causes", icon=":material/checklist:", url_path="causes"),
    st.Page(ui.RUNS, title="Runs", icon=":material/bookmarks:", url_path="runs"),
    st.Page(ui.COMPARE, title="Compare runs", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(ui.HISTORY, title="History", icon=":material/monitoring:", url_path="history"),
    st.Page(ui.GUIDE, title="How to export a snapshot", icon=":material/help:", url_path="export-guide"),
])
ui.follow_page_param(navigation.url_path, {"": ui.OVERVIEW, "upload": ui.UPLOAD, "check-email": ui.CHECK,
                                            "emails": ui.EMAILS, "queues": ui.QUEUES, "causes": ui.CAUSES,
                                            "runs": ui.RUNS, "compare": ui.COMPARE, "history": ui.HISTORY,
                                            "export-guide": ui.GUIDE})
if navigation.url_path != "emails":
    st.session_state.pop(ui.LINK_APPLIED, None)  # a link to the Emails page sets its filters again next time
with st.sidebar:
    st.markdown("**Email-to-Case Diagnostics**")
ui.sidebar(ui.current())
navigation.run()
