"""The report's emails array written as JSON column by column, with no Python object per email.

Each field becomes Arrow texts, the key before it included (``,"subject":"Hello"``): a text column with
nothing to escape goes in as it is, between literal quotes; fields of few distinct values (verdicts,
kinds, causes, queues, remediation texts) are written by orjson once per distinct combination and taken
by code; times are formatted as fixed-width bytes. A list (an email's queues, a cause's evidence) is a
slice of one orjson text of all the lists; an email's causes, notes and unchecked causes are its rows
written one after the other, in the emails' order, so each email's array is a slice of one buffer too.
Two Arrow joins (one per half of the emails, on two threads) glue the pieces into the emails' objects, two
buffers, which ``Report.json_pieces`` hands on without copying. The text parses to exactly the list
``report._email_dicts`` builds.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain, repeat

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


def json_text_pieces(values: pd.Series, prefix: str) -> list:
    """``prefix`` and each value's JSON, as pieces to join: a text column with no value missing nor holding a
    character JSON escapes is its own JSON between two quotes (used as it is, no copy)."""
    texts = _arrow_texts(values.array if values.dtype == "str" else values.to_numpy(dtype=object))
    if texts is not None and not texts.null_count and _plain(texts):
        return [prefix + '"', texts, '"']
    return [json_column(values, prefix)]


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
    seconds = pc.floor_temporal(pa.array(values), unit="second").cast(pa.timestamp("s", "UTC"))  # as pandas
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


def json_combinations(fields: dict[str, pd.Series], before: str = "", after: str = "", rows: np.ndarray | None = None,
                      later: np.ndarray | None = None) -> pa.Array:
    """Per row: ``before``, the fields' ``"key":value`` pairs, ``after``. For fields of few distinct values
    (verdicts, kinds, causes, queues, remediation texts): orjson writes each distinct combination once and
    Arrow takes them by code. ``rows``: only these rows, in this order; ``later``: a comma before those."""
    codes, options = [], []
    for column in fields.values():
        code, distinct = pd.factorize(column)  # a missing value: -1, written null
        codes.append(code + 1)
        options.append(np.asarray([None, *distinct.tolist()], dtype=object))
    sizes = [len(values) for values in options]
    combinations, inverse = _distinct(np.ravel_multi_index(codes, sizes), int(np.prod(sizes)))
    values = zip(*[values[at] for values, at in zip(options, np.unravel_index(combinations, sizes), strict=True)],
                 strict=True)
    texts = [before + orjson.dumps(dict(zip(fields, value, strict=True)), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
             .decode() + after for value in values]
    return _by_code(texts, inverse, rows, later)


def _distinct(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for codes below ``size``: counted, not sorted, when that is
    no bigger than the codes."""
    if size > 4 * len(codes) + 1024:
        distinct, inverse = np.unique(codes, return_inverse=True)
        return distinct, inverse.reshape(-1)
    distinct = np.flatnonzero(np.bincount(codes, minlength=size))
    renumbered = np.zeros(size, dtype=np.int64)
    renumbered[distinct] = np.arange(len(distinct))
    return distinct, renumbered[codes]


def json_distinct(values: pd.Series, rows: np.ndarray | None = None, later: np.ndarray | None = None) -> pa.Array:
    """Each value's JSON, for a column of values that repeat: orjson writes each distinct value once."""
    codes, distinct = pd.factorize(values)
    return _by_code(json_values([*distinct.tolist(), None]).to_pylist(), codes, rows, later)


def _by_code(texts: list[str], codes: np.ndarray, rows: np.ndarray | None, later: np.ndarray | None) -> pa.Array:
    """``texts[codes]`` (code -1: the last text), of ``rows`` only; led by a comma where ``later``."""
    codes = np.where(codes < 0, len(texts) - 1, codes) if rows is None else np.where(
        codes[rows] < 0, len(texts) - 1, codes[rows])
    if later is not None:  # each text twice: alone, then after a comma
        texts, codes = [*texts, *("," + text for text in texts)], codes + later.astype(np.int64) * len(texts)
    return pa.array(texts, _TEXT).take(pa.array(codes))


