"""``python -m diagnostics``: see ``diagnostics.cli``."""

import os
import sys

# How glibc's malloc serves a run of the command line, read once at start (so the command starts itself
# again with them): transparent huge pages for big blocks, and blocks under 4 MB kept in the heap for reuse.
# Measured on 200,000 emails (benchmarks/bench_diagnose.py): page faults 894k -> 252k, 4.4 s -> 3.3 s, peak
# RSS 0.70 -> 0.73 GB. The app keeps the default of arrow_pages (it returns memory sooner).
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"


def _restart_with_malloc_tunables() -> None:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if sys.platform != "linux" or "glibc.malloc." in tunables:  # already set (by us or by the user)
        return
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{MALLOC_TUNABLES}" if tunables else MALLOC_TUNABLES
    os.execv(sys.executable, [sys.executable, "-m", "diagnostics", *sys.argv[1:]])  # noqa: S606 - ourselves again


_restart_with_malloc_tunables()

from .cli import main  # noqa: E402 - only after the restart: importing pandas first would be wasted

sys.exit(main())
