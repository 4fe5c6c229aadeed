"""Where `diagnose` spends its time: the command line's steps, in process, on one snapshot.

Prints the wall and CPU seconds of each step (imports, load, evaluate, fix plan, JSON), the resident
memory after it and the peak so far, so a change can be aimed at what costs. `bench_diagnose.py` runs it
once per snapshot shape.

    .venv/bin/python benchmarks/stages.py SNAPSHOT
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a plain script: import the package from the checkout


MB = 1024 * 1024


def resident() -> float:
    """Resident bytes now (Linux: /proc/self/statm counts pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.steps: list[tuple[str, float, float, float, float]] = []

    def step(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.steps.append((name, wall - self.wall, cpu - self.cpu, resident(), peak()))
        self.wall, self.cpu = wall, cpu


def main(folder: str) -> None:
    clock = Clock()
    from diagnostics import malloc
    malloc.configure()  # the allocators of the command line
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_snapshot
    clock.step("imports")
    snapshot = load_snapshot(folder)
    clock.step("load")
    with malloc.evaluation_memory():  # as pipeline.diagnose_snapshot runs them
        report = diagnose(snapshot)
        clock.step("evaluate")
        report.fix_plan(snapshot)
        clock.step("fix plan")
    del snapshot
    with open(os.devnull, "wb") as sink:  # as the command line writes its output
        sink.writelines(report.json_pieces())
    clock.step("JSON")
    for name, wall, cpu, now, high in clock.steps:
        print(f"  {name:<10} {wall:6.2f} s   CPU {cpu:6.2f} s   "
              f"RSS after {now / MB:6,.0f} MB   peak so far {high / MB:6,.0f} MB")
    total_wall, total_cpu = (sum(step[index] for step in clock.steps) for index in (1, 2))
    print(f"  {'total':<10} {total_wall:6.2f} s   CPU {total_cpu:6.2f} s   peak RSS {peak() / MB:,.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
