"""How to export a snapshot: let the tool pull it (Connect to Dataverse, or `pull`), else the Web API URL of every
table for the admin's organisation and date range."""

from datetime import date, timedelta

import streamlit as st

from diagnostics import dataverse, export_guide
from pages import _ui as ui

ui.routed("export-guide")

st.title("How to export a snapshot")
st.markdown("A snapshot is the set of Dataverse tables the diagnosis reads, saved as the JSON the Web API "
            "returns. You need read access to these tables (a System Administrator or System Customizer role "
            "has it). The quickest way is to let the tool fetch them; you can also save them yourself.")

left, right = st.columns([3, 2])
org = left.text_input("Your organisation URL", value="https://contoso.crm.dynamics.com", key="guide_org",
                      help="The address of your Dynamics 365 apps, e.g. https://contoso.crm4.dynamics.com")
today = date.today()
period = right.date_input("Emails received between", value=(today - timedelta(days=30), today), key="guide_dates",
                          max_value=today + timedelta(days=1))
start, end = (period[0], period[1]) if isinstance(period, tuple | list) and len(period) == 2 else (None, None)

try:
    steps = export_guide.export_steps(org, start, end)
except ValueError as error:
    st.error(ui.md(error), icon=":material/error:")
    st.stop()

st.subheader("1. Let the tool fetch them")
st.markdown("**Upload snapshot > Connect to Dataverse** signs you in with a device code (an address and a code to "
            "enter there) and reads every table below itself, a few requests at a time, then shows the report and "
            "offers the zip for download. This server, not your browser, talks to Dataverse.")
st.page_link(ui.UPLOAD, label="Connect to Dataverse", icon=":material/cloud_download:")
st.markdown("From a terminal, the same for your organisation and dates:")
st.code(f"python -m diagnostics pull {export_guide.org_root(org)} --out snapshot.zip"
        + (f" --since {start} --until {end}" if start and end else ""), language="bash", wrap_lines=True)
st.markdown(f"It shows each table's rows, pages and the time left. Large tables are read in time windows, "
            f"{dataverse.DEFAULT_CONCURRENCY} requests in flight by default (`--concurrency 1` to "
            f"{dataverse.MAX_CONCURRENCY}), well within Dataverse's service protection limits; when Dataverse asks "
            "to slow down, every request waits as long as it asks. A table Dataverse refuses (a missing privilege, "
            "a column an older version lacks) is left out with a `note:` line and named in `pull.json` in the zip; "
            "the checks that need it are marked unchecked.")
st.markdown("The command line also signs in with the Azure CLI's login (`az login`) or, for automation, with an "
            "application user's client credentials (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET` or "
            "`AZURE_CLIENT_CERTIFICATE_PATH`).")
st.markdown("**App registration for the device code.** By default the sign-in uses the app registration shared by "
            "Microsoft's Dataverse Web API samples: fine for a first try, but not yours to control, and your tenant "
            "may block it. To register your own: Microsoft Entra ID > App registrations > New registration (single "
            "tenant); under *Authentication*, allow public client flows; under *API permissions*, add *Dynamics "
            "CRM > user_impersonation* (delegated) and grant admin consent. Give its client id to the command line "
            "with `--client-id`, or set `DATAVERSE_CLIENT_ID` (and `AZURE_TENANT_ID`) where the app runs.")

st.subheader("2. Or let your browser save them")
st.markdown("In a browser tab signed in to Dynamics 365, open the developer tools (F12), go to *Console*, paste "
            "this script and press Enter. It requests every address of step 3 with the `Prefer` header, follows the "
            "pages and downloads each one (allow multiple downloads when the browser asks).")
st.code(export_guide.console_script(steps), language="javascript", wrap_lines=True)

st.subheader(f"3. Or save the {len(steps)} addresses by hand")
st.markdown("Open each address below in the signed-in tab and save the page (Ctrl+S / ⌘S) under the file name "
            "shown. Each address selects exactly the columns the diagnosis reads; emails, their parties, queue "
            "items, activity monitor rows, failed system jobs and cases are limited to your date range.")
st.markdown("Send the header `Prefer: " + export_guide.PREFER_HEADER + "` with each request if you can: it adds "
            "the lookup annotations (which table a lookup points to). The script in step 2 sends it for you; a "
            "plain browser tab cannot, and the diagnosis then falls back on the cases table to recognise emails "
            "that became cases.")
st.markdown(ui.md(export_guide.PAGING_NOTE))
for step in steps:
    with st.container(border=True):
        st.markdown(f"**{step.file_name}**: {ui.md(step.why)}")
        st.code(step.url, language=None, wrap_lines=True)

st.subheader("4. Zip and upload")
for number, text in enumerate(export_guide.ZIP_STEPS, start=1):
    st.markdown(f"{number}. {ui.md(text)}")
st.page_link(ui.UPLOAD, label="Upload the snapshot", icon=":material/upload_file:")
st.caption("A Configuration Migration tool export (data.zip with data.xml) of the same tables works too.")
