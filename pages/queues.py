"""Queues & rules: the health matrix of every queue (rule, mailbox, what its emails became), the rule findings."""

import streamlit as st

from diagnostics import app_state
from pages import _ui as ui

ui.routed("queues")

st.title("Queues & rules")
cur = ui.require_report()
report = cur.report

ui.banner(cur)

health = app_state.queue_health(report)
st.markdown("One row per queue: what became of the incoming emails sent to it, then its health, address, active "
            "rule and findings. *To fix* leaves out the replies working as designed (*By design*); *Rate* is "
            "converted out of the emails meant to become cases. Health is **Problem** with an error finding (queue, "
            "mailbox or rule) or under 50% converted, **Check** with a warning, no active rule or under 80% "
            "converted. Select a queue to see its causes and list its emails.")
table = health.assign(health=health["health"].map(ui.HEALTH_LABEL))
styled = table.style.map(lambda value: ui.HEALTH_COLOR.get(value, ""), subset=["health"])
event = st.dataframe(
    styled, key=f"queue_table_{cur.key}", hide_index=True, on_select="rerun", selection_mode="single-row",
    # Short names and the numbers first: at 800 px (a sidebar beside it) the numbers show without scrolling.
    column_order=["name", "emails", "converted", "not_converted", "by_design", "rate", "health", "address",
                  "active_rules", "top_cause", "findings"],
    column_config={
        "name": st.column_config.TextColumn("Queue", width=105, pinned=True),
        "emails": st.column_config.NumberColumn("Incoming", format="%d", width=64,
                                                help="Incoming emails sent to the queue."),
        "converted": st.column_config.NumberColumn("Cases", format="%d", width=52,
                                                   help="Emails that became cases (or were added to one)."),
        "not_converted": st.column_config.NumberColumn("To fix", format="%d", width=52,
                                                       help="Not converted and not working as designed."),
        "by_design": st.column_config.NumberColumn("By design", format="%d", width=68,
                                                   help="Not converted on purpose: replies added to their case."),
        "rate": st.column_config.NumberColumn("Rate", format="percent", width=58,
                                              help="Converted, out of the emails meant to become cases."),
        "health": st.column_config.TextColumn("Health", width=70),
        "address": st.column_config.TextColumn("Address", width=200),
        "active_rules": st.column_config.TextColumn("Active rule", width=180),
        "top_cause": st.column_config.TextColumn("Top cause", width=300),
        "findings": st.column_config.TextColumn("Mailbox and queue findings", width=400),
    })
ui.counted_twice_note(report, needing_action=False)

try:
    picked = event.selection.rows
except AttributeError:
    picked = []
if picked:
    row = health.iloc[picked[0]]
    queue = row["queueid"]
    st.subheader("Queue: " + ui.md(row["queue"]))
    st.page_link(ui.EMAILS, label=f"List the {app_state.plural(row['emails'], 'incoming email')} sent to this queue",
                 query_params={"queue": queue}, icon=":material/arrow_forward:")
    for finding in app_state.findings_rows(report):
        if finding.get("scope") == "queue" and finding.get("subject") == queue:
            body = ui.cause_md(finding["id"]) + "  \n" + "  \n".join(
                f"• {app_state.evidence_md(item, finding['id'])}" for item in finding["evidence"])
            {"error": st.error, "warning": st.warning}.get(finding["severity"], st.info)(body)
    pairs = app_state.email_queue_pairs(report)
    pairs = pairs[(pairs["queue"] == queue) & pairs["needs_action"]]
    causes = pairs["primary_cause"].astype("object").where(pairs["primary_cause"].notna(), app_state.UNEXPLAINED)
    for cause, count in causes.value_counts().items():
        st.page_link(ui.EMAILS, label=f"{count:,} need{'s' if count == 1 else ''} action: "
                                      f"{app_state.cause_label(cause)}",
                     query_params={"queue": queue, "cause": cause, "verdict": "not-converted", "action": "1"},
                     icon=":material/arrow_forward:")

st.caption("Click a cell to list its emails.")
points = ui.chart(ui.queue_heatmap(cur.key, report), "queues_heatmap")
if points and isinstance(points[0].get("customdata"), list | tuple) and len(points[0]["customdata"]) == 2:
    cause, queue = points[0]["customdata"]
    ui.go_to_emails(cause=str(cause), queue=str(queue), verdict="not-converted", action="1")
ui.counted_twice_note(report)

rules = [finding for finding in app_state.findings_rows(report) if finding.get("scope") != "queue"]
st.subheader("Rules, system jobs and settings")
if not rules:
    st.success("No rule, system job or setting problem found in this snapshot.")
for finding in rules:
    severity = finding.get("severity", "info")
    body = f"{ui.cause_md(finding['id'])}  \n{ui.scope_md(finding)}  \n" + "  \n".join(
        f"• {app_state.evidence_md(item, finding['id'])}" for item in finding.get("evidence", []))
    {"error": st.error, "warning": st.warning}.get(severity, st.info)(body, icon=ui.SEVERITY_ICON.get(severity))
