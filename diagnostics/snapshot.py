"""Loading a snapshot: files -> validated records -> one normalised pandas frame per entity set.

Web API JSON files go from their bytes to typed Arrow columns, by Arrow's JSON reader (``arrow_pages``) or,
for what it refuses, the pydantic models of ``schema`` (one page at a time, so memory stays near the size of
the final frames); ``read_page`` is the one place that turns a page file into columns. A page stays Arrow until
its table is combined: pandas sees each table once. Configuration Migration ``data.xml`` files are turned into
the same Web-API-shaped records by ``cmt`` first. A snapshot may hold both kinds: tables are merged.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Annotated

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from . import arrow_pages, malloc, schema
from .archive import Member, open_input, read_reusing, shown, uploaded_members
from .arrow_pages import PANDAS_TYPES, TEXT
from .errors import SnapshotError
from .links import org_url_in
from .normalize import address_column, guid_array, lower_array, message_id_column

Progress = Callable[[str, int, int], None]  # stage, done, total

# emails.json, emails.2.json, emails (2).json, emails/1.json, data/emails_3.json
_PAGE_FILE = re.compile(r"(?:^|/)(?P<set>[a-z]+)(?:[ ._-]?\(?(?P<page>\d+)\)?)?\.json$")
_PAGE_IN_FOLDER = re.compile(r"(?:^|/)(?P<set>[a-z]+)/(?P<page>\d+)\.json$")
_BOM = b"\xef\xbb\xbf"
_TOMBSTONE = b"$deletedEntity"  # the @odata.context of a deleted record in a change-tracking page
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
INT64 = (-(2**63), 2**63 - 1)


@dataclass
class Snapshot:
    """The tables of one snapshot, keyed by entity set name; absent tables are simply not there."""

    tables: dict[str, pd.DataFrame]
    source: str = "snapshot"
    ignored_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what loading skipped or assumed, one line each
    org_url: str | None = None  # https://ORG from the pages' @odata.context, for links to records

    def has(self, table: str) -> bool:
        return table in self.tables

    def missing(self, tables: Iterable[str]) -> list[str]:
        return [table for table in tables if table not in self.tables]

    def table(self, name: str) -> pd.DataFrame:
        """The table, or an empty frame with its columns when the snapshot lacks it."""
        if name in self.tables:
            return self.tables[name]
        empty = pa.table({column: pa.array([], _ARROW_TYPES.get(schema.TABLES[name].get(column, "str"), TEXT))
                          for column in schema.columns(name)})
        return _normalise(name, [empty], self.source)  # typed and with derived columns, like a loaded table

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
    """Web API JSON pages and Configuration Migration ``data.xml`` files; both kinds are merged per table."""
    cmt_files = [member for member in members if _base_name(member) == "data.xml"]
    if cmt_files:  # the files CMT writes beside data.xml describe it; they are no tables
        members = [member for member in members if _base_name(member) not in _CMT_FILES]
    manifests = [member for member in members if _base_name(member) == PULL_MANIFEST]
    members = [member for member in members if _base_name(member) != PULL_MANIFEST]
    pages, ignored = _group_pages(members)
    if not pages and not cmt_files:
        raise SnapshotError(f"{source}: no Web API JSON files named after entity sets "
                            "(emails.json, queues.json, ...) and no Configuration Migration data.xml")
    pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="snapshot")
    try:
        # data.xml may add to any table, so tables are only normalised early when there is none
        tables = _Assembly(source, pool, {table: len(files) for table, files in pages.items()} if not cmt_files
                           else None)
        notes = _read_json_pages(pages, tables, pool, progress, len(cmt_files))
        entities: list[str] = []
        page_count = sum(map(len, pages.values()))
        for done, member in enumerate(cmt_files, start=page_count + 1):
            entities += _read_cmt(member, tables)
            _report(progress, f"reading {member.name}", done, page_count + len(cmt_files))
        if "emails" not in tables.order:
            raise SnapshotError(_no_emails(source, entities if cmt_files else None, bool(pages)))
        snapshot = _build(tables, ignored, progress, notes + [line for member in manifests
                                                             for line in _refusals(member)])
    finally:
        pool.shutdown(cancel_futures=True)
        malloc.release_parse_memory()
    if pages:
        snapshot.org_url = org_url_in(min((page for found in pages.values() for page in found), key=_size).read())
    return snapshot


def _size(member: Member) -> int:
    return member.size


PULL_MANIFEST = "pull.json"  # written by ``pull`` beside the tables


def _refusals(member: Member) -> list[str]:
    """The tables Dataverse refused when the snapshot was pulled (``pull.json``), one note each."""
    try:
        refused = orjson.loads(member.read()).get("refused")
    except (orjson.JSONDecodeError, AttributeError):
        return [f"{member.name}: not the pull's JSON; left aside"]
    return [f"{item['message']} when the snapshot was pulled; the checks that need {item['table']} are marked "
            "unchecked" for item in (refused if isinstance(refused, list) else ())
            if isinstance(item, dict) and isinstance(item.get("table"), str) and isinstance(item.get("message"), str)]


_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_WORKERS = max(1, min(_CPUS, 4))  # beyond 4, pages come faster than one thread collects them
_AHEAD = 4 * _WORKERS  # pages read ahead of the one collected: their bytes are let go once parsed


def _read_json_pages(pages: dict[str, list[Member]], tables: _Assembly, pool: ThreadPoolExecutor,
                     progress: Progress | None, more_files: int) -> list[str]:
    """Every page read and parsed by the pool (file reads, inflating and Arrow's parser release the GIL) and
    collected in order: the first bad page in that order is the one reported, as by a serial load."""
    reads = [(table, member) for table, files in pages.items() for member in files]
    submitted = (pool.submit(_read_member, table, member) for table, member in reads)
    pending = deque(islice(submitted, _AHEAD))
    notes: list[str] = []
    for done, (table, member) in enumerate(reads, start=1):
        page = pending.popleft().result()
        pending.extend(islice(submitted, 1))
        tables.add(table, page.columns)
        if page.tombstones:
            notes.append(f"{member.name}: skipped {page.tombstones} deleted-record markers ($deletedEntity) "
                         "of a change-tracking export")
        _report(progress, f"reading {member.name}", done, len(reads) + more_files)
    return notes


def _read_member(table: str, member: Member) -> Page:
    return read_page(table, member.name, read_reusing(member))


class _Assembly:
    """A snapshot's tables as their pages come in, in the order they first appear.

    When the number of pages of each table is known, a table whose pages are all in is normalised by the pool
    while later pages are read. Its outcome waits in a future: page errors are still reported first, then
    table errors in table order, as a serial load would. The parties expanded inside emails join the
    activityparties table, which then waits for the end.
    """

    def __init__(self, source: str, pool: ThreadPoolExecutor | None = None,
                 page_counts: dict[str, int] | None = None) -> None:
        self.source, self.pool, self.page_counts = source, pool, page_counts
        self.order: list[str] = []
        self.pages: dict[str, list[pa.Table]] = defaultdict(list)
        self.normalised: dict[str, Future[pd.DataFrame]] = {}
        self.emails_split = False
        self.expanded: list[pa.Table] | None = None  # parties expanded inside emails, once they are split off

    def add(self, table: str, columns: pa.Table) -> None:
        if table not in self.order:
            self.order.append(table)
        self.pages[table].append(columns)
        if self.page_counts and len(self.pages[table]) == self.page_counts[table]:
            self._all_in(table)

    def split_emails(self) -> None:
        """Takes the expanded parties out of the emails pages, once (``_build`` adds them to activityparties)."""
        if not self.emails_split and "emails" in self.pages:
            self.emails_split, self.expanded = True, _expanded_parties(self.pages["emails"])

    def _all_in(self, table: str) -> None:
        if table == "emails":
            self.split_emails()
            self._start("emails")
            table = "activityparties"  # it may be waiting for the emails
            if len(self.pages.get(table, ())) != self.page_counts.get(table):
                return
        if table == "activityparties" and (self.expanded is not None or
                                           ("emails" in self.page_counts and not self.emails_split)):
            return  # expanded parties join it at the end; or the emails, which may hold some, are still to come
        self._start(table)

    def _start(self, table: str) -> None:
        if self.pool and table in self.pages:
            self.normalised[table] = self.pool.submit(_normalise, table, self.pages.pop(table), self.source)

    def finished(self, table: str) -> pd.DataFrame:
        """The table normalised (a started one's error raised now, in its turn)."""
        if table in self.normalised:
            return self.normalised.pop(table).result()
        return _normalise(table, self.pages.pop(table), self.source)


def snapshot_from_records(records: dict[str, list[dict]], source: str = "records") -> Snapshot:
    """A snapshot from Web-API-shaped records per entity set (as the CMT reader produces)."""
    tables = _Assembly(source)
    for table, rows in records.items():
        if table in schema.TABLES:
            tables.add(table, _validated_columns(table, rows, source))
    return _build(tables, [], None)


_CMT_FILES = {"data.xml", "data_schema.xml", "[content_types].xml"}


def _base_name(member: Member) -> str:
    return member.name.lower().rsplit("/", 1)[-1]


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress:
        progress(stage, done, total)


def _read_cmt(member: Member, tables: _Assembly) -> list[str]:
    """Add a ``data.xml``'s tables to ``tables``; return the names of all entities it exports."""
    from .cmt import read_cmt_xml

    export = read_cmt_xml(member.read(), member.name)
    for table, rows in export.tables.items():
        if table in schema.TABLES:
            tables.add(table, _validated_columns(table, rows, member.name))
    return export.entities


def _no_emails(source: str, cmt_entities: list[str] | None, has_json: bool) -> str:
    """Why there is no emails table, in the words of the format that was given."""
    if cmt_entities is None:
        return f"{source}: the snapshot has no emails table (emails.json)"
    names = list(dict.fromkeys(shown(name)[:60] for name in cmt_entities))
    found = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "") or "none"
    also = " and there is no emails.json" if has_json else ""
    return f"{source}: data.xml has no email entity (found: {found}){also}"


def _validated_columns(table: str, rows: list[dict], where: str) -> pa.Table:
    try:
        validated = schema.LIST_ADAPTERS[table].validate_python(rows)
    except ValidationError as error:
        raise SnapshotError(_describe(error, where, table)) from None
    return _columns(table, validated, where)


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


# ------------------------------------------------------------------------------------ one page file


@dataclass(frozen=True)
class Page:
    """One page file read: its records as typed Arrow columns (frame names), and how many deleted-record markers
    it skipped."""

    columns: pa.Table
    tombstones: int = 0


def read_page(table: str, name: str, data: bytes | memoryview) -> Page:
    """A page file's bytes (or a view of them, used only during the call) -> its records of ``table`` as typed
    Arrow columns.

    Shapes accepted: a Web API page ``{"value": [...]}`` (with any annotations, ``@odata.nextLink``,
    a ``$delta`` page's ``$deletedEntity`` markers skipped), a JSON list of records,
    ``Xrm.WebApi.retrieveMultipleRecords`` output ``{"entities": [...], "nextLink": ...}`` and a single
    record (``$metadata#…/$entity``). A saved Dataverse error body is reported as such.
    """
    data = _json_document(data, name)
    fast = arrow_pages.page_table(table, data)  # straight to columns; pydantic reads what Arrow refuses
    if fast is not None:
        return Page(fast)
    rows, tombstones = _page_rows(table, bytes(data), name)
    return Page(_columns(table, rows, name), tombstones)


def _json_document(data: bytes | memoryview, name: str) -> bytes | memoryview:
    """The bytes of a UTF-8 JSON document, its byte order mark removed; other text is refused."""
    if bytes(data[:len(_BOM)]) == _BOM:
        data = data[len(_BOM):]
    head = bytes(data[:64])
    if head.startswith(_UTF16_BOMS):
        raise SnapshotError(f"{name}: encoded as UTF-16 or UTF-32; save it as UTF-8")
    if head.lstrip()[:1] not in (b"{", b"["):
        raise SnapshotError(f"{name}: not a JSON document (it should start with {{ or [)")
    return data


def _page_rows(table: str, data: bytes, name: str) -> tuple[list[dict], int]:
    """Validated rows and the number of tombstones dropped, all validated straight from the bytes.

    The common shapes (a ``value`` page, a list) are tried first; the rarer ones only when that finds
    no ``value`` list, and a page's tombstones only when their marker occurs in its bytes.
    """
    is_page = data[:64].lstrip()[:1] == b"{"
    adapter = schema.PAGE_ADAPTERS[table] if is_page else schema.LIST_ADAPTERS[table]
    try:
        parsed = adapter.validate_json(data)
    except ValidationError as error:
        if not (is_page and _page_level(error)):
            raise SnapshotError(_not_utf8(data, name) or _describe(error, name, table)) from None
        return _other_shape(table, data, name, error), 0
    if is_page and _TOMBSTONE in data:
        return _without_tombstones(parsed["value"], data)
    return (parsed["value"] if is_page else parsed), 0


def _other_shape(table: str, data: bytes, name: str, error: ValidationError) -> list[dict]:
    """Xrm.WebApi output, a saved Dataverse error body, or one record; any other object keeps ``error``."""
    for shape in (_xrm_rows, _refuse_error_body, _single_record):
        rows = shape(table, data, name)
        if rows is not None:
            return rows
    raise SnapshotError(_describe(error, name, table))


def _xrm_rows(table: str, data: bytes, name: str) -> list[dict] | None:
    """``Xrm.WebApi.retrieveMultipleRecords`` output: ``{"entities": [...], "nextLink": ...}``."""
    try:
        return schema.ENTITIES_ADAPTERS[table].validate_json(data)["entities"]
    except ValidationError as error:
        if _page_level(error):
            return None
        raise SnapshotError(_describe(error, name, table)) from None


class _Error(TypedDict, total=False):
    code: object
    message: object


_ERROR_BODY = TypeAdapter(TypedDict("ErrorBody", {"error": _Error}))
_MARKERS = TypeAdapter(TypedDict("Markers", {"value": list[TypedDict("Marker", {  # type: ignore[misc]
    "context": Annotated[object, Field(default=None, alias="@odata.context")]})]}))


def _refuse_error_body(table: str, data: bytes, name: str) -> None:
    """A saved ``{"error": {"code", "message"}}`` answer is named as such instead of a missing ``value``."""
    try:
        error = _ERROR_BODY.validate_json(data)["error"]
    except ValidationError:
        return None
    message = shown(str(error.get("message") or "no message"))[:300]
    code = f" ({shown(str(error['code']))[:40]})" if error.get("code") not in (None, "") else ""
    raise SnapshotError(f"{name} holds a Dataverse error, not data: {message}{code}")


def _single_record(table: str, data: bytes, name: str) -> list[dict] | None:
    """One record (``GET entityset(id)``, ``$metadata#…/$entity``; Xrm.WebApi.retrieveRecord): it has its key."""
    try:
        row = schema.ROW_ADAPTERS[table].validate_json(data)
    except ValidationError as error:
        raise SnapshotError(_describe(error, name, table)) from None
    return [row] if row[schema.key_column(table)] is not None else None


def _without_tombstones(rows: list[dict], data: bytes) -> tuple[list[dict], int]:
    """Rows minus the change-tracking markers of deleted records (``$deletedEntity``), and their count."""
    try:
        markers = _MARKERS.validate_json(data)["value"]
    except ValidationError:  # an odd @odata.context: no marker we know
        return rows, 0
    dropped = {index for index, marker in enumerate(markers)
               if isinstance(marker["context"], str) and marker["context"].endswith("/$deletedEntity")}
    return [row for index, row in enumerate(rows) if index not in dropped], len(dropped)


def _page_level(error: ValidationError) -> bool:
    """The document itself is not a page (no row is at fault, and it is valid JSON)."""
    first = error.errors(include_url=False, include_input=False)[0]
    return not first["type"].startswith("json") and not any(isinstance(part, int) for part in first["loc"])


_ARROW_TYPES = {"int": pa.int64(), "bool": pa.bool_()}  # everything else is text


def _columns(table: str, rows: list[dict], where: str) -> pa.Table:
    """Typed columns built straight from the validated rows (Arrow strings, ints and booleans), as
    ``arrow_pages.page_table`` gives them.

    Validated rows hold every column in the same order, so one transposition gives the columns.
    """
    names = _frame_columns(table)
    columns = list(zip(*map(dict.values, rows), strict=True)) if rows else [()] * len(names)
    kinds = schema.TABLES[table]
    arrays = [_arrow(values, _ARROW_TYPES.get(kinds.get(name, "str"), TEXT), where, table, name)
              for name, values in zip(names, columns, strict=True) if name != _EXPANDED]
    if table == "emails":
        arrays.append(_parties(columns[-1], where))
    return pa.Table.from_arrays(arrays, names=names)


def _parties(parties: tuple, where: str) -> pa.Array:
    """Validated expanded parties (None or a list of party rows per email) as ``arrow_pages.page_table`` has
    them: a list of party structs."""
    rows = [party for listed in parties if listed for party in listed]
    columns = _columns("activityparties", rows, where)
    lengths = np.array([len(listed) if listed is not None else 0 for listed in parties], np.int32)
    offsets = pa.array(np.r_[np.int32(0), np.cumsum(lengths, dtype=np.int32)])
    missing = pa.array([listed is None for listed in parties], pa.bool_())
    structs = pa.StructArray.from_arrays([column.combine_chunks() for column in columns.columns],
                                         names=columns.column_names)
    return pa.ListArray.from_arrays(offsets, structs, mask=missing)


def _arrow(values: tuple, arrow_type: pa.DataType, where: str, table: str, column: str) -> pa.Array:
    try:
        return pa.array(values, arrow_type)
    except (OverflowError, pa.ArrowInvalid):  # JSON integers have no size limit; Dataverse's have 64 bits at most
        bad = [index for index, value in enumerate(values) if isinstance(value, int) and not
               INT64[0] <= value <= INT64[1]]
        raise SnapshotError(f"{where}: wrong values in table {table}: column '{column}' ({len(bad)} rows) "
                            f"holds numbers beyond 64 bits; first at row {bad[0] + 1 if bad else '?'}") from None


_EXPANDED = "email_activity_parties"


def _frame_columns(table: str) -> list[str]:
    names = schema.columns(table)
    return [*names, _EXPANDED] if table == "emails" else names


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
    if _page_level(error):  # no row: the page itself is malformed
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
    return ".".join(str(part) for part in loc if isinstance(part, str) and part not in ("value", "entities"))


def _build(tables: _Assembly, ignored: list[str], progress: Progress | None,
           notes: list[str] | None = None) -> Snapshot:
    """The normalised tables, in order; each table's page frames are let go as soon as they are combined."""
    source = tables.source
    tables.split_emails()
    if tables.expanded is not None:  # parties expanded inside emails join the activityparties pages
        if "activityparties" not in tables.order:
            tables.order.append("activityparties")
        tables.pages["activityparties"] += tables.expanded
    frames: dict[str, pd.DataFrame] = {}
    for step, table in enumerate(tables.order, start=1):
        frames[table] = tables.finished(table)
        _report(progress, f"validating {table}", step, len(tables.order))
    if "emails" not in frames:
        raise SnapshotError(f"{source}: the snapshot has no emails table (emails.json)")
    if frames["emails"].empty:
        raise SnapshotError(f"{source}: the emails table holds no emails; check the export's date filter")
    _sender_from_parties(frames)
    return Snapshot(frames, source, ignored, notes or [])


def _expanded_parties(pages: list[pa.Table]) -> list[pa.Table] | None:
    """Takes the expanded parties out of the emails pages: their rows, one table per page with a list (an empty
    list counts: the snapshot then has a parties table), each party's missing (or empty) activityid taken from
    its email; None when no email has the column."""
    expanded: list[pa.Table] = []
    for number, page in enumerate(pages):
        parties = page.column(_EXPANDED).combine_chunks()
        pages[number] = page.drop_columns(_EXPANDED)
        if parties.null_count < len(parties):
            expanded.append(_with_their_email(parties, page.column("activityid")))
    return expanded or None


def _with_their_email(parties: pa.ListArray, emails: pa.ChunkedArray) -> pa.Table:
    """The parties of a page's emails as a parties page; a party without activityid takes its email's."""
    rows = parties.flatten()  # parties of null lists are left out, as their offsets give none
    owners = emails.take(pc.list_parent_indices(parties))
    activityid = rows.field("activityid")
    missing = pc.or_kleene(pc.is_null(activityid), pc.equal(pc.binary_length(activityid), 0))
    columns = {name: rows.field(name) for name in schema.columns("activityparties")}
    columns["activityid"] = pc.if_else(missing, owners, activityid)
    return pa.table(columns)


def _normalise(table: str, pages: list[pa.Table], source: str) -> pd.DataFrame:
    """One typed frame from a table's pages: lower-case GUIDs, UTC dates, nullable ints and booleans,
    normalised keys, each column one Arrow chunk (later joins and filters ``take`` from it faster)."""
    columns = _combined(table, pages)
    key = schema.key_column(table)
    repeats = _repeats(columns[key])
    frame = columns.to_pandas(types_mapper=PANDAS_TYPES.get, self_destruct=True)
    del columns
    for column, kind in schema.TABLES[table].items():
        if kind == "date" and frame[column].dtype == "str":  # not all in Dataverse's own format
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")
    if table == "activityparties" and repeats:
        frame = _without_repeated_parties(frame, source)
    _check_keys(table, frame, source, repeats)
    return _chunked_if_empty(_derived(table, frame))


def _combined(table: str, pages: list[pa.Table]) -> pa.Table:
    """The pages' columns as one Arrow chunk each, typed, GUIDs and lookup types normalised.

    The pages are emptied (their Arrow strings live on as chunks) and each column's chunks let go once
    combined: no table is held twice.
    """
    kinds = {name: schema.TABLES[table].get(name, "str") for name in pages[0].column_names}
    types = {name: _ARROW_TYPES.get(kind, TEXT) for name, kind in kinds.items()}
    chunks: dict[str, list[pa.Array]] = {name: [] for name in kinds}
    for page in pages:
        for name, column in zip(page.column_names, page.columns, strict=True):
            chunks[name] += column.chunks
    pages.clear()
    columns: dict[str, pa.Array] = {}
    for name, kind in kinds.items():
        parts = chunks.pop(name)
        values = parts[0] if len(parts) == 1 else pa.chunked_array(parts, types[name]).combine_chunks()
        del parts
        if kind in ("key", "lookup"):
            values = guid_array(values)
        elif kind == "date":
            values = _utc_dates(values)
        elif name.endswith("_type"):
            values = lower_array(values)
        columns[name] = values
    return pa.table(columns)


_DATE = b"0000-00-00T00:00:00Z"  # the one format Dataverse writes
_DATE_DIGITS = [position for position, char in enumerate(_DATE) if char == ord("0")]
_DATE_MARKS = [position for position, char in enumerate(_DATE) if char != ord("0")]


def _utc_dates(text: pa.Array) -> pa.Array:
    """Dates all written as Dataverse writes them (years 1000-9999) as UTC timestamps in microseconds, which is
    what pandas makes of them; Arrow refuses impossible ones (30 February, 24:00). Anything else stays text,
    for pandas to read."""
    present = len(text) - text.null_count
    if not present or text.type != TEXT:
        return text
    offsets = np.frombuffer(text.buffers()[1], np.int64, count=len(text) + 1, offset=text.offset * 8)
    if offsets[-1] - offsets[0] != present * len(_DATE) or pc.min(pc.binary_length(text)).as_py() != len(_DATE):
        return text
    chars = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(-1, len(_DATE))
    pattern = np.frombuffer(_DATE, np.uint8)
    if (chars[:, _DATE_MARKS] != pattern[_DATE_MARKS]).any() or (chars[:, _DATE_DIGITS] - 48 > 9).any() or \
            (chars[:, 0] == ord("0")).any():
        return text
    try:
        return pc.cast(text, pa.timestamp("us", "UTC"))
    except pa.ArrowInvalid:
        return text


def _repeats(column: pa.ChunkedArray) -> bool:
    """Whether a key occurs twice (missing keys count as one value, as for pandas).

    Keys of 36 bytes (GUIDs) are hashed to 64 bits and sorted, several times faster than Arrow's hash table;
    only when two hashes are equal does the hash table look at the keys themselves.
    """
    keys = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if keys.null_count == 0 and keys.type == TEXT and len(keys) > 1:
        offsets = np.frombuffer(keys.buffers()[1], np.int64, count=len(keys) + 1, offset=keys.offset * 8)
        lengths = np.diff(offsets)
        if lengths.min() == lengths.max() == _GUID_BYTES:
            hashes = np.sort(_guid_hashes(np.frombuffer(keys.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]))
            if not (hashes[1:] == hashes[:-1]).any():
                return False
    return len(pc.unique(keys)) < len(keys)


_GUID_BYTES = 36
_MIX = np.uint64(0x100000001B3)
_FACTORS = [np.uint64(factor) for factor in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                              0x27D4EB2F165667C5)]


