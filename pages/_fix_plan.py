"""The fix plan widget: what to change first, one bordered entry per thing, most harmful first.

Names, fixes and evidence come from the report (user data): they go through ``md`` / ``evidence_md``.
The links are ours: documentation pages of the registry and record links built from a checked
organisation host and a GUID.
"""

from __future__ import annotations

import streamlit as st

from diagnostics import app_state
from diagnostics import fix_plan as plan_module
from diagnostics.links import clean_org_url, with_record_links
from diagnostics.report import Report
from pages import _ui as ui

BADGE = {"error": ":red-badge[:material/error: Error]", "warning": ":orange-badge[:material/warning: Warning]",
         "info": ":blue-badge[:material/info: Info]"}
SHOWN = 5  # entries shown before "more"


def fix_plan(report: Report, key: str) -> None:
    """The whole plan: the first entries open, the rest behind an expander."""
    entries = app_state.plan_entries(report)
    if not entries:
        st.subheader("Fix first", anchor="fix-plan")
        st.success("Nothing to fix: no blocking problem found in this snapshot.", icon=":material/check_circle:")
        return
    st.subheader(f"Fix first: {len(entries)} thing{'s' if len(entries) != 1 else ''} to change", anchor="fix-plan",
                 help="Most harmful first: errors before warnings, then the emails each one blocks, then the emails "
                      "that would go through if only this were fixed.")
    for entry in entries[:SHOWN]:
        _entry(entry, key)
    if any(entry.blocked for entry in entries):  # said once here; each entry's fix ends with it in the exports
        st.caption(plan_module.REPROCESS.replace("Then reprocess", "After a fix, reprocess") + " Each entry's "
                   "list link gives exactly those emails.")
    if len(entries) > SHOWN:
        with st.expander(f"{len(entries) - SHOWN} more thing{'s' if len(entries) - SHOWN != 1 else ''} to change"):
            for entry in entries[SHOWN:]:
                _entry(entry, key)


def organisation_url(cur: ui.Current) -> None:
    """Without ``@odata.context`` in the upload, the admin may type the organisation URL for record links."""
    if cur.kind != "upload" or cur.report.org_url:
        return  # a shared report is read-only; the demo and most uploads know their organisation
    with st.popover("Add links to the records", icon=":material/link:"), st.form(f"org_url_{cur.key}", border=False):
        typed = st.text_input("Organisation URL", placeholder="https://contoso.crm.dynamics.com", max_chars=200,
                              help="The address of your Dynamics 365 organisation, to open each record of the fix "
                                   "plan there.")
        if st.form_submit_button("Add links"):
            org = clean_org_url(typed)
            if org is None:
                st.error("Type the https address of your organisation, e.g. https://contoso.crm.dynamics.com.")
            else:
                cur.report.org_url = org
                cur.report.plan = with_record_links(cur.report.fix_plan(), org)
                st.rerun()


def _entry(entry: app_state.PlanEntry, key: str) -> None:
    with st.container(border=True, gap=None):
        st.markdown(f"**{entry.number}. {ui.md(entry.title)}** {BADGE.get(entry.severity, '')} "
                    f"**{ui.md(app_state.plan_counts_text(entry))}**  \n**Fix:** {ui.md(_short(entry.fix))}")
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            with st.popover("Evidence", icon=":material/fact_check:"):
                st.markdown(f"{ui.cause_md(entry.cause)}  \n" + "  \n".join(
                    f"• {app_state.evidence_md(item, entry.cause)}" for item in entry.evidence[:20]))
                if entry.record_id:
                    st.caption("Record id")
                    st.code(entry.record_id, language=None)
            if entry.blocked:
                params = {"cause": entry.cause, "verdict": "not-converted", "any": "1", "action": "1", "from": "plan"}
                if entry.queue:
                    params["queue"] = entry.queue
                st.page_link(ui.EMAILS, label=f"List the {app_state.plural(entry.blocked, 'email')}",
                             query_params=params, icon=":material/arrow_forward:")
            links = [f"[Microsoft documentation]({entry.doc_url})"] if entry.doc_url.startswith("https://") else []
            if entry.record_url:
                links.append(f"[Open it in Dynamics 365]({entry.record_url})")
            st.markdown(" · ".join(links), width="content")


def _short(fix: str) -> str:
    """The fix without the reprocessing sentence every entry ends with: the page says it once, under the plan."""
    return fix.removesuffix(" " + plan_module.REPROCESS)


def working_as_designed(count: int) -> None:
    """By-design emails are never a problem: say how many, in words."""
    if count:
        st.caption(f":material/check_circle: **Working as designed: {count:,}** not converted on purpose (replies "
                   "added to the timeline of their case, as email correlation intends). Not a problem to fix.")
