"""How an admin exports a snapshot: the Web API URL of every table the diagnosis reads.

Each URL selects exactly the columns of ``schema.TABLES`` (lookups as ``_x_value``); the big,
time-bound tables are filtered to the admin's date range on ``createdon``. Opened in a browser tab
signed in to the organisation, each URL returns one page of JSON to save under the entity set's
name; ``console_script`` does the same from the browser's developer console, with the ``Prefer``
header that adds the lookup annotations and following ``@odata.nextLink`` pages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote, urlsplit

from . import schema

API_PATH = "/api/data/v9.2"
PREFER_HEADER = 'odata.include-annotations="*"'
PAGE_SIZE = 5000
SETTING = "msdyn_ArcCreateContactWithRuleOwner"
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d{1,5})?$")
_SAFE = "$,=/:()'*@.-_"

# Tables filtered to the date range, and the column the range applies to.
DATED = {
    "emails": "createdon",
    "activityparties": "activityid_email/createdon",
    "queueitems": "createdon",
    "activitymonitors": "createdon",
    "asyncoperations": "createdon",
}
# Tables whose rows an email of the period regards, however old: a case created in the period, or one that an email
# of the period is regarding (a reply to an older, untouched case). ``Incident_Emails`` is the case's one-to-many
# navigation property to the emails regarding it (incident table reference); a resolution reaches its case through
# the lookup's navigation property ``incidentid`` (incidentresolution table reference).
REGARDED_CASES = {"incidents": "", "incidentresolutions": "incidentid/"}
# Extra conditions that keep a table to the rows the diagnosis reads.
CONDITIONS = {
    "queueitems": "objecttypecode eq 4202",
    "asyncoperations": "statuscode eq 31",
    "workflows": "(category eq 0 or category eq 5)",
    "environmentvariabledefinitions": f"schemaname eq '{SETTING}'",
    # Through the definition: a value row's own schemaname need not be the definition's. The navigation property
    # is the lookup's ReferencingEntityNavigationPropertyName in the environmentvariablevalue table reference.
    "environmentvariablevalues": f"EnvironmentVariableDefinitionId/schemaname eq '{SETTING}'",
    "incidentresolutions": "statecode eq 1",  # Completed: the resolution that closed the case
}
WHY = {
    "emails": "every email of the period: the incoming ones are diagnosed",
    "activityparties": "the To, Cc and sender of those emails (Bcc is never recorded for received mail)",
    "queues": "queues, their addresses and email settings",
    "queueitems": "queue items of those emails, active and inactive",
    "convertrules": "the automatic record creation and update rules",
    "convertruleitems": "the rules' conditions and their flows or workflows",
    "activitymonitors": "the rules' evaluation log (Activity monitor)",
    "asyncoperations": "failed system jobs (status Failed) of legacy rules",
    "workflows": "workflows and flows, to see whether each rule condition's is activated",
    "mailboxes": "mailboxes, for their sync status and errors",
    "contacts": "all contacts: the sender check needs every customer address",
    "accounts": "all accounts: the sender check needs every customer address",
    "systemusers": "users, to see whether a rule owner is disabled",
    "environmentvariabledefinitions": f"the {SETTING} setting (whose permissions create contacts)",
    "environmentvariablevalues": f"the {SETTING} value, when it differs from the default",
    "incidents": "cases created in the period or regarded by an email of the period, with their state: converted "
                 "emails and the cases replies are regarding",
    "incidentresolutions": "optional: when those cases were resolved, for versions whose cases lack deactivatedon",
}


@dataclass(frozen=True)
class ExportStep:
    table: str  # the entity set, which is also the file name: emails.json, emails.2.json, ...
    url: str
    columns: tuple[str, ...]
    filter: str | None
    why: str

    @property
    def file_name(self) -> str:
        return f"{self.table}.json"


def org_root(org_url: str) -> str:
    """``https://contoso.crm.dynamics.com`` from what an admin pastes (a bare host, a page of the app...)."""
    text = (org_url or "").strip()
    if not text:
        raise ValueError("enter your organisation URL, e.g. https://contoso.crm.dynamics.com")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.netloc or "").lower()
    if parts.scheme.lower() != "https" or not _HOST.match(host):
        raise ValueError("the organisation URL should look like https://contoso.crm.dynamics.com")
    return f"https://{host}"


def select_columns(table: str) -> tuple[str, ...]:
    """The Web API names of the columns the diagnosis reads (lookups as ``_x_value``)."""
    return tuple(schema.raw_name(table, column) for column in schema.TABLES[table])