def json_lists(lists: list) -> pa.Array:
    """Each list of texts as its JSON array followed by a comma (``["a","b"],``).

    orjson writes all the lists at once (and an empty one after them, so that the last is followed by a
    comma too). With no backslash in that text no string was escaped, so the quotes are exactly the
    strings' ends: each list's text is a slice of the buffer found from its items' quotes, without a copy.
    Otherwise (an escape, an item that is not a text) Arrow writes the lists.
    """
    sizes = np.fromiter(map(len, lists), np.int64, len(lists))
    text = orjson.dumps([*lists, []])
    if b"\\" in text or not set(map(type, chain.from_iterable(lists))) <= {str}:
        return _joined(["[", json_list_insides(lists, sizes), "],"])
    quotes = np.flatnonzero(np.frombuffer(text, np.uint8) == ord('"'))
    first = np.cumsum(sizes) - sizes  # each list's first item
    filled = sizes > 0
    lengths = np.full(len(lists), len("[],"), dtype=np.int64)
    lengths[filled] = quotes[2 * (first + sizes - 1)[filled] + 1] + len('"],') - (quotes[2 * first[filled]] - 1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]) + len("[")
    return pa.Array.from_buffers(_TEXT, len(lists), [None, pa.py_buffer(offsets), pa.py_buffer(text)])


