"""Loading a snapshot: files -> validated records -> one normalised pandas frame per entity set.

Web API JSON files are validated straight from their bytes by the pydantic models of ``schema``
(one page at a time, so memory stays near the size of the final frames). Configuration Migration
``data.xml`` files are turned into the same Web-API-shaped records by ``cmt`` first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from . import arrow_pages, schema
from .archive import Member, open_input, shown, uploaded_members
from .errors import SnapshotError
from .normalize import address_column, guid_column, message_id_column

Progress = Callable[[str, int, int], None]  # stage, done, total

# emails.json, emails.2.json, emails (2).json, emails/1.json, data/emails_3.json
_PAGE_FILE = re.compile(r"(?:^|/)(?P<set>[a-z]+)(?:[ ._-]?\(?(?P<page>\d+)\)?)?\.json$")
_PAGE_IN_FOLDER = re.compile(r"(?:^|/)(?P<set>[a-z]+)/(?P<page>\d+)\.json$")
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
INT64 = (-(2**63), 2**63 - 1)


@dataclass
class Snapshot:
    """The tables of one snapshot, keyed by entity set name; absent tables are simply not there."""

    tables: dict[str, pd.DataFrame]
    source: str = "snapshot"
    ignored_files: list[str] = field(default_factory=list)

    def has(self, table: str) -> bool:
        return table in self.tables

    def missing(self, tables: Iterable[str]) -> list[str]:
        return [table for table in tables if table not in self.tables]

    def table(self, name: str) -> pd.DataFrame:
        """The table, or an empty frame with its columns when the snapshot lacks it."""
        if name in self.tables:
            return self.tables[name]
        empty = pd.DataFrame({column: pd.Series(dtype="object") for column in schema.columns(name)})
        return _normalise(name, empty, self.source)  # typed and with derived columns, like a loaded table

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


def load_snapshot(path: str | Path, progress: Progress | None = None) -> Snapshot:
    """Load a folder, a ``.zip`` or a single JSON/XML file."""
    return load_members(open_input(path), shown(Path(path).name), progress)


def load_uploaded(files: Iterable[tuple[str, bytes]], progress: Progress | None = None) -> Snapshot:
    """Load uploaded files (``.zip`` or ``.json``/``.xml``), given as (name, bytes) pairs."""
    files = list(files)
    source = shown(files[0][0]) if len(files) == 1 else f"{len(files)} uploaded files"
    return load_members(uploaded_members(files), source, progress)


def load_members(members: list[Member], source: str, progress: Progress | None = None) -> Snapshot:
    xml = [member for member in members if member.name.lower().rsplit("/", 1)[-1] == "data.xml"]
    if xml:
        return _load_cmt(xml[0], source, progress)
    pages, ignored = _group_pages(members)
    if not pages:
        raise SnapshotError(f"{source}: no Web API JSON files named after entity sets "
                            "(emails.json, queues.json, ...) and no Configuration Migration data.xml")
    records: dict[str, list[pd.DataFrame]] = {}
    total, done = sum(len(files) for files in pages.values()), 0
    for table, files in pages.items():
        records[table] = []
        for member in files:
            records[table].append(_read_page(table, member))
            done += 1
            if progress:
                progress(f"reading {member.name}", done, total)
    return _build(records, source, ignored, progress)


def snapshot_from_records(records: dict[str, list[dict]], source: str = "records") -> Snapshot:
    """A snapshot from Web-API-shaped records per entity set (as the CMT reader produces)."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for table, rows in records.items():
        if table in schema.TABLES:
            try:
                validated = schema.LIST_ADAPTERS[table].validate_python(rows)
            except ValidationError as error:
                raise SnapshotError(_describe(error, source, table)) from None
            frames[table] = [_frame(table, validated, source)]
    return _build(frames, source, [], None)


def _load_cmt(member: Member, source: str, progress: Progress | None) -> Snapshot:
    from .cmt import parse_cmt_xml

    if progress:
        progress(f"reading {member.name}", 0, 1)
    return snapshot_from_records(parse_cmt_xml(member.read(), member.name), source)