def _instant(day: date | datetime) -> str:
    moment = day if isinstance(day, datetime) else datetime.combine(day, time(), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants a date range covers: ``[start 00:00Z, end + 1 day 00:00Z)``."""
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def table_filter(table: str, start: date | None, end: date | None,
                 window: tuple[datetime, datetime] | None = None) -> str | None:
    """The ``$filter`` of a table: its extra condition and, for dated tables, ``start <= date < end + 1 day``
    (or ``window[0] <= date < window[1]``: the pull reads large tables in time windows)."""
    parts = []
    if table in CONDITIONS:
        parts.append(CONDITIONS[table])
    if table in DATED:
        column = DATED[table]
        lower, upper = window or (start, end and end + timedelta(days=1))
        if lower is not None:
            parts.append(f"{column} ge {_instant(lower)}")
        if upper is not None:
            parts.append(f"{column} lt {_instant(upper)}")
    if table in REGARDED_CASES and (start is not None or end is not None):
        parts.append(_regarded_cases(REGARDED_CASES[table], start, end))
    return " and ".join(parts) or None


def _between(column: str, start: date | None, end: date | None) -> str:
    bounds = ([f"{column} ge {_instant(start)}"] if start is not None else []) + (
        [f"{column} lt {_instant(end + timedelta(days=1))}"] if end is not None else [])
    return " and ".join(bounds)


def _regarded_cases(path: str, start: date | None, end: date | None) -> str:
    """Cases created in the period, or regarded by an email of the period (``path`` leads to the case)."""
    return (f"(({_between(path + 'createdon', start, end)}) or "
            f"{path}Incident_Emails/any(e:{_between('e/createdon', start, end)}))")


def export_steps(org_url: str, start: date | None, end: date | None) -> list[ExportStep]:
    """One step per table of ``schema.TABLES``, in its order; raises ``ValueError`` for a bad URL or range."""
    if start is not None and end is not None and start > end:
        raise ValueError("the start date is after the end date")
    root = org_root(org_url) + API_PATH
    steps = []
    for table in schema.TABLES:
        columns = select_columns(table)
        condition = table_filter(table, start, end)
        steps.append(ExportStep(table, _url(root, table, columns, condition), columns, condition, WHY[table]))
    return steps


def window_step(step: ExportStep, start: datetime, end: datetime) -> ExportStep:
    """A dated table's step narrowed to ``start <= date < end`` (same columns and conditions, same root)."""
    condition = table_filter(step.table, None, None, window=(start, end))
    root = step.url[: step.url.index(f"/{step.table}?")]
    return ExportStep(step.table, _url(root, step.table, step.columns, condition), step.columns, condition, step.why)


def _url(root: str, table: str, columns: tuple[str, ...], condition: str | None) -> str:
    query = "$select=" + ",".join(columns)
    if condition:
        query += "&$filter=" + condition
    return f"{root}/{table}?{quote(query, safe=_SAFE + '&')}"


def console_script(steps: list[ExportStep]) -> str:
    """JavaScript for the developer console of a signed-in tab: fetches every URL with the ``Prefer``
    header, follows ``@odata.nextLink`` and downloads each page as ``table.json``, ``table.2.json``..."""
    urls = json.dumps({step.table: step.url for step in steps}, indent=2)
    return f"""// Paste into the developer console (F12) of a tab signed in to your organisation.
(async () => {{
  const urls = {urls};
  const headers = {{
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "Prefer": 'odata.include-annotations="*",odata.maxpagesize={PAGE_SIZE}',
  }};
  for (const [table, first] of Object.entries(urls)) {{
    let url = first;
    for (let page = 1; url; page++) {{
      const response = await fetch(url, {{ headers, credentials: "include" }});
      if (!response.ok) {{
        console.error(table, response.status, await response.text());
        break;
      }}
      const text = await response.text();
      const name = page === 1 ? `${{table}}.json` : `${{table}}.${{page}}.json`;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], {{ type: "application/json" }}));
      link.download = name;
      link.click();
      url = JSON.parse(text)["@odata.nextLink"];
      console.log(`saved ${{name}}`);
      await new Promise((done) => setTimeout(done, 400));
    }}
  }}
}})();
"""


PAGING_NOTE = (f"The Web API returns at most {PAGE_SIZE:,} rows per response. When a saved file ends with an "
               "\"@odata.nextLink\" address, open that address too and save it as the next page: emails.json, "
               "emails.2.json, emails.3.json, ... (or emails/1.json, emails/2.json, ... in a folder).")
ZIP_STEPS = (
    "Put every saved .json file in one folder (no other files are needed).",
    "Windows: select the files, right-click > Send to > Compressed (zipped) folder. macOS: select them, "
    "right-click > Compress. Linux: zip snapshot.zip *.json",
    "Upload the .zip on the Upload snapshot page, or run: python -m diagnostics diagnose snapshot.zip",
)
