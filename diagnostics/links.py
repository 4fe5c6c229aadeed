"""Links into Dynamics 365: the organisation URL of a snapshot and a record's address in the app."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# "@odata.context": "https://contoso.crm4.dynamics.com/api/data/v9.2/$metadata#emails"
_CONTEXT = re.compile(rb'"@odata\.context"\s*:\s*"(https://[^"/\s]+)/api/data/')
# The logical name of each table's records, for main.aspx?etn=…
LOGICAL_NAMES = {"queues": "queue", "convertrules": "convertrule", "systemusers": "systemuser",
                 "workflows": "workflow", "mailboxes": "mailbox", "asyncoperations": "asyncoperation",
                 "environmentvariabledefinitions": "environmentvariabledefinition",
                 "environmentvariablevalues": "environmentvariablevalue", "contacts": "contact",
                 "accounts": "account", "emails": "email", "incidents": "incident"}
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", re.IGNORECASE)
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def org_url_in(data: bytes) -> str | None:
    """The organisation URL named by a Web API page's ``@odata.context``, or None."""
    found = _CONTEXT.search(data[:4096])
    return clean_org_url(found.group(1).decode("ascii", "replace")) if found else None


def clean_org_url(text: str | None) -> str | None:
    """``https://host`` from what an admin typed (``contoso.crm.dynamics.com/main.aspx`` too), or None."""
    text = (text or "").strip()
    if not text:
        return None
    parts = urlsplit(text if "://" in text else "https://" + text)
    host = parts.hostname or ""
    if parts.scheme != "https" or not _HOST.fullmatch(host) or "." not in host:
        return None
    return f"https://{host.lower()}"


def record_url(org_url: str | None, table: str, record_id: str | None) -> str | None:
    """``https://ORG/main.aspx?pagetype=entityrecord&etn=<logical name>&id=<guid>``, or None."""
    name = LOGICAL_NAMES.get(table)
    if not org_url or not name or not record_id or not _GUID.fullmatch(str(record_id)):
        return None
    return f"{org_url}/main.aspx?pagetype=entityrecord&etn={name}&id={quote(str(record_id))}"


def with_record_links(plan: list[dict], org_url: str | None) -> list[dict]:
    """The fix plan's entries linked to ``org_url`` (an organisation typed after the diagnosis): each record
    id the plan found stays, only the links change."""
    return [{**entry, "record_url": record_url(org_url, entry["about"]["table"], entry["about"]["id"])}
            for entry in plan]
