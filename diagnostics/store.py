"""SQLite store of shared reports: a report saved under an unguessable token, read back through a link.

Only the evaluated report (the contract JSON) is stored, never the raw snapshot, as zlib-compressed
orjson. The store lives at ``DIAGNOSTICS_STORE`` (default ``./data/runs.sqlite`` under the working
directory) and is created on first use. It runs in WAL mode with a busy timeout and opens one
connection per call, so threads and processes can share it; saving is a single transaction, so a
writer killed mid-save leaves the whole report or nothing.

Watch runs (``diagnostics/watch.py``) are kept here too, with their organisation, period and summary;
nobody holds their token, so they open by their listed id (``load_watch_run``, watch runs only). Beside
them, ``watch_state`` (what each organisation's admins were told) and ``watch_alerts`` (what was sent).

Tokens are never stored or logged: rows are keyed by the SHA-256 of the token, so a leaked database
file opens no links, and looking a row up reveals nothing about the tokens near it.

Masking (``masking.mask_report``) hides customer data before a report is shared further than its team.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from .masking import HIDDEN_SENDER, HIDDEN_SUBJECT, mask_address, mask_report  # noqa: F401 - the store's API

ENV_VAR = "DIAGNOSTICS_STORE"
DEFAULT_PATH = Path("data") / "runs.sqlite"
BUSY_TIMEOUT_SECONDS = 30
TOKEN_BYTES = 32  # 256 bits; the contract asks for at least 128
# zlib level 1: for 200,000 emails (119 MB of JSON) 0.47 s and 20 MB, where level 6 took 1.0 s for 15 MB.
COMPRESSION = 1
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"  # fixed width, so text comparison is time comparison

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    token_hash BLOB PRIMARY KEY,
    report BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    masked INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'report'
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_expiry ON runs (expires_at);
"""
# Columns added after the first release: (name, definition) added to an older file on first use.
_ADDED_COLUMNS = (("name", "TEXT NOT NULL DEFAULT ''"), ("kind", "TEXT NOT NULL DEFAULT 'report'"),
                  # watch runs (diagnostics/watch.py): the organisation, the days pulled, report["summary"]
                  ("organisation", "TEXT NOT NULL DEFAULT ''"), ("period_start", "TEXT NOT NULL DEFAULT ''"),
                  ("period_end", "TEXT NOT NULL DEFAULT ''"), ("summary", "TEXT NOT NULL DEFAULT ''"))
# The watch's own tables, created after the columns above exist: what each organisation's admins were told
# (one state row per organisation, replaced each round) and every alert the watch sent or tried to send.
_WATCH_SCHEMA = """
CREATE INDEX IF NOT EXISTS runs_organisation ON runs (organisation, created_at);
CREATE TABLE IF NOT EXISTS watch_state (
    organisation TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_alerts (
    alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    delivered INTEGER NOT NULL,
    run_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS watch_alerts_organisation ON watch_alerts (organisation, sent_at);
"""
KINDS = ("report", "comparison", "watch")
RUN_ID_LENGTH = 12  # hex digits of the token's hash that name a run in listings (never the token)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SharedRun:
    """A report as it was shared: who shared it, when, until when, and whether it was masked."""

    token: str
    report: dict
    created_by: str
    created_at: str
    expires_at: str
    masked: bool
    name: str = ""
    kind: str = "report"


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


