"""Pulling a snapshot from Dataverse, against the local stand-in (tests/dataverse_standin.py) on 127.0.0.1.

The stand-in serves the demo snapshot; a pulled zip must diagnose exactly like the demo folder, read one page
after another or several at once. Faults (429 with Retry-After, 503, a dropped connection, an answer that never
ends) are survived; a table refused with 400/403/404 is left out and named; 401 stops the pull with one line;
a failed or interrupted pull leaves no file. Reading in time windows is in tests/test_pull_windows.py.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests
from dataverse_standin import TOKEN, Fault, StandIn

from diagnostics import dataverse, export_guide
from diagnostics.dataverse import PullError, RetryPolicy, pull_snapshot, sign_in
from diagnostics.demo import demo_files, write_demo
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot

EMAILS = 120
# Wide enough for everything the demo holds (its emails span the 30 days to 2026-11-20, but replies may point to
# older emails and cases): a pull of this range must diagnose like the whole folder.
SINCE, UNTIL = date(2020, 1, 1), date(2026, 11, 30)
PAGE = 40  # small pages, so every big table has several
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return demo_files(EMAILS)


@pytest.fixture(scope="module")
def folder_report(files, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, emails=EMAILS)
    return _diagnosis(folder)


@pytest.fixture
def server(files):
    with StandIn(files) as stand_in:
        yield stand_in


class Waits:
    """A fake sleep: records what the pull would have waited, returns at once."""

    def __init__(self):
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def _signin(token: str = TOKEN) -> dataverse.SignIn:
    return sign_in(environ={"DATAVERSE_TOKEN": token})


def _policy(waits: Waits | None = None, **changes) -> RetryPolicy:
    return RetryPolicy(**{"connect_timeout": 2, "read_timeout": 2, "max_attempts": 4, "max_seconds": 30,
                          "backoff": 0.5, "sleep": waits or Waits(), **changes})


def _pull(server: StandIn, out: Path, **options) -> dataverse.PullSummary:
    options = {"signin": _signin(), "policy": _policy(), "page_size": PAGE, **options}
    return pull_snapshot(server.url, out, SINCE, UNTIL, **options)


def _diagnosis(path: Path) -> dict:
    """What a diagnosis says (without where it came from, when, and the raw table sizes). Emails are listed in
    the order the snapshot holds them, which is the order their pages were read: compared by activity id."""
    report = diagnose(load_snapshot(path)).to_dict()
    report["emails"].sort(key=lambda email: email["activityid"])
    return {key: report[key] for key in ("summary", "emails", "findings", "queues", "missing_tables")}


def _jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part(claims)}.signature"


def _one_line(text: str) -> str:
    assert "\n" not in text.strip() and text.strip(), text
    return text


# --------------------------------------------------------------------------- the pulled snapshot

@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_a_pulled_snapshot_diagnoses_exactly_like_the_folder_it_was_served_from(server, tmp_path, folder_report,
                                                                                concurrency):
    summary = _pull(server, tmp_path / "pulled.zip", concurrency=concurrency)
    assert summary.path.exists() and summary.pages > len(summary.counts)  # several pages for the big tables
    assert summary.most_in_flight <= concurrency and server.most_in_flight <= concurrency
    pulled = _diagnosis(summary.path)
    assert pulled["summary"]["incoming"] > 50
    assert pulled["emails"] == folder_report["emails"]  # every email's verdict, causes, notes
    assert pulled["findings"] == folder_report["findings"]
    assert pulled == folder_report


def test_pages_are_named_and_shaped_like_a_manual_export(server, tmp_path, files):
    summary = _pull(server, tmp_path / "pulled.zip", concurrency=1)
    with zipfile.ZipFile(summary.path) as archive:
        names = [name for name in archive.namelist() if name != "pull.json"]
        pages = {name: orjson.loads(archive.read(name)) for name in names}
        manifest = orjson.loads(archive.read("pull.json"))
    assert manifest["rows"] == summary.counts and manifest["refused"] == []
    emails = sorted((name for name in names if name.startswith("emails.")), key=len)
    assert emails[:3] == ["emails.json", "emails.2.json", "emails.3.json"]
    assert len(emails) == -(-summary.counts["emails"] // PAGE)
    for name, page in pages.items():
        table = name.split(".")[0]
        last = name == f"{table}.json" if summary.counts[table] <= PAGE else \
            name == f"{table}.{-(-summary.counts[table] // PAGE)}.json"
        assert len(page["value"]) <= PAGE
        assert ("@odata.nextLink" in page) is not last, name
    first = pages["emails.json"]["value"][0]
    assert set(first) - {"@odata.etag"} <= set(export_guide.select_columns("emails")) | _annotations(first)
    assert any(key.endswith("@Microsoft.Dynamics.CRM.lookuplogicalname") for key in first)
    assert summary.counts == {name: count for name, count in _served_counts(server).items()}
    assert sum(summary.counts.values()) == summary.rows


def _annotations(row: dict) -> set[str]:
    return {key for key in row if "@" in key}


def _served_counts(server: StandIn) -> dict[str, int]:
    steps = export_guide.export_steps("https://x.example", SINCE, UNTIL)
    return {step.table: len(server.query(step.table, step.filter)[0]) for step in steps}


def test_concurrent_pages_are_numbered_as_they_come_without_gaps(server, tmp_path):
    summary = _pull(server, tmp_path / "pulled.zip")
    with zipfile.ZipFile(summary.path) as archive:
        names = archive.namelist()
        rows = {name: len(orjson.loads(archive.read(name))["value"]) for name in names if name != "pull.json"}
    assert "pull.json" in names and len(rows) == summary.pages
    for table, count in summary.counts.items():
        pages = [name for name in rows if name.split(".")[0] == table]
        assert pages == [f"{table}.json"] + [f"{table}.{page}.json" for page in range(2, len(pages) + 1)], table
        assert sum(rows[name] for name in pages) == count
        assert all(rows[name] for name in pages) or len(pages) == 1  # an empty page only for an empty table


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_request_is_the_export_guides_with_the_prefer_header(server, tmp_path, concurrency):
    _pull(server, tmp_path / "pulled.zip", concurrency=concurrency)
    steps = export_guide.export_steps("https://contoso.crm.dynamics.com", SINCE, UNTIL)
    first_pages = {}
    for request in server.requests:  # the first request of each table is the export guide's, as it is
        first_pages.setdefault(request["table"], request)
    if concurrency == 1:
        assert list(first_pages) == [step.table for step in steps]
    assert sorted(first_pages) == sorted(step.table for step in steps)
    for step in steps:
        expected = {name: values[-1] for name, values in parse_qs(urlsplit(step.url).query).items()}
        assert first_pages[step.table]["query"] == expected, step.table
    for request in server.requests:
        assert request["prefer"] == f'odata.include-annotations="*",odata.maxpagesize={PAGE}'
    assert any(request["page"] > 1 and "$skiptoken" in request["query"] for request in server.requests)


def test_the_date_range_is_applied_on_createdon(server, tmp_path, files):
    day = date(2026, 11, 10)
    summary = pull_snapshot(server.url, tmp_path / "day.zip", day, day, signin=_signin(), policy=_policy())
    with zipfile.ZipFile(summary.path) as archive:
        emails = orjson.loads(archive.read("emails.json"))["value"]
        parties = orjson.loads(archive.read("activityparties.json"))["value"]
    served = [row for row in orjson.loads(files["emails.json"])["value"] if row["createdon"].startswith("2026-11-10")]
    assert 0 < len(emails) == len(served) < EMAILS
    assert {row["activityid"] for row in emails} == {row["activityid"] for row in served}
    assert {row["_activityid_value"] for row in parties} <= {row["activityid"] for row in emails}
    assert summary.counts["queues"] == len(orjson.loads(files["queues.json"])["value"])  # undated tables are whole


def test_the_default_range_is_the_last_30_days():
    assert dataverse.date_range(None, None, today=date(2026, 11, 20)) == (date(2026, 10, 21), date(2026, 11, 20))
    assert dataverse.date_range(date(2026, 11, 1), None, today=date(2026, 11, 20))[0] == date(2026, 11, 1)
    with pytest.raises(ValueError, match="after the end date"):
        dataverse.date_range(date(2026, 11, 2), date(2026, 11, 1))


# --------------------------------------------------------------------------- the stand-in behaves like Dataverse

def test_stand_in_annotations_only_when_prefer_asks_and_page_size_honoured(server):
    url = f"{server.url}/api/data/v9.2/emails?$select=activityid,_regardingobjectid_value"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    plain = requests.get(url, headers=auth, timeout=5).json()
    assert len(plain["value"]) == EMAILS and not any(_annotations(row) - {"@odata.etag"} for row in plain["value"])
    assert set(plain["value"][0]) == {"@odata.etag", "activityid", "_regardingobjectid_value"}
    prefer = {**auth, "Prefer": 'odata.include-annotations="*",odata.maxpagesize=7'}
    annotated = requests.get(url, headers=prefer, timeout=5)
    assert len(annotated.json()["value"]) == 7 and "$skiptoken=" in annotated.json()["@odata.nextLink"]
    assert "odata.maxpagesize=7" in annotated.headers["Preference-Applied"]
    assert any(_annotations(row) - {"@odata.etag"} for row in annotated.json()["value"])


def test_stand_in_refuses_without_the_right_token(server):
    answer = requests.get(f"{server.url}/api/data/v9.2/queues", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"]["message"]


# --------------------------------------------------------------------------- faults

@pytest.mark.parametrize("kind", ["429", "503", "drop"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_transient_fault_is_survived(server, tmp_path, folder_report, kind, concurrency):
    server.faults.append(Fault(kind, table="activityparties", page=2 if concurrency == 1 else 1, retry_after="3"))
    waits = Waits()
    summary = _pull(server, tmp_path / "pulled.zip", policy=_policy(waits), concurrency=concurrency)
    assert server.faults[0].times == 0  # the fault did happen
    assert len(waits.seconds) == 1
    if kind == "429":
        assert waits.seconds == [3.0]  # Retry-After honoured
    assert _diagnosis(summary.path) == folder_report


def test_an_answer_that_never_ends_times_out_and_is_retried(server, tmp_path, folder_report):
    server.faults.append(Fault("hang", table="queueitems", page=1))
    summary = _pull(server, tmp_path / "pulled.zip", policy=_policy(read_timeout=0.4))
    assert _diagnosis(summary.path) == folder_report


def test_an_answer_that_never_ends_every_time_gives_up_with_one_line_and_no_file(server, tmp_path):
    server.faults.append(Fault("hang", table="queues", times=99))
    out = tmp_path / "pulled.zip"
    with pytest.raises(PullError) as caught:
        _pull(server, out, policy=_policy(read_timeout=0.3, max_attempts=3))
    message = _one_line(str(caught.value))
    assert message.startswith("queues: no answer within 0.3 s; gave up after 3 tries")
    assert list(tmp_path.iterdir()) == []


def test_throttling_that_outlasts_the_bound_gives_up_with_one_line(server, tmp_path):
    server.faults.append(Fault("429", table="contacts", times=99, retry_after="20"))
    waits = Waits()
    with pytest.raises(PullError) as caught:
        _pull(server, tmp_path / "pulled.zip", policy=_policy(waits, max_seconds=30))
    message = _one_line(str(caught.value))
    assert message.startswith("contacts: Dataverse's service protection limit asked to wait 20 s (Number of "
                              "requests exceeded the limit of 6000")
    assert "gave up after 2 tries" in message and waits.seconds == [20.0]  # a second wait would pass 30 s
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kind", "words"), [
    ("403", "refused access (403: Principal user"), ("400", "Dataverse answered 400: Could not find a property")])
def test_a_refused_table_is_not_retried_and_left_out_with_dataverses_message(server, tmp_path, kind, words,
                                                                             folder_report):
    server.faults.append(Fault(kind, table="activitymonitors", times=99))
    summary = _pull(server, tmp_path / "pulled.zip")
    assert [request["table"] for request in server.requests].count("activitymonitors") == 1
    assert list(summary.refused) == ["activitymonitors"] and "activitymonitors" not in summary.counts
    message = _one_line(summary.refused["activitymonitors"])
    assert message.startswith("activitymonitors: ") and words in message
    tables = len(export_guide.export_steps("https://x.example", SINCE, UNTIL))
    assert len(summary.counts) == tables - 1 and list(tmp_path.iterdir()) == [summary.path]
    with zipfile.ZipFile(summary.path) as archive:
        assert not any(name.startswith("activitymonitors") for name in archive.namelist())
        assert orjson.loads(archive.read("pull.json"))["refused"] == [{"table": "activitymonitors",
                                                                       "message": message}]
    pulled = _diagnosis(summary.path)
    assert pulled["missing_tables"] == ["activitymonitors"]
    assert pulled["summary"]["incoming"] == folder_report["summary"]["incoming"]
    snapshot = load_snapshot(summary.path)
    assert any(note.startswith(message) and "marked unchecked" in note for note in snapshot.notes)
    assert "pull.json" not in snapshot.ignored_files


def test_a_table_refused_after_some_of_its_pages_came_leaves_none_of_them(server, tmp_path):
    server.faults.append(Fault("403", table="activityparties", page=2))
    summary = _pull(server, tmp_path / "pulled.zip", concurrency=1)
    assert list(summary.refused) == ["activityparties"]
    with zipfile.ZipFile(summary.path) as archive:
        names = archive.namelist()
    assert not any(name.startswith("activityparties") for name in names) and "emails.2.json" in names
    assert summary.pages == len(names) - 1


@pytest.mark.parametrize("kind", ["403", "400"])
def test_a_refused_emails_table_stops_the_pull(server, tmp_path, kind):
    server.faults.append(Fault(kind, table="emails", times=99))
    with pytest.raises(PullError, match=r"^emails: Dataverse (refused access \(403|answered 400)"):
        _pull(server, tmp_path / "pulled.zip")
    assert list(tmp_path.iterdir()) == []


def test_access_denied_says_who_is_signed_in_and_which_tables_need_read_access(server, tmp_path):
    server.token = _jwt({"upn": "dana@contoso.com"})
    with pytest.raises(PullError) as caught:
        _pull(server, tmp_path / "pulled.zip", signin=_signin(_jwt({"upn": "alex@contoso.com"})))
    message = _one_line(str(caught.value))
    assert message.startswith("emails: Dataverse refused access (401: The user is not a member of the organization.)")
    assert "Signed in as alex@contoso.com (signed in with DATAVERSE_TOKEN)" in message
    assert "needs read access to emails, activityparties, queues" in message
    assert "incidents, incidentresolutions." in message


def test_a_retry_after_longer_than_the_bound_gives_up_at_once(server, tmp_path):
    server.faults.append(Fault("429", table="queues", retry_after="900"))
    waits = Waits()
    with pytest.raises(PullError, match=r"^queues: .* asked to wait 900 s .*; gave up after 1 try in 0 s"):
        _pull(server, tmp_path / "pulled.zip", policy=_policy(waits))
    assert waits.seconds == [] and list(tmp_path.iterdir()) == []


def test_a_missing_output_folder_is_one_line(server, tmp_path):
    with pytest.raises(PullError, match="no such folder$"):
        _pull(server, tmp_path / "nowhere" / "pulled.zip")
    assert server.requests == []


def test_an_interrupted_pull_leaves_no_file_and_keeps_an_older_snapshot(server, tmp_path):
    out = tmp_path / "pulled.zip"
    out.write_bytes(b"the snapshot of last week")

    def interrupt(step: dataverse.PullProgress) -> None:
        if any(table.table == "queueitems" and table.pages for table in step.tables):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _pull(server, out, progress=interrupt)
    assert list(tmp_path.iterdir()) == [out] and out.read_bytes() == b"the snapshot of last week"


@pytest.mark.parametrize("concurrency", [1, 4])
def test_progress_reports_every_table_with_rows_and_pages_so_far(server, tmp_path, concurrency):
    seen: list[dataverse.PullProgress] = []
    summary = _pull(server, tmp_path / "pulled.zip", progress=seen.append, concurrency=concurrency)
    emails = [next(table for table in step.tables if table.table == "emails") for step in seen]
    assert [table.rows for table in emails] == sorted(table.rows for table in emails)  # rows only grow
    assert emails[-1].done and emails[-1].rows == EMAILS
    assert emails[0].rows < EMAILS and not emails[0].done
    last = seen[-1]
    assert [table.table for table in last.tables] == list(summary.counts)
    assert last.tables_done == len(last.tables) == len(summary.counts) and last.rows == summary.rows
    assert sum(table.pages for table in last.tables) >= summary.pages
    if concurrency > 1:  # the large tables are read in windows: their share of the period grows to 1
        shares = [table.share for table in emails if table.share is not None and not table.done]
        assert shares and all(0 <= share < 1 for share in shares) and emails[-1].share == 1.0


def test_a_next_link_to_another_host_is_not_followed(server, tmp_path):
    session = requests.Session()
    original = session.get

    def tamper(url, **kwargs):
        answer = original(url, **kwargs)
        body = answer.json()
        if "@odata.nextLink" in body:
            body["@odata.nextLink"] = "https://evil.example/api/data/v9.2/emails?$skiptoken=1"
            answer._content = orjson.dumps(body)
        return answer

    session.get = tamper
    with pytest.raises(PullError, match=r"^emails: the next page's address is not on http://127\.0\.0\.1"):
        _pull(server, tmp_path / "pulled.zip", session=session)
    assert list(tmp_path.iterdir()) == []


def test_an_html_answer_is_refused_with_one_line(tmp_path):
    class Html:
        def get(self, url, **kwargs):
            answer = requests.Response()
            answer.status_code, answer._content = 200, b"<html>Sign in to your account</html>"
            answer.headers["Content-Type"] = "text/html; charset=utf-8"
            return answer

    with pytest.raises(PullError, match=r"^emails: the answer is not Web API JSON \(text/html\)"):
        pull_snapshot("http://127.0.0.1:9", tmp_path / "x.zip", SINCE, UNTIL, signin=_signin(), session=Html())
    assert list(tmp_path.iterdir()) == []


def test_a_closed_port_is_refused_at_once(tmp_path):
    waits = Waits()
    with pytest.raises(PullError, match="^cannot reach 127.0.0.1:9 from this server: the connection was refused"):
        pull_snapshot("http://127.0.0.1:9", tmp_path / "x.zip", SINCE, UNTIL, signin=_signin(), policy=_policy(waits))
    assert waits.seconds == []


# --------------------------------------------------------------------------- addresses

@pytest.mark.parametrize(("url", "root"), [
    ("https://Contoso.crm4.dynamics.com/main.aspx?appid=1", "https://contoso.crm4.dynamics.com"),
    ("contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"), ("http://localhost:81/", "http://localhost:81"),
    ("http://[::1]:81", "http://[::1]:81")])
def test_organisation_addresses(url, root):
    assert dataverse.org_root(url) == root


@pytest.mark.parametrize("url", ["http://contoso.crm.dynamics.com", "http://10.0.0.5", "ftp://contoso.crm.dynamics.com",
                                 "http://user@127.0.0.1:80", "", "https://"])
def test_addresses_refused(url):
    with pytest.raises(ValueError):
        dataverse.org_root(url)


def test_the_app_connects_only_to_dynamics_clouds():
    assert dataverse.org_root("https://contoso.crm.dynamics.com", clouds_only=True)
    assert dataverse.org_root("http://127.0.0.1:80", clouds_only=True)
    with pytest.raises(ValueError, match="Dynamics 365 address"):
        dataverse.org_root("https://evil.example", clouds_only=True)


def test_loopback_requests_are_the_export_guides_with_the_loopback_root():
    steps = dataverse.pull_steps("http://localhost:81", SINCE, UNTIL)
    guide = export_guide.export_steps("https://contoso.crm.dynamics.com", SINCE, UNTIL)
    assert [step.url.replace("http://localhost:81", "https://contoso.crm.dynamics.com") for step in steps] == \
        [step.url for step in guide]


# --------------------------------------------------------------------------- sign-in

class FakeDeviceCode:
    """Stands in for azure.identity.DeviceCodeCredential: prompts once, then hands out a token."""

    made: list[dict] = []

    def __init__(self, client_id: str, *, tenant_id: str, prompt_callback, timeout: int):
        self.prompt = prompt_callback
        self.token = _jwt({"upn": "dana@contoso.com"})
        FakeDeviceCode.made.append({"client_id": client_id, "tenant_id": tenant_id})

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken

        if self.prompt:
            self.prompt("https://microsoft.com/devicelogin", "FAKE-CODE", datetime.now(UTC) + timedelta(minutes=15))
            self.prompt = None
        return AccessToken(self.token, 2**31)


@pytest.fixture
def device_code(monkeypatch):
    import azure.identity

    FakeDeviceCode.made = []
    monkeypatch.setattr(azure.identity, "DeviceCodeCredential", FakeDeviceCode)
    monkeypatch.setattr(dataverse.shutil, "which", lambda name: None)  # no Azure CLI here
    return FakeDeviceCode


def test_the_device_code_prompt_reaches_the_user_and_names_who_signed_in(server, tmp_path, device_code):
    prompts = []
    server.token = _jwt({"upn": "dana@contoso.com"})
    signin = sign_in(lambda address, code, expires: prompts.append((address, code)), environ={})
    summary = _pull(server, tmp_path / "pulled.zip", signin=signin)
    assert prompts == [("https://microsoft.com/devicelogin", "FAKE-CODE")]  # once for the whole pull
    assert summary.identity == "dana@contoso.com (signed in with device code)"
    assert device_code.made == [{"client_id": dataverse.SAMPLE_CLIENT_ID, "tenant_id": "organizations"}]


def test_the_device_code_client_id_is_configurable(device_code):
    sign_in(environ={"DATAVERSE_CLIENT_ID": "11111111-2222-3333-4444-555555555555", "AZURE_TENANT_ID": "contoso.com"})
    sign_in(client_id="99999999-2222-3333-4444-555555555555", environ={})
    assert device_code.made == [{"client_id": "11111111-2222-3333-4444-555555555555", "tenant_id": "contoso.com"},
                                {"client_id": "99999999-2222-3333-4444-555555555555", "tenant_id": "organizations"}]


def test_sign_in_order_token_then_client_credentials_then_cli_then_device_code(device_code, monkeypatch):
    secret = {"AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
    assert [way for way, _ in sign_in(environ={**secret, "DATAVERSE_TOKEN": "x"}).ways] == ["DATAVERSE_TOKEN"]
    monkeypatch.setattr(dataverse.shutil, "which", lambda name: "/usr/bin/az")
    assert [way for way, _ in sign_in(environ=secret).ways] == [
        "client credentials (AZURE_CLIENT_ID)", "the Azure CLI's login", "device code"]
    # the app: a visitor signs in as themselves, never as the server's own identities
    assert [way for way, _ in sign_in(environ=secret, person_only=True).ways] == ["device code"]


def test_an_unavailable_way_falls_through_to_the_next(device_code):
    from azure.identity import CredentialUnavailableError

    class NoCli:
        def get_token(self, *scopes, **kwargs):
            raise CredentialUnavailableError("Azure CLI not logged in")

    signin = dataverse.SignIn([("the Azure CLI's login", NoCli()),
                               ("device code", FakeDeviceCode("c", tenant_id="t", prompt_callback=None, timeout=1))])
    assert signin.token("https://contoso.crm.dynamics.com/.default") and signin.method == "device code"


def test_a_failed_sign_in_is_one_line():
    from azure.core.exceptions import ClientAuthenticationError

    class Refused:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("AADSTS50076: multi-factor\nauthentication required")

    with pytest.raises(PullError, match="^sign-in with device code failed: AADSTS50076: multi-factor authentication"):
        dataverse.SignIn([("device code", Refused())]).token("https://contoso.crm.dynamics.com/.default")


@pytest.mark.parametrize(("text", "expected"), [
    ("Authentication failed: HTTPSConnection(host='login.microsoftonline.com', port=443): Failed to resolve "
     "'login.microsoftonline.com' ([Errno -2] Name or service not known)",
     "cannot reach login.microsoftonline.com from this server: its name cannot be resolved"),
    ("Authentication failed: HTTPSConnectionPool(host='login.microsoftonline.com', port=443): Max retries exceeded "
     "(Caused by NewConnectionError('[Errno 111] Connection refused'))",
     "cannot reach login.microsoftonline.com from this server: the connection was refused"),
    ("AADSTS700016: Application with identifier '51f8' was not found in the directory 'Contoso'.\r\nTrace ID: 1"
     "\r\nCorrelation ID: 2", "sign-in with device code failed: AADSTS700016: Application with identifier '51f8' was "
     "not found in the directory 'Contoso'. Your tenant may not allow this app registration")])
def test_sign_in_trouble_is_one_plain_line_without_exception_text(text, expected):
    from azure.core.exceptions import ClientAuthenticationError

    class Trouble:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError(text)

    with pytest.raises(PullError) as caught:
        dataverse.SignIn([("device code", Trouble())]).token("https://contoso.crm.dynamics.com/.default")
    message = _one_line(str(caught.value))
    assert message.startswith(expected)
    assert "Errno" not in message and "HTTPS" not in message and "Trace ID" not in message


def test_an_unreachable_sign_in_service_is_one_plain_line():
    from azure.core.exceptions import ServiceRequestError

    class Offline:
        def get_token(self, *scopes, **kwargs):
            raise ServiceRequestError("<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new "
                                      "connection: [Errno -3] Temporary failure in name resolution")

    with pytest.raises(PullError, match=r"^cannot reach login\.microsoftonline\.com from this server: its name "
                                        r"cannot be resolved \(no DNS or no internet access\)$"):
        dataverse.SignIn([("device code", Offline())]).token("https://contoso.crm.dynamics.com/.default")


@pytest.mark.parametrize(("claims", "expected"), [
    ({"upn": "dana@contoso.com", "appid": "x"}, "dana@contoso.com (signed in with m)"),
    ({"appid": "0000-app"}, "the application 0000-app (signed in with m)"), (None, "the account of the token from m")])
def test_who_is_signed_in(claims, expected):
    assert dataverse.who(_jwt(claims) if claims else "opaque-token", "m") == expected


# --------------------------------------------------------------------------- command line

def _cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATAVERSE_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_pull_then_diagnose_gives_the_identical_diagnosis(server, tmp_path, folder_report):
    out = tmp_path / "x.zip"
    done = _cli("pull", server.url, "--out", str(out), "--since", str(SINCE), "--until", str(UNTIL))
    assert done.returncode == 0, done.stderr
    assert _one_line(done.stdout).startswith("pulled 17 tables, ") and f"into {out}" in done.stdout
    assert _diagnosis(out) == folder_report
    shortcut = _cli("diagnose", "--pull", server.url, "--since", str(SINCE), "--until", str(UNTIL))
    assert shortcut.returncode == 0, shortcut.stderr
    report = json.loads(shortcut.stdout)
    report["emails"].sort(key=lambda email: email["activityid"])
    assert {key: report[key] for key in folder_report} == folder_report


def test_cli_wrong_token_exits_2_with_one_line_and_no_file(server, tmp_path):
    out = tmp_path / "x.zip"
    done = _cli("pull", server.url, "--out", str(out), token="wrong")
    assert done.returncode == 2 and done.stdout == ""
    assert _one_line(done.stderr).startswith("error: emails: Dataverse refused access (401")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "words"), [
    (["pull", "http://contoso.crm.dynamics.com", "--out", "{out}"], "http:// is only for a local test server"),
    (["pull", "https://contoso.crm.dynamics.com", "--out", "{out}", "--since", "2026-13-01"], "--since '2026-13-01'"),
    (["pull", "https://contoso.crm.dynamics.com", "--out", "{out}", "--since", "2026-11-02", "--until", "2026-11-01"],
     "after the end date"),
    (["diagnose"], "give either a SNAPSHOT or --pull ORG_URL")])
def test_cli_refuses_bad_input_with_one_line(tmp_path, args, words):
    done = _cli(*[arg.format(out=tmp_path / "x.zip") for arg in args])
    assert done.returncode == 2 and words in _one_line(done.stderr) and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_device_code_prompt_goes_to_the_terminal(server, tmp_path, device_code, monkeypatch, capsys):
    from diagnostics import cli

    server.token = _jwt({"upn": "dana@contoso.com"})
    monkeypatch.delenv("DATAVERSE_TOKEN", raising=False)
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "x.zip"
    assert cli.main(["pull", server.url, "--out", str(out), "--since", "2026-11-01", "--until", "2026-11-02"]) == 0
    captured = capsys.readouterr()
    assert "open https://microsoft.com/devicelogin and enter the code FAKE-CODE" in captured.err
    assert _one_line(captured.out).startswith("pulled 17 tables") and zipfile.is_zipfile(io.BytesIO(out.read_bytes()))


# --------------------------------------------------------------------------- the app (AppTest)

def _plain(markdown: str) -> str:
    """Markdown-escaped text as it reads on screen."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _connect_in_app(server: StandIn):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/upload.py").run()
    at.text_input(key="connect_org").input(server.url)
    at.date_input(key="connect_dates").set_value((SINCE, UNTIL))
    next(button for button in at.button if button.label == "Sign in and pull").click()
    return at.run()


