"""Overview: the headline sentence, the fix plan, then the numbers, the four charts and the environment findings."""

import streamlit as st

from diagnostics import app_state
from pages import _fix_plan
from pages import _ui as ui

ui.routed("")

cur = ui.require_report()
report = cur.report

with st.container(horizontal=True, horizontal_alignment="left", vertical_alignment="center", gap="medium"):
    st.title("Overview", width="content")
    if cur.kind != "shared":  # a shared report is read-only: whoever shared it shares it further
        with st.popover("Share this report", icon=":material/share:", type="primary"):
            ui.share_panel(cur)
    with st.popover("Download", icon=":material/download:"):
        ui.export_panel(cur)
    _fix_plan.organisation_url(cur)
ui.banner(cur)
ui.partial_warning(report)
ui.headline(report)

numbers = app_state.kpis(report)
plan_area, numbers_area = st.container(), st.container()
# The first chart is sent before the plan and the numbers above it are drawn: the browser starts loading the chart
# library (4.7 MB) while it lays out the plan, instead of after.
st.caption("Click a bar or a cell to list its emails. The charts count the emails that need action: the "
           f"{numbers.by_design:,} working as designed are left out." if numbers.by_design else
           "Click a bar or a cell to list its emails.")
points = ui.chart(ui.overview_figure(cur.key, report, "causes"), "chart_causes")
if points and points[0].get("customdata"):
    ui.go_to_emails(cause=str(points[0]["customdata"][0]), verdict="not-converted", action="1")

with plan_area:
    _fix_plan.fix_plan(report, cur.key)

with numbers_area:
    st.subheader("In numbers", anchor="numbers")
    with st.container(horizontal=True, wrap=True, gap="small"):
        st.metric("Incoming", f"{numbers.incoming:,}", border=True, width="content",
                  help=f"Incoming emails sent to a queue. Outgoing emails ({numbers.outgoing:,}) are not evaluated.")
        st.metric("Converted", f"{numbers.converted:,}", border=True, width="content")
        st.metric("Not converted, needs action", f"{numbers.needs_action:,}", border=True, width="content",
                  help=f"Not converted and not working as designed: the emails the fix plan is about. With the "
                       f"{numbers.by_design:,} working as designed, {numbers.not_converted:,} did not become cases.")
        st.metric("Working as designed", f"{numbers.by_design:,}", border=True, width="content",
                  help="Not converted on purpose: replies added to the timeline of their case. Not a problem to "
                       "fix.")
        st.metric("Conversion rate", f"{numbers.rate:.1%}" if numbers.rate is not None else "—", border=True,
                  width="content", help="Converted, out of the incoming emails meant to become cases (those "
                                        "working as designed left out).")
    _fix_plan.working_as_designed(numbers.by_design)
    for line in app_state.unchecked_lines(report):
        st.caption(":material/help: " + ui.md(line))
    if numbers.unexplained:
        st.caption(f":material/help: {numbers.unexplained:,} emails not converted are unexplained by the snapshot: "
                   "look at the flow run history of their rule's 'ARC: …' flows and at plug-ins.")

counts = app_state.primary_cause_counts(report)
if not counts.empty:
    with st.expander("List the emails of one cause", icon=":material/filter_list:"):
        for row in counts.itertuples():
            st.page_link(ui.EMAILS, label=f"{app_state.plural(row.count, 'email')}: {row.title} ({row.cause})",
                         query_params={"cause": row.cause, "verdict": "not-converted", "action": "1"},
                         icon=":material/arrow_forward:")

ui.chart(ui.overview_figure(cur.key, report, "funnel"), "chart_funnel", clickable=False)
points = ui.chart(ui.overview_figure(cur.key, report, "trend"), "chart_trend")
if points:
    point = points[0]
    cause = point.get("customdata")
    day = str(point.get("x", ""))[:10]
    if isinstance(cause, str) and cause:
        ui.go_to_emails(cause=cause, day=day, verdict="not-converted", action="1")
points = ui.chart(ui.overview_figure(cur.key, report, "heatmap"), "chart_heatmap")
ui.counted_twice_note(report)
if points and isinstance(points[0].get("customdata"), list | tuple) and len(points[0]["customdata"]) == 2:
    cause, queue = points[0]["customdata"]
    ui.go_to_emails(cause=str(cause), queue=str(queue), verdict="not-converted", action="1")

st.subheader("Environment findings", anchor="findings")
findings = app_state.findings_rows(report)
if not findings:
    st.success("No problem found with the queues' mailboxes, rules or settings in this snapshot.")
for finding in findings:
    severity = finding.get("severity", "info")
    box = {"error": st.error, "warning": st.warning}.get(severity, st.info)
    body = (f"{ui.cause_md(finding['id'])}  \n{ui.scope_md(finding)}  \n"
            + "  \n".join(f"• {app_state.evidence_md(item, finding['id'])}" for item in finding.get("evidence", [])))
    box(body, icon=ui.SEVERITY_ICON.get(severity), title=severity.capitalize())

ui.keep_upload_after_run()  # last: a new upload is kept for reloads once its overview is drawn
