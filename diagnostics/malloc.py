"""The allocator policy, all of it: which allocator serves what, and when freed memory goes back to the system.

Nothing here changes a process-wide setting when imported. The entry points choose, once, before any work:
``python -m diagnostics`` restarts itself with ``TUNABLES`` then calls ``configure``; the app's server is
started with ``APP_ENVIRONMENT`` (``make run`` runs ``python -m diagnostics.malloc streamlit run …``) and
``streamlit_app.py`` calls ``configure`` and ``keep_releasing_freed_memory``. Within a process: pages are
parsed in ``parse_pool`` and the evaluation runs in ``evaluation_memory``. Every figure below was measured
with ``benchmarks/bench_diagnose.py`` (the command line) or ``benchmarks/bench_load.py`` (the app).

Standard library only at import: ``__main__`` imports this module before pandas and Arrow are loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# The command line: transparent huge pages for big blocks, and blocks under 4 MB kept in the heap for reuse.
# On 200,000 emails: page faults 894k -> 252k, 4.4 s -> 3.3 s, peak RSS 0.70 -> 0.73 GB. Read by glibc when a
# process starts, so the command line starts itself again with them.
TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"
# The app's server: Arrow allocates through glibc from its first allocation (its own mimalloc pool kept
# ~200 MiB after four 20,000-email sessions closed), and glibc keeps two arenas instead of one per thread.
APP_ENVIRONMENT = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2"}
# Without TUNABLES (the app), a fixed mmap threshold: every block over 128 kB goes straight back to the system.
APP_MMAP_THRESHOLD = 128 * 1024
TRIM_SECONDS = 20.0  # how often the app's background thread hands freed memory back
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


# --------------------------------------------------------------------------- settings read at start


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


def app_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the app's settings; a value the user set already is kept."""
    return {**APP_ENVIRONMENT, **env}


# --------------------------------------------------------------------------- settings made by an entry point


@cache
def configure() -> None:
    """Allocators that give freed memory back, for the whole process; called once by each entry point.

    Arrow's mimalloc kept 150 MB more and loaded 30% slower than the system's malloc (200,000 emails); and
    glibc, which raises its mmap threshold each time a big block is freed, then kept ~500 MB of freed columns
    in its heap (peak RSS 1.15 GB instead of 0.76 GB). ``APP_MMAP_THRESHOLD`` costs about 20% more CPU time
    in page faults (1 MB: 0.90 GB and +10%; 4 MB: 0.98 GB and +5%). A threshold given at start
    (``GLIBC_TUNABLES``, as the command line gives it) is left as it is.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    if libc is not None and "glibc.malloc.mmap_threshold" not in os.environ.get("GLIBC_TUNABLES", ""):
        with contextlib.suppress(AttributeError):  # a libc without mallopt (macOS): nothing to tune
            libc.mallopt(_M_MMAP_THRESHOLD, APP_MMAP_THRESHOLD)


# --------------------------------------------------------------------------- pools for one task


@cache
def parse_pool() -> pa.MemoryPool:
    """Where pages are parsed: jemalloc keeps the memory of freed pages for the next ones, where malloc's
    fixed threshold maps and unmaps each block, page fault by page fault (12% less CPU for the whole load,
    same peak RSS). Each table's pages are copied into one chunk per column in the process's pool, and
    ``release_parse_memory`` hands what is left over back once a snapshot is loaded."""
    import pyarrow as pa

    return _jemalloc() or pa.default_memory_pool()


def release_parse_memory() -> None:
    parse_pool().release_unused()


JEMALLOC_DECAY_MS = 1000  # Arrow's own default for its jemalloc arenas
EVALUATION_DECAY_MS = 300


@contextlib.contextmanager
def evaluation_memory() -> Iterator[None]:
    """Arrow's jemalloc as the process's pool while a snapshot is diagnosed, where there is one. The evaluation
    makes and drops thousands of columns; the system's pool maps each big one afresh and the kernel zeroes its
    pages again: on 200,000 emails (lean bench) 0.8-1.2 s of system time. jemalloc keeps freed pages for
    ``EVALUATION_DECAY_MS`` and reuses them: 0.3 s, for about 25 MB more peak memory (a decay of 1 s kept 180 MB
    more through the JSON writer; 0 s reused nothing).

    The JSON writer that follows stays in the system's pool, which gives its big short-lived columns back at
    once: in jemalloc, whose arena now keeps freed pages for 300 ms (a decay set later reaches only arenas made
    later), it raised the peak of the wide bench from 0.91 to 0.96 GB for 0.03 s less CPU time."""
    with _jemalloc_as_default(EVALUATION_DECAY_MS):
        yield


_POOL_SWITCH = threading.Lock()
_pool_users = 0  # tasks inside _jemalloc_as_default: the pool is the process's, the app's sessions are threads
_pool_outside: list = []  # the pool to give back when the last one leaves


@contextlib.contextmanager
def _jemalloc_as_default(decay_ms: int) -> Iterator[None]:
    """jemalloc as Arrow's default pool (with ``decay_ms``) until the last task inside leaves: sessions running
    side by side share the switch instead of waiting for each other."""
    import pyarrow as pa

    global _pool_users
    pool = _jemalloc()
    if pool is None:
        yield
        return
    with _POOL_SWITCH:
        if not _pool_users:
            _pool_outside[:] = [pa.default_memory_pool()]
            pa.set_memory_pool(pool)
        _pool_users += 1
        # The decay of arenas jemalloc creates from now on (a thread's first allocation in it): a retention policy.
        pa.jemalloc_set_decay_ms(decay_ms)
    try:
        yield
    finally:
        with _POOL_SWITCH:
            _pool_users -= 1
            pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)
            if not _pool_users:
                pa.set_memory_pool(_pool_outside.pop())


def _jemalloc() -> pa.MemoryPool | None:
    import pyarrow as pa

    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):  # a pyarrow built without jemalloc (Windows)
        return None


# --------------------------------------------------------------------------- giving freed memory back


def release_freed_memory() -> bool:
    """Ask glibc to return freed heap memory to the system (it keeps it otherwise); False where there is no
    glibc."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


_trimmer_lock = threading.Lock()
_trimmers: list[threading.Thread] = []


def keep_releasing_freed_memory(interval: float = TRIM_SECONDS) -> bool:
    """Start, once per process, a daemon thread that calls ``release_freed_memory`` every ``interval`` seconds.

    Memory freed when a closed session is dropped, or after a page's run, is otherwise kept by glibc until
    the process ends. Returns whether the thread runs (False without glibc).
    """
    if _malloc_trim() is None:
        return False
    with _trimmer_lock:
        if not _trimmers:
            thread = threading.Thread(target=_release_every, args=(interval,), name="release-freed-memory",
                                      daemon=True)
            thread.start()
            _trimmers.append(thread)
    return True


def _release_every(interval: float) -> None:
    while True:
        time.sleep(interval)
        release_freed_memory()


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


@cache
def _malloc_trim():  # a ctypes function, or None without glibc
    try:
        return _libc().malloc_trim
    except AttributeError:  # no libc found, or not glibc (musl, macOS): nothing to trim
        return None


if __name__ == "__main__":  # python -m diagnostics.malloc COMMAND ARG…: the app's server, with the app's settings
    if len(sys.argv) < 2:
        sys.exit("usage: python -m diagnostics.malloc COMMAND [ARG...]")
    os.execvpe(sys.argv[1], sys.argv[1:], app_environment(dict(os.environ)))  # noqa: S606 - the command given
