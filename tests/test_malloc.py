"""The allocator policy (diagnostics/malloc.py): the tunables ``python -m diagnostics`` restarts with (added once,
never over the user's own), no process-wide change on import, the entry points' settings, memory handed back."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

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


# --------------------------------------------------------------------------- nothing process-wide on import

ROOT = Path(__file__).resolve().parent.parent
POOL_AFTER_IMPORTS = """
import pyarrow as pa
before = pa.default_memory_pool().backend_name
import diagnostics.arrow_pages, diagnostics.snapshot, diagnostics.json_columns, diagnostics.pipeline
from diagnostics import arrow_pages, malloc
arrow_pages.page_table("queues", b'{"value": [{"queueid": "q1"}]}')  # a page parsed in the parse pool
imported = pa.default_memory_pool().backend_name
malloc.configure()
print(before, imported, pa.default_memory_pool().backend_name)
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {name: value for name, value in os.environ.items()
               if name not in ("ARROW_DEFAULT_MEMORY_POOL", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**environ, **env}, capture_output=True,
                          text=True, check=True, timeout=120)


def test_importing_the_engine_leaves_arrows_pool_alone_until_an_entry_point_configures_it():
    before, imported, configured = _python(POOL_AFTER_IMPORTS).stdout.split()
    assert before != "system"  # Arrow's own default, so the test can tell
    assert imported == before
    assert configured == "system"


def test_the_command_line_configures_the_allocators_before_it_runs():
    code = ("import runpy, sys\nimport pyarrow as pa\nsys.argv = ['diagnostics', 'causes']\n"
            "try:\n    runpy.run_module('diagnostics', run_name='__main__', alter_sys=True)\n"
            "except SystemExit:\n    pass\nprint(pa.default_memory_pool().backend_name, file=sys.stderr)")
    done = _python(code, GLIBC_TUNABLES=malloc.TUNABLES)  # as after the restart with the tunables
    assert done.stderr.split()[-1] == "system"
    assert '"id":"email-not-synced"' in done.stdout


def test_the_evaluation_runs_in_jemalloc_and_gives_the_pool_back_even_on_error():
    import pyarrow as pa

    before = pa.default_memory_pool()
    with pytest.raises(RuntimeError), malloc.evaluation_memory():
        inside = pa.default_memory_pool().backend_name
        raise RuntimeError
    assert inside == ("jemalloc" if malloc._jemalloc() is not None else before.backend_name)
    assert pa.default_memory_pool().backend_name == before.backend_name


def test_overlapping_diagnoses_share_jemalloc_until_the_last_one_leaves():
    import pyarrow as pa

    before = pa.default_memory_pool().backend_name
    inside = "jemalloc" if malloc._jemalloc() is not None else before
    first = malloc.evaluation_memory()
    first.__enter__()
    with malloc.evaluation_memory():  # another session diagnoses meanwhile, and is done first
        assert pa.default_memory_pool().backend_name == inside
    assert pa.default_memory_pool().backend_name == inside  # the first one still runs
    first.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == before


def test_the_json_writer_runs_in_the_process_pool(monkeypatch):
    import pyarrow as pa

    from diagnostics import demo, json_columns, pipeline
    from diagnostics.snapshot import load_uploaded

    report = pipeline.diagnose_snapshot(load_uploaded(list(demo.demo_files(emails=50).items())))
    seen = []
    real = json_columns.json_lists
    monkeypatch.setattr(json_columns, "json_lists", lambda *a, **k: seen.append(pa.default_memory_pool().backend_name)
                        or real(*a, **k))
    b"".join(report.json_pieces())
    assert seen and set(seen) == {pa.default_memory_pool().backend_name}


def test_the_diagnosis_runs_in_jemalloc(monkeypatch):
    import pyarrow as pa

    from diagnostics import demo, pipeline
    from diagnostics.snapshot import load_uploaded

    seen = []
    real = pipeline.diagnose
    monkeypatch.setattr(pipeline, "diagnose", lambda *a, **k: seen.append(pa.default_memory_pool().backend_name)
                        or real(*a, **k))
    report = pipeline.diagnose_snapshot(load_uploaded(list(demo.demo_files(emails=50).items())))
    assert seen == ["jemalloc" if malloc._jemalloc() is not None else pa.default_memory_pool().backend_name]
    assert report.plan is not None


@pytest.mark.parametrize(("given", "expected"), [({}, "2 system"), ({"MALLOC_ARENA_MAX": "4"}, "4 system")])
def test_the_apps_server_is_started_with_the_apps_settings(given, expected):
    show = "import os; print(os.environ['MALLOC_ARENA_MAX'], os.environ['ARROW_DEFAULT_MEMORY_POOL'])"
    code = (f"import sys; sys.argv = ['malloc', sys.executable, '-c', {show!r}]\n"
            "import runpy; runpy.run_module('diagnostics.malloc', run_name='__main__')")
    assert _python(code, **given).stdout.strip() == expected


# --------------------------------------------------------------------------- giving memory back

def test_freed_memory_is_handed_back_where_glibc_runs():
    released = malloc.release_freed_memory()
    assert isinstance(released, bool)
    assert (malloc._malloc_trim() is not None) == (platform.libc_ver()[0] == "glibc")


def test_one_background_thread_keeps_handing_freed_memory_back():
    glibc = platform.libc_ver()[0] == "glibc"
    assert malloc.keep_releasing_freed_memory(interval=0.01) == glibc
    assert malloc.keep_releasing_freed_memory(interval=0.01) == glibc  # a second call starts no second thread
    threads = [thread for thread in threading.enumerate() if thread.name == "release-freed-memory"]
    assert len(threads) == (1 if glibc else 0)
    assert all(thread.daemon and thread.is_alive() for thread in threads)
