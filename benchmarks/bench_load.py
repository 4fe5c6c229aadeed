"""Many admins at once: concurrent uploads, then many viewers of one share link, and the server's memory.

1. Writes ``--sessions`` demo snapshots of about ``--emails`` emails each (each a few emails apart, so every
   session's numbers are its own) and diagnoses each here to know what its session must show.
2. Starts the server exactly as ``make run`` does (same target, same environment) on a free loopback port,
   and opens the overview once: the server's RSS after the first page load is the baseline.
3. ``--sessions`` headless Chromium sessions (Debian's ``/usr/bin/chromium``) upload their own snapshot at
   once; each must show its own file name and its own incoming count (none sees another's data). The
   first session creates a share link. All sessions close; RSS is read ``--settle`` seconds later.
4. ``--viewers`` fresh sessions open the share link at once; each must see the shared report. Prints the
   server's growth while they do.

    .venv/bin/python benchmarks/bench_load.py [--sessions 4] [--emails 20000] [--viewers 10] [--settle 90]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
WAIT = 1_800_000  # ms: seven helpers share two cores, so a 20,000-email diagnosis can take minutes
MIB = 2**20
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'


def write_snapshots(folder: Path, sessions: int, emails: int) -> list[tuple[Path, int]]:
    """One zipped demo snapshot per session, with the incoming count its session must show."""
    sys.path.insert(0, str(ROOT))
    from diagnostics.demo import write_demo
    from diagnostics.evaluate import diagnose
    from diagnostics.snapshot import load_snapshot

    made = []
    for index in range(sessions):
        source = folder / f"snapshot-{index}"
        write_demo(source, emails=emails + 7 * index)
        archive = folder / f"snapshot-{index}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zipped:
            for path in sorted(source.rglob("*.json")):
                zipped.write(path, path.relative_to(source).as_posix())
        incoming = diagnose(load_snapshot(archive)).summary()["incoming"]
        shutil.rmtree(source)
        made.append((archive, incoming))
        print(f"{archive.name}: {emails + 7 * index:,} emails, {incoming:,} incoming, "
              f"{archive.stat().st_size / MIB:.1f} MiB zipped")
    if len({incoming for _, incoming in made}) < len(made):
        print("note: two snapshots have the same incoming count; the file name still tells sessions apart")
    return made


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, make_vars: list[str]) -> tuple[subprocess.Popen, psutil.Process, str]:
    """``make run`` on a loopback port; returns make's process, the Streamlit server's process and its URL."""
    port = _free_port()
    env = {**os.environ, "DIAGNOSTICS_STORE": str(folder / "runs.sqlite")}
    flags = f"--server.port {port} --server.address 127.0.0.1 --server.fileWatcherType none"
    log = (folder / "streamlit.log").open("wb")
    make = subprocess.Popen(["make", "-s", "run", f"STREAMLIT_ARGS={flags}", *make_vars], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return make, _server_process(make), base
        except OSError:
            time.sleep(0.3)
    stop_server(make)
    raise SystemExit(f"the server did not start (see {folder / 'streamlit.log'})")


def _server_process(make: subprocess.Popen) -> psutil.Process:
    for child in psutil.Process(make.pid).children(recursive=True):  # make, maybe a shell, then Python
        if "python" in child.cmdline()[0] and "streamlit" in " ".join(child.cmdline()):
            return child
    raise SystemExit("make run started no streamlit process")


def stop_server(make: subprocess.Popen) -> None:
    """End the process group this script started (make, its shell and the server)."""
    try:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(make.pid, signal.SIGKILL)


class RssMonitor:
    """Samples the server's RSS four times a second; ``peak_since_mark`` is the highest since ``mark``."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.peak, self._stop = process, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return self.process.memory_info().rss

    def mark(self) -> None:
        self.peak = self.now()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.peak = max(self.peak, self.now())
            except psutil.Error:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _metric(page, label: str):  # Playwright objects
    return page.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]')


async def first_load(browser, base: str) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(base)
    await page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    await context.close()


