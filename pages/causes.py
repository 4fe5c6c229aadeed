"""Causes: the nine causes of the support article and those beyond it, how each is detected, the fix, and how many
emails each explains."""

import streamlit as st

from diagnostics import app_state
from diagnostics.causes import CAUSES
from pages import _ui as ui

ui.routed("causes")

cur = ui.current()
st.title("Causes")
if cur is None:
    ui.dead_link()
else:
    ui.banner(cur)
st.markdown("The support article *Incoming email isn't converted to a case* lists nine causes; the last ones below "
            "are met in real tenants beyond it (each says so). The diagnosis "
            "tests them in **pipeline order**, the order in which an email meets the stages of email-to-case; "
            "the first one found is an email's *primary cause*. Quote the id (`queue-only-in-bcc`, …) in tickets: "
            "the command line prints the same ids.")

counts = app_state.cause_counts(cur.report).set_index("cause") if cur is not None else None
if cur is not None:
    ui.chart(ui.cause_totals(cur.key, cur.report), "causes_chart", clickable=False)

for cause in CAUSES:
    with st.container(border=True):
        st.markdown(f"#### {cause.order}. {ui.md(cause.title)}")
        source = (f"cause {cause.seed_number} of the support article" if cause.seed_number is not None
                  else "beyond the support article (met in real tenants)")
        st.markdown(f"`{cause.id}` · {ui.md(cause.kind)} · {source}")
        if cause.kind.replace(" ", "-") == "by-design":
            split = ""
            if counts is not None and counts.loc[cause.id, "primary"]:
                row = counts.loc[cause.id]
                faults = row["primary"] - row["by_design"]
                split = (f" Here: {row['by_design']:,} working as designed, {faults:,} "
                         f"{'a fault' if faults == 1 else 'faults'} to fix.")
            st.caption(":material/check_circle: Usually by design: such an email is counted as *working as designed* "
                       "on the Overview, not as a problem. The exception is a fault: a reply to a case resolved longer "
                       "ago than the rule's wait should have become a new case, and the fix plan lists it." + split)
        if counts is not None:
            row = counts.loc[cause.id]
            findings = sum(1 for finding in cur.report.findings if finding.get("id") == cause.id)
            with st.container(horizontal=True, wrap=True, gap="small"):
                st.metric("Primary cause of", f"{row['primary']:,}", width=165,
                          help="Emails whose first cause, in pipeline order, is this one.")
                st.metric("Found for", f"{row['found']:,}", width=165,
                          help="Emails this cause was found for, as their primary cause or behind another.")
                st.metric("Not checked for", f"{row['unchecked']:,}", width=165,
                          help="Emails for which the snapshot lacks a table this cause needs.")
                st.metric("Environment findings", f"{findings:,}", width=165,
                          help="Problems with queues, mailboxes, rules or settings (see the Overview).")
        st.markdown("**The support article says:** " + ui.md(cause.seed_text))
        st.markdown("**How this tool detects it:** " + ui.md(cause.detection))
        st.markdown("**The fix:** " + ui.md(cause.remediation))
        links = st.columns([1, 1])
        links[0].markdown(f"[Microsoft documentation]({cause.doc_url})")
        if counts is not None and counts.loc[cause.id, "found"]:
            with links[1]:
                st.page_link(ui.EMAILS, label="List the emails it was found for", icon=":material/arrow_forward:",
                             query_params={"cause": cause.id, "verdict": "not-converted", "any": "1"})
