"""Pull a snapshot straight from Dataverse: sign in, fetch every table the diagnosis reads, zip the pages.

The requests are the export guide's (``export_guide.export_steps``: the same ``$select`` and ``$filter``),
sent with the ``Prefer`` header that adds the lookup annotations and sets the page size; every
``@odata.nextLink`` is followed and each page is stored as Dataverse returned it, named as an admin
saves them by hand (``emails.json``, ``emails.2.json``...), so a pulled snapshot is like any other.

Transient trouble is retried with tenacity: ``429`` after its ``Retry-After`` (Dataverse's service
protection limits), ``502``/``503``/``504``, dropped connections and answers that stall, with backoff
and a bounded total time. ``400``/``401``/``403``/``404`` are never retried. Every failure is a
``PullError``: one line naming the table and Dataverse's own message. The zip is written to a
temporary file renamed at the end, so a refused or interrupted pull leaves no file behind.

Sign-in uses azure-identity: ``DATAVERSE_TOKEN`` as is when set, else client credentials from the
environment, the Azure CLI's login, and device code for a person. Tokens are never stored or logged.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import tenacity

from . import export_guide
from .errors import SnapshotError

SAMPLE_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"  # Microsoft's shared app registration of the samples
DEFAULT_DAYS = 30
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Where Dataverse environments live (commercial, China, US government clouds); the app only connects there.
CLOUDS = (".dynamics.com", ".dynamics.cn", ".microsoftdynamics.us", ".appsplatform.us")
RETRIED_STATUSES = {429, 502, 503, 504}
ZIP_LEVEL = 1  # JSON still shrinks about 10x; higher levels cost seconds per 100 MB for little
_STAND_IN_ROOT = "https://loopback.invalid"  # export_steps wants https; swapped for the loopback root


class PullError(SnapshotError):
    """A pull that could not be done; ``str(error)`` is one line fit to show as is."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for Dataverse: per attempt (timeouts) and per request (attempts, total seconds)."""

    connect_timeout: float = 15.0
    read_timeout: float = 120.0
    max_attempts: int = 8
    max_seconds: float = 600.0
    backoff: float = 2.0  # the first wait; it doubles (with jitter) up to max_backoff
    max_backoff: float = 60.0
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is: the table, its page and rows so far, and why it waits when it does."""

    table: str
    page: int
    rows: int
    tables_done: int
    tables_total: int
    total_rows: int
    done: bool = False  # the table is complete
    waiting: str = ""  # set before a retry: what went wrong and how long the pull waits


@dataclass(frozen=True)
class PullSummary:
    path: Path
    counts: dict[str, int]
    pages: int
    seconds: float
    identity: str

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        return (f"pulled {len(self.counts)} tables, {self.rows:,} rows in {self.pages} pages in "
                f"{self.seconds:.1f} s into {self.path}")


Progress = Callable[[PullProgress], None]
Prompt = Callable[[str, str, datetime], None]  # verification address, user code, expiry


# --------------------------------------------------------------------------- sign-in

class StaticToken:
    """A bearer token used as is (``DATAVERSE_TOKEN``): automation and tests."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"


@dataclass
class SignIn:
    """The ways to get a token, tried in order; the first that works is used for the whole pull."""

    ways: list[tuple[str, Any]]
    method: str = ""

    def token(self, scope: str) -> str:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import CredentialUnavailableError

        for method, credential in self.ways:
            if self.method and method != self.method:
                continue
            try:
                token = credential.get_token(scope).token
            except CredentialUnavailableError:
                continue
            except ClientAuthenticationError as error:
                raise PullError(f"sign-in with {method} failed: {_one_line(error.message or str(error))}") from None
            self.method = method
            return token
        raise PullError("no way to sign in: " + ", ".join(method for method, _ in self.ways) + " were unavailable")


def print_prompt(address: str, code: str, expires: datetime) -> None:
    """The command line's device-code prompt."""
    print(f"To sign in, open {address} and enter the code {code} (valid until {expires:%H:%M} UTC).",
          file=sys.stderr, flush=True)


