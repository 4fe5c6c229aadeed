"""Benchmark `python -m diagnostics pull`, one page after another and concurrent, against the local stand-in.

The stand-in (tests/dataverse_standin.py) serves the demo snapshot of N emails on 127.0.0.1 in this process, each
answer delayed as a real organisation's would be (`--latency` seconds per page plus `--per-row` seconds per row);
its records are serialised and its dates indexed once ahead, so that its own Python (one GIL for every request it
answers) weighs on neither pull. The same pull runs twice as its own process with `DATAVERSE_TOKEN` set, pages of
5,000 rows (the Web API's maximum): `--concurrency 1` (the serial pull: whole-period requests, page after page) and
the default concurrency. Reported for each: wall time, requests, pages, the most requests the stand-in answered at
once and how many on average, the CPU seconds of the pull and of the stand-in; then the speed-up, and whether the
two zips diagnose identically (the diagnose JSON of each, `created_at` left out, emails compared by id). The
machine's load (`uptime`) is printed before and after: it may be shared.

    .venv/bin/python benchmarks/bench_pull.py [--emails 200000] [--latency 0.5] [--per-row 0.00005]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package and the stand-in from the checkout
sys.path.insert(0, str(ROOT / "tests"))

from dataverse_standin import TOKEN, StandIn  # noqa: E402

from diagnostics.demo import demo_files  # noqa: E402
from diagnostics.export_guide import export_steps  # noqa: E402
from diagnostics.pull_plan import DEFAULT_CONCURRENCY  # noqa: E402

SINCE, UNTIL = "2026-10-22", "2026-11-20"  # the demo's 30 days


def pull(url: str, out: Path, concurrency: int) -> float:
    """Run the command line once; returns its wall time."""
    command = [sys.executable, "-m", "diagnostics", "pull", url, "--out", str(out), "--since", SINCE,
               "--until", UNTIL, "--concurrency", str(concurrency)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "DATAVERSE_TOKEN": TOKEN})
    return time.perf_counter() - start


def diagnosis(snapshot: Path) -> dict:
    """The diagnose JSON of a snapshot, without the time it was made. Its emails are listed in the order the
    snapshot holds them, which is the order their pages were read: compared by activity id."""
    done = subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(snapshot), "--format", "json"],
                          cwd=ROOT, check=True, capture_output=True)
    report = orjson.loads(done.stdout)
    report.pop("created_at", None)
    report["emails"].sort(key=lambda email: email["activityid"])
    return report


def run(server: StandIn, out: Path, concurrency: int, label: str) -> float:
    server.forget()  # each run computes its answers afresh
    server.requests.clear()
    server.most_in_flight = 0
    stand_in, client = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = pull(server.url, out, concurrency)
    stand_in, client = _cpu(resource.getrusage(resource.RUSAGE_SELF), stand_in), \
        _cpu(resource.getrusage(resource.RUSAGE_CHILDREN), client)
    with zipfile.ZipFile(out) as archive:
        pages = sum(name != "pull.json" for name in archive.namelist())
        raw = sum(info.file_size for info in archive.infolist())
    log = server.requests
    span = max(request["answered"] for request in log) - min(request["came"] for request in log)
    waited = sum(request["answered"] - request["came"] for request in log)
    print(f"{label:<22} {seconds:7.1f} s  {len(log):5,} requests  {pages:5,} pages  {raw / 1e6:6,.0f} MB of JSON; "
          f"in flight: at most {server.most_in_flight} (configured {concurrency}), {waited / span:.2f} on average; "
          f"CPU: pull {client:.1f} s, stand-in {stand_in:.1f} s")
    return seconds


def _cpu(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per page (default 0.5)")
    parser.add_argument("--per-row", type=float, default=0.00005, help="seconds per row (default 0.00005: "
                        "0.25 s more for a page of 5,000)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    started = time.perf_counter()
    files = demo_files(args.emails)
    print(f"demo of {args.emails:,} emails: {sum(map(len, files.values())) / 1e6:,.0f} MB of JSON "
          f"in {time.perf_counter() - started:.1f} s; answers take {args.latency:g} s + {args.per_row:g} s per row")
    with StandIn(files, latency=args.latency, per_row=args.per_row) as server, \
            tempfile.TemporaryDirectory(prefix="bench-pull-") as folder:
        del files
        started = time.perf_counter()
        steps = export_steps("https://x.example", date.fromisoformat(SINCE), date.fromisoformat(UNTIL))
        server.warm([(step.table, list(step.columns), step.filter) for step in steps])
        print(f"stand-in ready: records serialised ahead in {time.perf_counter() - started:.1f} s")
        serial, concurrent = Path(folder) / "serial" / "snapshot.zip", Path(folder) / "concurrent" / "snapshot.zip"
        serial.parent.mkdir()
        concurrent.parent.mkdir()
        serial_seconds = run(server, serial, 1, "serial (--concurrency 1)")
        concurrent_seconds = run(server, concurrent, args.concurrency, f"concurrent ({args.concurrency})")
        most = server.most_in_flight
        print(f"speed-up {serial_seconds / concurrent_seconds:.2f}x; never more than {args.concurrency} in flight: "
              f"{'yes' if most <= args.concurrency else f'NO ({most})'}")
        same = diagnosis(serial) == diagnosis(concurrent)
        print(f"the two zips diagnose identically (diagnose JSON, created_at left out, emails by id): "
              f"{'yes' if same else 'NO'}")
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0 if same and most <= args.concurrency else 1


if __name__ == "__main__":
    sys.exit(main())
