"""How glibc's malloc serves a run of the command line: settings read once, when a process starts.

Transparent huge pages for big blocks, and blocks under 4 MB kept in the heap for reuse. Measured on
200,000 emails (benchmarks/bench_diagnose.py): page faults 894k -> 252k, 4.4 s -> 3.3 s, peak RSS 0.70 ->
0.73 GB. ``python -m diagnostics`` starts itself again with them; the app keeps the default of
``arrow_pages`` (it hands memory back sooner). Standard library only: it runs before pandas is imported.
"""

from __future__ import annotations

import os
import sys

TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"


def environment(env: dict[str, str]) -> dict[str, str] | None:
    """``env`` with the tunables added, or None when there is nothing to add (not Linux, or the malloc
    tunables are already given, by us or by the user)."""
    tunables = env.get("GLIBC_TUNABLES", "")
    if sys.platform != "linux" or "glibc.malloc." in tunables:
        return None
    return {**env, "GLIBC_TUNABLES": f"{tunables}:{TUNABLES}" if tunables else TUNABLES}


def restart_with_tunables(module: str) -> None:
    """Start ``python -m module`` again, same arguments, with the tunables (when they are missing)."""
    env = environment(dict(os.environ))
    if env is not None:
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)  # noqa: S606 - ourselves
