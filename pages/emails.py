"""Emails: filter by verdict, cause, queue, dates and text; open one email's diagnosis; download the list."""

import streamlit as st

from diagnostics import app_state, exports
from diagnostics.app_state import EmailFilter
from pages import _ui as ui

ui.routed("emails")

PARAMS = ("cause", "queue", "verdict", "day", "q", "any", "action", "email", "from")
KEYS = ("f_verdicts", "f_causes", "f_queues", "f_dates", "f_text", "f_any", "f_action", "f_page", "f_email", "f_open")

st.title("Emails")
cur = ui.require_report()
report = cur.report
state = st.session_state

ui.banner(cur)

received = report.emails["received_on"].dropna()
first_day = received.min().date() if not received.empty else None
last_day = received.max().date() if not received.empty else None

if state.get("f_report") != cur.key:  # another report: its filters do not apply
    for key in KEYS:
        state.pop(key, None)
    state["f_report"] = cur.key

# A link (a chart click, a page link, ?cause=…) sets the filters once. Its parameters stay in the address bar:
# removing them would add a history entry per parameter, and the browser's Back would land here again instead of
# on the page the link was on. The router forgets the link once another page opens (ui.LINK_APPLIED).
arrived = {name: st.query_params.get_all(name) for name in PARAMS if name in st.query_params}
link = (cur.key, tuple(sorted((name, tuple(values)) for name, values in arrived.items())))
if arrived and state.get(ui.LINK_APPLIED) != link:
    state[ui.LINK_APPLIED] = link
    wanted = app_state.filter_from_params(arrived, report)
    state["f_verdicts"] = list(wanted.verdicts) or list(app_state.IN_SCOPE)
    state["f_causes"] = list(wanted.causes)
    state["f_queues"] = list(wanted.queues)
    state["f_text"] = wanted.text
    state["f_any"] = wanted.any_cause
    state["f_action"] = wanted.needs_action
    state["f_page"] = 1
    if first_day is not None:
        start = max(wanted.start, first_day) if wanted.start else first_day
        end = min(wanted.end, last_day) if wanted.end else last_day
        state["f_dates"] = (start, end) if start <= end else (first_day, last_day)
    if arrived.get("email"):
        state["f_email"] = arrived["email"][0]
if arrived.get("from") == ["plan"]:
    st.page_link(ui.OVERVIEW, label="Back to the fix plan", icon=":material/arrow_back:")

names = app_state.queue_names(report)
queue_options = list(names) + [app_state.NO_QUEUE]
cause_options = app_state.cause_options()
state["f_queues"] = [queue for queue in state.get("f_queues", []) if queue in queue_options]
state["f_causes"] = [cause for cause in state.get("f_causes", []) if cause in cause_options]
state.setdefault("f_verdicts", list(app_state.IN_SCOPE))  # incoming by default, as on every page
state["f_verdicts"] = [verdict for verdict in state["f_verdicts"] if verdict in app_state.VERDICTS]
state.setdefault("f_text", "")
state.setdefault("f_any", False)
state.setdefault("f_action", False)

top = st.columns(3)
top[0].multiselect("Verdict", app_state.VERDICTS, key="f_verdicts", placeholder="All verdicts (outgoing too)",
                   format_func=lambda verdict: app_state.VERDICT_LABELS[verdict])
top[1].multiselect("Cause", cause_options, key="f_causes", placeholder="Any cause",
                   format_func=app_state.cause_label)
top[0].toggle("Only those needing action", key="f_action", wrap=True,
              help="Leaves out the emails working as designed (replies added to their case), as the Overview's "
                   "charts and the fix plan count.")
top[1].toggle("Also behind another cause", key="f_any", wrap=True,
              help="By default the cause filter matches the primary cause (the first in pipeline order).")
top[2].multiselect("Queue", queue_options, key="f_queues", placeholder="Any queue",
                   format_func=lambda queue: names.get(queue, queue))
bottom = st.columns(2, vertical_alignment="bottom")
dates = None
if first_day is not None:
    state.setdefault("f_dates", (first_day, last_day))
    dates = bottom[0].date_input("Received between (UTC)", key="f_dates", min_value=first_day, max_value=last_day)
bottom[1].text_input("Search subject and sender", key="f_text", placeholder="e.g. invoice, @tailspin.com")

start, end = (dates[0], dates[1]) if isinstance(dates, tuple | list) and len(dates) == 2 else (None, None)
selection = EmailFilter(verdicts=tuple(state["f_verdicts"]), causes=tuple(state["f_causes"]),
                        queues=tuple(state["f_queues"]), start=start, end=end, text=state["f_text"],
                        any_cause=state["f_any"], needs_action=state["f_action"])
found = app_state.filter_emails(report, selection)

with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
    chosen_verdicts = state["f_verdicts"] or list(app_state.VERDICTS)
    universe = int(report.emails["verdict"].isin(chosen_verdicts).sum())
    what = "incoming emails" if set(chosen_verdicts) == set(app_state.IN_SCOPE) else "emails"
    st.markdown(f"**{len(found):,}** of {universe:,} {what}")
    st.download_button(f"CSV of these {len(found):,}", lambda: exports.emails_csv(report, found),
                       file_name=f"{exports.file_stem(report, 'emails')}.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore",
                       disabled=found.empty, help="The filtered list, with causes and evidence, as CSV.")

pages = max(1, -(-len(found) // app_state.PAGE_SIZE))
state["f_page"] = min(max(1, int(state.get("f_page", 1))), pages)
if pages > 1:
    st.number_input(f"Page (of {pages:,}, {app_state.PAGE_SIZE} emails each)", min_value=1, max_value=pages,
                    step=1, key="f_page", width=260)
rows, _ = app_state.page_of(found, state["f_page"])
table = app_state.email_rows(report, rows)
signature = hash((selection, state["f_page"], cur.key))
event = st.dataframe(
    table, key=f"emails_table_{signature & 0xFFFFFFFF}", hide_index=True, on_select="rerun",
    selection_mode="single-row", height=min(38 + 35 * len(table), 420),
    column_config={
        "Received (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width=135),
        "Verdict": st.column_config.TextColumn(width=105),
        "Primary cause": st.column_config.TextColumn(width=300),
        "Subject": st.column_config.TextColumn(width=260),
        "Sender": st.column_config.TextColumn(width=220),
        "Queues": st.column_config.TextColumn(width=120),
        "Activity id": st.column_config.TextColumn(width=110),
    })

try:
    picked = event.selection.rows
except AttributeError:
    picked = []

st.subheader("Diagnosis of one email")
typed = st.text_input("Open an email by its activity id", key="f_open", placeholder="e.g. from a ticket or a log",
                      max_chars=60).strip().strip("{}").lower()
chosen = None
if picked:
    chosen = table["Activity id"].iloc[picked[0]]
    state["f_email"] = chosen
elif typed:
    chosen = typed
elif state.get("f_email"):
    chosen = state["f_email"]
if chosen:
    ui.email_detail(report, chosen)
else:
    st.caption("Select a row (the box at its left) to see every cause with its evidence and fix, the notes, "
               "what could not be checked, and the record ids.")
