"""The column-wise JSON writer: ``Report.to_json`` writes the bytes ``orjson.dumps(report.to_dict())`` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.json_columns import json_lists
from diagnostics.report import EMAIL_COLUMNS, Report
from diagnostics.snapshot import load_snapshot, load_uploaded

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "snapshot-basic"
AWKWARD = ['"quoted" \\ back', "line\nbreak\r\ttab", "\x00\x01\x1f\x7f", "é ü 汉字 😀", "\u2028\u2029\ufeff", "",
           "a,b],{c"]


def assert_same_document(report: Report) -> None:
    expected = orjson.dumps(report.to_dict())
    assert report.to_json() == expected
    assert orjson.loads(expected)["emails"] == orjson.loads(report.to_json())["emails"]


def test_demo_report() -> None:
    report = diagnose(load_uploaded(list(demo_files(400).items())))
    assert len(report.causes) and len(report.notes)  # the writer meets causes and notes
    assert_same_document(report)


def test_sample_report() -> None:
    report = diagnose(load_snapshot(SAMPLE))
    assert len(report.unchecked) == 0 or report.unchecked["missing"].map(len).all()
    assert_same_document(report)


def awkward_report(emails: int) -> Report:
    ids = [f"id-{n % max(emails - 1, 1)}" for n in range(emails)]  # the last id repeats the first
    frame = pd.DataFrame({
        "activityid": pd.Series(ids, dtype="str"),
        "subject": pd.Series([AWKWARD[n % len(AWKWARD)] if n % 5 else None for n in range(emails)], dtype="str"),
        "received_on": pd.to_datetime([None if n % 4 == 0 else f"2026-11-0{n % 9 + 1}T10:11:12.987Z"
                                       for n in range(emails)], utc=True),
        "sender": pd.Series([AWKWARD[(n + 3) % len(AWKWARD)] for n in range(emails)], dtype="str"),
        "queues": [[f"q{n}", AWKWARD[n % len(AWKWARD)]] if n % 3 else None for n in range(emails)],
        "verdict": pd.Series(["not-converted", "converted", "outgoing"] * emails, dtype="str")[:emails],
        "primary_cause": pd.Series([None, "queue-item-missing"] * emails, dtype="str")[:emails],
        "primary_kind": pd.Series([None, "fault"] * emails, dtype="str")[:emails],
        "threaded": pd.Series([None, True, False] * emails, dtype="boolean")[:emails],
    }, columns=EMAIL_COLUMNS)
    causes = pd.DataFrame({
        "activityid": pd.Series(["id-1", "nobody", "id-0", "id-1"], dtype="str"),
        "cause": pd.Series(["queue-item-missing", "queue-only-in-bcc", "queue-only-in-bcc", "no-active-rule-for-queue"],
                           dtype="str"),
        "kind": pd.Series(["fault", "fault", "fault", "by-design"], dtype="str"),
        "queue": pd.Series(["q1", None, AWKWARD[0], None], dtype="str"),
        "remediation": pd.Series([AWKWARD[1], None, "do it", AWKWARD[2]], dtype="str"),
        "expected": [True, False, True, True],
    })
    texts = [*((0, text) for text in AWKWARD[:3]), (2, AWKWARD[3]), *((3, text) for text in AWKWARD[4:])]
    evidence = pd.DataFrame({  # cause row 1 has none; awkward texts, values and records everywhere
        "row": [row for row, _ in texts],
        "code": pd.Series(["text" if n % 2 else "no-queue-item" for n in range(len(texts))], dtype="str"),
        "about_table": pd.Series([None if n % 3 == 0 else "queues" for n in range(len(texts))], dtype="str"),
        "about_id": pd.Series([None if n % 2 else "q1" for n in range(len(texts))], dtype="str"),
        "about_name": pd.Series([AWKWARD[(n + 1) % len(AWKWARD)] for n in range(len(texts))], dtype="str"),
        "values": pd.Series([orjson.dumps({"queue": text, "n": n}).decode() for n, (_, text) in enumerate(texts)],
                            dtype="str"),
        "text": pd.Series([text for _, text in texts], dtype="str"),
    })
    notes = pd.DataFrame({"activityid": pd.Series(["id-0", "id-0", "id-2"], dtype="str"),
                          "note": pd.Series(AWKWARD[4:7], dtype="str")})
    unchecked = pd.DataFrame({"activityid": ["id-2", "id-2"], "cause": ["contact-creation-failed", "x"],
                              "missing": [["activitymonitors"], ("contacts", "accounts")]})
    queues = pd.DataFrame({"queueid": ["q1"], "name": [AWKWARD[0]], "address": [None], "active_rules": [["r"]]})
    return Report(tables={"emails": emails}, missing_tables=[], emails=frame, causes=causes, evidence=evidence,
                  notes=notes,
                  unchecked=unchecked, findings=[], queues=queues, source=AWKWARD[0])


@pytest.mark.parametrize("emails", [0, 1, 2, 7, 40])
def test_awkward_values(emails: int) -> None:
    report = awkward_report(emails)
    assert_same_document(report)
    if emails > 2:
        first = orjson.loads(report.to_json())["emails"][0]
        assert first["notes"] == AWKWARD[4:6]
        assert [item["text"] for item in first["causes"][0]["evidence"]] == [AWKWARD[3]]


def test_report_read_back_writes_the_same() -> None:
    report = diagnose(load_snapshot(SAMPLE))
    again = Report.from_dict(orjson.loads(report.to_json()))
    assert again.to_json() == report.to_json()


def test_times_at_the_edges_are_written_as_pandas_shows_them() -> None:
    report = awkward_report(6)
    times = ["0999-05-01T10:00:00", "10000-01-01T00:00:00", "NaT", "2026-01-01T00:00:00.5", "1969-12-31T23:59:59.5",
             "1900-01-01T00:00:00"]
    report.emails["received_on"] = pd.Series(np.array(times, dtype="datetime64[us]")).dt.tz_localize("UTC")
    assert_same_document(report)
    written = [email["received_on"] for email in orjson.loads(report.to_json())["emails"]]
    assert written[0] == "0999-05-01T10:00:00Z" and written[1] == "10000-01-01T00:00:00Z" and written[2] is None
    assert written[4] == "1969-12-31T23:59:59Z"  # whole seconds, rounded down as pandas does


@pytest.mark.parametrize("lists", [[["a", "b"], [], ["c"]], [[]], [], [["a", 5, None, True, 1.5]], [[None], ["x"]],
                                   [["b\\"], ["c"]], [['a"b']], [["é😀", ""], ["a,b],[c"]], [[3], ["x", "y"], []]])
def test_lists_are_written_as_orjson_writes_them(lists: list) -> None:
    assert json_lists(lists).to_pylist() == [orjson.dumps(items).decode() + "," for items in lists]
