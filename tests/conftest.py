"""Shared test set-up: tests import their helpers (factory.py) from this folder."""

import sys
from pathlib import Path

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
sys.path.insert(0, str(TESTS))


# --------------------------------------------------------------------------- app and browser tests
import io  # noqa: E402
import json  # noqa: E402
import zipfile  # noqa: E402

import pytest  # noqa: E402

BASIC = FIXTURES / "snapshot-basic"
HEADERS = FIXTURES / "headers"
APP = TESTS.parent / "streamlit_app.py"
# Subjects, senders and a queue name that would run script, draw a link or format text if rendered as HTML or
# Markdown; they set window.__pwned when any of them runs.
HOSTILE_SUBJECTS = {
    "Help needed (first)": "<script>window.__pwned=1</script> Help needed (first)",
    "Help needed (stranger)": '<img src=x onerror="window.__pwned=1"> [click me](javascript:window.__pwned=1) '
                              "Help needed (stranger)",
    "Help needed (sales)": '**bold** $x^2$ :red[red] https://evil.example/phish =HYPERLINK("https://evil.example")',
}
HOSTILE_SENDER = "<img src=x onerror=window.__pwned=1> [sender link](https://evil.example/s) www.evil.example"
HOSTILE_QUEUE = 'Help<b>desk</b> <a href="https://evil.example/q">queue link</a>'


def zip_folder(folder: Path, change=None) -> bytes:
    """The JSON files of a folder as one zip; ``change(name, data)`` may rewrite each parsed file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if change:
                data = change(path.name, data)
            archive.writestr(path.name, json.dumps(data))
    return buffer.getvalue()


def _hostile(name: str, data: dict) -> dict:
    for row in data.get("value", []):
        if name == "emails.json":
            row["subject"] = HOSTILE_SUBJECTS.get(row.get("subject"), row.get("subject"))
            if row.get("sender") == "someone@contoso.net":
                row["sender"] = HOSTILE_SENDER
        if name == "activityparties.json" and row.get("addressused") == "someone@contoso.net":
            row["addressused"] = HOSTILE_SENDER
        if name == "queues.json" and row.get("name") == "Helpdesk":
            row["name"] = HOSTILE_QUEUE
    return data


@pytest.fixture(scope="session")
def basic_zip() -> bytes:
    """tests/fixtures/snapshot-basic zipped."""
    return zip_folder(BASIC)


@pytest.fixture(scope="session")
def hostile_zip() -> bytes:
    """snapshot-basic with script, HTML, Markdown and formula payloads in subjects, a sender and a queue name."""
    return zip_folder(BASIC, _hostile)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the test session (per xdist worker), stopped and deleted at the end."""
    from postgres_server import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store on each back end: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.sqlite'}"
    return request.getfixturevalue("postgres").database()


@pytest.fixture
def store_path(tmp_path, monkeypatch) -> Path:
    """A fresh share store for the test (the app reads DIAGNOSTICS_STORE)."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DIAGNOSTICS_STORE", str(path))
    return path


# --------------------------------------------------------------------------- the app served for browser tests
import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVE = TESTS.parent / "serve.py"  # the app as `make run` serves it: with the browser-key cookie


@contextlib.contextmanager
def streamlit_server(store: Path | str, log_path: Path, *, secrets: Path | None = None, port: int | None = None,
                     **env: str):
    """``streamlit run serve.py`` on a free loopback port until the block ends; yields its address.

    ``store`` is a SQLite file or a database URL; ``secrets`` a secrets.toml (e.g. an ``[auth]`` section)."""
    port = port or free_port()
    options = ["--secrets.files", str(secrets)] if secrets else []
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(SERVE), "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", *options], cwd=APP.parent,
            env={**os.environ, "DIAGNOSTICS_STORE": str(store), **env}, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base, process, log_path)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_healthy(base: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"streamlit did not start; see {log_path}")
        time.sleep(0.3)