def sign_in(prompt: Prompt | None = None, *, client_id: str | None = None, person_only: bool = False,
            environ: Mapping[str, str] = os.environ) -> SignIn:
    """``DATAVERSE_TOKEN`` when set; else client credentials (``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID`` and
    ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``), the Azure CLI's login, then device code.

    ``person_only`` (the app) leaves out the machine's own identities: a visitor signs in as themselves.
    """
    token = environ.get("DATAVERSE_TOKEN", "").strip()
    if token:
        return SignIn([("DATAVERSE_TOKEN", StaticToken(token))])
    from azure.identity import AzureCliCredential, DeviceCodeCredential, EnvironmentCredential

    ways: list[tuple[str, Any]] = []
    if not person_only and _has_client_credentials(environ):
        ways.append(("client credentials (AZURE_CLIENT_ID)", EnvironmentCredential()))
    if not person_only and shutil.which("az"):
        ways.append(("the Azure CLI's login", AzureCliCredential()))
    client = client_id or environ.get("DATAVERSE_CLIENT_ID") or SAMPLE_CLIENT_ID
    ways.append(("device code", DeviceCodeCredential(
        client_id=client, tenant_id=environ.get("AZURE_TENANT_ID") or "organizations",
        prompt_callback=prompt or print_prompt, timeout=600)))
    return SignIn(ways)


UNATTENDED_VARIABLES = ("DATAVERSE_TOKEN, or AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
                        "(or AZURE_CLIENT_CERTIFICATE_PATH) of an application user")


def sign_in_unattended(environ: Mapping[str, str] = os.environ) -> SignIn:
    """A scheduled round's sign-in: ``DATAVERSE_TOKEN`` or an application user's client credentials; never a
    person's device code (nobody is there to enter it) nor the Azure CLI's login (it expires unseen)."""
    token = environ.get("DATAVERSE_TOKEN", "").strip()
    if token:
        return SignIn([("DATAVERSE_TOKEN", StaticToken(token))])
    if not _has_client_credentials(environ):
        raise PullError(f"an unattended round cannot sign in: set {UNATTENDED_VARIABLES}")
    from azure.identity import CertificateCredential, ClientSecretCredential

    tenant, client = environ["AZURE_TENANT_ID"], environ["AZURE_CLIENT_ID"]
    try:
        credential = (ClientSecretCredential(tenant, client, environ["AZURE_CLIENT_SECRET"])
                      if environ.get("AZURE_CLIENT_SECRET")
                      else CertificateCredential(tenant, client, environ["AZURE_CLIENT_CERTIFICATE_PATH"]))
    except (OSError, ValueError) as error:  # a certificate that cannot be read, a malformed tenant
        raise PullError(f"sign-in with client credentials failed: {_one_line(str(error))}") from None
    return SignIn([("client credentials (AZURE_CLIENT_ID)", credential)])