async def upload_session(browser, base: str, index: int, archive: Path, incoming: int,
                         share: bool) -> dict:
    """One admin: open /upload, upload their snapshot, wait for their overview; optionally share it."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/upload")
    await page.locator(UPLOAD_INPUT).wait_for(state="attached", timeout=WAIT)
    started = time.perf_counter()
    await page.set_input_files(UPLOAD_INPUT, str(archive))
    await expect(_metric(page, "Incoming")).to_have_text(f"{incoming:,}", timeout=WAIT)
    await expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=WAIT)
    elapsed = time.perf_counter() - started
    own = await page.locator('[data-testid="stSidebar"]').get_by_text(f"Your snapshot: {archive.name}").count()
    result = {"index": index, "seconds": elapsed, "own_data": own == 1, "context": context, "link": None}
    if share:
        await page.get_by_role("button", name="Share this report").click()
        await page.get_by_role("textbox", name="Your name or team").fill(f"Load test {index}")
        await page.get_by_role("button", name="Create share link").click()
        code = page.locator('[data-testid="stCode"]', has_text="?run=")
        await code.wait_for(state="visible", timeout=WAIT)
        result["link"] = (await code.inner_text()).strip()
    return result


async def viewer_session(browser, link: str, incoming: int) -> tuple[float, bool, object]:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto(link)
    await expect(_metric(page, "Incoming")).to_have_text(f"{incoming:,}", timeout=WAIT)
    await page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=WAIT)
    shared = await page.get_by_text("Shared by Load test 0").count() == 1
    return time.perf_counter() - started, shared, context


async def settle(monitor: RssMonitor, seconds: float) -> int:
    await asyncio.sleep(seconds)
    return monitor.now()


async def run(base: str, monitor: RssMonitor, snapshots: list[tuple[Path, int]], args) -> bool:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        await first_load(browser, base)
        first = monitor.now()
        print(f"server RSS after the first page load: {first / MIB:.0f} MiB")

        monitor.mark()
        sessions = await asyncio.gather(*(upload_session(browser, base, index, archive, incoming, index == 0)
                                          for index, (archive, incoming) in enumerate(snapshots)))
        peak = monitor.peak
        for session in sessions:
            print(f"session {session['index']}: upload to its overview {session['seconds']:.1f} s, "
                  f"own data {'yes' if session['own_data'] else 'NO'}")
        for session in sessions:
            await session["context"].close()
        after = await settle(monitor, args.settle)
        print(f"{len(sessions)} upload sessions: peak {peak / MIB:.0f} MiB; {args.settle:.0f} s after they closed "
              f"{after / MIB:.0f} MiB = {after / first:.2f}x the first page load (target <= 2.0)")
        ok = all(session["own_data"] for session in sessions) and after <= 2.0 * first

        before = monitor.now()
        monitor.mark()
        viewers = await asyncio.gather(*(viewer_session(browser, sessions[0]["link"], snapshots[0][1])
                                         for _ in range(args.viewers)))
        growth = monitor.peak - before
        times = ", ".join(f"{seconds:.1f}" for seconds, _, _ in viewers)
        seen = sum(shared for _, shared, _ in viewers)
        print(f"{args.viewers} viewers of one share link: {seen} saw it; times (s) {times}")
        print(f"server before the viewers {before / MIB:.0f} MiB, peak {(before + growth) / MIB:.0f} MiB: "
              f"grew {growth / MIB:.0f} MiB (target <= 250)")
        for _, _, context in viewers:
            await context.close()
        await browser.close()
        return ok and seen == args.viewers and growth <= 250 * MIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--emails", type=int, default=20_000)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--settle", type=float, default=90, help="seconds to wait after the sessions close")
    parser.add_argument("--make-var", action="append", default=[], metavar="NAME=VALUE",
                        help="passed to make run, e.g. APP_ENV= to try the server without the allocator environment")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    make = None
    try:
        snapshots = write_snapshots(folder, args.sessions, args.emails)
        make, server, base = start_server(folder, args.make_var)
        monitor = RssMonitor(server)
        ok = asyncio.run(run(base, monitor, snapshots, args))
        monitor.stop()
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
        print("all targets met" if ok else "TARGET MISSED")
        return 0 if ok else 1
    finally:
        if make is not None:
            stop_server(make)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
