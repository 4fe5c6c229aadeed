"""The store of shared reports on SQLite and PostgreSQL: round trip, expiry, revocation, masking, crash safety,
concurrency, the upgrade of older files, and who made and opened a run."""

from __future__ import annotations

import copy
import hashlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from conftest import BASIC, TESTS

from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot, load_uploaded
from diagnostics.store import HIDDEN_SUBJECT, RunStore, SharedRun, StoreError, mask_report, store_url

QUEUE = "7b6f0a0e-1d2c-4c7e-9d7e-2f1f1b8c0a11"


def small_report(tag: str = "x", subject: str = "Printer on fire", sender: str = "Jo Smith <Jo.Smith@tailspin.com>",
                 evidence: list[str] | None = None) -> dict:
    """A contract-shaped report with one not-converted email."""
    return {
        "schema_version": 1, "source": tag, "tables": {"emails": 1, "queues": 1}, "missing_tables": [],
        "summary": {"incoming": 1, "converted": 0, "not_converted": 1,
                    "by_primary_cause": {"unknown-sender-not-allowed": 1}},
        "emails": [{
            "activityid": "0b0c7a52-5a3b-4b8e-8a43-0d2b3f6f9e01", "subject": subject,
            "received_on": "2026-11-03T10:00:00Z", "sender": sender, "queues": [QUEUE],
            "verdict": "not-converted", "primary_cause": "unknown-sender-not-allowed",
            "causes": [{"id": "unknown-sender-not-allowed", "queue": QUEUE,
                        "evidence": evidence or ["rule 'Support intake' has allowunknownsender = false",
                                                 "no contact or account uses jo.smith@tailspin.com."],
                        "remediation": "Allow unknown senders or create the contact."}],
            "notes": [f"the queue item in 'Helpdesk' (Help@FourthCoffee.com) was deactivated; tracked email "
                      f"'{subject}' is the parent"],
            "unchecked": [{"id": "contact-creation-failed", "missing": ["activitymonitors"]}]}],
        "findings": [{"id": "email-not-synced", "scope": "queue", "subject": QUEUE, "severity": "error",
                      "evidence": ["mailbox 'help@fourthcoffee.com' incoming status Failure",
                                   "last error mentions billing.clerk@tailspin.com"]}],
        "queues": [{"queueid": QUEUE, "name": "Helpdesk", "emailaddress": "help@fourthcoffee.com",
                    "active_rules": ["Support intake"]}],
    }


