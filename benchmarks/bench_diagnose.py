"""Benchmark `python -m diagnostics diagnose` on snapshots of N emails, against a floor and a peer.

Two snapshot shapes (`benchmarks/shapes.py`): `lean` (the demo cut to a `$select` export) and `wide` (42
queues, many replies, activity monitor rows, upper-case lookups). For each shape, in one run:
- the floor: the wall time to merely `orjson.loads` every JSON file (one at a time, each discarded);
- the command: `python -m diagnostics diagnose FOLDER --format json --output FILE` as a subprocess;
- the peer: `benchmarks/peer_pandas.py`, a plain orjson + pandas script doing the heavy joins;
with the CPU time and peak RSS of each subprocess (`os.wait4`). Runs are PAIRED: floor, diagnose, floor,
diagnose… (then the same with the peer), so a load that comes and goes hits both sides of a pair and shows
as spread, not as a result: each figure is printed as min / median, each ratio as the median of the
per-pair ratios, with the load average before and after. On a shared machine CPU-time ratios are steadier
than wall-time ones, so both are printed. Targets (per shape): diagnose <= 3.0 x the floor (the goal is
2.0; the median pair ratio), faster than the peer (median wall times), peak RSS <= 2.0 x the snapshot's
bytes (median); exit status 1 when one is missed.
Last, the time and memory of each step of the command, in process (`benchmarks/stages.py`).

    .venv/bin/python benchmarks/bench_diagnose.py [--shape lean|wide|both] [--emails 200000] [--repeat 3]
                                                  [--no-peer] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: import the package (and shapes.py) from the checkout
sys.path.insert(0, str(ROOT / "benchmarks"))

from shapes import SHAPES, build  # noqa: E402

from diagnostics import malloc  # noqa: E402

MAX_RATIO = 3.0
GOAL_RATIO = 2.0
MAX_RSS_PER_BYTE = 2.0
MB = 1024 * 1024


@dataclass
class Figures:
    seconds: float  # wall time
    cpu: float  # user + system time: steadier than wall time on a shared machine
    rss: int = 0  # peak resident bytes


@dataclass
class Pairs:
    """Runs of a command, each taken right after a floor run."""

    floors: list[Figures]
    runs: list[Figures]

    def ratios(self, field: str) -> list[float]:
        return [getattr(run, field) / getattr(base, field) for base, run in zip(self.floors, self.runs, strict=True)]

    def ratio(self, field: str) -> float:
        return statistics.median(self.ratios(field))


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


def paired(repeat: int, folder: Path, measure: Callable[[], Figures]) -> Pairs:
    """floor, command, floor, command…: a busy spell slows both halves of a pair, not only one side."""
    pairs = Pairs([], [])
    for _ in range(repeat):
        pairs.floors.append(floor(folder))
        pairs.runs.append(measure())
    return pairs


def records(folder: Path) -> int:
    return sum(len(orjson.loads(path.read_bytes())["value"]) for path in folder.glob("*.json"))


def load() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def spread(values: list[float], unit: str = " s") -> str:
    return f"{min(values):6.2f}{unit} / {statistics.median(values):6.2f}{unit}"


def line(name: str, runs: list[Figures]) -> str:
    text = f"  {name:<22} {spread([r.seconds for r in runs])}   {spread([r.cpu for r in runs])}"
    return text + (f"   {statistics.median([r.rss for r in runs]) / MB:7,.0f} MB" if runs[0].rss else "")


def ratio_line(name: str, pairs: Pairs) -> str:
    wall = pairs.ratios("seconds")
    return (f"  {name:<22} wall {statistics.median(wall):5.2f} (pairs {' '.join(f'{r:.2f}' for r in wall)})"
            f"   CPU {pairs.ratio('cpu'):5.2f}")


def report(size: int, diag: Pairs, peer: Pairs | None) -> bool:
    """Print the figures of one shape; whether its targets are met (the peer's only when it ran)."""
    floors = diag.floors + (peer.floors if peer else [])
    print(f"  {'':<22} {'wall min / median':<21}   {'CPU min / median':<21}   peak RSS (median)")
    print(line("floor (orjson.loads)", floors))
    print(line("diagnose", diag.runs))
    if peer:
        print(line("peer (pandas)", peer.runs))
    ratio = diag.ratio("seconds")
    print(ratio_line("diagnose / floor", diag) + f"   target <= {MAX_RATIO}: {verdict(ratio <= MAX_RATIO)} "
          f"(goal {GOAL_RATIO}: {verdict(ratio <= GOAL_RATIO)})")
    faster = True
    if peer:  # the medians themselves: the short floor is too noisy to compare two ratios on a busy machine
        faster = statistics.median(r.seconds for r in diag.runs) < statistics.median(r.seconds for r in peer.runs)
        cpu_faster = statistics.median(r.cpu for r in diag.runs) < statistics.median(r.cpu for r in peer.runs)
        print(ratio_line("peer / floor", peer) + f"   diagnose faster than the peer: {verdict(faster)} "
              f"(CPU: {verdict(cpu_faster)})")
    else:
        print("  peer                   not measured (--no-peer)")
    rss_ratio = statistics.median(run.rss for run in diag.runs) / size
    peer_rss = f"   (peer {statistics.median(run.rss for run in peer.runs) / size:.2f})" if peer else ""
    print(f"  {'RSS / snapshot bytes':<22} {rss_ratio:.2f}   target <= {MAX_RSS_PER_BYTE}: "
          f"{verdict(rss_ratio <= MAX_RSS_PER_BYTE)}{peer_rss}")
    return ratio <= MAX_RATIO and rss_ratio <= MAX_RSS_PER_BYTE and faster


def bench_shape(shape: str, work: Path, args: argparse.Namespace) -> bool:
    folder = work / shape
    diagnose = [sys.executable, "-m", "diagnostics", "diagnose", str(folder), "--output", str(work / f"{shape}.json")]
    peer = [sys.executable, str(ROOT / "benchmarks" / "peer_pandas.py"), str(folder), str(work / f"{shape}-peer.json")]
    built, size = build(folder, args.emails, shape)
    print(f"== {shape}: {args.emails:,} emails, {records(folder):,} records, {size / MB:,.1f} MB "
          f"({size:,} bytes), written in {built:.1f} s", flush=True)
    print(f"  load average before    {load()}   ({os.cpu_count()} cores)", flush=True)
    diag = paired(args.repeat, folder, lambda: run(diagnose))
    peer_pairs = None if args.no_peer else paired(args.repeat, folder, lambda: run(peer))
    after = load()
    ok = report(size, diag, peer_pairs)
    print(f"  load average after     {after}")
    print("  breakdown (one run, in process: benchmarks/stages.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stages.py"), str(folder)], check=True,
                   env=malloc.environment(dict(os.environ)))  # as python -m diagnostics runs
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)  # before the next shape: disk and page cache
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=(*SHAPES, "both"), default="both", help="snapshot shape (default both)")
    parser.add_argument("--emails", type=int, default=200_000, help="emails in each snapshot (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs of each command (default 3)")
    parser.add_argument("--no-peer", action="store_true", help="skip the pandas peer")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot folders and the JSON reports")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.emails < 1:
        parser.error("--repeat and --emails must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="bench-diagnose-"))
    try:
        results = [bench_shape(shape, work, args) for shape in (SHAPES if args.shape == "both" else (args.shape,))]
    finally:
        if args.keep:
            print(f"kept                     {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
