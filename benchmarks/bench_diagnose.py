"""Benchmark `python -m diagnostics diagnose` on a demo snapshot of N emails.

It writes the snapshot with `diagnostics.demo.write_demo` into a temporary folder, then measures:
- the floor: the wall time to merely `orjson.loads` every JSON file (one at a time, each discarded);
- the command: `python -m diagnostics diagnose FOLDER --format json --output FILE` as a subprocess,
  its wall time and peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`).
Targets: diagnose time <= 2.0 x the floor, and peak RSS <= 2.0 x the snapshot's bytes.
Exit status 1 when a target is missed.

    .venv/bin/python benchmarks/bench_diagnose.py [--emails 200000] [--keep]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package from the checkout

from diagnostics.demo import write_demo  # noqa: E402

MAX_RATIO = 2.0
MAX_RSS_PER_BYTE = 2.0
MB = 1024 * 1024


def build(folder: Path, emails: int) -> tuple[float, int]:
    """Write the demo snapshot; returns (seconds, total bytes of its files)."""
    start = time.perf_counter()
    write_demo(folder, emails=emails)
    seconds = time.perf_counter() - start
    return seconds, sum(path.stat().st_size for path in folder.glob("*.json"))


def floor(folder: Path) -> float:
    """Seconds to parse every file of the snapshot and throw each result away."""
    start = time.perf_counter()
    for path in sorted(folder.glob("*.json")):
        orjson.loads(path.read_bytes())
    return time.perf_counter() - start


def diagnose(folder: Path, output: Path) -> tuple[float, int]:
    """Run the command line once; returns (seconds, peak RSS in bytes)."""
    command = [sys.executable, "-m", "diagnostics", "diagnose", str(folder), "--format", "json",
               "--output", str(output)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    return seconds, peak_kb * 1024


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(emails: int, size: int, built: float, floor_s: float, diag_s: float, rss: int) -> bool:
    ratio, rss_ratio = diag_s / floor_s, rss / size
    print(f"emails               {emails:,}")
    print(f"snapshot             {size / MB:,.1f} MB ({size:,} bytes), written in {built:.1f} s")
    print(f"floor (orjson.loads) {floor_s:.2f} s")
    print(f"diagnose             {diag_s:.2f} s")
    print(f"ratio diagnose/floor {ratio:.2f}   target <= {MAX_RATIO}: {verdict(ratio <= MAX_RATIO)}")
    print(f"peak RSS             {rss / MB:,.1f} MB")
    print(f"RSS / snapshot bytes {rss_ratio:.2f}   target <= {MAX_RSS_PER_BYTE}: "
          f"{verdict(rss_ratio <= MAX_RSS_PER_BYTE)}")
    return ratio <= MAX_RATIO and rss_ratio <= MAX_RSS_PER_BYTE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=200_000, help="emails in the demo snapshot (default 200000)")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot folder and the JSON report")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-diagnose-"))
    folder, output = work / "snapshot", work / "report.json"
    try:
        built, size = build(folder, args.emails)
        floor_s = floor(folder)
        diag_s, rss = diagnose(folder, output)
        ok = report(args.emails, size, built, floor_s, diag_s, rss)
    finally:
        if args.keep:
            print(f"kept                 {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