def json_list_insides(lists: list, sizes: np.ndarray) -> pa.Array:
    """The inside of each list's JSON array (``"a","b"``), each item led by a comma but a list's first: all the
    items' texts are one buffer, and each list's inside a slice of it."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    flat = list(chain.from_iterable(lists))
    later = np.ones(len(flat), np.int8)
    later[offsets[:-1][sizes > 0]] = 0
    leads = _LEADS.take(later)
    texts = _arrow_texts(flat)
    items = _prefixed(json_values(flat), leads) if texts is None else json_strings(texts, leads)
    return _insides(items, offsets)


def _insides(items: pa.Array, offsets: np.ndarray) -> pa.Array:
    """Group ``i`` as ``items[offsets[i]:offsets[i + 1]]`` glued, without a copy: their texts are adjacent."""
    if not len(items):  # every group empty
        return pa.Array.from_buffers(_TEXT, len(offsets) - 1, [None, pa.py_buffer(np.zeros_like(offsets)),
                                                               pa.py_buffer(b"")])
    item_offsets = np.frombuffer(items.buffers()[1], np.int64)[items.offset: items.offset + len(items) + 1]
    starts = pa.py_buffer(np.ascontiguousarray(item_offsets[offsets]))
    return pa.Array.from_buffers(_TEXT, len(offsets) - 1, [None, starts, items.buffers()[2]])


def _joined(pieces: list) -> pa.Array:
    """Row by row, the pieces (texts for every row, or arrays of a text per row) joined."""
    merged: list = []
    for piece in pieces:  # adjacent texts as one
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return pc.binary_join_element_wise(*[_literal(piece) if isinstance(piece, str) else piece for piece in merged],
                                       _EMPTY)


class _Rows:
    """Each email's rows of the long frames (causes, notes, unchecked), by activityid.

    The frames' ids are coded once and each email looks its id up among them. The rows are written in the
    order of their emails, so an email's items are adjacent and its array's inside is a slice of their
    buffer. When an id occurs twice among the emails, both get its rows (taken per email); a row of no
    email in the frame is left out.
    """

    def __init__(self, ids: pa.Array, *keys: pd.Series):
        columns = [_chunk(pa.array(column.astype("str").array)).cast(_TEXT) for column in keys]
        encoded = pc.dictionary_encode(pa.concat_arrays(columns))
        groups = len(encoded.dictionary)
        codes = encoded.indices.fill_null(groups).to_numpy()
        bounds = np.cumsum([0, *map(len, columns)])
        self.codes = [codes[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
        email_groups = pc.index_in(ids, value_set=encoded.dictionary).fill_null(groups).to_numpy()
        found = np.flatnonzero(email_groups < groups)
        self.slot_of_group = np.full(groups + 1, -1)  # the last group: no email, or no id
        if np.bincount(email_groups[found], minlength=1).max() <= 1:  # an email per id: its position is its slot
            self.slot_of_group[email_groups[found]] = found
            self.slots, self.email_slots = len(ids), None
        else:  # a slot per id, taken by each of its emails; the last slot empty
            self.slot_of_group[:-1] = np.arange(groups)
            self.slots, self.email_slots = groups + 1, pa.array(email_groups)

    def insides(self, number: int, write: Callable[[np.ndarray, np.ndarray], pa.Array]) -> pa.Array:
        """The inside of each email's JSON array of the items of frame ``number``, in row order.
        ``write(rows, later)`` writes the items of these rows, in this order, those ``later`` after a comma."""
        slots = self.slot_of_group[self.codes[number]]
        order = np.flatnonzero(slots >= 0)
        order = order[np.argsort(slots[order], kind="stable")]
        offsets = np.zeros(self.slots + 1, dtype=np.int64)
        np.cumsum(np.bincount(slots[order], minlength=self.slots), out=offsets[1:])
        later = np.ones(len(order), np.int8)
        later[offsets[:-1][np.diff(offsets) > 0]] = 0
        insides = _insides(write(order, later), offsets)
        return insides if self.email_slots is None else insides.take(self.email_slots)


def emails_json(emails: pd.DataFrame, causes: pd.DataFrame, evidence: pd.DataFrame, notes: pd.DataFrame,
                unchecked: pd.DataFrame) -> list:
    """The contract's ``emails`` array as JSON text, in pieces to join. It runs in the process's pool:
    diagnostics/malloc.py says why. Arrow's kernels release the GIL, so a second thread writes the evidence
    while this one writes the emails' fields, then each glues half of the emails' objects."""
    with ThreadPoolExecutor(max_workers=1) as helper:
        evidence_items = helper.submit(evidence_lists, evidence, len(causes))
        ids = emails["activityid"].astype("str")
        rows = _Rows(_chunk(pa.array(ids.array)).cast(_TEXT), causes["activityid"], notes["activityid"],
                     unchecked["activityid"])
        fields = [
            *json_text_pieces(ids, '{"activityid":'),
            *json_text_pieces(emails["subject"], ',"subject":'),
            json_times(emails["received_on"], ',"received_on":'),
            *json_text_pieces(emails["sender"], ',"sender":'),
            ',"queues":', json_lists(_lists(emails["queues"])),  # each list is followed by its comma
            json_combinations({"verdict": emails["verdict"], "primary_cause": emails["primary_cause"],
                               "primary_kind": emails["primary_kind"],
                               "threaded": emails["threaded"].fillna(False).astype(bool)}),
        ]
        notes_and_unchecked = [
            '],"notes":[', rows.insides(1, partial(json_distinct, notes["note"])),
            '],"unchecked":[', rows.insides(2, partial(_unchecked_items, unchecked)),
            "]},",
        ]
        causes_items = rows.insides(0, partial(_cause_items, causes, evidence_items.result()))
        pieces = [*fields, ',"causes":[', causes_items, *notes_and_unchecked]
        half = len(emails) // 2
        first = helper.submit(_joined, _rows_between(pieces, 0, half))
        second = _joined(_rows_between(pieces, half, len(emails)))
        return _array_pieces([first.result(), second])


def _rows_between(pieces: list, start: int, end: int) -> list:
    """The pieces of rows ``start`` to ``end``: texts for every row stay, arrays are sliced (no copy)."""
    return [piece if isinstance(piece, str) else piece.slice(start, end - start) for piece in pieces]


def _lists(values: pd.Series) -> list:
    """The column's lists, an empty one for any value that is not a list (as ``report._email_dicts``)."""
    values = values.to_numpy(dtype=object)
    empty = np.empty(1, dtype=object)
    empty[0] = []
    is_list = np.fromiter(map(isinstance, values, repeat(list)), dtype=bool, count=len(values))
    return np.where(is_list, values, empty).tolist()


