"""Pull a snapshot straight from Dataverse: sign in, fetch every table the diagnosis reads, zip the pages.

The requests are the export guide's (``export_guide.export_steps``: the same ``$select`` and ``$filter``),
sent with the ``Prefer`` header that adds the lookup annotations and sets the page size; every
``@odata.nextLink`` is followed and each page is stored as Dataverse returned it, named as an admin
saves them by hand (``emails.json``, ``emails.2.json``...), so a pulled snapshot is like any other.
Tables are read side by side, a few requests in flight (``pull_plan``: large tables in time windows);
worker threads only send requests, this module's main thread writes each page as it comes.

Transient trouble is retried with tenacity: ``429`` after its ``Retry-After`` (Dataverse's service
protection limits; every worker waits, then they ramp up again), ``502``/``503``/``504``, dropped
connections and answers that stall, with backoff and a bounded total time. ``400``/``401``/``403``/``404``
are never retried: ``400``/``403``/``404`` leave that table out (named in ``pull.json`` in the zip), ``401``
stops the pull. Every failure is a ``PullError``: one line naming the table and Dataverse's own message. The
zip is written to a temporary file renamed at the end, so a failed or interrupted pull leaves no file behind.

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
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
from .pull_plan import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Answer, Plan, Request, TableState, Throttle, Window

SAMPLE_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"  # Microsoft's shared app registration of the samples
SIGN_IN_HOST = "login.microsoftonline.com"
# Entra codes that say the tenant does not let this app registration in: not found, no consent, blocked by policy.
BLOCKED_APP_CODES = ("AADSTS700016", "AADSTS65001", "AADSTS90094", "AADSTS53003", "AADSTS50105", "AADSTS7000112")
DEFAULT_DAYS = 30
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Where Dataverse environments live (commercial, China, US government clouds); the app only connects there.
CLOUDS = (".dynamics.com", ".dynamics.cn", ".microsoftdynamics.us", ".appsplatform.us")
RETRIED_STATUSES = {429, 502, 503, 504}
REFUSED_STATUSES = {400, 403, 404}  # a table left out: a column an old version lacks, a privilege, no such table
MANIFEST = "pull.json"
PROGRESS_EVERY = 0.5  # seconds between progress reports while requests are in flight
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
    sleep: Callable[[float], None] | None = None  # None: wait, unless the pull is interrupted


@dataclass(frozen=True)
class TableProgress:
    """One table so far: rows and pages read, and for a table read in time windows the share of its period
    done and an estimate of the seconds left (None when nothing tells yet)."""

    table: str
    rows: int
    pages: int
    share: float | None
    seconds_left: float | None
    started: bool  # its first request was sent
    done: bool
    refused: str  # Dataverse's refusal, when the table is left out

    @property
    def status(self) -> str:
        """``done``, ``refused: not in the snapshot``, ``about 40 s left``, ``reading`` (no estimate yet) or
        ``queued``."""
        if self.refused:
            return "refused: not in the snapshot"
        if self.done:
            return "done"
        if self.seconds_left is not None:
            return f"about {self.seconds_left:,.0f} s left"
        return "reading" if self.started else "queued"

    @property
    def counts(self) -> str:
        return f"{self.rows:,} row{'' if self.rows == 1 else 's'}, {self.pages:,} page{'' if self.pages == 1 else 's'}"

    def line(self) -> str:
        return f"{self.table}: {self.counts}, {self.status}"


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is, every table in the export guide's order; ``waiting`` says why a request waits."""

    tables: tuple[TableProgress, ...]
    waiting: str = ""

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def tables_done(self) -> int:
        return sum(table.done for table in self.tables)

    @property
    def seconds_left(self) -> float | None:
        """The longest estimate of the tables still being read (they are read side by side)."""
        left = [table.seconds_left for table in self.tables if table.seconds_left is not None]
        return max(left) if left else None

    @property
    def share(self) -> float:
        """The part of the pull done: each table counts as one, a table read in windows by its period's share."""
        return sum(1.0 if table.done else table.share or 0.0 for table in self.tables) / max(1, len(self.tables))


