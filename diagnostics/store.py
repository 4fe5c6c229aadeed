"""The store of kept and shared reports: a report saved under an unguessable token, read back through a link.

Only the evaluated report (the contract JSON) is stored, never the raw snapshot, as zlib-compressed
orjson. ``DIAGNOSTICS_STORE`` names the database: a SQLite file (``sqlite:///data/runs.sqlite`` or a
bare path; the default is ``./data/runs.sqlite`` under the working directory) or PostgreSQL
(``postgresql://user@host/db``, through psycopg 3), which several app servers can share. The app
creates the tables on first use and adds the columns of later versions to an older database. SQLite
runs in WAL mode with a busy timeout and one connection per call, so threads and processes can share
the file; saving is a single transaction on both, so a writer killed mid-save leaves the whole report
or nothing.

Tokens are never stored or logged: rows are keyed by the SHA-256 of the token, so a leaked database
opens no links, and looking a row up reveals nothing about the tokens near it. The same holds for the
browser key that lists the runs kept from one browser.

Masking (``masking.mask_report``) hides customer data before a report is shared further than its team.

Watch runs (``diagnostics/watch.py``) are kept here too, with their organisation, period and summary;
nobody holds their token, so they open by their listed id (``load_watch_run``, watch runs only). Beside
them, ``watch_state`` (what each organisation's admins were told) and ``watch_alerts`` (what was sent).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateColumn

from .masking import HIDDEN_SENDER, HIDDEN_SUBJECT, mask_address, mask_report  # noqa: F401 - the store's API

ENV_VAR = "DIAGNOSTICS_STORE"
DEFAULT_PATH = Path("data") / "runs.sqlite"
BUSY_TIMEOUT_SECONDS = 30
TOKEN_BYTES = 32  # 256 bits; the contract asks for at least 128
# zlib level 1: for 200,000 emails (119 MB of JSON) 0.47 s and 20 MB, where level 6 took 1.0 s for 15 MB.
COMPRESSION = 1
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"  # fixed width, so text comparison is time comparison
KINDS = ("report", "comparison", "watch")
RUN_ID_LENGTH = 12  # hex digits of the token's hash that name a run in listings (never the token)
_SCHEMA_LOCK = 0x5EED_D1A6  # PostgreSQL advisory lock: one server at a time creates or upgrades the tables

METADATA = sa.MetaData()
RUNS = sa.Table(
    "runs", METADATA,
    sa.Column("token_hash", sa.LargeBinary, primary_key=True),
    sa.Column("report", sa.LargeBinary, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),  # a display name, never an account's key
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Text, nullable=False),
    sa.Column("masked", sa.Integer, nullable=False),
    # Columns added after the first release. To add one: append it here with a server default (or nullable);
    # an older database gains it on first open (_add_missing_columns), and its indexes are created too.
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("kind", sa.Text, nullable=False, server_default="report"),
    sa.Column("creator_oid", sa.Text, nullable=False, server_default=""),  # Entra object id of the creator
    sa.Column("creator_tid", sa.Text, nullable=False, server_default=""),  # and their tenant id
    sa.Column("browser_hash", sa.Text, nullable=False, server_default=""),  # SHA-256 of the keeping browser's key
    # watch runs (diagnostics/watch.py): the organisation, the days pulled, report["summary"] as JSON
    sa.Column("organisation", sa.Text, nullable=False, server_default=""),
    sa.Column("period_start", sa.Text, nullable=False, server_default=""),
    sa.Column("period_end", sa.Text, nullable=False, server_default=""),
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
    sa.Index("runs_expiry", "expires_at"),
    sa.Index("runs_organisation", "organisation", "created_at"),
    sa.Index("runs_tenant", "creator_tid"),
    sa.Index("runs_browser", "browser_hash"),
    sqlite_with_rowid=False,
)
# Who opened a shared report, and when: its creator can see it.
OPENS = sa.Table(
    "opens", METADATA,
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("opened_at", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("oid", sa.Text, nullable=False),
    sa.Column("tid", sa.Text, nullable=False),
    sa.Index("opens_run", "token_hash"),
)

# What each organisation's admins were told (one row per organisation, replaced each round), and every alert
# the watch sent or tried to send.
WATCH_STATE = sa.Table(
    "watch_state", METADATA,
    sa.Column("organisation", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)
WATCH_ALERTS = sa.Table(
    "watch_alerts", METADATA,
    sa.Column("alert_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("organisation", sa.Text, nullable=False),
    sa.Column("sent_at", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("delivered", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False, server_default=""),
    sa.Index("watch_alerts_organisation", "organisation", "sent_at"),
)

Clock = Callable[[], datetime]


class StoreError(sqlite3.Error):
    """The database cannot be reached or read. A ``sqlite3.Error``, so callers written for the SQLite-only
    store keep catching it whatever the database is."""


@dataclass(frozen=True)
class SharedRun:
    """A report as it was shared: who shared it, when, until when, and whether it was masked."""

    token: str  # empty when the run was opened by its listed id
    report: dict
    created_by: str
    created_at: str
    expires_at: str
    masked: bool
    name: str = ""
    kind: str = "report"
    run_id: str = ""
    creator_oid: str = ""
    creator_tid: str = ""


@dataclass(frozen=True)
class RunInfo:
    """A kept run as listed: named by a prefix of its token's hash, which opens nothing."""

    run_id: str
    name: str
    kind: str
    created_by: str
    created_at: str
    expires_at: str
    masked: bool
    size: int
    creator_oid: str = ""
    creator_tid: str = ""


