"""Header mode benchmark: parse 10,000 pasted header blocks (a mix of the test fixtures).

    .venv/bin/python benchmarks/bench_headers.py [--blocks N] [--analyse]

Prints the total seconds and the microseconds per block. ``--analyse`` times ``analyse_headers``
(parsing plus the header-only diagnosis) instead of ``parse_headers`` alone.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnostics.headers import analyse_headers, parse_headers  # noqa: E402

FIXTURES = ROOT / "tests" / "headers"


def blocks(count: int) -> list[bytes]:
    """``count`` header blocks cycling through the fixtures, as bytes like a file or a paste gives them."""
    mix = [path.read_bytes() for path in sorted(FIXTURES.iterdir()) if path.is_file()]
    return list(itertools.islice(itertools.cycle(mix), count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--analyse", action="store_true", help="time analyse_headers, not parse_headers")
    args = parser.parse_args()
    work = blocks(args.blocks)
    run = (lambda raw: analyse_headers(raw, queue="help@fourthcoffee.com")) if args.analyse else parse_headers
    run(work[0])  # warm up: first-call imports and regex compilation
    start, cpu = time.perf_counter(), time.process_time()
    hops = sum(len(run(raw)["hops"] if args.analyse else run(raw).hops) for raw in work)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    what = "analyse_headers" if args.analyse else "parse_headers"
    # CPU time too: on a busy machine the wall clock also counts time spent waiting for a core.
    print(f"{what}: {len(work):,} blocks ({hops:,} hops, {len({*work})} distinct fixtures) "
          f"in {seconds:.2f} s total, {seconds / len(work) * 1e6:.0f} µs per block "
          f"(CPU {cpu:.2f} s, {cpu / len(work) * 1e6:.0f} µs per block)")


if __name__ == "__main__":
    main()
