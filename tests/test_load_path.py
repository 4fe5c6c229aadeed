"""The load path's speed-ups change nothing but speed: the same frames and the same first error as a serial
load, progress in order from the caller's thread, one Arrow chunk per column, and the Arrow helpers that
replace pandas steps give pandas' results.
"""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics import archive, arrow_pages, normalize, snapshot
from diagnostics.demo import demo_files
from diagnostics.errors import SnapshotError
from diagnostics.snapshot import load_snapshot, load_uploaded, read_page, snapshot_from_records

PER_PAGE = 37


def write_pages(folder: Path, per_page: int = PER_PAGE) -> dict[str, list[dict]]:
    """The demo snapshot as many small pages (emails.json, emails.2.json, ...); returns its records."""
    records = {name.removesuffix(".json"): json.loads(data)["value"] for name, data in demo_files(300).items()}
    for table, rows in records.items():
        for number, start in enumerate(range(0, max(len(rows), 1), per_page), start=1):
            name = f"{table}.json" if number == 1 else f"{table}.{number}.json"
            page = {"@odata.context": f"https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#{table}",
                    "value": rows[start:start + per_page]}
            (folder / name).write_text(json.dumps(page))
    return records


def outcome(folder: Path) -> str | dict[str, pd.DataFrame]:
    try:
        return load_snapshot(folder).tables
    except SnapshotError as error:
        return str(error)


def serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """One reading thread, one page at a time: the order of a plain loop."""
    monkeypatch.setattr(snapshot, "_WORKERS", 1)
    monkeypatch.setattr(snapshot, "_AHEAD", 1)


def test_parallel_load_gives_the_frames_of_a_serial_load_and_of_the_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = write_pages(tmp_path)
    parallel = load_snapshot(tmp_path).tables
    by_records = snapshot_from_records(records).tables  # pydantic, no pool, one frame per table
    serial(monkeypatch)
    one_by_one = load_snapshot(tmp_path).tables
    assert list(parallel) == list(one_by_one)
    assert sorted(parallel) == sorted(by_records)
    for table, frame in parallel.items():
        pd.testing.assert_frame_equal(frame, one_by_one[table], check_exact=True)
        pd.testing.assert_frame_equal(frame, by_records[table], check_exact=True)