class RunStore:
    """Shared reports in one SQLite file. ``clock`` (UTC ``datetime``) is there for tests."""

    def __init__(self, path: str | Path | None = None, *, clock: Clock | None = None) -> None:
        self.path = Path(path or os.environ.get(ENV_VAR) or Path.cwd() / DEFAULT_PATH)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ready = False
        self._ready_lock = threading.Lock()

    def save(self, report: dict | bytes, created_by: str, ttl_days: int = 30, mask: bool = False, *,
             name: str = "", kind: str = "report") -> str:
        """Store the report (or a comparison) and return its token; it can be loaded for ``ttl_days`` days.

        ``report`` is the contract JSON as a dict, or already written (``Report.to_json``: no object per
        email, 0.4 s instead of 2 s for 200,000 emails)."""
        if ttl_days < 0:
            raise ValueError("ttl_days cannot be negative")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if mask:
            report = mask_report(orjson.loads(report) if isinstance(report, bytes) else report)
        document = report if isinstance(report, bytes) else orjson.dumps(report)
        blob = zlib.compress(document, COMPRESSION)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        row = (_digest(token), blob, str(created_by), _iso(now), _iso(now + timedelta(days=ttl_days)), int(mask),
               str(name)[:200], kind)
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT INTO runs (token_hash, report, created_by, created_at, expires_at, masked, name, "
                           "kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return token

    def load(self, token: str) -> SharedRun | None:
        """The shared run, or None when the token is unknown, expired or revoked."""
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return None
        self.purge_expired()
        row = self._row(token, "report, created_by, created_at, expires_at, masked, name, kind")
        if row is None:
            return None
        try:
            report = orjson.loads(zlib.decompress(row[0]))
        except (zlib.error, orjson.JSONDecodeError):
            return None  # a damaged row reads as an unknown link, not a crash of the page
        return SharedRun(token, report, row[1], row[2], row[3], bool(row[4]), row[5], row[6])

    def list_runs(self) -> list[RunInfo]:
        """Every run in the store that has not expired, newest first (names and dates, never tokens)."""
        self.purge_expired()
        with self._connection() as db:
            rows = db.execute("SELECT hex(token_hash), name, kind, created_by, created_at, expires_at, masked, "
                              "length(report) FROM runs ORDER BY created_at DESC").fetchall()
        return [RunInfo(row[0][:RUN_ID_LENGTH].lower(), row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7])
                for row in rows]

    def delete_run(self, run_id: str) -> int:
        """Delete the run whose listed id (a hash prefix, as ``list_runs`` shows it) is ``run_id``."""
        if not re.fullmatch(rf"[0-9a-f]{{{RUN_ID_LENGTH}}}", run_id or ""):
            return 0
        with self._connection() as db:
            return db.execute("DELETE FROM runs WHERE lower(substr(hex(token_hash), 1, ?)) = ?",
                              (RUN_ID_LENGTH, run_id)).rowcount

    def lookup(self, token: str) -> SharedRun | None:
        """The run without its report (``report`` is empty), or None when unknown, expired or revoked.

        Cheap (the compressed report is not read): the app checks it on every open and keeps one parsed
        copy of the report per run, keyed by the token and ``created_at``.
        """
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return None
        row = self._row(token, "created_by, created_at, expires_at, masked")
        return SharedRun(token, {}, row[0], row[1], row[2], bool(row[3])) if row is not None else None

    def _row(self, token: str, columns: str) -> tuple | None:
        """The columns of the live (unexpired) row behind the token."""
        digest = _digest(token)
        with self._connection() as db:
            row = db.execute(f"SELECT token_hash, {columns} FROM runs WHERE token_hash = ? AND expires_at > ?",
                             (digest, _iso(self._clock()))).fetchone()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        return row[1:]

    def revoke(self, token: str) -> bool:
        """Delete the run behind the token; True when there was one."""
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return False
        with self._connection() as db:
            return db.execute("DELETE FROM runs WHERE token_hash = ?", (_digest(token),)).rowcount > 0

    def purge_expired(self) -> int:
        """Delete every expired run; returns how many."""
        with self._connection() as db:
            return db.execute("DELETE FROM runs WHERE expires_at <= ?", (_iso(self._clock()),)).rowcount

    # ------------------------------------------------------------------ the watch (diagnostics/watch.py)

    def keep_watch_round(self, organisation: str, state: dict, *, report: bytes | None = None,
                         period: tuple[str, str] = ("", ""), summary: dict | None = None, ttl_days: int = 30,
                         alert: WatchAlert | None = None) -> str | None:
        """One watch round in one transaction: its run (when it got one), the organisation's new state and
        the alert it sent; an interrupted round keeps none of them. Returns the run's id, or None."""
        now = self._clock()
        run_id, token_hash = None, None
        if report is not None:
            token_hash = _digest(secrets.token_urlsafe(TOKEN_BYTES))  # a watch run opens by its id, not a link
            run_id = token_hash.hex()[:RUN_ID_LENGTH]
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if report is not None:
                    db.execute("INSERT INTO runs (token_hash, report, created_by, created_at, expires_at, masked, "
                               "name, kind, organisation, period_start, period_end, summary) "
                               "VALUES (?, ?, ?, ?, ?, 0, ?, 'watch', ?, ?, ?, ?)",
                               (token_hash, zlib.compress(report, COMPRESSION), "the watch", _iso(now),
                                _iso(now + timedelta(days=ttl_days)), f"watch {organisation}"[:200], organisation,
                                period[0], period[1], orjson.dumps(summary or {}).decode()))
                db.execute("INSERT INTO watch_state (organisation, state, updated_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (organisation) DO UPDATE SET state = excluded.state, "
                           "updated_at = excluded.updated_at", (organisation, orjson.dumps(state).decode(), _iso(now)))
                if alert is not None:
                    db.execute("INSERT INTO watch_alerts (organisation, sent_at, kind, title, body, delivered, run_id) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", (organisation, alert.sent_at or _iso(now), alert.kind,
                                                                alert.title, alert.body, int(alert.delivered),
                                                                run_id or ""))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return run_id

    def watch_state(self, organisation: str) -> dict | None:
        """What the watch of this organisation remembers between rounds, or None before its first round."""
        with self._connection() as db:
            row = db.execute("SELECT state FROM watch_state WHERE organisation = ?", (organisation,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def watch_organisations(self) -> list[str]:
        """Every organisation with watch runs or alerts, by name."""
        self.purge_expired()
        with self._connection() as db:
            rows = db.execute("SELECT organisation FROM runs WHERE kind = 'watch' UNION "
                              "SELECT organisation FROM watch_alerts ORDER BY 1").fetchall()
        return [row[0] for row in rows]

    def watch_runs(self, organisation: str) -> list[WatchRun]:
        """The organisation's unexpired watch runs, oldest first, with their summaries (never their reports)."""
        self.purge_expired()
        with self._connection() as db:
            rows = db.execute("SELECT hex(token_hash), created_at, period_start, period_end, summary FROM runs "
                              "WHERE kind = 'watch' AND organisation = ? ORDER BY created_at",
                              (organisation,)).fetchall()
        return [WatchRun(row[0][:RUN_ID_LENGTH].lower(), row[1], row[2], row[3], orjson.loads(row[4] or "{}"))
                for row in rows]

    def load_watch_run(self, run_id: str) -> SharedRun | None:
        """A watch run by its listed id (watch runs only: a shared report never opens this way)."""
        if not re.fullmatch(rf"[0-9a-f]{{{RUN_ID_LENGTH}}}", run_id or ""):
            return None
        with self._connection() as db:
            row = db.execute("SELECT report, created_by, created_at, expires_at, name FROM runs WHERE kind = 'watch' "
                             "AND lower(substr(hex(token_hash), 1, ?)) = ? AND expires_at > ?",
                             (RUN_ID_LENGTH, run_id, _iso(self._clock()))).fetchone()
        if row is None:
            return None
        try:
            report = orjson.loads(zlib.decompress(row[0]))
        except (zlib.error, orjson.JSONDecodeError):
            return None
        return SharedRun("", report, row[1], row[2], row[3], False, row[4], "watch")

    def watch_alerts(self, organisation: str, limit: int = 100) -> list[WatchAlert]:
        """The organisation's alerts, newest first."""
        with self._connection() as db:
            rows = db.execute("SELECT organisation, sent_at, kind, title, body, delivered, run_id FROM watch_alerts "
                              "WHERE organisation = ? ORDER BY alert_id DESC LIMIT ?", (organisation, limit)).fetchall()
        return [WatchAlert(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6]) for row in rows]

    def _connection(self) -> _Connection:
        self._prepare()
        return _Connection(self.path)

    def _prepare(self) -> None:
        """Create the folder, the file and the table on first use (once per instance)."""
        with self._ready_lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _Connection(self.path) as db:
                db.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
                db.executescript(_SCHEMA)
                _add_missing_columns(db)
                db.executescript(_WATCH_SCHEMA)
            self._ready = True


class _Connection:
    """One short-lived connection in autocommit mode; transactions are explicit."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        self.db.execute("PRAGMA synchronous = FULL")  # a link handed out must survive a power cut

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A store file written by an earlier version gains the columns added since."""
    present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, definition in _ADDED_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_ISO)
