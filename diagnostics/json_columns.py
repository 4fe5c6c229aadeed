"""The report's emails array written as JSON column by column, with no Python object per email.

Each column becomes an Arrow array of JSON texts: text columns are quoted by Arrow when no value holds a
character JSON escapes, else orjson encodes each distinct value once and Arrow takes them by code.
Arrow's string kernels glue the texts into objects, group the long frames (causes, notes, unchecked)
into each email's arrays by offsets, and the emails' objects are one buffer. The text parses to
exactly the list ``report._email_dicts`` builds.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TEXT = pa.large_string()
# Bytes orjson never escapes: it escapes exactly '"', '\' and the control characters below 0x20.
_PLAIN_BYTES = bytes(byte for byte in range(256) if byte >= 0x20 and byte not in b'"\\')
_SEPARATOR = len(",\n  ")  # between two values of an indented orjson list


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


_QUOTE, _EMPTY, _NULL = _literal('"'), _literal(""), _literal("null")
_BOOLEANS = pa.array(["false", "true"], _TEXT)


def json_values(values: list) -> pa.Array:
    """Each scalar (text, number, None) as its JSON text.

    With indentation orjson writes one value per line, and an encoded value never holds a raw newline:
    value ``i`` starts 3 bytes after newline ``i`` and is followed by ``",\\n  "`` (a last 0 makes the
    final value alike), so cutting 4 bytes off each line gives the values, in one pass.
    """
    if not values:
        return pa.array([], _TEXT)
    text = orjson.dumps([*values, 0], option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    newlines = np.flatnonzero(np.frombuffer(text, np.uint8) == ord("\n"))
    if len(newlines) != len(values) + 2:  # a value that is not a scalar spans several lines
        raise ValueError("json_values takes scalars only")
    offsets = pa.py_buffer((newlines[:-1] + 3).astype(np.int64))
    lines = pa.Array.from_buffers(pa.large_binary(), len(values), [None, offsets, pa.py_buffer(text)])
    return pc.binary_slice(lines, 0, -_SEPARATOR).view(_TEXT)


def json_strings(texts: pa.Array) -> pa.Array:
    """Each text of an Arrow text array as its JSON string, a null as ``null``."""
    texts = texts.cast(_TEXT)
    if _plain(texts):
        return pc.binary_join_element_wise(_QUOTE, texts, _QUOTE, _EMPTY).fill_null(_NULL)
    encoded = pc.dictionary_encode(texts)
    return json_values(encoded.dictionary.to_pylist()).take(encoded.indices).fill_null(_NULL)


def _plain(texts: pa.Array) -> bool:
    """No value holds a byte JSON escapes (then quoting the text is its JSON)."""
    if not len(texts):
        return True
    start, end = np.frombuffer(texts.buffers()[1], np.int64)[[texts.offset, texts.offset + len(texts)]]
    return not bytes(memoryview(texts.buffers()[2])[start:end]).translate(None, _PLAIN_BYTES)


def json_column(values: pd.Series) -> pa.Array:
    """A text column's JSON values; a column of other values (an object column from elsewhere) via orjson."""
    texts = _arrow_texts(values)
    return json_values(_texts(values)) if texts is None else json_strings(texts)


def _arrow_texts(values: pd.Series) -> pa.Array | None:
    if values.dtype == "str":
        texts = pa.array(values.array)
        return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    try:
        return pa.array(values.to_numpy(dtype=object), _TEXT, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def json_arrays(offsets: np.ndarray, items: pa.Array) -> pa.Array:
    """Group ``i`` as the JSON array of ``items[offsets[i]:offsets[i + 1]]`` (already JSON texts)."""
    groups = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), items)
    return pc.binary_join_element_wise(_literal("["), pc.binary_join(groups, _literal(",")), _literal("]"), _EMPTY)