def _group_pages(members: list[Member]) -> tuple[dict[str, list[Member]], list[str]]:
    pages: dict[str, list[tuple[int, str, Member]]] = defaultdict(list)
    ignored: list[str] = []
    for member in members:
        name = member.name.lower()
        match = _PAGE_IN_FOLDER.search(name) or _PAGE_FILE.search(name)
        if match and match["set"] in schema.TABLES:
            pages[match["set"]].append((int(match["page"] or 1), name, member))
        else:
            ignored.append(member.name)
    return {table: [member for *_, member in sorted(found, key=lambda item: item[:2])]
            for table, found in pages.items()}, ignored


def _read_page(table: str, member: Member) -> pd.DataFrame:
    data = member.read()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if data.startswith(_UTF16_BOMS):
        raise SnapshotError(f"{member.name}: encoded as UTF-16 or UTF-32; save it as UTF-8")
    start = data[:64].lstrip()[:1]
    if start not in (b"{", b"["):
        raise SnapshotError(f"{member.name}: not a JSON document (it should start with {{ or [)")
    fast = arrow_pages.page_frame(table, data)  # straight to columns; pydantic reads what Arrow refuses
    if fast is not None:
        return fast
    adapter = schema.PAGE_ADAPTERS[table] if start == b"{" else schema.LIST_ADAPTERS[table]
    try:
        parsed = adapter.validate_json(data)
    except ValidationError as error:
        raise SnapshotError(_not_utf8(data, member.name) or _describe(error, member.name, table)) from None
    rows = parsed["value"] if isinstance(parsed, dict) else parsed
    return _frame(table, rows, member.name)


_ARROW_TYPES = {"int": pa.int64(), "bool": pa.bool_()}  # everything else is text
_PANDAS_TYPES = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan), pa.int64(): pd.Int64Dtype(),
                 pa.bool_(): pd.BooleanDtype()}


def _frame(table: str, rows: list[dict], where: str) -> pd.DataFrame:
    """Typed columns built straight from the validated rows (Arrow strings, nullable ints and booleans).

    Validated rows hold every column in the same order, so one transposition gives the columns.
    """
    names = _frame_columns(table)
    columns = list(zip(*map(dict.values, rows), strict=True)) if rows else [()] * len(names)
    by_name = dict(zip(names, columns, strict=True))
    parties = by_name.pop("email_activity_parties", None)
    kinds = schema.TABLES[table]
    arrays = [_arrow(values, _ARROW_TYPES.get(kinds.get(name, "str"), pa.string()), where, table, name)
              for name, values in by_name.items()]
    frame = pa.Table.from_arrays(arrays, names=list(by_name)).to_pandas(types_mapper=_PANDAS_TYPES.get)
    if parties is not None:
        frame["email_activity_parties"] = pd.Series(parties, dtype=object)
    return frame


def _arrow(values: tuple, arrow_type: pa.DataType, where: str, table: str, column: str) -> pa.Array:
    try:
        return pa.array(values, arrow_type)
    except (OverflowError, pa.ArrowInvalid):  # JSON integers have no size limit; Dataverse's have 64 bits at most
        bad = [index for index, value in enumerate(values) if isinstance(value, int) and not
               INT64[0] <= value <= INT64[1]]
        raise SnapshotError(f"{where}: wrong values in table {table}: column '{column}' ({len(bad)} rows) "
                            f"holds numbers beyond 64 bits; first at row {bad[0] + 1 if bad else '?'}") from None


def _frame_columns(table: str) -> list[str]:
    names = schema.columns(table)
    return [*names, "email_activity_parties"] if table == "emails" else names