def _cause_items(causes: pd.DataFrame, evidence: pa.Array, rows: np.ndarray, later: np.ndarray) -> pa.Array:
    return _joined([json_combinations({"id": causes["cause"], "kind": causes["kind"], "queue": causes["queue"],
                                       "expected": causes["expected"].astype(bool)}, "{", ',"evidence":[', rows, later),
                    evidence.take(pa.array(rows)),
                    json_combinations({"remediation": causes["remediation"]}, before="],", after="}", rows=rows)])


def evidence_lists(evidence: pd.DataFrame, count: int) -> pa.Array:
    """The inside of each cause row's evidence array (``{"code":…,"about":…,"values":…,"text":…},…``): every
    item written once, column-wise, each row's items a slice of one buffer. ``values`` is JSON already."""
    owners = evidence["row"].to_numpy()
    if len(owners) and (np.diff(owners) < 0).any():  # evaluation writes them in order; a report read back may not
        evidence = evidence.iloc[np.argsort(owners, kind="stable")]
        owners = evidence["row"].to_numpy()
    offsets = np.searchsorted(owners, np.arange(count + 1))
    later = np.ones(len(evidence), np.int8)
    later[offsets[:-1][np.diff(offsets) > 0]] = 0
    about = _joined([*_strings(evidence["about_table"], '{"table":'), *_strings(evidence["about_id"], ',"id":'),
                     *_strings(evidence["about_name"], ',"name":'), "}"])
    about = pc.if_else(_texts_of(evidence["about_table"]).is_valid(), about, _literal("null"))
    items = _joined([_LEADS.take(pa.array(later)), *_strings(evidence["code"], '{"code":'), ',"about":', about,
                     ',"values":', _texts_of(evidence["values"]), *_strings(evidence["text"], ',"text":'), "}"])
    return _insides(items, offsets)


def _texts_of(values: pd.Series) -> pa.Array:
    return _chunk(pa.array(values.astype("str").array, from_pandas=True)).cast(_TEXT)


def _strings(values: pd.Series, prefix: str) -> list:
    return [json_strings(_texts_of(values), prefix)]


def _unchecked_items(unchecked: pd.DataFrame, rows: np.ndarray, later: np.ndarray) -> pa.Array:
    chosen = unchecked.iloc[rows]
    lists = json_lists(chosen["missing"].tolist()).view(pa.large_binary())
    missing = pc.binary_slice(lists, 0, -1).view(_TEXT)  # the last field: no comma after it
    return _joined([_LEADS.take(later), json_column(chosen["cause"], '{"id":'), ',"missing":', missing, "}"])


def _array_pieces(parts: list[pa.Array]) -> list:
    """``[a,b,...]`` from parts of objects that each end with a comma: Arrow's value buffers are the array's
    inside, the last comma cut."""
    insides = [_value_bytes(part) for part in parts if len(part)]
    if not insides:
        return [b"[]"]
    insides[-1] = insides[-1][:-1]
    return [b"[", *insides, b"]"]


def _value_bytes(texts: pa.Array) -> memoryview:
    _, offsets, values = texts.buffers()
    start, end = np.frombuffer(offsets, np.int64)[[texts.offset, texts.offset + len(texts)]]
    return memoryview(values)[start:end]


def _texts(values: pd.Series) -> list[str | None]:
    return values.astype(object).where(values.notna(), None).tolist()