def big_report(seed: int, emails: int = 1000) -> dict:
    """A report of 3 MB that compresses only to half (random hex), the same for the same seed."""
    rng = random.Random(seed)
    report = small_report(f"run-{seed}")
    template = report["emails"][0]
    report["emails"] = [dict(template, activityid=rng.randbytes(16).hex(), subject=rng.randbytes(1500).hex())
                        for _ in range(emails)]
    return report


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def rows(url: str, sql: str, **params: object) -> list[tuple]:
    """Rows read straight from the store's database (SQLite file or PostgreSQL), not through RunStore."""
    engine = sa.create_engine(store_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as db:
            return [tuple(row) for row in db.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def row_count(url: str) -> int:
    return rows(url, "SELECT count(*) FROM runs")[0][0]


# --- round trip, expiry, revocation ---------------------------------------------------------------

def test_round_trip(store_url: str) -> None:
    store = RunStore(store_url)
    report = small_report()
    token = store.save(report, created_by="dana@fourthcoffee.com")
    run = store.load(token)
    assert isinstance(run, SharedRun)
    assert run.report == report and run.token == token and run.created_by == "dana@fourthcoffee.com"
    assert run.masked is False
    created = datetime.fromisoformat(run.created_at)
    assert created.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(run.expires_at) - created == timedelta(days=30)
    assert len(token) >= 32 and token.replace("-", "").replace("_", "").isalnum()


def test_report_is_stored_compressed_and_no_token_or_key_is_stored(store_url: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    store = RunStore(store_url)
    report = small_report()
    browser_key = "browser-key-" + "k" * 40
    token = store.save(report, created_by="dana", browser_key=browser_key)
    store.record_open(token, name="Sam", oid="oid-sam", tid="tenant-a")
    ((blob,),) = rows(store_url, "SELECT report FROM runs")
    assert orjson.loads(zlib.decompress(blob)) == report
    if store_url.startswith("sqlite"):
        files = list(tmp_path.iterdir())
    else:  # every file of the server: tables, indexes and the write-ahead log
        server = request.getfixturevalue("postgres")
        server.checkpoint()
        files = [path for path in server.data_dir.rglob("*") if path.is_file()]
    assert files
    for file in files:
        data = file.read_bytes()
        assert token.encode() not in data and browser_key.encode() not in data, file


def test_tokens_differ(store_url: str) -> None:
    store = RunStore(store_url)
    tokens = {store.save(small_report(), created_by="dana") for _ in range(50)}
    assert len(tokens) == 50


def test_location_from_environment_and_folder_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nested" / "deeper" / "shared.sqlite"
    monkeypatch.setenv("DIAGNOSTICS_STORE", str(path))
    token = RunStore().save(small_report(), created_by="dana")
    assert path.is_file()
    assert RunStore(path).load(token) is not None
    assert RunStore(f"sqlite:///{path}").load(token) is not None  # the same file named by a URL
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgresql_from_environment(postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.database()
    monkeypatch.setenv("DIAGNOSTICS_STORE", url)
    store = RunStore()
    token = store.save(small_report(), created_by="dana")
    assert store.path is None and store.location.endswith(url.removeprefix("postgresql:"))
    assert RunStore(url.replace("postgresql://", "postgres://")).load(token).report == small_report()


@pytest.mark.parametrize(("where", "driver"), [("runs.sqlite", "sqlite"), ("sqlite:///data/runs.sqlite", "sqlite"),
                                              ("postgresql://app:secret@db.internal/runs", "postgresql+psycopg"),
                                              ("postgresql+psycopg2://app@db/runs", "postgresql+psycopg")])
def test_store_url(where: str, driver: str) -> None:
    url = store_url(where)
    assert url.drivername == driver
    if driver == "sqlite":
        assert url.database.endswith("runs.sqlite")
    else:
        assert "secret" not in RunStore(where).location


@pytest.mark.parametrize("where", ["mysql://app@db/runs", "sqlite://", "sqlite:///:memory:"])
def test_other_databases_are_refused(where: str) -> None:
    with pytest.raises(ValueError, match="DIAGNOSTICS_STORE"):
        RunStore(where)


def test_an_unreachable_database_is_a_store_error() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = RunStore(f"postgresql://nobody@127.0.0.1:{port}/runs")
    with pytest.raises(StoreError) as caught:
        store.save(small_report(), created_by="dana")
    assert isinstance(caught.value, sqlite3.Error)  # what callers of the SQLite-only store caught


def test_default_location_under_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIAGNOSTICS_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    store = RunStore()
    assert not (tmp_path / "data").exists()  # nothing is created before the first use
    store.save(small_report(), created_by="dana")
    assert (tmp_path / "data" / "runs.sqlite").is_file()


def test_expired_run_is_gone_and_purged(store_url: str) -> None:
    clock = Clock()
    store = RunStore(store_url, clock=clock)
    token = store.save(small_report(), created_by="dana", ttl_days=30)
    store.record_open(token, name="Sam", oid="oid-sam", tid="tenant-a")
    clock.now += timedelta(days=29, hours=23)
    assert store.load(token) is not None
    clock.now += timedelta(hours=1)
    assert store.load(token) is None
    assert row_count(store_url) == 0  # purged on access, not merely hidden
    assert rows(store_url, "SELECT count(*) FROM opens") == [(0,)]  # and who opened it with it


def test_ttl_zero_expires_at_once(store_url: str) -> None:
    store = RunStore(store_url)
    token = store.save(small_report(), created_by="dana", ttl_days=0)
    assert store.load(token) is None
    assert row_count(store_url) == 0


def test_purge_expired_counts_only_expired(store_url: str) -> None:
    clock = Clock()
    store = RunStore(store_url, clock=clock)
    short = [store.save(small_report(), created_by="a", ttl_days=1) for _ in range(3)]
    keep = store.save(small_report(), created_by="b", ttl_days=7)
    clock.now += timedelta(days=2)
    assert store.purge_expired() == 3
    assert store.purge_expired() == 0
    assert all(store.load(token) is None for token in short)
    assert store.load(keep) is not None


def test_negative_ttl_is_refused(store_url: str) -> None:
    with pytest.raises(ValueError):
        RunStore(store_url).save(small_report(), created_by="dana", ttl_days=-1)


def test_revoke(store_url: str) -> None:
    store = RunStore(store_url)
    token = store.save(small_report(), created_by="dana")
    other = store.save(small_report("other"), created_by="dana")
    assert store.revoke(token) is True
    assert store.load(token) is None
    assert store.revoke(token) is False
    assert store.load(other).report["source"] == "other"


@pytest.mark.parametrize("token", ["", "nope", "x" * 43, "a" * 5000, "../../etc/passwd", "' OR 1=1 --", None, 42])
def test_unknown_or_malformed_token(store_url: str, token: object) -> None:
    store = RunStore(store_url)
    store.save(small_report(), created_by="dana")
    assert store.load(token) is None  # type: ignore[arg-type]
    assert store.lookup(token) is None  # type: ignore[arg-type]
    assert store.revoke(token) is False  # type: ignore[arg-type]
    assert row_count(store_url) == 1


def test_damaged_row_reads_as_unknown(store_url: str) -> None:
    store = RunStore(store_url)
    token = store.save(small_report(), created_by="dana")
    rows(store_url, "UPDATE runs SET report = :junk RETURNING 1", junk=b"not zlib")
    assert store.load(token) is None


# --- who made a run, who opened it, which browser kept it ------------------------------------------

def test_creator_tenant_and_browser_listings(store_url: str) -> None:
    store = RunStore(store_url)
    dana = store.save(small_report("dana"), created_by="Dana", name="mine", creator_oid="oid-dana",
                      creator_tid="tenant-a")
    store.save(small_report("sam"), created_by="Sam", creator_oid="oid-sam", creator_tid="tenant-a")
    store.save(small_report("bo"), created_by="Bo", creator_oid="oid-bo", creator_tid="tenant-b")
    kept = store.save(small_report("laptop"), created_by="a run kept in the app", browser_key="key-one")
    store.save(small_report("elsewhere"), created_by="a run kept in the app", browser_key="key-two")
    assert {run.created_by for run in store.list_runs(tenant="tenant-a")} == {"Dana", "Sam"}
    assert [run.created_by for run in store.list_runs(tenant="tenant-b")] == ["Bo"]
    mine = store.list_runs(browser_key="key-one")
    assert len(mine) == 1 and store.load_run(mine[0].run_id).report["source"] == "laptop"
    assert store.list_runs(browser_key="key-three") == [] and len(store.list_runs()) == 5
    run = store.load(dana)
    assert (run.creator_oid, run.creator_tid, run.name) == ("oid-dana", "tenant-a", "mine")
    assert store.lookup(dana).run_id == run.run_id == store.load_run(run.run_id).run_id
    assert store.load_run(run.run_id).token == ""  # opened by its id: no token to hand out
    assert store.delete_run(mine[0].run_id) == 1 and store.load(kept) is None


@pytest.mark.parametrize("run_id", ["", "zz", "0" * 12, "' OR 1=1 --", None, 7, "A" * 12])
def test_unknown_run_ids(store_url: str, run_id: object) -> None:
    store = RunStore(store_url)
    store.save(small_report(), created_by="dana")
    assert store.load_run(run_id) is None  # type: ignore[arg-type]
    assert store.delete_run(run_id) == 0  # type: ignore[arg-type]
    assert store.openings(run_id) == []  # type: ignore[arg-type]
    assert row_count(store_url) == 1


def test_openings_are_recorded_and_leave_with_the_run(store_url: str) -> None:
    clock = Clock()
    store = RunStore(store_url, clock=clock)
    token = store.save(small_report(), created_by="Dana", creator_oid="oid-dana", creator_tid="tenant-a")
    other = store.save(small_report(), created_by="Dana")
    store.record_open(token, name="Sam", oid="oid-sam", tid="tenant-a")
    clock.now += timedelta(hours=1)
    store.record_open(token, name="Kim", oid="oid-kim", tid="tenant-a")
    store.record_open(other, name="Sam", oid="oid-sam", tid="tenant-a")
    run_id = store.lookup(token).run_id
    clock.now += timedelta(hours=1)
    store.record_run_open(run_id, name="Lee", oid="oid-lee", tid="tenant-a")  # opened from a list, by its id
    opened = store.openings(run_id)
    assert [(opening.name, opening.oid) for opening in opened] == [("Lee", "oid-lee"), ("Kim", "oid-kim"),
                                                                   ("Sam", "oid-sam")]
    assert opened[1].opened_at == "2026-11-20T10:00:00Z"
    assert store.revoke(token)
    assert store.openings(run_id) == [] and len(store.openings(store.lookup(other).run_id)) == 1


# --- a store file written by an earlier version ------------------------------------------------------

FIRST_RELEASE = """
CREATE TABLE runs (token_hash BLOB PRIMARY KEY, report BLOB NOT NULL, created_by TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, masked INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX runs_expiry ON runs (expires_at);
"""
WITH_NAMES = """
CREATE TABLE IF NOT EXISTS runs (token_hash BLOB PRIMARY KEY, report BLOB NOT NULL, created_by TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, masked INTEGER NOT NULL, name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'report') WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_expiry ON runs (expires_at);
"""


@pytest.mark.parametrize("schema", [FIRST_RELEASE, WITH_NAMES], ids=["first-release", "with-names"])
def test_a_file_of_an_earlier_version_opens_and_gains_the_new_columns(tmp_path: Path, schema: str) -> None:
    path = tmp_path / "runs.sqlite"
    token = "t" * 43
    with sqlite3.connect(path) as db:  # written as that version wrote it, WAL included
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
        db.execute("INSERT INTO runs (token_hash, report, created_by, created_at, expires_at, masked) "
                   "VALUES (?, ?, 'Dana', '2026-11-01T09:00:00Z', '2999-01-01T00:00:00Z', 0)",
                   (hashlib.sha256(token.encode()).digest(), zlib.compress(orjson.dumps(small_report()))))
    db.close()
    store = RunStore(path)
    run = store.load(token)
    assert run.report == small_report() and (run.name, run.kind, run.creator_tid) == ("", "report", "")
    assert [info.created_by for info in store.list_runs()] == ["Dana"]
    new = store.save(small_report("new"), created_by="Sam", creator_oid="oid-sam", creator_tid="tenant-a")
    assert store.list_runs(tenant="tenant-a")[0].run_id == store.lookup(new).run_id
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        indexes = {row[1] for row in db.execute("PRAGMA index_list(runs)")}
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert {"name", "kind", "creator_oid", "creator_tid", "browser_hash"} <= columns
    assert {"runs_expiry", "runs_tenant", "runs_browser"} <= indexes


# --- masking ----------------------------------------------------------------------------------------

def _json_forms(text: str) -> list[str]:
    """The text as it may appear in serialised JSON: raw and escaped."""
    return [text.lower(), orjson.dumps(text).decode()[1:-1].lower()]


def assert_hidden(masked: dict, secrets_: set[str]) -> None:
    serialised = orjson.dumps(masked).decode().lower()
    left = sorted(secret for secret in secrets_ if any(form in serialised for form in _json_forms(secret)))
    assert not left, f"still in the masked report: {left[:5]}"


def test_mask_small_report() -> None:
    report = small_report(subject="It's \"urgent\" <b>now</b>")
    original = copy.deepcopy(report)
    masked = mask_report(report)
    assert report == original  # the input is untouched
    email = masked["emails"][0]
    assert email["subject"] == HIDDEN_SUBJECT
    assert email["sender"] == "J***@tailspin.com"  # no display name left
    assert "no contact or account uses j***@tailspin.com." in email["causes"][0]["evidence"]
    assert f"'{HIDDEN_SUBJECT}'" in email["notes"][0]
    assert "Help@FourthCoffee.com" in email["notes"][0]  # the queue's own address is kept
    assert masked["queues"] == report["queues"]
    assert masked["findings"][0]["evidence"][0] == "mailbox 'help@fourthcoffee.com' incoming status Failure"
    assert masked["findings"][0]["evidence"][1] == "last error mentions b***@tailspin.com"
    assert_hidden(masked, {"jo.smith@tailspin.com", "billing.clerk@tailspin.com", "Jo Smith",
                           original["emails"][0]["subject"]})


def test_mask_keeps_the_structure() -> None:
    report = small_report(subject="not-converted")  # a subject equal to a contract word
    masked = mask_report(report)
    assert masked["emails"][0]["verdict"] == "not-converted"
    assert masked["emails"][0]["primary_cause"] == "unknown-sender-not-allowed"
    assert masked["summary"] == report["summary"]
    assert masked.keys() == report.keys()


def test_mask_sender_without_address() -> None:
    masked = mask_report(small_report(sender="Jo Smith"))
    assert masked["emails"][0]["sender"] == "(sender hidden)"


@pytest.fixture(scope="module")
def demo_report() -> tuple[dict, dict[str, bytes]]:
    files = demo_files(400)
    return diagnose(load_uploaded(list(files.items()))).to_dict(), files


def customer_addresses(files: dict[str, bytes], report: dict) -> set[str]:
    """Every address of the snapshot that is not a queue's."""
    found: set[str] = set()
    for name, data in files.items():
        if name.split("/")[-1].split(".")[0] in ("emails", "contacts", "accounts", "activityparties"):
            for row in orjson.loads(data)["value"]:
                for column in ("sender", "emailaddress1", "emailaddress2", "emailaddress3", "addressused"):
                    if isinstance(row.get(column), str) and "@" in row[column]:
                        found.add(row[column].strip().lower())
    return found - {queue["emailaddress"].lower() for queue in report["queues"] if queue["emailaddress"]}


def test_mask_demo_report_leaves_no_customer_address_or_subject(demo_report) -> None:
    report, files = demo_report
    original = copy.deepcopy(report)
    addresses = customer_addresses(files, report)
    subjects = {email["subject"] for email in report["emails"] if email["subject"]}
    serialised = orjson.dumps(report).decode().lower()
    assert len(addresses) > 20 and any(address in serialised for address in addresses)  # there was data to hide
    assert any(f"'{subject.lower()}'" in serialised for subject in subjects)  # evidence quotes subjects
    masked = mask_report(report)
    assert report == original
    assert_hidden(masked, addresses | subjects)
    queue_addresses = [queue["emailaddress"] for queue in report["queues"] if queue["emailaddress"]]
    assert all(address.lower() in orjson.dumps(masked).decode().lower() for address in queue_addresses)
    assert [email["verdict"] for email in masked["emails"]] == [email["verdict"] for email in report["emails"]]


def test_mask_sample_report() -> None:
    report = diagnose(load_snapshot(BASIC)).to_dict()
    masked = mask_report(report)
    assert_hidden(masked, {"jo@tailspin.com", "someone@contoso.net"}
                  | {email["subject"] for email in report["emails"]})


def test_save_masked(store_url: str) -> None:
    store = RunStore(store_url)
    report = small_report()
    token = store.save(report, created_by="dana", mask=True)
    run = store.load(token)
    assert run.masked is True and run.report == mask_report(report)
    assert_hidden(run.report, {"jo.smith@tailspin.com", "Printer on fire"})
    ((blob,),) = rows(store_url, "SELECT report FROM runs")
    assert b"Printer on fire" not in zlib.decompress(blob)  # never written unmasked


@pytest.mark.parametrize("mask", [False, True])
def test_a_report_already_written_as_json_is_kept_the_same(store_url: str, mask: bool) -> None:
    store = RunStore(store_url)
    written = diagnose(load_snapshot(BASIC)).to_json()
    as_dict = orjson.loads(written)
    run = store.load(store.save(written, created_by="dana", mask=mask))
    assert run.report == (mask_report(as_dict) if mask else as_dict)
    assert run.masked is mask



# --- durability ---------------------------------------------------------------------------------------

WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
import sqlalchemy as sa
import diagnostics.store as store_module
from test_store import big_report

store = store_module.RunStore(sys.argv[1])
engine = store_module._engine(store.url)
sa.event.listen(engine, "before_cursor_execute",
                lambda conn, cursor, sql, *rest: sql.startswith("INSERT") and print("insert", flush=True))
seed = int(sys.argv[3])
while True:
    token = store.save(big_report(seed), created_by=f"writer-{seed}")
    print("saved", seed, token, flush=True)
    seed += 1
"""


def _kill_writer_mid_save(url: str, first_seed: int, delay: float) -> tuple[dict[int, str], int]:
    """Run a writer until it has saved a report and started the next, then SIGKILL it."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, url, str(TESTS), str(first_seed)],
                             stdout=subprocess.PIPE, text=True, cwd=TESTS.parent)
    saved: dict[int, str] = {}
    inserts = 0
    read: list[str] = []  # the writer's lines, for the message of a failure
    try:
        for line in child.stdout:
            read.append(" ".join(line.split()[:2]))  # "insert", or "saved" and the seed
            if line.startswith("saved"):
                _, seed, token = line.split()
                saved[int(seed)] = token
            elif line.startswith("insert"):
                inserts += 1
                if inserts == 2:
                    time.sleep(delay)  # inside the INSERT or the COMMIT (together about 50 ms)
                    os.kill(child.pid, signal.SIGKILL)
                    break
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert inserts == 2, "the writer never reached its second save"
    assert list(saved) == [first_seed], f"one save, then the next one's INSERT; the writer wrote {read}"
    return saved, first_seed + 1  # the seed whose save was interrupted


def test_writer_killed_mid_save_leaves_whole_reports(store_url: str) -> None:
    rng = random.Random(7)
    tokens: dict[int, str] = {}
    interrupted_seeds: set[int] = set()  # each may or may not have committed before its kill
    interrupted_absent = 0
    for round_ in range(3):
        delay = 0 if round_ == 0 else rng.uniform(0, 0.015)  # at once: surely before the commit ends
        saved, interrupted = _kill_writer_mid_save(store_url, round_ * 10, delay)
        tokens.update(saved)
        interrupted_seeds.add(interrupted)
        if store_url.startswith("sqlite"):
            assert rows(store_url, "PRAGMA integrity_check") == [("ok",)]
        found = rows(store_url, "SELECT created_by, report FROM runs")
        seeds = {int(created_by.removeprefix("writer-")) for created_by, _ in found}
        assert set(tokens) <= seeds <= set(tokens) | interrupted_seeds
        interrupted_absent += interrupted not in seeds
        for created_by, blob in found:  # every row is whole, including one committed just before the kill
            assert orjson.loads(zlib.decompress(blob)) == big_report(int(created_by.removeprefix("writer-")))
    store = RunStore(store_url)
    for seed, token in tokens.items():
        assert store.load(token).report == big_report(seed)
    assert interrupted_absent > 0  # at least one kill really landed before the commit finished


# --- concurrency --------------------------------------------------------------------------------------

def test_twenty_threads_save_and_load(store_url: str) -> None:
    store = RunStore(store_url)
    start = threading.Barrier(20)
    everything: dict[str, dict] = {}
    lock = threading.Lock()

    def work(thread: int) -> list[tuple[str, dict]]:
        start.wait()
        mine = []
        for index in range(10):
            report = small_report(f"thread-{thread}-{index}")
            report["emails"] *= 1 + (thread * index) % 50  # different sizes
            token = store.save(report, created_by=f"thread-{thread}", mask=index % 3 == 0)
            expected = mask_report(report) if index % 3 == 0 else report
            assert store.load(token).report == expected
            with lock:
                everything[token] = expected
                others = random.sample(list(everything.items()), min(3, len(everything)))
            for other, other_report in others:
                assert store.load(other).report == other_report
            mine.append((token, expected))
        return mine

    with ThreadPoolExecutor(20) as pool:
        results = [item for items in pool.map(work, range(20)) for item in items]
    assert len(results) == 200 and len({token for token, _ in results}) == 200
    assert row_count(store_url) == 200
    for token, report in results:
        assert store.load(token).report == report


def test_a_store_from_before_the_watch_gains_its_columns_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:  # the first release's schema, with one shared report
        db.execute("CREATE TABLE runs (token_hash BLOB PRIMARY KEY, report BLOB NOT NULL, created_by TEXT NOT NULL, "
                   "created_at TEXT NOT NULL, expires_at TEXT NOT NULL, masked INTEGER NOT NULL) WITHOUT ROWID")
    store = RunStore(path)
    assert store.list_runs() == []
    token = store.save(small_report(), created_by="dana")
    run_id = store.keep_watch_round("https://contoso.crm.dynamics.com", {"known": []}, report=orjson.dumps(
        small_report()), period=("2026-11-14", "2026-11-20"), summary={"incoming": 1})
    assert store.load(token).report == small_report()
    [watched] = store.watch_runs("https://contoso.crm.dynamics.com")
    assert (watched.run_id, watched.period_start, watched.summary) == (run_id, "2026-11-14", {"incoming": 1})
    assert store.load_watch_run(run_id).report == small_report()
    shared_id = next(run.run_id for run in store.list_runs() if run.kind == "report")
    assert store.load_watch_run(shared_id) is None  # a shared report never opens by its listed id
    assert store.watch_state("https://contoso.crm.dynamics.com") == {"known": []}