def test_a_zip_read_by_several_threads_gives_the_folders_frames(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    write_pages(folder)
    with zipfile.ZipFile(tmp_path / "snapshot.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for page in sorted(folder.iterdir()):
            archive.write(page, page.name)
    from_folder = load_snapshot(folder).tables
    uploaded = [("snapshot.zip", (tmp_path / "snapshot.zip").read_bytes())]
    for from_zip in (load_snapshot(tmp_path / "snapshot.zip").tables, load_uploaded(uploaded).tables):
        assert list(from_zip) == list(from_folder)
        for table, frame in from_zip.items():
            pd.testing.assert_frame_equal(frame, from_folder[table], check_exact=True)


def test_every_column_is_one_arrow_chunk(tmp_path: Path) -> None:
    write_pages(tmp_path)
    assert len(list(tmp_path.glob("emails*.json"))) > 5
    for table, frame in load_snapshot(tmp_path).tables.items():
        for column in frame.columns:
            if frame[column].dtype == "str":
                chunks = pa.chunked_array(frame[column].array.__arrow_array__()).num_chunks
                assert chunks == 1, (table, column, chunks)


def break_page(folder: Path, name: str, data: bytes) -> str:
    """Overwrite one page; return the error that page gives on its own."""
    (folder / name).write_bytes(data)
    with pytest.raises(SnapshotError) as error:
        read_page(name.split(".")[0], name, data)
    return str(error.value)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_first_bad_page_in_order_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 workers: int) -> None:
    write_pages(tmp_path)
    monkeypatch.setattr(snapshot, "_WORKERS", workers)
    first = break_page(tmp_path, "emails.3.json", b'{"value": [{"activityid": "a", "statuscode": "x"}]}')
    break_page(tmp_path, "emails.5.json", b'{"value": [')
    break_page(tmp_path, "queueitems.json", b"not json")
    for _ in range(5):  # threads finish in any order; the message may not
        assert outcome(tmp_path) == first


def test_a_bad_page_comes_before_a_table_already_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """accounts (read first, normalised while the rest is read) repeats a key; a later page is malformed."""
    write_pages(tmp_path)
    page = json.loads((tmp_path / "accounts.json").read_bytes())
    page["value"].append(dict(page["value"][0]))
    (tmp_path / "accounts.json").write_text(json.dumps(page))
    assert "accounts has 1 records whose accountid repeats another" in outcome(tmp_path)
    first = break_page(tmp_path, "queueitems.2.json", b'{"value": [{"queueitemid": "q", "statecode": "x"}]}')
    assert outcome(tmp_path) == first
    serial(monkeypatch)
    assert outcome(tmp_path) == first


def test_table_errors_are_reported_in_table_order(tmp_path: Path) -> None:
    write_pages(tmp_path)
    for table in ("incidents", "accounts"):  # accounts comes first in the snapshot's order
        page = json.loads((tmp_path / f"{table}.json").read_bytes())
        page["value"][0] = {key: value for key, value in page["value"][0].items() if not key.endswith("id")}
        (tmp_path / f"{table}.json").write_text(json.dumps(page))
    assert outcome(tmp_path).startswith(f"{tmp_path.name}: accounts has 1 records without accountid")


def test_progress_comes_in_order_from_the_callers_thread(tmp_path: Path) -> None:
    write_pages(tmp_path)
    calls: list[tuple[str, int, int, int]] = []
    load_snapshot(tmp_path, lambda stage, done, total: calls.append((stage, done, total, threading.get_ident())))
    assert {ident for *_, ident in calls} == {threading.get_ident()}
    reading = [call for call in calls if call[0].startswith("reading ")]
    pages = sorted(tmp_path.glob("*.json"))
    assert [done for _, done, _, _ in reading] == list(range(1, len(pages) + 1))
    assert {total for _, _, total, _ in reading} == {len(pages)}
    validating = [stage.removeprefix("validating ") for stage, *_ in calls if stage.startswith("validating ")]
    assert validating == list(load_snapshot(tmp_path).tables)
    assert calls.index(reading[-1]) < len(reading)  # every page is reported before any table


def test_expanded_parties_join_the_parties_read_early(tmp_path: Path) -> None:
    """activityparties is read before emails; parties expanded inside emails must still join it."""
    records = write_pages(tmp_path, per_page=500)
    emails, parties = records["emails"], records["activityparties"]
    moved = {party["activitypartyid"] for party in parties[::3]}
    expanded = [dict(email, email_activity_parties=[party for party in parties if party["activitypartyid"] in moved
                                                    and party["_activityid_value"] == email["activityid"]])
                for email in emails]
    (tmp_path / "emails.json").write_text(json.dumps({"value": expanded}))
    kept = [party for party in parties if party["activitypartyid"] not in moved]
    (tmp_path / "activityparties.json").write_text(json.dumps({"value": kept}))
    loaded = load_snapshot(tmp_path).tables["activityparties"]
    reference = snapshot_from_records(records).tables["activityparties"]
    assert len(loaded) == len(reference) == len(parties)
    order = ["activitypartyid"]
    pd.testing.assert_frame_equal(loaded.sort_values(order).reset_index(drop=True),
                                  reference.sort_values(order).reset_index(drop=True))


# ------------------------------------------------------------------------------ Arrow helpers vs pandas

GUID = "3feabfda-9cf5-5871-8662-bdf7dbb122ab"


@pytest.mark.parametrize(("keys", "repeats"), [
    ([GUID, GUID.replace("3", "4")], False),
    ([GUID, GUID.replace("3", "4"), GUID], True),
    ([GUID, None], False),
    ([None, GUID, None], True),  # pandas counts missing keys as one value
    (["a", "b", "a"], True),
    (["a", GUID], False),
    ([], False),
])
def test_repeated_keys(keys: list[str | None], repeats: bool) -> None:
    column = pa.chunked_array([pa.array(keys, pa.large_string())])
    assert snapshot._repeats(column) is repeats
    assert pd.Series(keys, dtype="str").duplicated().any() == repeats


def test_repeated_guid_keys_are_checked_exactly_when_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "_guid_hashes", lambda data: np.zeros(len(data) // 36, np.uint64))
    distinct = pa.chunked_array([pa.array([GUID, GUID.replace("3", "4")], pa.large_string())])
    assert snapshot._repeats(distinct) is False


DATE_TEXT = st.one_of(
    st.none(),
    st.datetimes(min_value=pd.Timestamp("0990-01-01").to_pydatetime(), max_value=pd.Timestamp("2300-01-01")
                 .to_pydatetime()).map(lambda day: day.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.sampled_from(["2026-02-30T00:00:00Z", "2026-10-22T24:00:00Z", "2026-10-22T23:59:60Z", "2026-13-01T00:00:00Z",
                     "0999-01-01T00:00:00Z", "2026-10-22T00:00:31.5Z", "2026-10-22", "2026-10-22 00:00:31Z",
                     "2026-10-22T00:00:31+02:00", "", "x" * 20, "２026-10-22T00:00:31Z"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(DATE_TEXT, max_size=8))
def test_dates_are_read_as_pandas_reads_them(values: list[str | None]) -> None:
    dates = snapshot._utc_dates(pa.array(values, pa.large_string()))
    if not pa.types.is_timestamp(dates.type):  # left as text: pandas reads it
        return
    arrow = pa.table({"date": dates}).to_pandas()["date"]
    expected = pd.to_datetime(pd.Series(values, dtype="str"), utc=True, errors="coerce", format="ISO8601")
    pd.testing.assert_series_equal(arrow, expected, check_names=False)


def test_dataverse_dates_take_the_arrow_path() -> None:
    text = pa.array(["2026-10-22T00:00:31Z", None, "2024-02-29T23:59:59Z"], pa.large_string())
    assert snapshot._utc_dates(text).type == pa.timestamp("us", "UTC")
    assert snapshot._utc_dates(pa.array(["2026-02-30T00:00:00Z"], pa.large_string())).type == pa.large_string()


def pandas_address(values: pd.Series) -> pd.Series:
    """The pandas implementation the Arrow one replaced."""
    text = values.astype("str").str.strip()
    bracketed = text.str.endswith(">").fillna(False).astype(bool)
    if bracketed.any():
        text = text.mask(bracketed, text[bracketed].str.replace(r"^.*<([^<>]*)>$", r"\1", regex=True))
    text = text.str.strip().str.strip("<>").str.strip().str.lower()
    return text.where(text.str.len() > 0)


def pandas_message_id(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip().str.strip("<>").str.strip().str.lower()
    return text.where(text.str.len() > 0)


def pandas_guid(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip().str.strip("{}").str.lower()
    return text.where(text.str.len() > 0)


PIECES = st.sampled_from([GUID, GUID.upper(), "{", "}", "<", ">", "=", " ", "\t", "\u00a0", "\u2003", "a@b.com",
                          "Ann <A@B.COM>", "É", "ß", "\u0130", "@", "~", "|", "\x7f", "-", "0", ""])
TEXTS = st.lists(st.one_of(st.none(), st.lists(PIECES, max_size=4).map("".join)), max_size=12)


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.randoms(use_true_random=False))
def test_column_normalisers_give_the_pandas_results(values: list[str | None], rng) -> None:
    index = pd.Index(rng.sample(range(1000), len(values)))
    series = pd.Series(values, dtype="str", index=index)
    for arrow, pandas in ((normalize.address_column, pandas_address),
                          (normalize.message_id_column, pandas_message_id), (normalize.guid_column, pandas_guid)):
        result = arrow(series)
        pd.testing.assert_series_equal(result, pandas(series))
        assert pa.chunked_array(result.array.__arrow_array__()).num_chunks == 1


def test_column_normalisers_take_objects_and_many_chunks() -> None:
    objects = pd.Series([" {ABC} ", None, 5, "x"], dtype=object)
    pd.testing.assert_series_equal(normalize.guid_column(objects), pandas_guid(objects))
    chunked = pd.concat([pd.Series(["A <B@C.D>"], dtype="str"), pd.Series([" e@f "], dtype="str")],
                        ignore_index=True)
    pd.testing.assert_series_equal(normalize.address_column(chunked), pandas_address(chunked))


def test_read_reusing_gives_the_file_and_survives_growth(tmp_path: Path) -> None:
    small, big = tmp_path / "a.json", tmp_path / "b.json"
    small.write_bytes(b"x" * 10)
    big.write_bytes(b"y" * 100_000)
    members = {member.name: member for member in archive.open_input(tmp_path)}
    assert bytes(archive.read_reusing(members["b.json"])) == big.read_bytes()
    assert bytes(archive.read_reusing(members["a.json"])) == small.read_bytes()  # the same buffer, reused
    small.write_bytes(b"z" * 50)  # grew since it was listed
    assert bytes(archive.read_reusing(members["a.json"])) == b"z" * 50


def test_message_ids_in_angle_brackets_take_one_copy_and_give_the_pandas_results() -> None:
    bracketed = ["<AM0PR03MB48@EURPRD01.prod.outlook.com>", None, "", "<x>"]
    bare = ["AM0PR03MB48@EURPRD01.prod.outlook.com", None, "", "x"]
    for common in (bracketed, bare):
        assert normalize._without_angle_brackets(pa.array(common, pa.large_string())) is not None
        series = pd.Series(common, dtype="str")
        pd.testing.assert_series_equal(normalize.message_id_column(series), pandas_message_id(series))
    for odd in (" <a@b>", "<a@b> ", "<<a@b>>", "<>", "< a@b>", "<a@b\u00a0>", "<a@b", "a@b", "a@b>"):
        assert normalize._without_angle_brackets(pa.array([*bracketed, odd], pa.large_string())) is None
        series = pd.Series([*bracketed, odd], dtype="str")
        pd.testing.assert_series_equal(normalize.message_id_column(series), pandas_message_id(series))


def test_upper_case_guids_are_lowered_as_pandas_lowers_them() -> None:
    series = pd.Series([GUID.upper(), None, GUID, "{" + GUID.upper() + "}", "A|B~C"], dtype="str")
    pd.testing.assert_series_equal(normalize.guid_column(series), pandas_guid(series))
    pd.testing.assert_series_equal(normalize.guid_column(series[[0, 1, 2, 4]]), pandas_guid(series[[0, 1, 2, 4]]))


@pytest.mark.parametrize("fast", [True, False])
def test_expanded_parties_take_their_emails_id_when_theirs_is_missing_or_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    if not fast:
        monkeypatch.setattr(arrow_pages, "page_table", lambda table, data: None)
    emails = [{"activityid": "e1", "email_activity_parties": [{"activitypartyid": "p1"},
                                                             {"activitypartyid": "p2", "_activityid_value": ""}]},
              {"activityid": "e2", "email_activity_parties": None},
              {"activityid": "e3", "email_activity_parties": [{"activitypartyid": "p3", "_activityid_value": "e9",
                                                               "participationtypemask": 1}]},
              {"activityid": "e4", "email_activity_parties": []}]
    (tmp_path / "emails.json").write_text(json.dumps({"value": emails[:2]}))
    (tmp_path / "emails.2.json").write_text(json.dumps({"value": emails[2:]}))
    parties = load_snapshot(tmp_path).tables["activityparties"]
    assert parties["activitypartyid"].tolist() == ["p1", "p2", "p3"]
    assert parties["activityid"].tolist() == ["e1", "e1", "e9"]
    assert parties["participationtypemask"].tolist() == [pd.NA, pd.NA, 1]


@pytest.mark.parametrize("fast", [True, False])
def test_an_empty_expanded_list_still_makes_the_parties_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    if not fast:
        monkeypatch.setattr(arrow_pages, "page_table", lambda table, data: None)
    (tmp_path / "emails.json").write_text(json.dumps({"value": [{"activityid": "e1", "email_activity_parties": []}]}))
    assert load_snapshot(tmp_path).counts == {"emails": 1, "activityparties": 0}
    (tmp_path / "emails.json").write_text(json.dumps({"value": [{"activityid": "e1"}]}))
    assert load_snapshot(tmp_path).counts == {"emails": 1}