@dataclass(frozen=True)
class WatchRun:
    """A watch round's kept run as the History page lists it (no report, no token)."""

    run_id: str
    created_at: str
    period_start: str
    period_end: str
    summary: dict


@dataclass(frozen=True)
class WatchAlert:
    """An alert the watch sent (``delivered``) or failed to send."""

    organisation: str
    sent_at: str
    kind: str  # "worse", "failure" or "recovered"
    title: str
    body: str
    delivered: bool
    run_id: str


@dataclass(frozen=True)
class Opening:
    """Someone opened a shared report."""

    opened_at: str
    name: str
    oid: str
    tid: str


_RUN_COLUMNS = (RUNS.c.token_hash, RUNS.c.created_by, RUNS.c.created_at, RUNS.c.expires_at, RUNS.c.masked,
                RUNS.c.name, RUNS.c.kind, RUNS.c.creator_oid, RUNS.c.creator_tid)


class RunStore:
    """Kept and shared reports in one database. ``clock`` (UTC ``datetime``) is there for tests."""

    def __init__(self, path: str | Path | None = None, *, clock: Clock | None = None) -> None:
        self.url = store_url(path or os.environ.get(ENV_VAR) or Path.cwd() / DEFAULT_PATH)
        self.path = Path(self.url.database) if self.url.get_backend_name() == "sqlite" else None
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def location(self) -> str:
        """Where the store is, for messages (no password)."""
        return str(self.path) if self.path is not None else self.url.render_as_string(hide_password=True)

    def save(self, report: dict | bytes, created_by: str, ttl_days: int = 30, mask: bool = False, *,
             name: str = "", kind: str = "report", creator_oid: str = "", creator_tid: str = "",
             browser_key: str = "") -> str:
        """Store the report (or a comparison) and return its token; it can be loaded for ``ttl_days`` days.

        ``report`` is the contract JSON as a dict, or already written (``Report.to_json``: no object per
        email, 0.4 s instead of 2 s for 200,000 emails). ``creator_oid``/``creator_tid`` say which signed-in
        person made it; ``browser_key`` lists it among the runs kept from that browser."""
        if ttl_days < 0:
            raise ValueError("ttl_days cannot be negative")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if mask:
            report = mask_report(orjson.loads(report) if isinstance(report, bytes) else report)
        document = report if isinstance(report, bytes) else orjson.dumps(report)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        row = {"token_hash": _digest(token), "report": zlib.compress(document, COMPRESSION),
               "created_by": str(created_by), "created_at": _iso(now),
               "expires_at": _iso(now + timedelta(days=ttl_days)), "masked": int(mask), "name": str(name)[:200],
               "kind": kind, "creator_oid": str(creator_oid), "creator_tid": str(creator_tid),
               "browser_hash": browser_hash(browser_key) if browser_key else ""}
        with self._transaction(write=True) as db:
            db.execute(RUNS.insert(), row)
        return token

    def load(self, token: str) -> SharedRun | None:
        """The shared run, or None when the token is unknown, expired or revoked."""
        if not _is_token(token):
            return None
        self.purge_expired()
        return self._read(_digest(token), token, with_report=True)

    def lookup(self, token: str) -> SharedRun | None:
        """The run without its report (``report`` is empty), or None when unknown, expired or revoked.

        Cheap (the compressed report is not read): the app checks it on every open and keeps one parsed
        copy of the report per run, keyed by the token and ``created_at``.
        """
        if not _is_token(token):
            return None
        return self._read(_digest(token), token, with_report=False)

    def load_run(self, run_id: str) -> SharedRun | None:
        """The run whose listed id is ``run_id`` (``token`` is empty): for whoever may see it, which the caller
        checks (its creator, their tenant, the browser that kept it)."""
        digest = self._digest_of(run_id)
        return self._read(digest, "", with_report=True) if digest is not None else None

    def _read(self, digest: bytes, token: str, *, with_report: bool) -> SharedRun | None:
        columns = _RUN_COLUMNS + ((RUNS.c.report,) if with_report else ())
        with self._transaction() as db:
            row = db.execute(sa.select(*columns).where(RUNS.c.token_hash == digest,
                                                       RUNS.c.expires_at > _iso(self._clock()))).first()
        if row is None or not hmac.compare_digest(bytes(row.token_hash), digest):
            return None
        report: dict = {}
        if with_report:
            try:
                report = orjson.loads(zlib.decompress(row.report))
            except (zlib.error, orjson.JSONDecodeError):
                return None  # a damaged row reads as an unknown link, not a crash of the page
        return SharedRun(token, report, row.created_by, row.created_at, row.expires_at, bool(row.masked), row.name,
                         row.kind, _run_id(row.token_hash), row.creator_oid, row.creator_tid)

    def list_runs(self, *, tenant: str | None = None, browser_key: str | None = None) -> list[RunInfo]:
        """Unexpired runs, newest first (names and dates, never tokens): every one, or those made in a tenant,
        or those kept from a browser."""
        self.purge_expired()
        query = sa.select(*_RUN_COLUMNS, sa.func.length(RUNS.c.report).label("size")).order_by(
            RUNS.c.created_at.desc())
        if tenant is not None:
            query = query.where(RUNS.c.creator_tid == tenant)
        if browser_key is not None:
            query = query.where(RUNS.c.browser_hash == browser_hash(browser_key))
        with self._transaction() as db:
            rows = db.execute(query).all()
        return [RunInfo(_run_id(row.token_hash), row.name, row.kind, row.created_by, row.created_at, row.expires_at,
                        bool(row.masked), row.size, row.creator_oid, row.creator_tid) for row in rows]

    def delete_run(self, run_id: str) -> int:
        """Delete the run whose listed id (a hash prefix, as ``list_runs`` shows it) is ``run_id``."""
        digest = self._digest_of(run_id)
        return self._delete(RUNS.c.token_hash == digest) if digest is not None else 0

    def revoke(self, token: str) -> bool:
        """Delete the run behind the token; True when there was one."""
        return _is_token(token) and self._delete(RUNS.c.token_hash == _digest(token)) > 0

    def purge_expired(self) -> int:
        """Delete every expired run; returns how many."""
        return self._delete(RUNS.c.expires_at <= _iso(self._clock()))

    def _delete(self, which: sa.ColumnElement[bool]) -> int:
        """Delete runs and the record of their openings, in one transaction."""
        with self._transaction(write=True) as db:
            doomed = sa.select(RUNS.c.token_hash).where(which)
            db.execute(OPENS.delete().where(OPENS.c.token_hash.in_(doomed)))
            return db.execute(RUNS.delete().where(which)).rowcount

    def _digest_of(self, run_id: str) -> bytes | None:
        """The full token hash behind a listed run id, when exactly one live run has it."""
        if not isinstance(run_id, str) or not re.fullmatch(rf"[0-9a-f]{{{RUN_ID_LENGTH}}}", run_id):
            return None
        prefix = bytes.fromhex(run_id)
        with self._transaction() as db:
            found = db.execute(sa.select(RUNS.c.token_hash).where(
                sa.func.substr(RUNS.c.token_hash, 1, len(prefix)) == prefix)).scalars().all()
        return bytes(found[0]) if len(found) == 1 else None

    def record_open(self, token: str, *, name: str, oid: str, tid: str) -> None:
        """Note that a signed-in person opened the shared report behind ``token``."""
        if _is_token(token):
            self._record_open(_digest(token), name, oid, tid)

    def record_run_open(self, run_id: str, *, name: str, oid: str, tid: str) -> None:
        """Note that a signed-in person opened a run from a list (by its id, not its link)."""
        digest = self._digest_of(run_id)
        if digest is not None:
            self._record_open(digest, name, oid, tid)

    def _record_open(self, digest: bytes, name: str, oid: str, tid: str) -> None:
        with self._transaction(write=True) as db:
            db.execute(OPENS.insert(), {"token_hash": digest, "opened_at": _iso(self._clock()),
                                        "name": str(name)[:200], "oid": str(oid), "tid": str(tid)})

    def openings(self, run_id: str) -> list[Opening]:
        """Who opened the run's link and when, newest first."""
        digest = self._digest_of(run_id)
        if digest is None:
            return []
        with self._transaction() as db:
            rows = db.execute(sa.select(OPENS.c.opened_at, OPENS.c.name, OPENS.c.oid, OPENS.c.tid).where(
                OPENS.c.token_hash == digest).order_by(OPENS.c.opened_at.desc())).all()
        return [Opening(*row) for row in rows]

    # ------------------------------------------------------------------ the watch (diagnostics/watch.py)

    def keep_watch_round(self, organisation: str, state: dict, *, report: bytes | None = None,
                         period: tuple[str, str] = ("", ""), summary: dict | None = None, ttl_days: int = 30,
                         alert: WatchAlert | None = None) -> str | None:
        """One watch round in one transaction: its run (when it got one), the organisation's new state and
        the alert it sent; an interrupted round keeps none of them. Returns the run's id, or None."""
        now = self._clock()
        run = None
        if report is not None:
            digest = _digest(secrets.token_urlsafe(TOKEN_BYTES))  # a watch run opens by its id, not a link
            run = {"token_hash": digest, "report": zlib.compress(report, COMPRESSION), "created_by": "the watch",
                   "created_at": _iso(now), "expires_at": _iso(now + timedelta(days=ttl_days)), "masked": 0,
                   "name": f"watch {organisation}"[:200], "kind": "watch", "organisation": organisation,
                   "period_start": period[0], "period_end": period[1],
                   "summary": orjson.dumps(summary or {}).decode()}
        with self._transaction(write=True) as db:
            if run is not None:
                db.execute(RUNS.insert(), run)
            db.execute(WATCH_STATE.delete().where(WATCH_STATE.c.organisation == organisation))
            db.execute(WATCH_STATE.insert(), {"organisation": organisation, "state": orjson.dumps(state).decode(),
                                              "updated_at": _iso(now)})
            if alert is not None:
                db.execute(WATCH_ALERTS.insert(), {
                    "organisation": organisation, "sent_at": alert.sent_at or _iso(now), "kind": alert.kind,
                    "title": alert.title, "body": alert.body, "delivered": int(alert.delivered),
                    "run_id": _run_id(run["token_hash"]) if run else ""})
        return _run_id(run["token_hash"]) if run else None

    def watch_state(self, organisation: str) -> dict | None:
        """What the watch of this organisation remembers between rounds, or None before its first round."""
        with self._transaction() as db:
            state = db.execute(sa.select(WATCH_STATE.c.state).where(
                WATCH_STATE.c.organisation == organisation)).scalar()
        return orjson.loads(state) if state else None

    def watch_organisations(self) -> list[str]:
        """Every organisation with watch runs or alerts, by name."""
        self.purge_expired()
        with self._transaction() as db:
            runs = db.execute(sa.select(RUNS.c.organisation).where(RUNS.c.kind == "watch").distinct()).scalars()
            alerts = db.execute(sa.select(WATCH_ALERTS.c.organisation).distinct()).scalars()
            return sorted(set(runs) | set(alerts))

    def watch_runs(self, organisation: str) -> list[WatchRun]:
        """The organisation's unexpired watch runs, oldest first, with their summaries (never their reports)."""
        self.purge_expired()
        with self._transaction() as db:
            rows = db.execute(sa.select(RUNS.c.token_hash, RUNS.c.created_at, RUNS.c.period_start, RUNS.c.period_end,
                                        RUNS.c.summary).where(RUNS.c.kind == "watch",
                                                              RUNS.c.organisation == organisation)
                              .order_by(RUNS.c.created_at)).all()
        return [WatchRun(_run_id(row.token_hash), row.created_at, row.period_start, row.period_end,
                         orjson.loads(row.summary or "{}")) for row in rows]

    def load_watch_run(self, run_id: str) -> SharedRun | None:
        """A watch run by its listed id (watch runs only: a shared report never opens this way)."""
        digest = self._digest_of(run_id)
        found = self._read(digest, "", with_report=True) if digest is not None else None
        return found if found is not None and found.kind == "watch" else None

    def watch_alerts(self, organisation: str, limit: int = 100) -> list[WatchAlert]:
        """The organisation's alerts, newest first."""
        with self._transaction() as db:
            rows = db.execute(sa.select(WATCH_ALERTS.c.organisation, WATCH_ALERTS.c.sent_at, WATCH_ALERTS.c.kind,
                                        WATCH_ALERTS.c.title, WATCH_ALERTS.c.body, WATCH_ALERTS.c.delivered,
                                        WATCH_ALERTS.c.run_id).where(WATCH_ALERTS.c.organisation == organisation)
                              .order_by(WATCH_ALERTS.c.alert_id.desc()).limit(limit)).all()
        return [WatchAlert(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6]) for row in rows]

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction (SQLite: ``BEGIN IMMEDIATE`` to write); database errors become ``StoreError``."""
        try:
            engine = _engine(self.url)
            with engine.connect() as connection:
                connection.execution_options(sqlite_write=write)
                with connection.begin():
                    yield connection
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(str(error.orig if isinstance(error, sa.exc.DBAPIError) else error)) from error


def store_url(where: str | Path) -> URL:
    """The database named by ``DIAGNOSTICS_STORE``: a ``sqlite:///`` or ``postgresql://`` URL, or a file path."""
    text = str(where)
    if not re.match(r"^[a-z][a-z0-9+]*://", text):
        return URL.create("sqlite", database=str(Path(text)))
    url = make_url(text)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever driver the URL named
    if backend != "sqlite" or not url.database or url.database == ":memory:":
        raise ValueError(f"{ENV_VAR} must be a sqlite:/// file or a postgresql:// database")
    return url.set(drivername="sqlite")


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: URL) -> Engine:
    """One engine per database and process, its tables created or upgraded when it is first made."""
    key = url.render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None or (url.get_backend_name() == "sqlite" and not Path(url.database).exists()):
            # (a SQLite file deleted while the app runs is created again, tables and all)
            engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else _postgres_engine(url)
            _prepare(engine)
            _ENGINES[key] = engine
    return engine


