"""The Arrow fast path of the loader gives exactly the frames of the pydantic path, or steps aside.

Each page is read both ways: ``arrow_pages.page_table`` and ``snapshot.read_page`` with the fast path
switched off (pydantic's models, today's messages). Whole snapshots and bad pages are compared too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import SNAPSHOT_MUTATIONS, mutate, sample_files

from diagnostics import arrow_pages, snapshot
from diagnostics.demo import demo_files
from diagnostics.errors import SnapshotError
from diagnostics.snapshot import load_snapshot, load_uploaded

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "snapshot-basic"


def pydantic_page(table: str, name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> pa.Table:
    with monkeypatch.context() as patch:
        patch.setattr(arrow_pages, "page_table", lambda table, data: None)
        return snapshot.read_page(table, name, data).columns


def assert_same_columns(fast: pa.Table, slow: pa.Table) -> None:
    """The same names, Arrow types and values (expanded parties included)."""
    assert fast.schema == slow.schema
    if not fast.equals(slow):
        pd.testing.assert_frame_equal(fast.to_pandas(), slow.to_pandas())  # shows where
        pytest.fail("same values in pandas, different Arrow columns")


def pydantic_error(table: str, name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> str:
    with pytest.raises(SnapshotError) as error:
        pydantic_page(table, name, data, monkeypatch)
    return str(error.value)


def table_of(name: str) -> str:
    return name.split("/")[-1].split(".")[0]


def assert_same_pages(files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, data in sorted(files.items()):
        fast = arrow_pages.page_table(table_of(name), data)
        assert fast is not None, f"{name} fell back"
        assert_same_columns(fast, pydantic_page(table_of(name), name, data, monkeypatch))


def test_demo_pages_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_pages(demo_files(400), monkeypatch)


def test_sample_pages_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_pages({path.name: path.read_bytes() for path in SAMPLE.glob("*.json")}, monkeypatch)


def test_whole_snapshots_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    files = demo_files(400)
    fast = load_uploaded(list(files.items()))
    monkeypatch.setattr(arrow_pages, "page_table", lambda table, data: None)
    slow = load_uploaded(list(files.items()))
    assert fast.tables.keys() == slow.tables.keys()
    for table in fast.tables:
        pd.testing.assert_frame_equal(fast.tables[table], slow.tables[table])


def test_other_shapes_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare list of records, pretty-printed pages, and parties expanded inside emails."""
    emails = json.loads((SAMPLE / "emails.json").read_bytes())["value"]
    parties = json.loads((SAMPLE / "activityparties.json").read_bytes())["value"]
    for email in emails[::2]:
        email["email_activity_parties"] = [party for party in parties
                                           if party["_activityid_value"] == email["activityid"]]
    assert_same_pages({"emails.json": json.dumps({"value": emails}, indent=2).encode(),
                       "emails.2.json": json.dumps(emails).encode(),
                       "activityparties.json": json.dumps(parties, indent="\t").encode()}, monkeypatch)


BAD_PAGES = {
    "text column holding a number": b'{"value": [{"activityid": "a", "subject": 4711}]}',
    "integer as text": b'{"value": [{"activityid": "a", "correlationmethod": "3"}]}',
    "boolean as number": b'{"value": [{"activityid": "a", "directioncode": 0}]}',
    "key twice": b'{"value": [{"activityid": "a", "subject": "x", "subject": "y"}]}',
    "two documents": b'{"value": [{"activityid": "a"}]}\n{"value": [{"activityid": "b"}]}',
    "null record": b'{"value": [null]}',
    "null expanded party": b'{"value": [{"activityid": "a", "email_activity_parties": [null]}]}',
    "no value": b'{"@odata.context": "x"}',
    "value not a list": b'{"value": {"activityid": "a"}}',
    "not UTF-8 in a column we skip": b'{"value": [{"activityid": "a", "description": "caf\xe9"}]}',
    "lone surrogate": b'{"value": [{"activityid": "a", "subject": "\\ud800"}]}',
    "integer beyond 64 bits": b'{"value": [{"activityid": "a", "correlationmethod": 9223372036854775808}]}',
    "truncated": b'{"value": [{"activityid": "a"',
    "deleted-record marker": b'{"value": [{"activityid": "a"}, {"@odata.context": "x/$deletedEntity", "id": "b"}]}',
    "Xrm.WebApi shape": b'{"entities": [{"activityid": "a"}]}',
}


@pytest.mark.parametrize("data", BAD_PAGES.values(), ids=BAD_PAGES.keys())
def test_fast_path_steps_aside(data: bytes) -> None:
    assert arrow_pages.page_table("emails", data) is None


@pytest.mark.parametrize("data", BAD_PAGES.values(), ids=BAD_PAGES.keys())
def test_a_bad_page_gives_the_pydantic_result(data: bytes, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """Loading with the fast path on ends exactly as with it off: the same frames or the same line."""
    files = {path.name: path.read_bytes() for path in SAMPLE.glob("*.json")} | {"emails.json": data}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)

    def outcome() -> str | dict[str, pd.DataFrame]:
        try:
            return load_snapshot(tmp_path).tables
        except SnapshotError as error:
            return str(error)

    fast = outcome()
    monkeypatch.setattr(arrow_pages, "page_table", lambda table, data: None)
    slow = outcome()
    if isinstance(slow, str):
        assert fast == slow
    else:
        for table, frame in slow.items():
            pd.testing.assert_frame_equal(fast[table], frame)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False))
def test_mutated_pages_are_the_same_both_ways_or_fall_back(rng: random.Random) -> None:
    """Whatever the fast path accepts, pydantic reads to the same frame (except beyond its nesting limit)."""
    files = dict(sample_files())
    mutate(rng, files, SNAPSHOT_MUTATIONS)
    for name, data in files.items():
        table = table_of(name)
        if table not in arrow_pages._PARSE or data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
            continue
        data = data.removeprefix(b"\xef\xbb\xbf")
        fast = arrow_pages.page_table(table, data)
        if fast is None:
            continue
        with pytest.MonkeyPatch.context() as patch:
            try:
                slow = pydantic_page(table, name, data, patch)
            except SnapshotError as error:  # Arrow skips unknown columns of any depth; pydantic stops at 200
                assert "recursion limit" in str(error), str(error)
                continue
        assert_same_columns(fast, slow)
