"""Hostile header texts: parsed, or refused with one line; the command line exits 0 or 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import TESTS

from diagnostics.errors import SnapshotError
from diagnostics.headers import analyse_headers

HOSTILE = {
    "nested-comments-in-to": b"From: a@b.com\nTo: " + b"(" * 2000 + b"\n",
    "many-open-comments": b"From: a@b.com\nTo: x" + b" (" * 600 + b"\n",
    "non-ascii-charset-name": "From: =?\xe9?q?x?= <a@b.com>\nTo: help@fourthcoffee.com\n".encode(),
    "unknown-charset-name": b"From: =?x-unknown?q?x?= <a@b.com>\nTo: help@fourthcoffee.com\n",
    "binary": bytes(range(256)) * 10,
    "empty": b"",
    "utf-16": "Message-ID: <a@b>\nFrom: a@b.com\n".encode("utf-16"),
    "latin-1": "From: Jos\xe9 <jose@b.com>\nSubject: caf\xe9\n".encode("latin-1"),
    "six-megabytes": b"Received: " + b"x" * (6 * 1024 * 1024) + b"\n",
    "long-line": b"Subject: " + b"=?utf-8?q?a?= " * 5_000 + b"\nFrom: a@b.com\n",
    "bad-date": b"Date: Mon, 32 Foo 99999 25:61:61 +9999\nFrom: a@b.com\n",
    "deep-content-type": b"From: a@b.com\nContent-Type: " + b"(" * 2000 + b"\n",
    "deep-received": b"Received: from " + b"(" * 5000 + b" by x; Mon, 1 Jan 2026 00:00:00 +0000\nFrom: a@b.com\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_analyse_headers_parses_or_refuses(name: str) -> None:
    try:
        result = analyse_headers(HOSTILE[name], queue="help@fourthcoffee.com")
    except SnapshotError as error:
        assert "\n" not in str(error)
        return
    orjson.dumps(result)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_command_line_exits_0_or_2(name: str, tmp_path: Path) -> None:
    path = tmp_path / "headers.txt"
    path.write_bytes(HOSTILE[name])
    done = subprocess.run([sys.executable, "-m", "diagnostics", "headers", str(path), "--queue",
                           "help@fourthcoffee.com"], capture_output=True, timeout=120, cwd=TESTS.parent)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr[-2000:]
    if done.returncode == 0:
        orjson.loads(done.stdout)
    else:
        assert done.returncode == 2 and stderr.count("\n") == 1, stderr


def test_long_subject_is_not_quadratic() -> None:
    """700 KB of encoded words (header mode accepts 5 MB) must not take the time of a denial of service."""
    raw = b"Subject: " + b"=?utf-8?q?a?= " * 50_000 + b"\nFrom: a@b.com\n"
    started = time.perf_counter()
    analyse_headers(raw)
    assert time.perf_counter() - started < 10