def _sqlite_engine(url: URL) -> Engine:
    """One connection per call (no pool: nothing stays open on the file); SQLAlchemy's BEGIN, not sqlite3's."""
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

    @sa.event.listens_for(engine, "connect")
    def _connected(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 would BEGIN on its own, and late
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        dbapi_connection.execute("PRAGMA synchronous = FULL")  # a link handed out must survive a power cut

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # a writer takes the write lock first: waiting (busy timeout) beats failing to upgrade a read lock
        write = connection.get_execution_options().get("sqlite_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> Engine:
    # a pool per process; pre-ping: a server restarted behind the pool's connections is reconnected
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=20)


def _prepare(engine: Engine) -> None:
    """Create the tables, or add what later versions added to an older database (WAL for SQLite)."""
    try:
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
            finally:
                raw.close()
        with engine.connect() as connection:
            connection.execution_options(sqlite_write=True)
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
                METADATA.create_all(connection)
                _add_missing_columns(connection)
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(str(error.orig if isinstance(error, sa.exc.DBAPIError) else error)) from error


def _add_missing_columns(connection: Connection) -> None:
    """A database written by an earlier version gains the columns (and their indexes) added since."""
    inspector = sa.inspect(connection)
    for table in METADATA.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                definition = CreateColumn(column).compile(dialect=connection.dialect)
                connection.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {definition}"))
        for index in table.indexes:
            index.create(connection, checkfirst=True)


def browser_hash(browser_key: str) -> str:
    """What the store keeps of a browser's key: its SHA-256, so a leaked database lists nobody's runs."""
    return hashlib.sha256(("browser:" + browser_key).encode()).hexdigest()


def run_id(token: str) -> str:
    """The id a run is listed under (a prefix of its token's hash, which opens nothing)."""
    return _run_id(_digest(token))


def _is_token(token: object) -> bool:
    return isinstance(token, str) and _TOKEN_SHAPE.fullmatch(token) is not None


def _run_id(digest: bytes) -> str:
    return bytes(digest).hex()[:RUN_ID_LENGTH]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_ISO)