def _not_utf8(data: bytes, where: str) -> str | None:
    """The message for bytes that are not UTF-8 (only checked once validation failed)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"{where}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"
    return None


def _describe(error: ValidationError, where: str, table: str) -> str:
    """One line for many row errors: which table and columns, how many rows, the first example."""
    problems = error.errors(include_url=False, include_input=False)
    first = problems[0]
    if first["type"].startswith("json"):
        return f"{where}: not valid JSON ({first['msg']})"
    if not any(isinstance(part, int) for part in first["loc"]):  # no row: the page itself is malformed
        return f"{where}: not a Web API page of {table} ('{_column(first['loc']) or 'value'}': {first['msg']})"
    by_column: dict[str, int] = defaultdict(int)
    for problem in problems:
        by_column[_column(problem["loc"]) or "whole record"] += 1
    columns = ", ".join(f"'{column}' ({count} rows)" for column, count in list(by_column.items())[:3])
    more = f" and {len(by_column) - 3} more columns" if len(by_column) > 3 else ""
    row = next(part for part in first["loc"] if isinstance(part, int))
    return (f"{where}: wrong values in table {table}: column {columns}{more}; first at row {row + 1}, "
            f"'{_column(first['loc']) or 'whole record'}': {first['msg']}")


def _column(loc: tuple) -> str:
    """'statecode', or 'email_activity_parties.participationtypemask' for an expanded party."""
    return ".".join(str(part) for part in loc if isinstance(part, str) and part != "value")


def _build(pages: dict[str, list[pd.DataFrame]], source: str, ignored: list[str],
           progress: Progress | None) -> Snapshot:
    pages = {table: list(frames) for table, frames in pages.items()}
    if "emails" in pages:  # parties expanded inside emails join the activityparties pages
        emails, parties = _split_expanded_parties(_concat(pages["emails"]), source)
        pages["emails"] = [emails]
        if parties is not None:
            pages.setdefault("activityparties", []).append(parties)
    tables: dict[str, pd.DataFrame] = {}
    for step, (table, frames) in enumerate(pages.items(), start=1):
        tables[table] = _normalise(table, _concat(frames), source)
        if progress:
            progress(f"validating {table}", step, len(pages))
    if "emails" not in tables:
        raise SnapshotError(f"{source}: the snapshot has no emails table (emails.json)")
    if tables["emails"].empty:
        raise SnapshotError(f"{source}: the emails table holds no emails; check the export's date filter")
    return Snapshot(tables, source, ignored)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _split_expanded_parties(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    expanded = frame.pop("email_activity_parties")
    present = expanded.dropna()
    if present.empty:
        return frame, None
    owners = frame.loc[present.index, "activityid"]
    rows = [dict(party, activityid=party.get("activityid") or owner)
            for owner, parties in zip(owners, present, strict=True) for party in parties]
    return frame, _frame("activityparties", rows, source)


def _normalise(table: str, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Typed columns: lower-case GUIDs, UTC dates, nullable ints and booleans, normalised keys."""
    for column, kind in schema.TABLES[table].items():
        values = frame[column]
        if kind in ("key", "lookup"):
            frame[column] = guid_column(values)
        elif kind == "date":
            frame[column] = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
        elif kind == "int":
            frame[column] = values.astype("Int64")
        elif kind == "bool":
            frame[column] = values.astype("boolean")
        else:
            frame[column] = values.astype("str")
    for column in frame.columns:
        if column.endswith("_type"):
            frame[column] = frame[column].astype("str").str.lower()
    _check_keys(table, frame, source)
    return _chunked_if_empty(_derived(table, frame))


def _chunked_if_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas 3 leaves an emptied string column with no Arrow chunks, and merging two such columns fails."""
    if frame.empty:
        for column in frame.columns:
            if frame[column].dtype == "str":
                frame[column] = pd.array([], dtype="str")
    return frame


def _check_keys(table: str, frame: pd.DataFrame, source: str) -> None:
    """Every record has its own primary key: without one it cannot be told apart or referred to."""
    key = schema.key_column(table)
    missing = frame[key].isna()
    if missing.any():
        raise SnapshotError(f"{source}: {table} has {int(missing.sum())} records without {key} (first at row "
                            f"{int(missing.to_numpy().argmax()) + 1}); export the table with its primary key")
    keys = frame[key]
    duplicated = keys[keys.duplicated()]
    if not duplicated.empty:
        raise SnapshotError(f"{source}: {table} has {len(duplicated)} records whose {key} repeats another "
                            f"(first: {duplicated.iloc[0]}); was a page saved twice?")


def _derived(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    if table == "emails":
        frame["messageid_key"] = message_id_column(frame["messageid"])
        frame["inreplyto_key"] = message_id_column(frame["inreplyto"])
        frame["sender_address"] = address_column(frame["sender"])
    elif table in ("queues", "mailboxes"):
        frame["address"] = address_column(frame["emailaddress"])
    elif table == "activityparties":
        frame["address"] = address_column(frame["addressused"])
    return frame
