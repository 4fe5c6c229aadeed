"""The report's emails array written as JSON column by column, with no Python object per email.

Each field becomes one Arrow array of texts, the text before it included (``,"subject":"Hello"``): text
columns are quoted by Arrow when no value holds a character JSON escapes, else orjson encodes each
distinct value once and Arrow takes them by code; times are formatted as fixed-width bytes. A list
(an email's queues, its causes, a cause's evidence) is its items written one after the other, each but
the first of its list led by a comma, so each list's inside is a slice of one buffer, taken without a
copy. One Arrow join glues the pieces into the emails' objects, one buffer. The text parses to exactly
the list ``report._email_dicts`` builds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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
_TIME = len("2026-11-30 12:34:56")  # Arrow's text of a time in whole seconds, years 1000 to 9999
_LEADS = pa.array(["", ","], _TEXT)  # before the first item of a list, before the others

Prefix = str | pa.Array  # the text before each value: one for all, or one per value
Pieces = list[str | pa.Array]  # literal texts and arrays of texts, joined value by value


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


_EMPTY = _literal("")


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


def _prefixed(texts: pa.Array, prefix: Prefix) -> pa.Array:
    if isinstance(prefix, str):
        return pc.binary_join_element_wise(_literal(prefix), texts, _EMPTY) if prefix else texts
    return pc.binary_join_element_wise(prefix, texts, _EMPTY)


def json_strings(texts: pa.Array, prefix: Prefix = "") -> pa.Array:
    """``prefix`` and the JSON string of each text of an Arrow text array (``null`` for a null)."""
    texts = texts.cast(_TEXT)
    if _plain(texts):
        head = _literal(prefix + '"') if isinstance(prefix, str) else prefix
        quoted = pc.binary_join_element_wise(*([head] if isinstance(prefix, str) else [prefix, _literal('"')]),
                                             texts, _literal('"'), _EMPTY)
        null = _literal(prefix + "null") if isinstance(prefix, str) else _prefixed(_literal("null"), prefix)
        return pc.if_else(texts.is_valid(), quoted, null) if texts.null_count else quoted
    encoded = pc.dictionary_encode(texts)
    distinct = json_values([*encoded.dictionary.to_pylist(), None])  # the last one for the nulls
    codes = encoded.indices.fill_null(len(encoded.dictionary))
    if isinstance(prefix, str):
        return _prefixed(distinct, prefix).take(codes)
    return _prefixed(distinct.take(codes), prefix)


def _plain(texts: pa.Array) -> bool:
    """No value holds a byte JSON escapes (then quoting the text is its JSON)."""
    if not len(texts):
        return True
    start, end = np.frombuffer(texts.buffers()[1], np.int64)[[texts.offset, texts.offset + len(texts)]]
    return not bytes(memoryview(texts.buffers()[2])[start:end]).translate(None, _PLAIN_BYTES)


def json_column(values: pd.Series, prefix: Prefix = "") -> pa.Array:
    """A text column's JSON values; a column of other values (an object column from elsewhere) via orjson."""
    texts = _arrow_texts(values.array if values.dtype == "str" else values.to_numpy(dtype=object))
    return _prefixed(json_values(_texts(values)), prefix) if texts is None else json_strings(texts, prefix)


