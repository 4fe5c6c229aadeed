"""Check one email: paste its raw headers (or upload the .eml), optionally name the queue; uses the current snapshot."""

import logging

import streamlit as st

from diagnostics import app_state, charts
from diagnostics.cause_view import cause_view
from diagnostics.errors import SnapshotError
from diagnostics.headers import HEADER_VERDICT_LABELS, MAX_BYTES, analyse_headers, authentication_rows, spam_rows
from pages import _ui as ui

ui.routed("check-email")

LOG = logging.getLogger("diagnostics.app")
RESULT = "header_result"
# A hop's fields as its table names them; a field the Received line lacks shows as a dash, never "None".
HOP_COLUMNS = {"from": "from", "by": "by", "with": "with", "at (UTC)": "at", "delay (s)": "delay_seconds"}

cur = ui.current()
snapshot = ui.current_snapshot(cur)

st.title("Check one email")
demo = cur is not None and cur.kind == "demo"
if demo:
    st.info("The loaded snapshot is the demo: Contoso Coffee, a fictional organisation. A real email is not in it, "
            "so looking it up there is off and only what the headers prove is reported. Upload your snapshot to "
            "check an email against your organisation's data.", icon=":material/science:", title="Demo data")
st.markdown("Paste the raw headers of an email that did not become a case (in Outlook: *File > Properties > "
            "Internet headers*; in Outlook on the web: *… > View > View message details*), or upload the saved "
            "`.eml`. The check reads the headers only, up to the first blank line.")

with st.form("headers_form"):
    raw = st.text_area("Raw headers", height=240, placeholder="Received: from …\nFrom: …\nTo: …\nSubject: …\n"
                       "Message-ID: <…>")
    upload = st.file_uploader("…or an .eml / .txt file", type=["eml", "txt"], key="headers_file", max_upload_size=5)
    queue = st.text_input("Queue address the email was meant for (optional)", placeholder="help@contoso.com",
                          max_chars=320)
    if snapshot is not None:
        label = "the demo snapshot" if demo else "your uploaded snapshot"
        use_snapshot = st.checkbox(f"Look the email up in {label}", value=not demo,
                                   help="Finds the email by its Message-ID and diagnoses it as the report does.")
    else:
        use_snapshot = False
        st.caption("No snapshot is loaded in this session (a shared report holds results only), so only what the "
                   "headers prove is reported.")
    submitted = st.form_submit_button("Check this email", type="primary", icon=":material/search:")

if submitted:
    data = upload.getvalue() if upload is not None else (raw or "").encode("utf-8")
    if not data.strip():
        st.session_state.pop(RESULT, None)
        st.warning("Paste the headers or upload a file first.")
    elif len(data) > MAX_BYTES:
        st.session_state.pop(RESULT, None)
        st.error("More than 5 MB: paste only the headers.")
    else:
        try:
            result = analyse_headers(data, snapshot=snapshot if use_snapshot else None, queue=queue.strip() or None,
                                     report=cur.report if use_snapshot and cur is not None else None)
        except SnapshotError as error:
            st.session_state.pop(RESULT, None)
            st.error(ui.md(error), icon=":material/error:", title="These headers could not be read")
        except Exception as error:  # noqa: BLE001 - the page must carry on whatever is pasted
            LOG.exception("unexpected error while reading headers")
            st.session_state.pop(RESULT, None)
            st.error(f"Unexpected {type(error).__name__} while reading these headers.", icon=":material/error:")
        else:
            st.session_state[RESULT] = result

result = st.session_state.get(RESULT)
if result:
    st.divider()
    verdict = result.get("verdict") or "unknown"
    color = {"converted": "green", "not-converted": "red", "not-in-snapshot": "orange"}.get(verdict, "gray")
    label = HEADER_VERDICT_LABELS.get(verdict) or app_state.VERDICT_LABELS.get(verdict, f"Verdict: {verdict}")
    st.badge(label, color=color)
    if result.get("not_in_snapshot"):  # why: outside the snapshot's dates, or sent to none of its queues
        st.markdown(ui.md(result["not_in_snapshot"]["why"]))
    if result.get("primary_cause"):
        st.markdown("**Primary cause:** " + ui.cause_md(result["primary_cause"]))
    elif verdict == "not-converted":
        st.markdown("**Primary cause:** none found in the headers" + (" and the snapshot" if use_snapshot else ""))
    email = result.get("snapshot_email")
    if email:
        st.markdown(ui.field_md("Found in the snapshot as", f"{email.get('subject')} ({email.get('activityid')})"))
    queue_labels = {item.get("id"): f"{item.get('name')} ({item.get('address')})"
                    for item in result.get("queues") or []}
    for number, cause in enumerate(result.get("causes") or [], start=1):
        with st.container(border=True):
            st.markdown(f"{number}. {ui.cause_md(cause['id'])}")
            queue = queue_labels.get(cause["queue"], cause["queue"]) if cause.get("queue") else None
            ui.cause_block(cause_view(cause, queue))
    if result.get("notes"):
        st.markdown("##### Notes")
        st.markdown("  \n".join(f"• {ui.md(note)}" for note in result["notes"]))
    if result.get("unchecked"):
        st.markdown("##### Could not be checked")
        st.markdown("  \n".join(f"• {ui.cause_md(item['id'])}: the snapshot has no "
                                f"{ui.md(', '.join(item['missing']))} table" for item in result["unchecked"]))

    def people(items: list) -> str:
        return ", ".join(f"{item.get('name') or ''} <{item.get('address')}>".strip() for item in items if item)

    st.markdown("##### What the headers say")
    facts = [("Message-ID", result.get("message_id")), ("Subject", result.get("subject")),
             ("From", people([result.get("from")])), ("To", people(result.get("to") or [])),
             ("Cc", people(result.get("cc") or [])), ("Date (UTC)", result.get("date")),
             ("In-Reply-To", result.get("in_reply_to")), ("References", " ".join(result.get("references") or [])),
             ("Envelope recipients", ", ".join(result.get("envelope_recipients") or []))]
    st.dataframe({"Header": [name for name, _ in facts], "Value": [value or "—" for _, value in facts]},
                 hide_index=True, width="stretch")
    st.markdown("##### Authentication and spam filtering")
    st.caption("As Microsoft's Message Header Analyzer reads them. Mail classed as junk goes to Junk Email or "
               "quarantine, and server-side synchronization only syncs the root Inbox.")
    auth_rows = authentication_rows(result)
    if auth_rows:
        st.dataframe(auth_rows, hide_index=True, width="stretch")
    else:
        st.caption("No Authentication-Results header (SPF, DKIM and DMARC were not recorded).")
    verdict_rows = spam_rows(result.get("spam") or {})
    if verdict_rows:
        st.dataframe(verdict_rows, hide_index=True, width="stretch")
    else:
        st.caption("No anti-spam verdict (no X-Forefront-Antispam-Report or SCL header).")
    if result.get("hops"):
        ui.chart(charts.hop_delays(result), "hops_chart", clickable=False)
        st.dataframe([{"#": index, **{label: "—" if hop.get(key) is None else str(hop.get(key))
                                      for label, key in HOP_COLUMNS.items()}}
                      for index, hop in enumerate(result["hops"], start=1)], hide_index=True, width="stretch")
    with st.expander("The full result as JSON"):
        st.json(result, expanded=1)
