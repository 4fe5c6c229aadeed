"""The store of shared reports: round trip, expiry, revocation, masking, crash safety and concurrency."""

from __future__ import annotations

import copy
import os
import random
import signal
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
from conftest import BASIC, TESTS

from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot, load_uploaded
from diagnostics.store import HIDDEN_SUBJECT, RunStore, SharedRun, mask_report

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


def row_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]


# --- round trip, expiry, revocation ---------------------------------------------------------------

def test_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
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


def test_report_is_stored_compressed_and_the_token_is_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    report = small_report()
    token = store.save(report, created_by="dana")
    with sqlite3.connect(path) as db:
        (blob,) = db.execute("SELECT report FROM runs").fetchone()
    assert orjson.loads(zlib.decompress(blob)) == report
    for file in tmp_path.iterdir():
        assert token.encode() not in file.read_bytes()


def test_tokens_differ(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    tokens = {store.save(small_report(), created_by="dana") for _ in range(50)}
    assert len(tokens) == 50


def test_location_from_environment_and_folder_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nested" / "deeper" / "shared.sqlite"
    monkeypatch.setenv("DIAGNOSTICS_STORE", str(path))
    token = RunStore().save(small_report(), created_by="dana")
    assert path.is_file()
    assert RunStore(path).load(token) is not None
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_location_under_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIAGNOSTICS_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    store = RunStore()
    assert not (tmp_path / "data").exists()  # nothing is created before the first use
    store.save(small_report(), created_by="dana")
    assert (tmp_path / "data" / "runs.sqlite").is_file()


def test_expired_run_is_gone_and_purged(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    clock = Clock()
    store = RunStore(path, clock=clock)
    token = store.save(small_report(), created_by="dana", ttl_days=30)
    clock.now += timedelta(days=29, hours=23)
    assert store.load(token) is not None
    clock.now += timedelta(hours=1)
    assert store.load(token) is None
    assert row_count(path) == 0  # purged on access, not merely hidden


def test_ttl_zero_expires_at_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    token = store.save(small_report(), created_by="dana", ttl_days=0)
    assert store.load(token) is None
    assert row_count(path) == 0


def test_purge_expired_counts_only_expired(tmp_path: Path) -> None:
    clock = Clock()
    store = RunStore(tmp_path / "runs.sqlite", clock=clock)
    short = [store.save(small_report(), created_by="a", ttl_days=1) for _ in range(3)]
    keep = store.save(small_report(), created_by="b", ttl_days=7)
    clock.now += timedelta(days=2)
    assert store.purge_expired() == 3
    assert store.purge_expired() == 0
    assert all(store.load(token) is None for token in short)
    assert store.load(keep) is not None


def test_negative_ttl_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RunStore(tmp_path / "runs.sqlite").save(small_report(), created_by="dana", ttl_days=-1)


def test_revoke(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    token = store.save(small_report(), created_by="dana")
    other = store.save(small_report("other"), created_by="dana")
    assert store.revoke(token) is True
    assert store.load(token) is None
    assert store.revoke(token) is False
    assert store.load(other).report["source"] == "other"


@pytest.mark.parametrize("token", ["", "nope", "x" * 43, "a" * 5000, "../../etc/passwd", "' OR 1=1 --", None, 42])
def test_unknown_or_malformed_token(tmp_path: Path, token: object) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    store.save(small_report(), created_by="dana")
    assert store.load(token) is None  # type: ignore[arg-type]
    assert store.revoke(token) is False  # type: ignore[arg-type]
    assert row_count(tmp_path / "runs.sqlite") == 1


def test_damaged_row_reads_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    token = store.save(small_report(), created_by="dana")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET report = ?", (b"not zlib",))
    assert store.load(token) is None


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


def test_save_masked(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    report = small_report()
    token = store.save(report, created_by="dana", mask=True)
    run = store.load(token)
    assert run.masked is True and run.report == mask_report(report)
    assert_hidden(run.report, {"jo.smith@tailspin.com", "Printer on fire"})
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        (blob,) = db.execute("SELECT report FROM runs").fetchone()
    assert b"Printer on fire" not in zlib.decompress(blob)  # never written unmasked


@pytest.mark.parametrize("mask", [False, True])
def test_a_report_already_written_as_json_is_kept_the_same(tmp_path: Path, mask: bool) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    written = diagnose(load_snapshot(BASIC)).to_json()
    as_dict = orjson.loads(written)
    run = store.load(store.save(written, created_by="dana", mask=mask))
    assert run.report == (mask_report(as_dict) if mask else as_dict)
    assert run.masked is mask


# --- durability ---------------------------------------------------------------------------------------

WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
import diagnostics.store as store_module
from test_store import big_report

connect = store_module.sqlite3.connect

def traced_connect(*args, **kwargs):
    db = connect(*args, **kwargs)
    db.set_trace_callback(lambda sql: sql.startswith("INSERT") and print("insert", flush=True))
    return db

store_module.sqlite3.connect = traced_connect
store = store_module.RunStore(sys.argv[1])
seed = int(sys.argv[3])
while True:
    token = store.save(big_report(seed), created_by=f"writer-{seed}")
    print("saved", seed, token, flush=True)
    seed += 1
"""


def _kill_writer_mid_save(path: Path, first_seed: int, delay: float) -> tuple[dict[int, str], int]:
    """Run a writer until it has saved a report and started the next, then SIGKILL it."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(TESTS), str(first_seed)],
                             stdout=subprocess.PIPE, text=True, cwd=TESTS.parent)
    saved: dict[int, str] = {}
    inserts = 0
    try:
        for line in child.stdout:
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
    return saved, first_seed + 1  # the seed whose save was interrupted


def test_writer_killed_mid_save_leaves_whole_reports(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    rng = random.Random(7)
    tokens: dict[int, str] = {}
    interrupted_seeds: set[int] = set()  # each may or may not have committed before its kill
    interrupted_absent = 0
    for round_ in range(3):
        delay = 0 if round_ == 0 else rng.uniform(0, 0.015)  # at once: surely before the commit ends
        saved, interrupted = _kill_writer_mid_save(path, round_ * 10, delay)
        tokens.update(saved)
        interrupted_seeds.add(interrupted)
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = db.execute("SELECT created_by, report FROM runs").fetchall()
        seeds = {int(created_by.removeprefix("writer-")) for created_by, _ in rows}
        assert set(tokens) <= seeds <= set(tokens) | interrupted_seeds
        interrupted_absent += interrupted not in seeds
        for created_by, blob in rows:  # every row is whole, including one committed just before the kill
            assert orjson.loads(zlib.decompress(blob)) == big_report(int(created_by.removeprefix("writer-")))
    store = RunStore(path)
    for seed, token in tokens.items():
        assert store.load(token).report == big_report(seed)
    assert interrupted_absent > 0  # at least one kill really landed before the commit finished


# --- concurrency --------------------------------------------------------------------------------------

def test_twenty_threads_save_and_load(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
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
    assert row_count(tmp_path / "runs.sqlite") == 200
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
