"""The first seconds of a visit, in headless Chromium against the app started as ``make run`` starts it.

1. Starts ``streamlit run streamlit_app.py`` (with the Makefile's ``ARROW_DEFAULT_MEMORY_POOL=system
   MALLOC_ARENA_MAX=2``) on a free localhost port, with a fresh share store.
2. First visit of the demo Overview on the fresh server (the demo is diagnosed on this visit), then visits in
   new browser contexts (nothing cached: the chart library, 4.7 MB, is fetched and compiled each time) and
   reloads in one context: from opening the address to the page's heading, and from the heading to the first
   chart and to the last of the four.
3. A share link of the demo report (saved in the store as the app saves it), opened in a new context: from
   opening the link to its heading and to its first chart.
4. Prints each time and whether the first chart came within ``--target`` seconds (3) of the heading.

    .venv/bin/python benchmarks/bench_first_chart.py [--repeat 3] [--target 3]
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
from pathlib import Path

from bench_app import ARGS, CHROMIUM, ROOT, _free_port

RUN_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2"}  # as the Makefile's run target
WAIT = 120_000


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    import urllib.request

    port = _free_port()
    env = {**os.environ, **RUN_ENV, "DIAGNOSTICS_STORE": str(folder / "runs.sqlite")}
    log = (folder / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"streamlit did not start (see {folder / 'streamlit.log'})")


def share_demo(store: Path) -> str:
    """A share token for the demo report, saved as the app's Share button saves it."""
    sys.path.insert(0, str(ROOT))
    from diagnostics.demo import demo_files
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_uploaded
    from diagnostics.store import RunStore

    snapshot = load_uploaded(list(demo_files().items()))
    report = diagnose(snapshot)
    report.fix_plan(snapshot)
    return RunStore(store).save(report.to_json(), created_by="bench")


def visit(browser, url: str, reloads: int = 0) -> list[dict[str, float]]:
    """Seconds from opening ``url`` to the heading, and from the heading to the first and the last chart: in a new
    browser context (nothing cached), then ``reloads`` times again in the same one (the browser's cache warm)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    times = [_open(page, url) for _ in range(1 + reloads)]
    context.close()
    return times


def _open(page, url: str) -> dict[str, float]:
    started = time.perf_counter()
    page.goto(url)
    page.locator('[data-testid="stMain"] h1').first.wait_for(state="visible", timeout=WAIT)
    heading = time.perf_counter()
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    first = time.perf_counter()
    page.locator(".js-plotly-plot").nth(3).wait_for(state="attached", timeout=WAIT)
    last = time.perf_counter()
    return {"heading": heading - started, "first_chart": first - heading, "last_chart": last - heading}


def _line(name: str, times: list[dict[str, float]]) -> str:
    def median(key: str) -> float:
        return statistics.median(time[key] for time in times)

    opened = statistics.median(time["heading"] + time["first_chart"] for time in times)
    return (f"{name:<26} open→heading {median('heading'):5.2f} s · heading→first chart "
            f"{median('first_chart'):5.2f} s · heading→last chart {median('last_chart'):5.2f} s · "
            f"open→first chart {opened:5.2f} s"
            + (f"  (median of {len(times)})" if len(times) > 1 else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm visits and share-link opens (median)")
    parser.add_argument("--target", type=float, default=3.0, help="seconds from the heading to the first chart")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-first-chart-"))
    process = None
    try:
        token = share_demo(folder / "runs.sqlite")
        process, base = start_server(folder)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            cold = visit(browser, base + "/")[0]
            warm = [visit(browser, base + "/")[0] for _ in range(args.repeat)]
            cached = visit(browser, base + "/", reloads=args.repeat)[1:]
            shared = [visit(browser, f"{base}/?run={token}")[0] for _ in range(args.repeat)]
            browser.close()
        print(_line("demo, first visit (cold)", [cold]))
        print(_line("demo, new browser", warm))
        print(_line("demo, reload (cached)", cached))
        print(_line("share link, new browser", shared))
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        worst = max([cold["first_chart"]] + [time["first_chart"] for time in warm + shared])
        verdict = "ok" if worst <= args.target else "SLOW"
        print(f"slowest heading→first chart: {worst:.2f} s (target <= {args.target:g} s) -> {verdict}")
        return 0 if verdict == "ok" else 1
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