@dataclass(frozen=True)
class PullSummary:
    path: Path
    counts: dict[str, int]
    pages: int
    seconds: float
    identity: str
    refused: dict[str, str] = field(default_factory=dict)  # table -> Dataverse's refusal, one line
    requests: int = 0
    most_in_flight: int = 0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        return (f"pulled {len(self.counts)} tables, {self.rows:,} rows in {self.pages} pages in "
                f"{self.seconds:.1f} s into {self.path}")

    def notes(self) -> list[str]:
        """One line per table Dataverse refused: the snapshot has the others, its checks are unchecked."""
        return [f"{message}; the snapshot has no {table} table and the checks that need it are marked unchecked"
                for table, message in self.refused.items()]


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
        from azure.core.exceptions import AzureError, ClientAuthenticationError
        from azure.identity import CredentialUnavailableError

        for method, credential in self.ways:
            if self.method and method != self.method:
                continue
            try:
                token = credential.get_token(scope).token
            except CredentialUnavailableError:
                continue
            except ClientAuthenticationError as error:
                text = error.message or str(error)
                if _CONNECTION_TROUBLE.search(text):  # azure-identity wraps an unreachable sign-in service too
                    raise PullError(_unreachable(text, SIGN_IN_HOST)) from None
                raise PullError(_sign_in_refused(method, text)) from None
            except AzureError as error:  # the sign-in service could not be reached
                raise PullError(_unreachable(str(error), SIGN_IN_HOST)) from None
            self.method = method
            return token
        raise PullError("no way to sign in: " + ", ".join(method for method, _ in self.ways) + " were unavailable")


def _sign_in_refused(method: str, message: str) -> str:
    """Entra's words without its trace ids, and what to do when the tenant blocks the app registration."""
    words = _one_line(message.split("Trace ID:")[0])
    line = f"sign-in with {method} failed: {words}"
    if any(code in words for code in BLOCKED_APP_CODES):
        line += (" Your tenant may not allow this app registration: ask an administrator to consent to it, or "
                 "register your own and set DATAVERSE_CLIENT_ID (command line: --client-id).")
    return line


_CONNECTION_TROUBLE = re.compile(r"HTTPS?Connection|\[Errno|Failed to resolve|Max retries exceeded|"
                                 r"Connection (refused|reset|aborted)|timed out|ProxyError", re.IGNORECASE)