def json_lists(lists: list) -> pa.Array:
    """Each list of scalars as a JSON array."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lists), np.int64, len(lists)), out=offsets[1:])
    return json_arrays(offsets, json_values(list(chain.from_iterable(lists))))


def json_objects(fields: dict[str, pa.Array], end: str = "}") -> pa.Array:
    """Objects with these keys, in order, whose values are already JSON texts (each followed by ``end``)."""
    pieces: list = []
    for number, (name, values) in enumerate(fields.items()):
        pieces += [_literal(("{" if number == 0 else ",") + orjson.dumps(name).decode() + ":"), values]
    return pc.binary_join_element_wise(*pieces, _literal(end), _EMPTY)


class _Grouper:
    """Each email's rows of the long frames, keyed by activityid: one hash of the ids for all frames.

    An id that occurs twice gets the rows of all its occurrences (its first one's arrays); a row of no
    email in the frame is left out.
    """

    def __init__(self, ids: pd.Series, *keys: pd.Series):
        columns = [pa.array(column.astype("str").array).cast(_TEXT) for column in (ids, *keys)]
        codes = pc.dictionary_encode(pa.concat_arrays([_chunk(column) for column in columns])).indices
        codes = codes.fill_null(-1).to_numpy()
        bounds = np.cumsum([0, *map(len, columns)])
        self.email_codes = codes[: len(ids)]
        self.emails = int(self.email_codes.max(initial=-1)) + 1  # the first appearance codes them 0, 1, ...
        self.key_codes = [codes[start:end] for start, end in zip(bounds[1:-1], bounds[2:], strict=True)]

    def arrays(self, number: int, items: pa.Array) -> pa.Array:
        """The JSON array of each email's items (of the frame ``number``), in row order."""
        codes = self.key_codes[number]
        order = np.flatnonzero((codes >= 0) & (codes < self.emails))
        order = order[np.argsort(codes[order], kind="stable")]
        offsets = np.zeros(self.emails + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes[order], minlength=self.emails), out=offsets[1:])
        arrays = json_arrays(offsets, items.take(pa.array(order, pa.int64())))
        if np.array_equal(self.email_codes, np.arange(len(self.email_codes))):
            return arrays
        return arrays.take(pa.array(self.email_codes, mask=self.email_codes < 0)).fill_null(_literal("[]"))


def _chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def emails_json(emails: pd.DataFrame, causes: pd.DataFrame, notes: pd.DataFrame, unchecked: pd.DataFrame) -> list:
    """The contract's ``emails`` array as JSON text, in pieces to join (the emails' objects are one buffer)."""
    ids = emails["activityid"]
    grouper = _Grouper(ids, causes["activityid"], notes["activityid"], unchecked["activityid"])
    cause_items = json_objects({
        "id": json_column(causes["cause"]), "kind": json_column(causes["kind"]),
        "queue": json_column(causes["queue"]), "evidence": json_lists(causes["evidence"].tolist()),
        "remediation": json_column(causes["remediation"])})
    unchecked_items = json_objects({"id": json_column(unchecked["cause"]),
                                    "missing": json_lists(unchecked["missing"].tolist())})
    objects = json_objects({
        "activityid": json_column(ids),
        "subject": json_column(emails["subject"]),
        "received_on": json_strings(pc.strftime(_seconds(emails["received_on"]), "%Y-%m-%dT%H:%M:%SZ")),
        "sender": json_column(emails["sender"]),
        "queues": json_lists([value if isinstance(value, list) else [] for value in emails["queues"].tolist()]),
        "verdict": json_column(emails["verdict"]),
        "primary_cause": json_column(emails["primary_cause"]),
        "primary_kind": json_column(emails["primary_kind"]),
        "threaded": _BOOLEANS.take(emails["threaded"].fillna(False).astype(bool).to_numpy().astype(np.int8)),
        "causes": grouper.arrays(0, cause_items),
        "notes": grouper.arrays(1, json_column(notes["note"])),
        "unchecked": grouper.arrays(2, unchecked_items),
    }, end="},")
    return _array_pieces(objects)


def _array_pieces(objects: pa.Array) -> list:
    """``[a,b,...]`` from objects that each end with a comma: Arrow's value buffer is the array's inside."""
    if not len(objects):
        return [b"[]"]
    _, offsets, values = objects.buffers()
    start, end = np.frombuffer(offsets, np.int64)[[objects.offset, objects.offset + len(objects)]]
    return [b"[", memoryview(values)[start:end - 1], b"]"]


def _texts(values: pd.Series) -> list[str | None]:
    return values.astype(object).where(values.notna(), None).tolist()


def _seconds(values: pd.Series) -> pa.Array:
    """Whole seconds (Arrow's %S would print the fraction too), as pandas' strftime shows them."""
    return pa.array(values).cast(pa.timestamp("s", "UTC"), safe=False)
