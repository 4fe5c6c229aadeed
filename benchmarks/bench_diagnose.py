"""Benchmark `python -m diagnostics diagnose` on a lean snapshot of N emails, against a floor and a peer.

The snapshot is the demo (`diagnostics.demo.write_demo`) cut down to what a real export holds: the
columns of the export guide's `$select` plus the lookup annotations its `Prefer` header adds (and each
record's `@odata.etag`). In one run, best of `--repeat`:
- the floor: the wall time to merely `orjson.loads` every JSON file (one at a time, each discarded);
- the command: `python -m diagnostics diagnose FOLDER --format json --output FILE` as a subprocess;
- the peer: `benchmarks/peer_pandas.py`, a plain orjson + pandas script doing the heavy joins;
with the peak RSS of each subprocess (`os.wait4`). Targets: diagnose <= 2.0 x the floor and faster than
the peer; peak RSS <= 2.0 x the snapshot's bytes. Exit status 1 when a target is missed.

    .venv/bin/python benchmarks/bench_diagnose.py [--emails 200000] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package from the checkout

from diagnostics import schema  # noqa: E402
from diagnostics.demo import write_demo  # noqa: E402
from diagnostics.export_guide import select_columns  # noqa: E402

MAX_RATIO = 2.0
MAX_RSS_PER_BYTE = 2.0
MB = 1024 * 1024


def lean_keys(table: str) -> set[str]:
    """What a `$select` export with `Prefer: odata.include-annotations="*"` holds of a record."""
    keys = {"@odata.etag", *select_columns(table)}
    return keys | {f"{key}{schema.LOOKUP_TYPE}" for key in keys if key.startswith("_")}


def build(folder: Path, emails: int) -> tuple[float, int]:
    """Write the demo snapshot and cut every page down to the lean shape; returns (seconds, bytes)."""
    start = time.perf_counter()
    write_demo(folder, emails=emails)
    for path in folder.glob("*.json"):
        page = orjson.loads(path.read_bytes())
        keep = lean_keys(path.name.split(".")[0])
        page["value"] = [{key: value for key, value in row.items() if key in keep} for row in page["value"]]
        path.write_bytes(orjson.dumps(page))
    return time.perf_counter() - start, sum(path.stat().st_size for path in folder.glob("*.json"))


def floor(folder: Path) -> float:
    """Seconds to parse every file of the snapshot and throw each result away."""
    start = time.perf_counter()
    for path in sorted(folder.glob("*.json")):
        orjson.loads(path.read_bytes())
    return time.perf_counter() - start


def run(command: list[str]) -> tuple[float, int]:
    """Run a command; returns (seconds, its peak RSS in bytes)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[1:4]} exited {process.returncode}")
    return seconds, usage.ru_maxrss * 1024  # kilobytes on Linux


def best(repeat: int, measure) -> tuple[float, int]:
    runs = [measure() for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), min(rss for _, rss in runs)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0] if Path("/proc/loadavg").exists() else "?"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(emails: int, size: int, built: float, floor_s: float, diag: tuple[float, int],
           peer: tuple[float, int]) -> bool:
    ratio, rss_ratio, peer_ratio = diag[0] / floor_s, diag[1] / size, peer[0] / floor_s
    print(f"emails               {emails:,}   (load average {load()})")
    print(f"snapshot             {size / MB:,.1f} MB ({size:,} bytes), written in {built:.1f} s")
    print(f"floor (orjson.loads) {floor_s:.2f} s")
    print(f"diagnose             {diag[0]:.2f} s   peak RSS {diag[1] / MB:,.0f} MB")
    print(f"peer (pandas)        {peer[0]:.2f} s   peak RSS {peer[1] / MB:,.0f} MB")
    print(f"ratio diagnose/floor {ratio:.2f}   target <= {MAX_RATIO}: {verdict(ratio <= MAX_RATIO)}")
    print(f"ratio peer/floor     {peer_ratio:.2f}   diagnose faster than the peer: {verdict(diag[0] < peer[0])}")
    print(f"RSS / snapshot bytes {rss_ratio:.2f}   target <= {MAX_RSS_PER_BYTE}: "
          f"{verdict(rss_ratio <= MAX_RSS_PER_BYTE)}   (peer {peer[1] / size:.2f})")
    return ratio <= MAX_RATIO and rss_ratio <= MAX_RSS_PER_BYTE and diag[0] < peer[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=200_000, help="emails in the snapshot (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement, best kept (default 3)")
    parser.add_argument("--no-peer", action="store_true", help="skip the pandas peer")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot folder and the JSON reports")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-diagnose-"))
    folder = work / "snapshot"
    diagnose = [sys.executable, "-m", "diagnostics", "diagnose", str(folder), "--output", str(work / "report.json")]
    peer = [sys.executable, str(ROOT / "benchmarks" / "peer_pandas.py"), str(folder), str(work / "peer.json")]
    try:
        built, size = build(folder, args.emails)
        floor_s = min(floor(folder) for _ in range(args.repeat))
        diag = best(args.repeat, lambda: run(diagnose))
        peer_figures = (float("inf"), 0) if args.no_peer else best(args.repeat, lambda: run(peer))
        ok = report(args.emails, size, built, floor_s, diag, peer_figures)
    finally:
        if args.keep:
            print(f"kept                 {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
