"""Benchmark `python -m diagnostics diagnose` on a lean snapshot of N emails, against a floor and a peer.

The snapshot is the demo (`diagnostics.demo.write_demo`) cut down to what a real export holds: the
columns of the export guide's `$select` plus the lookup annotations its `Prefer` header adds (and each
record's `@odata.etag`). In one run, best of `--repeat`:
- the floor: the wall time to merely `orjson.loads` every JSON file (one at a time, each discarded);
- the command: `python -m diagnostics diagnose FOLDER --format json --output FILE` as a subprocess;
- the peer: `benchmarks/peer_pandas.py`, a plain orjson + pandas script doing the heavy joins;
with the CPU time and peak RSS of each subprocess (`os.wait4`): on a shared machine CPU-time ratios are
steadier than wall-time ones, so both are printed. Targets: diagnose <= 2.0 x the floor and faster than
the peer; peak RSS <= 2.0 x the snapshot's bytes. Exit status 1 when a target is missed. Last, the time
of each step of the command, in process (`benchmarks/stages.py`).

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
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package from the checkout

from diagnostics import malloc, schema  # noqa: E402
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


@dataclass
class Figures:
    seconds: float  # wall time
    cpu: float  # user + system time: steadier than wall time on a shared machine
    rss: int = 0  # peak resident bytes


def floor(folder: Path) -> Figures:
    """Time to parse every file of the snapshot and throw each result away."""
    start, cpu = time.perf_counter(), time.process_time()
    for path in sorted(folder.glob("*.json")):
        orjson.loads(path.read_bytes())
    return Figures(time.perf_counter() - start, time.process_time() - cpu)


def run(command: list[str]) -> Figures:
    """Run a command; its wall time, CPU time and peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command[1:4])} exited {os.waitstatus_to_exitcode(status)}")
    return Figures(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)  # kilobytes on Linux


def best(repeat: int, measure) -> Figures:
    runs = [measure() for _ in range(repeat)]
    return Figures(min(run.seconds for run in runs), min(run.cpu for run in runs), min(run.rss for run in runs))


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0] if Path("/proc/loadavg").exists() else "?"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(emails: int, size: int, built: float, base: Figures, diag: Figures, peer: Figures | None) -> bool:
    """Print the figures; whether the targets measured are met (the peer's only when it ran)."""
    ratio, cpu_ratio, rss_ratio = diag.seconds / base.seconds, diag.cpu / base.cpu, diag.rss / size
    print(f"emails               {emails:,}   (load average {load()} on {os.cpu_count()} cores)")
    print(f"snapshot             {size / MB:,.1f} MB ({size:,} bytes), written in {built:.1f} s")
    print(f"floor (orjson.loads) {base.seconds:.2f} s   CPU {base.cpu:.2f} s")
    print(f"diagnose             {diag.seconds:.2f} s   CPU {diag.cpu:.2f} s   peak RSS {diag.rss / MB:,.0f} MB")
    if peer:
        print(f"peer (pandas)        {peer.seconds:.2f} s   CPU {peer.cpu:.2f} s   peak RSS {peer.rss / MB:,.0f} MB")
    print(f"ratio diagnose/floor {ratio:.2f} (CPU {cpu_ratio:.2f})   "
          f"target <= {MAX_RATIO}: {verdict(ratio <= MAX_RATIO)}")
    if peer:
        print(f"ratio peer/floor     {peer.seconds / base.seconds:.2f} (CPU {peer.cpu / base.cpu:.2f})   "
              f"diagnose faster than the peer: {verdict(diag.seconds < peer.seconds)}")
    else:
        print("peer                 not measured (--no-peer)")
    print(f"RSS / snapshot bytes {rss_ratio:.2f}   target <= {MAX_RSS_PER_BYTE}: "
          f"{verdict(rss_ratio <= MAX_RSS_PER_BYTE)}" + (f"   (peer {peer.rss / size:.2f})" if peer else ""))
    return ratio <= MAX_RATIO and rss_ratio <= MAX_RSS_PER_BYTE and (peer is None or diag.seconds < peer.seconds)


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
        base = best(args.repeat, lambda: floor(folder))
        diag = best(args.repeat, lambda: run(diagnose))
        peer_figures = None if args.no_peer else best(args.repeat, lambda: run(peer))
        ok = report(args.emails, size, built, base, diag, peer_figures)
        print("breakdown (one run, in process: benchmarks/stages.py)", flush=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stages.py"), str(folder)], check=True,
                       env=malloc.environment(dict(os.environ)))  # as python -m diagnostics runs
    finally:
        if args.keep:
            print(f"kept                 {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
