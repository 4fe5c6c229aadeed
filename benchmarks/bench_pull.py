"""Benchmark `python -m diagnostics pull` against the local Dataverse stand-in on loopback.

The stand-in (tests/dataverse_standin.py) serves the demo snapshot of N emails on 127.0.0.1 in this
process; the pull runs as its own process with `DATAVERSE_TOKEN` set, pages of 5,000 rows (the
Web API's maximum). Reported: rows per second of the pull, and its overhead over the stand-in's own
serving time (the seconds the stand-in spent filtering, paging and serialising its answers), with the
machine's load (`uptime`), since the machine may be shared.

    .venv/bin/python benchmarks/bench_pull.py [--emails 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package and the stand-in from the checkout
sys.path.insert(0, str(ROOT / "tests"))

from dataverse_standin import TOKEN, StandIn  # noqa: E402

from diagnostics.demo import demo_files  # noqa: E402


def pull(url: str, out: Path) -> float:
    """Run the command line once; returns its wall time."""
    command = [sys.executable, "-m", "diagnostics", "pull", url, "--out", str(out),
               "--since", "2026-10-22", "--until", "2026-11-20"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "DATAVERSE_TOKEN": TOKEN})
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=200_000)
    args = parser.parse_args()
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    started = time.perf_counter()
    files = demo_files(args.emails)
    print(f"demo of {args.emails:,} emails: {sum(map(len, files.values())) / 1e6:,.0f} MB of JSON "
          f"in {time.perf_counter() - started:.1f} s")
    with StandIn(files) as server, tempfile.TemporaryDirectory(prefix="bench-pull-") as folder:
        del files
        out = Path(folder) / "pulled.zip"
        seconds = pull(server.url, out)
        serving = server.serving_seconds
        with zipfile.ZipFile(out) as archive:
            pages = len(archive.namelist())
            raw = sum(info.file_size for info in archive.infolist())
        rows = sum(len(rows) for rows, _positions in server._results.values())
        print(f"pulled {rows:,} rows in {pages} pages ({raw / 1e6:,.0f} MB of JSON, zip "
              f"{out.stat().st_size / 1e6:,.0f} MB) in {seconds:.1f} s: {rows / seconds:,.0f} rows/s")
        print(f"stand-in serving time {serving:.1f} s; pull overhead {seconds - serving:.1f} s "
              f"({seconds / serving:.2f}x the serving time, including process start and the zip)")
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
