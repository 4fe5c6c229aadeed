"""The loader's fast path: one Web API page from bytes to typed columns, with no Python object per record.

Arrow's JSON reader parses the whole page as one row (``{"value": [...], "@odata...": ...}``) against an
explicit schema derived from ``schema.TABLES``: the columns we read, in frame order, with their Web API
names (lookups as ``_x_value`` and their ``lookuplogicalname`` annotation); every other key is skipped.
The result is the table ``snapshot._columns`` builds from pydantic's validated rows, column for column: Arrow
arrays all the way to the table's one frame, no pandas object per page.

Arrow is stricter than pydantic: a text column holding a number, an integer column holding ``"5"`` or
``5.0``, a duplicated key, an odd shape, bytes that are not UTF-8... make it give up, and the page goes
through the pydantic models, which accept what they accept and explain the rest in today's one line.
So ``page_frame`` returns ``None`` whenever it is not sure, and never raises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

from . import malloc, schema

# Everything else, dates included, is text: large_string, which pandas' "str" dtype holds without a copy.
_ARROW_TYPES = {"int": pa.int64(), "bool": pa.bool_()}
TEXT = pa.large_string()
# The dtypes of a loaded frame: Arrow strings, nullable ints and booleans.
PANDAS_TYPES = {TEXT: pd.StringDtype("pyarrow", na_value=np.nan), pa.int64(): pd.Int64Dtype(),
                pa.bool_(): pd.BooleanDtype()}
_BLOCK_LIMIT = 2**31 - 2  # Arrow's block size is a 32-bit integer; bigger pages take the pydantic path
_EXPANDED = "email_activity_parties"
_CONTEXT = "@odata.context"  # only a change-tracking page's deleted-record markers have one per record


def _fields(table: str) -> list[tuple[str, str, pa.DataType]]:
    """(Web API name, frame column, Arrow type) of every column of a table, in frame order."""
    fields = []
    for column, kind in schema.TABLES[table].items():
        raw = schema.raw_name(table, column)
        fields.append((raw, column, _ARROW_TYPES.get(kind, TEXT)))
        if (table, column) in schema.TYPED_LOOKUPS:
            fields.append((raw + schema.LOOKUP_TYPE, f"{column}_type", TEXT))
    return fields


def _row_type(table: str) -> pa.StructType:
    row = pa.struct([(raw, arrow_type) for raw, _, arrow_type in _fields(table)])
    if table == "emails":  # parties may come expanded inside each email
        row = pa.struct([*row, pa.field(_EXPANDED, pa.list_(_row_type("activityparties")))])
    return row


def _parse_options(table: str) -> pj.ParseOptions:
    """The whole page is one block, so newlines need no special care (newlines_in_values costs a scan)."""
    row = pa.struct([*_row_type(table), pa.field(_CONTEXT, TEXT)])
    page = pa.schema([("value", pa.list_(row))])
    return pj.ParseOptions(explicit_schema=page, unexpected_field_behavior="ignore")


_PARSE = {table: _parse_options(table) for table in schema.TABLES}


def page_table(table: str, data: bytes | memoryview) -> pa.Table | None:
    """The columns of one page (an OData document or a bare JSON array of records) under their frame names, or
    None to let pydantic read it."""
    if not data or len(data) >= _BLOCK_LIMIT or not _is_utf8(data):
        return None
    if bytes(data[:64]).lstrip()[:1] == b"[":  # a bare list of records, as some tools save them
        data = b'{"value":' + data + b"}"
    rows = _rows(table, data)
    return None if rows is None else _table(table, rows)


def _rows(table: str, data: bytes | memoryview) -> pa.StructArray | None:
    """The page's records as one struct array, or None when Arrow refuses the page or its shape is odd."""
    try:
        parsed = pj.read_json(pa.BufferReader(data), read_options=pj.ReadOptions(block_size=len(data) + 1),
                              parse_options=_PARSE[table], memory_pool=malloc.parse_pool())
    except Exception:  # noqa: BLE001 - whatever Arrow refuses (even a UnicodeDecodeError), pydantic explains
        return None
    if parsed.num_rows != 1:  # two documents in one file, which pydantic calls trailing characters
        return None
    # A copy in the process's pool (the system's: malloc.configure): the parse pool's memory is reused by the next
    # page instead of being held by this one until its table is combined (measured: 90 MB less peak RSS on 200,000
    # emails, same CPU time)
    pages = parsed.column("value").combine_chunks()
    if pages.null_count:  # no "value", or "value": null
        return None
    rows = pages.flatten()
    if table == "emails" and rows.field(_EXPANDED).flatten().null_count:
        return None  # a null expanded party is a wrong value
    if rows.field(_CONTEXT).null_count < len(rows):
        return None  # a $delta page's deleted-record markers are dropped by the pydantic path
    return None if rows.null_count else rows  # so is a null record


def _table(table: str, rows: pa.StructArray) -> pa.Table:
    """The records' columns under their frame names; expanded parties stay Arrow (a list of party structs)."""
    names = [column for _, column, _ in _fields(table)]
    columns = rows.flatten()[:len(names) + (table == "emails")]  # the record's @odata.context is left out
    if table == "emails":
        names.append(_EXPANDED)
        columns[-1] = _renamed_parties(columns[-1])
    return pa.Table.from_arrays(columns, names=names)


def _renamed_parties(parties: pa.ListArray) -> pa.ListArray:
    """Expanded parties with the fields of a parties page's columns (Arrow casts structs by name, so rebuild)."""
    names = [column for _, column, _ in _fields("activityparties")]
    renamed = pa.StructArray.from_arrays(parties.values.flatten(), names=names)
    return pa.ListArray.from_arrays(parties.offsets, renamed, mask=parties.is_null())


def _is_utf8(data: bytes | memoryview) -> bool:
    """Whether the whole page is UTF-8 (Arrow checks only the values it keeps); no copy of the bytes."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True
