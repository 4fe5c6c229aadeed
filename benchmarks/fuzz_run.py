"""The long fuzz run: many generated cases of each family, each named by its seed so it can be replayed.

    .venv/bin/python benchmarks/fuzz_run.py --cases 10000
    .venv/bin/python benchmarks/fuzz_run.py --replay json:1234 --save /tmp/case

The families and mutations are those of ``tests/test_fuzz.py`` (Web API JSON files, a damaged zip, a CMT
data.xml, header texts). A case is a success (loaded and diagnosed), an input error (``SnapshotError``)
or a failure: any other exception, a report that breaks the contract, or a case slower than
``--timeout`` seconds. Failures are grouped by exception and place, and one reproducer of each is printed.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_fuzz  # noqa: E402  (the mutations live with the property tests)

SHARES = {"json": 4, "cmt": 2, "zip": 1, "headers": 3}  # of every 10 cases


class Timeout(Exception):
    pass


def _alarm(*_: object) -> None:
    raise Timeout


def run_case(job: tuple[str, int, int]) -> tuple[str, int, str, str, str]:
    """(family, seed, outcome, failure kind and place, failure message with the mutations)."""
    family, seed, timeout = job
    build, run = test_fuzz.FAMILIES[family]
    try:
        case, log = build(random.Random(f"{family}:{seed}"))
    except Exception as error:  # noqa: BLE001  (a bug of the fuzzer itself: reported, not fatal)
        return family, seed, "failure", f"generator {type(error).__name__} at {_engine_frame(error)}", str(error)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        return family, seed, run(case), "", ""
    except Timeout:
        return family, seed, "failure", "Timeout", f"more than {timeout} s; mutations: {log}"
    except Exception as error:  # noqa: BLE001  (everything else is what we are looking for)
        return (family, seed, "failure", f"{type(error).__name__} at {_engine_frame(error)}",
                f"{str(error)[:200]!r}; mutations: {log}")
    finally:
        signal.alarm(0)


def _engine_frame(error: BaseException) -> str:
    """The innermost frame in the project's code (not pandas'), where a fix would go."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if str(ROOT) in frame.filename
              and "/.venv/" not in frame.filename]
    frame = frames[-1] if frames else traceback.extract_tb(error.__traceback__)[-1]
    return f"{Path(frame.filename).relative_to(ROOT) if str(ROOT) in frame.filename else frame.filename}:{frame.lineno}"


def jobs(cases: int, first_seed: int, timeout: int) -> list[tuple[str, int, int]]:
    families = [family for family, share in SHARES.items() for _ in range(share)]
    return [(families[index % len(families)], first_seed + index, timeout) for index in range(cases)]


def _init_worker() -> None:
    warnings.simplefilter("ignore")
    test_fuzz.sample_snapshot_and_report()  # build the shared inputs once per worker


def fuzz(cases: int, first_seed: int, workers: int, timeout: int) -> int:
    started = time.perf_counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    failures: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    with Pool(workers, initializer=_init_worker) as pool:
        for done, (family, seed, outcome, kind, message) in enumerate(
                pool.imap_unordered(run_case, jobs(cases, first_seed, timeout), chunksize=8), start=1):
            outcomes[family, outcome] += 1
            if outcome == "failure":
                failures[kind].append((seed, family, message))
            if done % 1000 == 0:
                print(f"  {done} cases, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    total = sum(outcomes.values())
    print(f"cases: {total} in {time.perf_counter() - started:.0f} s ({workers} workers, seeds from {first_seed})")
    for label, outcome in (("successes", "ok"), ("input-errors", "input-error"), ("other exceptions", "failure")):
        by_family = ", ".join(f"{family} {outcomes[family, outcome]}" for family in SHARES)
        print(f"{label}: {sum(count for (_, kind), count in outcomes.items() if kind == outcome)} ({by_family})")
    for kind, found in sorted(failures.items(), key=lambda item: -len(item[1])):
        seed, family, message = min(found)
        print(f"\n{len(found)} x {kind}\n  first: {family}:{seed}: {message}\n  reproduce: "
              f"python benchmarks/fuzz_run.py --replay {family}:{seed} --save /tmp/fuzz-{family}-{seed}")
    return 1 if failures else 0


def replay(case: str, save: str | None) -> int:
    """Run one case in the foreground with its full traceback; optionally save its input files."""
    family, seed = case.split(":")
    build, run = test_fuzz.FAMILIES[family]
    built, log = build(random.Random(f"{family}:{seed}"))
    print(f"{case} mutations: {log}")
    if save:
        _save(family, built, log, Path(save))
    try:
        print(f"{case}: {run(built)}")
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 1
    return 0


def _save(family: str, built: object, log: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if family == "headers":
        raw, queue = built
        (folder / "headers.txt").write_bytes(raw if isinstance(raw, bytes) else raw.encode())
        (folder / "README.txt").write_text(f"queue: {queue!r}\nmutations: {log}\n")
        print(f"saved the input to {folder}")
        return
    files = built
    for name, data in files:
        target = folder / "input" / name.replace("..", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (folder / "README.txt").write_text(f"upload these files (load_uploaded) in this order: "
                                       f"{[name for name, _ in files]}\nmutations: {log}\n")
    print(f"saved the input to {folder}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="how many cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=60, help="seconds a case may take (default 60)")
    parser.add_argument("--replay", metavar="FAMILY:SEED", help="run one case with its traceback")
    parser.add_argument("--save", metavar="FOLDER", help="with --replay: write the case's input files there")
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay, args.save)
    return fuzz(args.cases, args.seed, args.workers, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
