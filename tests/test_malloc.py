"""The malloc settings ``python -m diagnostics`` restarts with: added once, never over the user's own."""

from __future__ import annotations

import sys

import pytest

from diagnostics import malloc


@pytest.mark.parametrize(("given", "expected"), [
    ({}, malloc.TUNABLES),
    ({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}, f"glibc.pthread.rseq=0:{malloc.TUNABLES}"),
    ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, None),  # the user tunes malloc: left alone
    ({"GLIBC_TUNABLES": malloc.TUNABLES}, None),  # already restarted: no loop
])
def test_environment(monkeypatch, given, expected):
    monkeypatch.setattr(sys, "platform", "linux")
    env = malloc.environment({"PATH": "/bin", **given})
    assert (env and env["GLIBC_TUNABLES"]) == expected
    if env:
        assert env["PATH"] == "/bin"


def test_nothing_to_add_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert malloc.environment({}) is None
