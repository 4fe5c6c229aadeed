"""The server's memory budget: above it, a new upload is refused with one line instead of the process being killed.

The budget is ``DIAGNOSTICS_MEMORY_BUDGET_MB`` (MiB of resident memory of the whole server process); by default
three quarters of the memory this process may use (the machine's, or its container's limit when lower). ``0``
turns the check off. Only new uploads are refused: sessions that already hold a report keep working.
Handing freed memory back to the system is the allocator policy's (``malloc.release_freed_memory``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import psutil

ENV_VAR = "DIAGNOSTICS_MEMORY_BUDGET_MB"
DEFAULT_SHARE = 0.75  # of the memory the process may use
BUSY = "The server is busy, try again in a minute."
MIB = 2**20
LOG = logging.getLogger("diagnostics.budget")
_CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")  # cgroup v2: "max" or a number of bytes


def budget_bytes(environ: Mapping[str, str] = os.environ) -> int | None:
    """The budget in bytes, or None when the check is off (``0``); the default for a value that is no size."""
    text = environ.get(ENV_VAR, "").strip()
    try:
        mebibytes = float(text) if text else None
    except ValueError:
        mebibytes = None
    if mebibytes is None or not mebibytes >= 0:  # also NaN and negative numbers
        if text:
            LOG.warning("%s=%r is not a number of MiB: using the default budget", ENV_VAR, text)
        return int(memory_limit() * DEFAULT_SHARE)
    return int(mebibytes * MIB) or None


def memory_limit() -> int:
    """The memory this process may use: the machine's, or its container's limit when that is lower."""
    total = psutil.virtual_memory().total
    try:
        limit = _CGROUP_LIMIT.read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def resident_bytes() -> int:
    """The resident memory (RSS) of this process."""
    return psutil.Process().memory_info().rss


def refusal(environ: Mapping[str, str] = os.environ) -> str | None:
    """``BUSY`` when the process is above its budget (a new upload must wait), else None."""
    budget = budget_bytes(environ)
    return BUSY if budget is not None and resident_bytes() > budget else None