def test_app_connect_shows_the_device_code_and_a_refusal_in_one_line(server, device_code, monkeypatch, store_path):
    monkeypatch.delenv("DATAVERSE_TOKEN", raising=False)
    server.token = "only-for-someone-else"
    at = _connect_in_app(server)
    assert not at.exception, [item.value for item in at.exception]
    infos = " ".join(item.value for item in at.info)
    assert "https://microsoft.com/devicelogin" in infos and "FAKE-CODE" in infos
    errors = [_plain(item.value) for item in at.error]
    assert len(errors) == 1 and "refused access (401" in errors[0] and "dana@contoso" in errors[0]
    assert "current" not in at.session_state  # the demo stays


def test_app_connect_names_the_refused_tables_and_the_causes_left_unchecked(server, monkeypatch, store_path):
    monkeypatch.setenv("DATAVERSE_TOKEN", TOKEN)
    server.faults.append(Fault("403", table="activitymonitors", times=99))
    at = _connect_in_app(server)
    assert not at.exception, [item.value for item in at.exception]
    said = _plain(" ".join(item.value for item in at.info))  # not green: a partial snapshot
    assert "Pulled and diagnosed 127.0.0.1" in said
    assert "Left out of the snapshot because Dataverse refused them: activitymonitors: Dataverse refused access " \
           "(403: Principal user" in said
    assert "The snapshot has no activitymonitors table, so " in said and "could not be checked" in said
    captions = _plain(" ".join(item.value for item in at.caption))
    assert "The snapshot has no activitymonitors table" in captions  # the overview says it too


def test_app_connect_pulls_and_shows_the_report_without_keeping_the_token(server, monkeypatch, store_path,
                                                                         folder_report):
    token = _jwt({"upn": "dana@contoso.com", "secret": "s3cr3t-marker"})
    server.token = token
    monkeypatch.setenv("DATAVERSE_TOKEN", token)
    at = _connect_in_app(server)
    assert not at.exception, [item.value for item in at.exception]
    incoming = next(item.value for item in at.metric if item.label == "Incoming")
    assert incoming.replace(",", "") == str(folder_report["summary"]["incoming"])
    assert "Pulled and diagnosed 127.0.0.1" in _plain(" ".join(item.value for item in at.success))
    kept = repr(at.session_state.to_dict())
    assert "s3cr3t" not in kept and token not in kept