def _has_client_credentials(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("AZURE_CLIENT_ID") and environ.get("AZURE_TENANT_ID")
                and (environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_CLIENT_CERTIFICATE_PATH")))


def who(token: str, method: str) -> str:
    """Who a token speaks for, from its claims (read, not verified: only to name the account to the user)."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, orjson.JSONDecodeError):
        claims = {}
    claims = claims if isinstance(claims, dict) else {}
    person = next((claims[key] for key in ("upn", "preferred_username", "unique_name", "email")
                   if isinstance(claims.get(key), str)), None)
    if person:
        return f"{person} (signed in with {method})"
    app = claims.get("appid") or claims.get("azp")
    if isinstance(app, str):
        return f"the application {app} (signed in with {method})"
    return f"the account of the token from {method}"


# --------------------------------------------------------------------------- what to fetch

def org_root(org_url: str, clouds_only: bool = False) -> str:
    """``https://contoso.crm.dynamics.com``; ``http://`` only on loopback (a local stand-in)."""
    text = (org_url or "").strip()
    parts = urlsplit(text if "://" in text else "https://" + text)
    if parts.scheme.lower() == "http":
        if parts.hostname in LOOPBACK_HOSTS and not parts.username:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
            return f"http://{parts.netloc.lower()}"
        raise ValueError("http:// is only for a local test server (127.0.0.1 or localhost); use https://")
    root = export_guide.org_root(text)
    if clouds_only and not root.endswith(CLOUDS):
        raise ValueError("the organisation URL should be a Dynamics 365 address, e.g. https://contoso.crm.dynamics.com")
    return root


def date_range(since: date | None, until: date | None, today: date | None = None) -> tuple[date, date]:
    """The range to pull: by default the last 30 days, today included."""
    until = until or today or datetime.now(UTC).date()
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise ValueError(f"the start date {since} is after the end date {until}")
    return since, until


def pull_steps(root: str, since: date, until: date) -> list[export_guide.ExportStep]:
    """The export guide's requests for this organisation (one source of truth for columns and filters)."""
    if root.startswith("https://"):
        return export_guide.export_steps(root, since, until)
    steps = export_guide.export_steps(_STAND_IN_ROOT, since, until)
    return [replace(step, url=root + step.url[len(_STAND_IN_ROOT):]) for step in steps]


# --------------------------------------------------------------------------- the pull

def pull_snapshot(org_url: str, out: str | Path, since: date | None = None, until: date | None = None, *,
                  signin: SignIn, progress: Progress | None = None, policy: RetryPolicy | None = None,
                  session: requests.Session | None = None, clouds_only: bool = False,
                  page_size: int = export_guide.PAGE_SIZE) -> PullSummary:
    """Fetch every table into the zip ``out``; raises ``PullError`` (nothing written) when it cannot."""
    started = time.monotonic()
    try:
        root = org_root(org_url, clouds_only)
        steps = pull_steps(root, *date_range(since, until))
    except ValueError as error:
        raise PullError(str(error)) from None
    out = Path(out)
    if not out.parent.is_dir():
        raise PullError(f"{out.parent}: no such folder")
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    puller = _Puller(root, signin, policy or RetryPolicy(), session or requests.Session(), progress,
                     [step.table for step in steps], f"{export_guide.PREFER_HEADER},odata.maxpagesize={page_size}")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
            for step in steps:
                puller.pull_table(step, archive)
        os.replace(partial, out)
    except BaseException:  # an interruption too: never leave half a snapshot
        partial.unlink(missing_ok=True)
        raise
    return PullSummary(out, puller.counts, puller.pages, time.monotonic() - started, puller.identity())


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _Puller:
    root: str
    signin: SignIn
    policy: RetryPolicy
    session: requests.Session
    progress: Progress | None
    tables: list[str]
    prefer: str
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    rows: int = 0  # of the table being pulled
    _token: str = field(default="", repr=False)

    def identity(self) -> str:
        return who(self._token, self.signin.method or "no sign-in yet")

    def pull_table(self, step: export_guide.ExportStep, archive: zipfile.ZipFile) -> None:
        url: str | None = step.url
        page, self.rows = 0, 0
        while url:
            page += 1
            body, parsed = self._fetch(step.table, page, url)
            archive.writestr(step.table + (".json" if page == 1 else f".{page}.json"), body)
            self.rows += len(parsed["value"])
            self.pages += 1
            url = self._next_link(step.table, page, parsed)
            self._report(step.table, page, done=not url)
        self.counts[step.table] = self.rows

    def _report(self, table: str, page: int, done: bool = False, waiting: str = "") -> None:
        if self.progress:
            finished = len(self.counts) + (1 if done else 0)
            self.progress(PullProgress(table, page, self.rows, finished, len(self.tables),
                                       sum(self.counts.values()) + self.rows, done, waiting))

    def _fetch(self, table: str, page: int, url: str) -> tuple[bytes, dict]:
        policy = self.policy
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient), wait=self._wait,
            stop=tenacity.stop_after_attempt(policy.max_attempts) | self._out_of_time,
            sleep=policy.sleep, before_sleep=lambda state: self._waiting(table, page, state), reraise=True)
        try:
            return retrying(self._attempt, table, page, url)
        except _Transient as error:
            stats = retrying.statistics
            tries, spent = stats.get("attempt_number", 1), max(stats.get("delay_since_first_attempt", 0.0),
                                                               stats.get("idle_for", 0.0))
            raise PullError(f"{_where(table, page)}: {error.reason}; gave up after {tries} "
                            f"{'try' if tries == 1 else 'tries'} in {spent:.0f} s. Try again later.") from None

    def _out_of_time(self, state: tenacity.RetryCallState) -> bool:
        """Stop before a wait that would end past ``max_seconds`` (waits count even when sleep is faked)."""
        spent = max(state.seconds_since_start or 0.0, state.idle_for)
        return spent + (state.upcoming_sleep or 0.0) >= self.policy.max_seconds

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        backoff = tenacity.wait_exponential_jitter(multiplier=self.policy.backoff, jitter=self.policy.backoff,
                                                   max=self.policy.max_backoff)
        return backoff(state)

    def _waiting(self, table: str, page: int, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = error.reason if isinstance(error, _Transient) else "trouble"
        self._report(table, page, waiting=f"{reason}; trying again in {state.upcoming_sleep:.0f} s")

    def _attempt(self, table: str, page: int, url: str) -> tuple[bytes, dict]:
        self._token = self.signin.token(self.root + "/.default")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "OData-MaxVersion": "4.0", "OData-Version": "4.0", "Prefer": self.prefer}
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        try:
            response = self.session.get(url, headers=headers, timeout=timeout, allow_redirects=False)
            body = response.content
        except requests.RequestException as error:
            raise self._connection_problem(error) from None
        if response.status_code == 200:
            return body, self._parse(table, page, body, response.headers.get("Content-Type", ""))
        message = _dataverse_message(body) or response.reason or "no message"
        status = response.status_code
        if status == 429:
            wait = _retry_after(response)
            asked = f" asked to wait {wait:g} s" if wait is not None else ""
            raise _Transient(f"Dataverse's service protection limit{asked} ({message})", wait)
        if status in RETRIED_STATUSES:
            raise _Transient(f"Dataverse answered {status} ({message})")
        if status in (401, 403):
            raise PullError(f"{table}: Dataverse refused access ({status}: {message}). Signed in as "
                            f"{self.identity()}; that account needs read access to {', '.join(self.tables)}.")
        raise PullError(f"{table}: Dataverse answered {status}: {message}")

    def _connection_problem(self, error: requests.RequestException) -> Exception:
        names = {type(cause).__name__ for cause in _causes(error)}
        host = urlsplit(self.root).netloc
        if "NameResolutionError" in names:
            return PullError(f"cannot reach {host}: the name is not known; check the organisation URL")
        if "NewConnectionError" in names:
            return PullError(f"cannot reach {host}: the connection was refused; check the organisation URL")
        if isinstance(error, requests.Timeout) or "ReadTimeoutError" in names:
            return _Transient(f"no answer within {self.policy.read_timeout:g} s")
        if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return _Transient("the connection was dropped")
        return PullError(f"cannot reach {host}: {_one_line(str(error))}")

    def _parse(self, table: str, page: int, body: bytes, content_type: str) -> dict:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("value"), list):
            kind = content_type.split(";")[0] or "no content type"
            raise PullError(f"{_where(table, page)}: the answer is not Web API JSON ({kind}); "
                            "check the organisation URL")
        return parsed

    def _next_link(self, table: str, page: int, parsed: dict) -> str | None:
        link = parsed.get("@odata.nextLink")
        if link is None:
            return None
        if not isinstance(link, str) or not link.startswith(self.root + "/"):
            raise PullError(f"{_where(table, page)}: the next page's address is not on {self.root}; stopped there")
        return link


def _where(table: str, page: int) -> str:
    return table if page == 1 else f"{table} (page {page})"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (requests -> urllib3 -> socket), to tell a refusal from a drop."""
    seen: list[BaseException] = []
    pending = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if current in seen:
            continue
        seen.append(current)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [cause for cause in (getattr(current, "reason", None), current.__cause__, current.__context__)
                    if isinstance(cause, BaseException)]
    return seen


def _dataverse_message(body: bytes) -> str:
    """Dataverse's own words from ``{"error": {"code", "message"}}``, on one line."""
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else None
    return _one_line(message) if isinstance(message, str) else ""


def _one_line(text: str, limit: int = 300) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (or as an HTTP date)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
