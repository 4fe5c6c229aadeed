"""Reading side by side (diagnostics/pull_plan.py): time windows, a 429 that pauses every worker, refused tables.

Against the local Dataverse stand-in on 127.0.0.1, its answers delayed a little so that requests overlap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from dataverse_standin import TOKEN, Fault, StandIn

from diagnostics import dataverse, export_guide
from diagnostics.dataverse import RetryPolicy, pull_snapshot, sign_in
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.pull_plan import Answer, Plan, Request, Throttle, Window
from diagnostics.snapshot import load_snapshot

ROOT = Path(__file__).parent.parent
SINCE, UNTIL = date(2026, 10, 22), date(2026, 11, 20)  # the demo's 30 days


def _pull(server: StandIn, out: Path, since: date = SINCE, until: date = UNTIL, **options):
    options = {"signin": sign_in(environ={"DATAVERSE_TOKEN": TOKEN}),
               "policy": RetryPolicy(connect_timeout=5, read_timeout=5, max_seconds=30, backoff=0.2), **options}
    return pull_snapshot(server.url, out, since, until, **options)


def _ids(path: Path) -> dict[str, list[str]]:
    """Every row's key per table, in the zip's order (duplicates kept)."""
    keys: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name != "pull.json":
                table = name.split(".")[0]
                key = "activitypartyid" if table == "activityparties" else None
                for row in orjson.loads(archive.read(name))["value"]:
                    column = key or next(column for column in row if column.endswith("id") and "@" not in column
                                         and not column.startswith("_"))
                    keys.setdefault(table, []).append(row[column])
    return keys


def _served(server: StandIn, table: str, since: date, until: date) -> list[str]:
    step = next(step for step in export_guide.export_steps("https://x.example", since, until) if step.table == table)
    key = "activitypartyid" if table == "activityparties" else "activityid"
    return [row[key] for row in server.rows(table, list(step.columns), step.filter, True)]


# --------------------------------------------------------------------------- windows

def test_windows_tile_their_period_in_whole_seconds():
    period = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))
    parts = period.split(8)
    assert [part.start.day for part in parts] == list(range(1, 9)) and parts[-1].end == period.end
    assert all(left.end == right.start for left, right in zip(parts, parts[1:], strict=False))
    odd = Window(period.start, period.start.replace(second=7)).split(4)
    assert [part.seconds for part in odd] == [1, 2, 2, 2] and odd[0].start == period.start
    assert len(Window(period.start, period.start.replace(second=3)).split(8)) == 3  # never under one second


def _plan_with_windows() -> tuple[Plan, list[Request]]:
    """A plan of the emails table whose whole-period page came back full: its 8 windows, asked for."""
    step = export_guide.export_steps("https://x.example", date(2026, 11, 1), date(2026, 11, 8))[0]
    plan = Plan([step], Window(*export_guide.period(date(2026, 11, 1), date(2026, 11, 8))), fanout=8)
    whole = plan.next_request(0.0)
    assert plan.answered(Answer(whole, b"{}", 5000, "next")) == []  # the page of the whole period is dropped
    windows = [plan.next_request(0.0) for _ in range(8)]
    assert plan.next_request(0.0) is None and [request.window.start.day for request in windows] == list(range(1, 9))
    return plan, windows


def test_when_most_windows_come_back_full_every_page_is_kept_and_each_follows_its_chain():
    plan, windows = _plan_with_windows()
    written = [page for request in windows for page in plan.answered(Answer(request, b"{}", 5000, "next"))]
    assert len(written) == 8  # held until the last sibling answered, then all kept: no request wasted
    chains = [plan.next_request(0.0) for _ in range(8)]
    assert [request.page for request in chains] == [2] * 8 and plan.next_request(0.0) is None
    assert plan.tables["emails"].windows == 8 and plan.tables["emails"].rows == 40_000


def test_a_window_full_among_emptier_siblings_is_split_again():
    plan, windows = _plan_with_windows()
    written = []
    for request in windows:
        crowded = request.window.start.day == 3
        written += plan.answered(Answer(request, b"{}", 5000 if crowded else 10, "next" if crowded else None))
    assert len(written) == 7  # the crowded day's page is dropped...
    again = [plan.next_request(0.0) for _ in range(8)]
    assert all(request.page == 1 and request.window.start.day == 3 for request in again)  # ...and it is split
    assert sum(request.window.seconds for request in again) == 86_400 and plan.next_request(0.0) is None
    assert plan.tables["emails"].covered == pytest.approx(7 / 8)


def test_a_window_edge_at_the_same_second_loses_and_duplicates_nothing(tmp_path):
    """Emails created at the very second two windows meet (and either side of it) are read exactly once."""
    files = demo_files(120)
    emails = orjson.loads(files["emails.json"])
    edge = "2026-11-03T00:00:00Z"  # the period below splits into days: an edge between two windows
    for index, row in enumerate(emails["value"][:50]):
        row["createdon"] = edge if index < 30 else ("2026-11-02T23:59:59Z" if index < 40 else "2026-11-03T00:00:01Z")
    files["emails.json"] = orjson.dumps(emails)
    since, until = date(2026, 10, 31), date(2026, 11, 7)  # 8 days: 8 windows of one day
    with StandIn(files, latency=0.01) as server:
        summary = _pull(server, tmp_path / "edge.zip", since, until, page_size=8)
        pulled = _ids(summary.path)
        for table in ("emails", "activityparties"):
            served = _served(server, table, since, until)
            assert len(pulled[table]) == len(set(pulled[table])), f"{table}: a row came twice"
            assert sorted(pulled[table]) == sorted(served), table
        filters = [request["query"].get("$filter", "") for request in server.requests if request["table"] == "emails"]
    assert any(f"createdon lt {edge}" in text for text in filters) and any(f"createdon ge {edge}" in text
                                                                          for text in filters)
    one_second = f"createdon ge {edge} and createdon lt 2026-11-03T00:00:01Z"
    assert any(one_second in text for text in filters)  # the crowded second got a window of its own...
    assert sum(one_second in text for text in filters) >= 4  # ...read page by page (30 emails, pages of 8)
    assert summary.counts["emails"] == len(pulled["emails"]) >= 50


# --------------------------------------------------------------------------- throttling

class RecordingThrottle(Throttle):
    """The throttle of the pull, noting when each request got and freed its slot and when a 429 paused them."""

    events: list[tuple[str, float]] = []

    @contextmanager
    def slot(self):
        with super().slot():
            self.events.append(("slot", time.monotonic()))
            try:
                yield
            finally:
                self.events.append(("free", time.monotonic()))

    def pause(self, seconds, sleep):
        self.events.append(("pause", time.monotonic()))
        super().pause(seconds, sleep)
        self.events.append(("resume", time.monotonic()))


def test_a_429_mid_window_pauses_every_worker_then_they_ramp_up_and_the_pull_completes(tmp_path, monkeypatch):
    RecordingThrottle.events = events = []
    monkeypatch.setattr(dataverse, "Throttle", RecordingThrottle)
    with StandIn(demo_files(120), latency=0.05) as server:
        serial = _pull(server, tmp_path / "serial.zip", page_size=10, concurrency=1)
        server.requests.clear()
        events.clear()
        server.faults.append(Fault("429", table="emails", page=2, retry_after="1"))  # a window's second page
        summary = _pull(server, tmp_path / "concurrent.zip", page_size=10, concurrency=4)
        log = list(server.requests)
    assert server.faults[0].times == 0 and server.most_in_flight <= 4
    throttled = next(request for request in log if request["status"] == 429)
    assert throttled["query"]["$filter"] != _served_filter("emails")  # inside a window, not the whole period
    paused = next(moment for kind, moment in events if kind == "pause")
    resumed = next(moment for kind, moment in events if kind == "resume")
    assert resumed - paused >= 1.0  # the Retry-After
    slots = [moment for kind, moment in events if kind == "slot"]
    assert not [moment for moment in slots if paused + 0.05 < moment < resumed]  # no worker sent anything
    after = [(kind, moment) for kind, moment in events if moment >= resumed and kind in ("slot", "free")]
    assert [kind for kind, _ in after[:3]] == ["slot", "free", "slot"]  # one request first...
    assert max(_in_flight(after)) > 1  # ...then they ramp up again
    for table, keys in _ids(summary.path).items():  # and the snapshot is the serial pull's
        assert sorted(keys) == sorted(_ids(serial.path)[table]), table
    assert summary.counts == serial.counts


def _in_flight(events: list[tuple[str, float]]) -> list[int]:
    counts, current = [], 0
    for kind, _moment in events:
        current += 1 if kind == "slot" else -1
        counts.append(current)
    return counts


def _served_filter(table: str) -> str:
    step = next(step for step in export_guide.export_steps("https://x.example", SINCE, UNTIL) if step.table == table)
    return step.filter


def test_dataverses_recommended_parallelism_lowers_the_requests_in_flight(tmp_path):
    with StandIn(demo_files(120), latency=0.05, dop_hint=2) as server:
        summary = _pull(server, tmp_path / "pulled.zip", page_size=10, concurrency=8)
        assert server.most_in_flight == 2 and summary.most_in_flight == 2
        assert summary.counts["emails"] == 120


# --------------------------------------------------------------------------- refused tables, from the command line

def _cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATAVERSE_TOKEN": token}, timeout=120)


def test_refused_tables_leave_a_snapshot_with_the_others_pull_json_and_notes(tmp_path):
    missing_column = "Could not find a property named 'deactivatedon' on type 'Microsoft.Dynamics.CRM.incident'."
    with StandIn(demo_files(120), latency=0.01) as server:
        server.faults += [Fault("403", table="activitymonitors", times=99),
                          Fault("400", table="incidents", times=99, message=missing_column)]
        out = tmp_path / "snapshot.zip"
        done = _cli("pull", server.url, "--out", str(out), "--since", str(SINCE), "--until", str(UNTIL))
    assert done.returncode == 0, done.stderr
    tables = len(export_guide.export_steps("https://x.example", SINCE, UNTIL))
    assert done.stdout.startswith(f"pulled {tables - 2} tables, ")
    notes = sorted(line for line in done.stderr.splitlines() if line.startswith("note: "))
    assert len(notes) == 2, done.stderr
    assert notes[0].startswith("note: activitymonitors: Dataverse refused access (403: Principal user")
    assert notes[1].startswith(f"note: incidents: Dataverse answered 400: {missing_column}")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = orjson.loads(archive.read("pull.json"))
    assert not any(name.startswith(("activitymonitors", "incidents")) for name in names)
    assert {item["table"] for item in manifest["refused"]} == {"activitymonitors", "incidents"}
    assert any(missing_column in item["message"] for item in manifest["refused"])
    assert len(manifest["rows"]) == tables - 2 and manifest["rows"]["emails"] == 120

    diagnosed = _cli("diagnose", str(out))
    assert diagnosed.returncode == 0, diagnosed.stderr
    report = orjson.loads(diagnosed.stdout)
    assert report["missing_tables"] == ["activitymonitors", "incidents"]
    unchecked = {missing for email in report["emails"] for item in email["unchecked"] for missing in item["missing"]}
    assert "activitymonitors" in unchecked
    assert sum(line.startswith("note: ") and "when the snapshot was pulled" in line
               for line in diagnosed.stderr.splitlines()) == 2


def test_a_401_exits_2_with_nothing_written(tmp_path):
    with StandIn(demo_files(120), latency=0.01) as server:
        out = tmp_path / "snapshot.zip"
        done = _cli("pull", server.url, "--out", str(out), "--concurrency", "8", token="expired")
        asked = len(server.requests)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: emails: Dataverse refused access (401") and done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert asked == 1  # the pull starts with one request: nothing else was asked once it was refused


def test_the_concurrency_is_bounded(tmp_path):
    done = _cli("pull", "http://127.0.0.1:9", "--out", str(tmp_path / "x.zip"), "--concurrency", "17")
    assert done.returncode == 2 and "1 to 16, not 17" in done.stderr and list(tmp_path.iterdir()) == []


def test_an_environment_without_the_activity_monitor_diagnoses_its_checks_as_unchecked(tmp_path):
    with StandIn(demo_files(120), latency=0.01) as server:
        server.faults.append(Fault("404", table="activitymonitors", times=99))
        summary = _pull(server, tmp_path / "pulled.zip")
    assert summary.refused == {"activitymonitors": "activitymonitors: Dataverse answered 404: Resource not found "
                                                   "for the segment 'activitymonitors'."}
    report = diagnose(load_snapshot(summary.path))
    assert report.missing_tables == ["activitymonitors"]
    assert not report.unchecked.empty
    assert all("activitymonitors" in missing for missing in report.unchecked["missing"])
