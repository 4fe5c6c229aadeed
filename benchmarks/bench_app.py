"""The app against the command line on the same big snapshot, measured in one run.

1. Writes the demo snapshot with ``--emails`` emails (default 100,000) and zips it.
2. Times ``python -m diagnostics diagnose snapshot.zip`` (read, evaluate, write the JSON).
3. Starts ``streamlit run`` on a free localhost port and, in headless Chromium (Debian's
   ``/usr/bin/chromium``), opens the app, goes to *Upload snapshot*, and times from handing the zip to
   the file input until the overview shows the new report's KPIs and its four charts.
4. Prints both times and their ratio (the target is at most 1.5).

    .venv/bin/python benchmarks/bench_app.py [--emails 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TARGET = 1.5


def write_snapshot(folder: Path, emails: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from diagnostics.demo import write_demo

    started = time.perf_counter()
    counts = write_demo(folder / "snapshot", emails=emails)
    archive = folder / "snapshot.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zipped:
        for path in sorted((folder / "snapshot").rglob("*.json")):
            zipped.write(path, path.relative_to(folder / "snapshot").as_posix())
    print(f"snapshot: {counts.get('emails', emails):,} emails, {sum(counts.values()):,} records, "
          f"{archive.stat().st_size / 1e6:.1f} MB zipped ({time.perf_counter() - started:.1f} s to write)")
    return archive


def time_cli(archive: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(archive), "--output", str(out)],
                   cwd=ROOT, check=True)
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DIAGNOSTICS_STORE": str(folder / "runs.sqlite")}
    log = (folder / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"streamlit did not start (see {folder / 'streamlit.log'})")


def time_app(base: str, archive: Path, incoming: str) -> float:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)  # an admin lands on the overview of the demo first: the app's code is loaded
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=120_000)
        page.locator('[data-testid="stSidebarNav"] a[href$="/upload"]').click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=120_000)
        started = time.perf_counter()
        page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(archive))
        value = page.locator('[data-testid="stMetric"]', has_text="Incoming").locator(
            '[data-testid="stMetricValue"]')
        expect(value).to_have_text(incoming, timeout=1_800_000)
        expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=600_000)
        for chart in page.locator(".js-plotly-plot").all():
            chart.wait_for(state="visible", timeout=600_000)
        elapsed = time.perf_counter() - started
        browser.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--keep", help="write the snapshot here and keep it")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-app-"))
    folder.mkdir(parents=True, exist_ok=True)
    process = None
    try:
        archive = write_snapshot(folder, args.emails)
        cli = time_cli(archive, folder / "report.json")
        import orjson

        incoming = f"{orjson.loads((folder / 'report.json').read_bytes())['summary']['incoming']:,}"
        print(f"command line diagnose: {cli:.2f} s ({incoming} incoming emails)")
        process, base = start_app(folder)
        app = time_app(base, archive, incoming)
        print(f"app, upload to the overview's charts: {app:.2f} s")
        ratio = app / cli
        print(f"ratio app / command line: {ratio:.2f} (target <= {TARGET}) -> {'ok' if ratio <= TARGET else 'SLOW'}")
        return 0 if ratio <= TARGET else 1
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