def _guid_hashes(data: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each 36-byte value laid end to end in ``data`` (four 8-byte words and 4 bytes)."""
    count = len(data) // _GUID_BYTES
    words = np.ndarray((count, 4), np.uint64, buffer=data, strides=(_GUID_BYTES, 8))
    hashes = np.ndarray((count,), np.uint32, buffer=data, offset=32, strides=(_GUID_BYTES,)).astype(np.uint64)
    mixed = np.empty_like(hashes)
    for column, factor in enumerate(_FACTORS):
        hashes *= _MIX
        hashes += np.multiply(words[:, column], factor, out=mixed)
    return hashes


def _chunked_if_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas 3 leaves an emptied string column with no Arrow chunks, and merging two such columns fails."""
    if frame.empty:
        for column in frame.columns:
            if frame[column].dtype == "str":
                frame[column] = pd.array([], dtype="str")
    return frame


def _check_keys(table: str, frame: pd.DataFrame, source: str, repeats: bool) -> None:
    """Every record has its own primary key: without one it cannot be told apart or referred to.

    ``repeats`` says whether the key column may hold a value twice (missing values included), as Arrow
    counted it; pandas only looks for the first repeated key then.
    """
    key = schema.key_column(table)
    missing = frame[key].isna()
    if missing.any():
        raise SnapshotError(f"{source}: {table} has {int(missing.sum())} records without {key} (first at row "
                            f"{int(missing.to_numpy().argmax()) + 1}); export the table with its primary key")
    keys = frame[key]
    duplicated = keys[keys.duplicated()] if repeats else keys[:0]
    if not duplicated.empty:
        raise SnapshotError(f"{source}: {table} has {len(duplicated)} records whose {key} repeats another "
                            f"(first: {duplicated.iloc[0]}); was a page saved twice?")


def _without_repeated_parties(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A party given twice (expanded in emails.json and again in activityparties.json) is kept once.

    Copies that only differ by a missing value are the same party; copies whose values disagree are refused.
    Called only when the key repeats.
    """
    key = "activitypartyid"
    frame = frame[~frame.duplicated().to_numpy()].reset_index(drop=True)  # identical copies: the usual case
    repeated = (frame[key].notna() & frame[key].duplicated(keep=False)).to_numpy()
    if not repeated.any():
        return frame
    numbered = frame.assign(position=np.arange(len(frame)))
    copies = numbered[repeated]
    differing = copies.drop(columns="position").groupby(key, sort=False).nunique() > 1  # ignores missing
    if differing.to_numpy().any():
        party = differing.any(axis=1).idxmax()
        raise SnapshotError(f"{source}: activityparties has {int(differing.any(axis=1).sum())} records whose "
                            f"{key} repeats another with different values (first: {party}, column "
                            f"'{differing.loc[party].idxmax()}'); were two exports mixed?")
    merged = copies.groupby(key, sort=False, as_index=False).first()  # each column's first non-missing value
    return (pd.concat([numbered[~repeated], merged], ignore_index=True).sort_values("position")
            .drop(columns="position").reset_index(drop=True))


def _sender_from_parties(tables: dict[str, pd.DataFrame]) -> None:
    """An email without ``sender`` takes the address of its From party (mask 1), so sender checks can run."""
    emails, parties = tables["emails"], tables.get("activityparties")
    missing = (emails["sender"].isna() | emails["sender"].str.strip().eq("")).to_numpy()
    if parties is None or not missing.any():
        return
    is_from = parties["participationtypemask"].eq(1).fillna(False) & parties["addressused"].str.strip().ne("")
    from_address = parties[is_from.fillna(False)].drop_duplicates("activityid").set_index("activityid")
    from_party = emails["activityid"].map(from_address["addressused"]).astype(emails["sender"].dtype)
    emails["sender"] = emails["sender"].where(~missing, from_party)
    emails["sender_address"] = address_column(emails["sender"])


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