def _unreachable(text: str, host: str) -> str:
    """``cannot reach HOST from this server: why``, from a connection error's text (never the text itself)."""
    named = re.search(r"host='([^']+)'", text)
    host = named.group(1) if named else host
    lowered = text.lower()
    if any(words in lowered for words in ("failed to resolve", "name or service not known", "errno -2", "errno -3",
                                          "nodename nor servname",
                                          "temporary failure in name resolution", "getaddrinfo failed")):
        why = "its name cannot be resolved (no DNS or no internet access)"
    elif "refused" in lowered:
        why = "the connection was refused"
    elif "timed out" in lowered or "timeout" in lowered:
        why = "no answer in time"
    elif "proxy" in lowered:
        why = "the proxy refused the connection"
    else:
        why = "the connection failed"
    return f"cannot reach {host} from this server: {why}"


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
                  page_size: int = export_guide.PAGE_SIZE, concurrency: int = DEFAULT_CONCURRENCY) -> PullSummary:
    """Fetch every table into the zip ``out``, up to ``concurrency`` requests at a time (1: one page after
    another, no time windows). A table Dataverse refuses with 400/403/404 is left out and named in ``pull.json``;
    anything else that stops the pull raises ``PullError`` and writes nothing."""
    started = time.monotonic()
    try:
        root = org_root(org_url, clouds_only)
        since, until = date_range(since, until)
        steps = pull_steps(root, since, until)
        concurrency = checked_concurrency(concurrency)
    except ValueError as error:
        raise PullError(str(error)) from None
    out = Path(out)
    if not out.parent.is_dir():
        raise PullError(f"{out.parent}: no such folder")
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    puller = _Puller(root, signin, policy or RetryPolicy(), session or _session(concurrency), progress,
                     [step.table for step in steps], f"{export_guide.PREFER_HEADER},odata.maxpagesize={page_size}",
                     Throttle(concurrency))
    plan = Plan(steps, Window(*export_guide.period(since, until)), fanout=2 * concurrency if concurrency > 1 else 1)
    try:
        puller.sign_in()  # here, once: a device-code prompt must come from this thread (the app draws it)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
            puller.run(plan, archive)
            puller.finish(plan, archive)
            refused = {table: state.refused for table, state in plan.tables.items() if state.refused}
            counts = {table: state.rows for table, state in plan.tables.items() if not state.refused}
            archive.writestr(MANIFEST, _manifest(root, since, until, counts, refused))
        _leave_out(partial, [name for table in refused for name in puller.written.get(table, ())])
        os.replace(partial, out)
    except BaseException:  # an interruption too: never leave half a snapshot
        partial.unlink(missing_ok=True)
        raise
    pages = sum(len(puller.written.get(table, ())) for table in counts)
    return PullSummary(out, counts, pages, time.monotonic() - started,
                       puller.identity(), refused, sum(state.requests for state in plan.tables.values()),
                       puller.throttle.most_in_flight)


def checked_concurrency(value: int) -> int:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ValueError(f"the number of requests in flight should be 1 to {MAX_CONCURRENCY}, not {value}")
    return value