def _arrow_texts(values: object) -> pa.Array | None:
    """Arrow text of these values (missing ones null), or None when some value is not a text."""
    try:
        return _chunk(pa.array(values, _TEXT, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def json_times(values: pd.Series, prefix: str = "") -> pa.Array:
    """Each time as ``"YYYY-MM-DDTHH:MM:SSZ"`` (whole seconds, as pandas' strftime shows them).

    Arrow casts whole-second times to ``YYYY-MM-DD HH:MM:SS``: all of one width, so numpy writes the
    quotes, the T and the Z into a fixed-width block (Arrow's strftime takes ten times longer)."""
    seconds = pa.array(values).cast(pa.timestamp("s", "UTC"), safe=False)
    texts = pc.cast(seconds.fill_null(0).cast(pa.timestamp("s")), _TEXT)
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[: len(texts) + 1]
    if len(texts) and not np.array_equal(offsets, np.arange(len(texts) + 1) * _TIME):  # a year past 9999
        return json_strings(pc.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ"), prefix)
    head = np.frombuffer((prefix + '"').encode(), np.uint8)
    block = np.empty((len(texts), len(head) + _TIME + 2), np.uint8)
    block[:, : len(head)] = head
    block[:, len(head): len(head) + _TIME] = np.frombuffer(texts.buffers()[2], np.uint8)[: len(texts) * _TIME]\
        .reshape(-1, _TIME)
    block[:, len(head) + 10], block[:, -2:] = ord("T"), np.frombuffer(b'Z"', np.uint8)
    width_offsets = np.arange(len(texts) + 1, dtype=np.int64) * block.shape[1]
    quoted = pa.Array.from_buffers(_TEXT, len(texts), [None, pa.py_buffer(width_offsets), pa.py_buffer(block)])
    return pc.if_else(seconds.is_valid(), quoted, _literal(prefix + "null")) if seconds.null_count else quoted


def json_booleans(values: pd.Series, prefix: str = "") -> pa.Array:
    """Each flag as ``true``/``false`` (a missing one as false)."""
    codes = values.fillna(False).astype(bool).to_numpy().astype(np.int8)
    return pa.array([prefix + "false", prefix + "true"], _TEXT).take(codes)


def _leads(offsets: np.ndarray, count: int) -> pa.Array:
    """For items grouped by ``offsets``: "" before the first of each group, "," before the others."""
    later = np.ones(count, np.int8)
    later[offsets[:-1][np.diff(offsets) > 0]] = 0
    return _LEADS.take(later)


def _insides(items: pa.Array, offsets: np.ndarray) -> pa.Array:
    """Group ``i`` as ``items[offsets[i]:offsets[i + 1]]`` glued, without a copy: their texts are adjacent."""
    if not len(items):  # every group empty
        return pa.Array.from_buffers(_TEXT, len(offsets) - 1, [None, pa.py_buffer(np.zeros_like(offsets)),
                                                               pa.py_buffer(b"")])
    item_offsets = np.frombuffer(items.buffers()[1], np.int64)[items.offset: items.offset + len(items) + 1]
    starts = pa.py_buffer(np.ascontiguousarray(item_offsets[offsets]))
    return pa.Array.from_buffers(_TEXT, len(offsets) - 1, [None, starts, items.buffers()[2]])


def json_list_insides(lists: list) -> pa.Array:
    """The inside of each list's JSON array (``"a","b"``): one buffer of all their items, sliced per list."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lists), np.int64, len(lists)), out=offsets[1:])
    flat = list(chain.from_iterable(lists))
    leads = _leads(offsets, len(flat))
    texts = _arrow_texts(flat)
    items = _prefixed(json_values(flat), leads) if texts is None else json_strings(texts, leads)
    return _insides(items, offsets)


def json_lists(lists: list, prefix: str = "") -> Pieces:
    """Each list of scalars as a JSON array."""
    return [prefix + "[", json_list_insides(lists), "]"]


def json_objects(fields: dict[str, Callable[[str], Pieces]], start: pa.Array | None = None,
                 end: str = "}") -> pa.Array:
    """Objects with these keys, in order, each led by ``start`` (a text per object) and followed by ``end``.

    Each field's writer gets the literal text before its value (``{"key":``, ``,"key":``, with what the
    previous field left) and returns the pieces of its values: it may fold that text into them."""
    pieces: list = [] if start is None else [start]
    before = ""
    for number, (name, write) in enumerate(fields.items()):
        written = write(before + ("{" if number == 0 else ",") + orjson.dumps(name).decode() + ":")
        before = written.pop() if isinstance(written[-1], str) else ""
        pieces += [_literal(piece) if isinstance(piece, str) else piece for piece in written]
    return pc.binary_join_element_wise(*pieces, _literal(before + end), _EMPTY)


def _folded(write: Callable[..., pa.Array], *args: object) -> Callable[[str], Pieces]:
    """A writer whose values take the text before them."""
    return lambda prefix: [write(*args, prefix)]


class _Rows:
    """Each email's rows of the long frames (causes, notes, unchecked), by activityid.

    The frames' ids are coded once, and each email looks its id up among them: an id that occurs
    twice gets the same rows twice; a row of no email in the frame is left out.
    """

    def __init__(self, ids: pa.Array, *keys: pd.Series):
        columns = [_chunk(pa.array(column.astype("str").array)).cast(_TEXT) for column in keys]
        encoded = pc.dictionary_encode(pa.concat_arrays(columns))
        self.groups = len(encoded.dictionary)  # one more group, with no rows: an email with none
        codes = encoded.indices.fill_null(-1).to_numpy()
        bounds = np.cumsum([0, *map(len, columns)])
        self.codes = [codes[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
        self.email_groups = pc.index_in(ids, value_set=encoded.dictionary).fill_null(self.groups)

    def insides(self, number: int, write: Callable[[pa.Array], pa.Array]) -> pa.Array:
        """The inside of each email's JSON array of the items of frame ``number``, in row order;
        ``write`` writes the frame's items, each after its text (a comma but for a list's first)."""
        codes = self.codes[number]
        order = np.flatnonzero(codes >= 0)
        order = order[np.argsort(codes[order], kind="stable")]
        offsets = np.zeros(self.groups + 2, dtype=np.int64)
        np.cumsum(np.bincount(codes[order], minlength=self.groups + 1), out=offsets[1:])
        later = np.ones(len(codes), np.int8)
        later[order[offsets[:-1][np.diff(offsets) > 0]]] = 0
        items = write(_LEADS.take(later))
        if not np.array_equal(order, np.arange(len(codes))):
            items = items.take(pa.array(order, pa.int64()))
        return _insides(items, offsets).take(self.email_groups)

    def arrays(self, number: int, write: Callable[[pa.Array], pa.Array]) -> Callable[[str], Pieces]:
        return lambda prefix: [prefix + "[", self.insides(number, write), "]"]


def emails_json(emails: pd.DataFrame, causes: pd.DataFrame, notes: pd.DataFrame, unchecked: pd.DataFrame) -> list:
    """The contract's ``emails`` array as JSON text, in pieces to join (the emails' objects are one buffer)."""
    ids = _chunk(pa.array(emails["activityid"].astype("str").array)).cast(_TEXT)
    rows = _Rows(ids, causes["activityid"], notes["activityid"], unchecked["activityid"])
    cause_items = partial(json_objects, {
        "id": _folded(json_column, causes["cause"]), "kind": _folded(json_column, causes["kind"]),
        "queue": _folded(json_column, causes["queue"]), "evidence": partial(json_lists, causes["evidence"].tolist()),
        "remediation": _folded(json_column, causes["remediation"])})
    unchecked_items = partial(json_objects, {"id": _folded(json_column, unchecked["cause"]),
                                             "missing": partial(json_lists, unchecked["missing"].tolist())})
    queues = [value if isinstance(value, list) else [] for value in emails["queues"].tolist()]
    objects = json_objects({
        "activityid": _folded(json_strings, ids),
        "subject": _folded(json_column, emails["subject"]),
        "received_on": _folded(json_times, emails["received_on"]),
        "sender": _folded(json_column, emails["sender"]),
        "queues": partial(json_lists, queues),
        "verdict": _folded(json_column, emails["verdict"]),
        "primary_cause": _folded(json_column, emails["primary_cause"]),
        "primary_kind": _folded(json_column, emails["primary_kind"]),
        "threaded": _folded(json_booleans, emails["threaded"]),
        "causes": rows.arrays(0, lambda leads: cause_items(start=leads)),
        "notes": rows.arrays(1, partial(json_column, notes["note"])),
        "unchecked": rows.arrays(2, lambda leads: unchecked_items(start=leads)),
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