def _session(concurrency: int) -> requests.Session:
    """One connection per request in flight (requests keeps 10 per host by default)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(10, concurrency))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _manifest(root: str, since: date, until: date, counts: dict[str, int], refused: dict[str, str]) -> bytes:
    """``pull.json``: where and when the snapshot was pulled, its row counts and each table Dataverse refused."""
    return orjson.dumps({"organisation": root, "since": since.isoformat(), "until": until.isoformat(),
                         "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": counts,
                         "refused": [{"table": table, "message": message} for table, message in refused.items()]},
                        option=orjson.OPT_INDENT_2)


def _leave_out(path: Path, names: list[str]) -> None:
    """Rewrite the zip without ``names``: pages of a table refused after some of its pages came (rare)."""
    if not names:
        return
    dropped = set(names)
    kept = path.with_name(path.name + ".kept")
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(kept, "w", zipfile.ZIP_DEFLATED,
                                                              compresslevel=ZIP_LEVEL) as target:
            for info in source.infolist():
                if info.filename not in dropped:
                    target.writestr(info.filename, source.read(info))
        os.replace(kept, path)
    finally:
        kept.unlink(missing_ok=True)


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, throttled: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.throttled = throttled  # a 429: every worker waits


class _Refused(Exception):
    """400/403/404 for one table: the pull goes on without it."""

    def __init__(self, status: int, line: str):
        super().__init__(line)
        self.status = status
        self.line = line


@dataclass
class _Puller:
    root: str
    signin: SignIn
    policy: RetryPolicy
    session: requests.Session
    progress: Progress | None
    tables: list[str]
    prefer: str
    throttle: Throttle
    written: dict[str, list[str]] = field(default_factory=dict)  # page files per table, in order
    empty: dict[str, bytes] = field(default_factory=dict)  # an empty page of each table that had one
    waiting: str = ""  # set by a worker before a retry, shown by the main thread
    _token: str = field(default="", repr=False)
    _token_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def identity(self) -> str:
        return who(self._token, self.signin.method or "no sign-in yet")

    def sign_in(self) -> str:
        with self._token_lock:  # one sign-in (or refresh) at a time; the credential caches the token
            self._token = self.signin.token(self.root + "/.default")
            return self._token

    # ------------------------------------------------------------------ the main thread: schedule and write

    def run(self, plan: Plan, archive: zipfile.ZipFile) -> None:
        """Keep up to ``throttle.allowed`` requests in flight; write each page as it comes, in this thread (once
        the requests it calls for are on their way)."""
        pool = ThreadPoolExecutor(self.throttle.limit, thread_name_prefix="pull")
        in_flight: dict[Future, Request] = {}
        pages: list[Answer] = []
        try:
            while True:
                while len(in_flight) < self.throttle.allowed:
                    request = plan.next_request(time.monotonic())
                    if request is None:
                        break
                    in_flight[pool.submit(self._fetch, request)] = request
                for page in pages:
                    self._write(archive, page)
                if not in_flight:
                    return
                done, _ = wait(in_flight, timeout=PROGRESS_EVERY, return_when=FIRST_COMPLETED)
                finished = [future for future in in_flight if future in done]  # in the order they were sent
                pages = [page for future in finished for page in self._collect(plan, in_flight.pop(future), future)]
                self._report(plan)
        finally:
            self._stop.set()
            self.throttle.stop()
            pool.shutdown(wait=False, cancel_futures=True)

    def _collect(self, plan: Plan, request: Request, future: Future) -> list[Answer]:
        """The pages an answer gives to write (the plan has queued what it calls for next)."""
        try:
            body, parsed = future.result()
        except _Refused as refusal:
            if request.table == "emails":  # without emails there is nothing to diagnose
                raise PullError(refusal.line) from None
            plan.refuse(request.table, refusal.line)
            return []
        answer = Answer(request, body, len(parsed["value"]), self._next_link(request.table, request.page, parsed))
        return plan.answered(answer)

    def _write(self, archive: zipfile.ZipFile, page: Answer) -> None:
        if page.rows:
            self._write_page(archive, page.request.table, page.body)
        else:  # an empty window: kept aside, written only when the table has no rows at all
            self.empty.setdefault(page.request.table, page.body)

    def _write_page(self, archive: zipfile.ZipFile, table: str, body: bytes) -> None:
        names = self.written.setdefault(table, [])
        name = table + (".json" if not names else f".{len(names) + 1}.json")
        archive.writestr(name, body)
        names.append(name)

    def finish(self, plan: Plan, archive: zipfile.ZipFile) -> None:
        """An empty table is there too (empty, not missing: its checks ran)."""
        for table, state in plan.tables.items():
            if not state.refused and table not in self.written:
                self._write_page(archive, table, self.empty[table])

    def _report(self, plan: Plan) -> None:
        if self.progress:
            now = time.monotonic()
            self.progress(PullProgress(tuple(_table_progress(state, now) for state in plan.tables.values()),
                                       self.waiting))

    # ------------------------------------------------------------------ the workers: one request each

    def _fetch(self, request: Request) -> tuple[bytes, dict]:
        policy, table, page = self.policy, request.table, request.page
        last: list[BaseException | None] = [None]

        def before_sleep(state: tenacity.RetryCallState) -> None:
            last[0] = error = state.outcome.exception() if state.outcome else None
            reason = error.reason if isinstance(error, _Transient) else "trouble"
            self.waiting = f"{_where(table, page)}: {reason}; trying again in {state.upcoming_sleep:.0f} s"

        def sleep(seconds: float) -> None:
            if isinstance(last[0], _Transient) and last[0].throttled:
                self.throttle.pause(seconds, self._sleep)  # every worker waits: the limit is per user
            else:
                self._sleep(seconds)
            self.waiting = ""

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient), wait=self._wait,
            stop=tenacity.stop_after_attempt(policy.max_attempts) | self._out_of_time, sleep=sleep,
            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(self._attempt, table, page, request.url)
        except _Transient as error:
            stats = retrying.statistics
            tries, spent = stats.get("attempt_number", 1), max(stats.get("delay_since_first_attempt", 0.0),
                                                               stats.get("idle_for", 0.0))
            raise PullError(f"{_where(table, page)}: {error.reason}; gave up after {tries} "
                            f"{'try' if tries == 1 else 'tries'} in {spent:.0f} s. Try again later.") from None

    def _sleep(self, seconds: float) -> None:
        if self.policy.sleep is not None:
            self.policy.sleep(seconds)
        else:
            self._stop.wait(seconds)  # an interrupted pull does not wait on

    def _out_of_time(self, state: tenacity.RetryCallState) -> bool:
        """Stop before a wait that would end past ``max_seconds`` (waits count even when sleep is faked)."""
        if self._stop.is_set():
            return True
        spent = max(state.seconds_since_start or 0.0, state.idle_for)
        return spent + (state.upcoming_sleep or 0.0) >= self.policy.max_seconds

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        backoff = tenacity.wait_exponential_jitter(multiplier=self.policy.backoff, jitter=self.policy.backoff,
                                                   max=self.policy.max_backoff)
        return backoff(state)

    def _attempt(self, table: str, page: int, url: str) -> tuple[bytes, dict]:
        token = self.sign_in()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "OData-MaxVersion": "4.0", "OData-Version": "4.0", "Prefer": self.prefer}
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        with self.throttle.slot():
            try:
                response = self.session.get(url, headers=headers, timeout=timeout, allow_redirects=False)
                body = response.content
            except requests.RequestException as error:
                raise self._connection_problem(error) from None
        if response.status_code == 200:
            parsed = self._parse(table, page, body, response.headers.get("Content-Type", ""))
            self.throttle.answered(_dop_hint(response))  # a valid answer: the others may go
            return body, parsed
        message = _dataverse_message(body) or response.reason or "no message"
        status = response.status_code
        if status == 429:
            wait = _retry_after(response)
            asked = f" asked to wait {wait:g} s" if wait is not None else ""
            raise _Transient(f"Dataverse's service protection limit{asked} ({message})", wait, throttled=True)
        if status in RETRIED_STATUSES:
            raise _Transient(f"Dataverse answered {status} ({message})")
        if status == 401 or (status == 403 and table == "emails"):
            raise PullError(f"{table}: Dataverse refused access ({status}: {message}). Signed in as "
                            f"{self.identity()}; that account needs read access to {', '.join(self.tables)}.")
        if status == 403:
            raise _Refused(status, f"{table}: Dataverse refused access (403: {message})")
        if status in REFUSED_STATUSES:
            raise _Refused(status, f"{table}: Dataverse answered {status}: {message}")
        raise PullError(f"{table}: Dataverse answered {status}: {message}")

    def _connection_problem(self, error: requests.RequestException) -> Exception:
        names = {type(cause).__name__ for cause in _causes(error)}
        host = urlsplit(self.root).netloc
        if "NameResolutionError" in names:
            return PullError(f"cannot reach {host} from this server: the name is not known; check the "
                             "organisation URL")
        if "NewConnectionError" in names:
            return PullError(f"cannot reach {host} from this server: the connection was refused; check the "
                             "organisation URL")
        if isinstance(error, requests.Timeout) or "ReadTimeoutError" in names:
            return _Transient(f"no answer within {self.policy.read_timeout:g} s")
        if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return _Transient("the connection was dropped")
        return PullError(f"cannot reach {host} from this server: the connection failed")

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


def _table_progress(state: TableState, now: float) -> TableProgress:
    elapsed = now - state.started if state.started is not None else 0.0
    share = None if not state.windows and not state.done else state.covered
    left = elapsed * (1 - share) / share if share and not state.done else None
    return TableProgress(state.table, state.rows, state.pages, share, left, state.started is not None, state.done,
                         state.refused)


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


def _dop_hint(response: requests.Response) -> int | None:
    """``x-ms-dop-hint``: how many requests at once Dataverse recommends to this client."""
    value = (response.headers.get("x-ms-dop-hint") or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


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
