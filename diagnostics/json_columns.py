"""The report's emails array written as JSON column by column, with no Python object per email.

orjson encodes each column's values in one call; Arrow's string kernels glue the encoded values into
objects, group the long frames (causes, notes, unchecked) into each email's arrays by offsets, and join
the emails. The text parses to exactly the list ``report._email_dicts`` builds.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TEXT = pa.large_string()


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def json_values(values: list) -> pa.Array:
    """Each scalar (text, number, None) as its JSON text.

    With indentation orjson writes one value per line, and an encoded value never holds a raw newline,
    so splitting the lines gives the values (after the two spaces of indentation and the comma).
    """
    if not values:
        return pa.array([], _TEXT)
    text = orjson.dumps(values, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    lines = pc.list_flatten(pc.split_pattern(_one_text(text), "\n"))
    if len(lines) != len(values) + 2:  # a value that is not a scalar spans several lines
        raise ValueError("json_values takes scalars only")
    return pc.utf8_rtrim(pc.utf8_slice_codeunits(lines[1:-1], 2), ",")


def _one_text(text: bytes) -> pa.Array:
    """orjson's output as a one-value Arrow text array, without a copy (``pa.array`` copies slowly)."""
    offsets = pa.py_buffer(np.array([0, len(text)], dtype=np.int64))
    return pa.Array.from_buffers(_TEXT, 1, [None, offsets, pa.py_buffer(text)])


def json_arrays(offsets: np.ndarray, items: pa.Array) -> pa.Array:
    """Group ``i`` as the JSON array of ``items[offsets[i]:offsets[i + 1]]`` (already JSON texts)."""
    groups = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), items)
    return pc.binary_join_element_wise(_literal("["), pc.binary_join(groups, _literal(",")), _literal("]"),
                                       _literal(""))


def json_lists(lists: list[list]) -> pa.Array:
    """Each list of scalars as a JSON array."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lists), np.int64, len(lists)), out=offsets[1:])
    return json_arrays(offsets, json_values(list(chain.from_iterable(lists))))


def json_objects(fields: dict[str, pa.Array], end: str = "}") -> pa.Array:
    """Objects with these keys, in order, whose values are already JSON texts (each followed by ``end``)."""
    pieces: list = []
    for number, (name, values) in enumerate(fields.items()):
        pieces += [_literal(("{" if number == 0 else ",") + orjson.dumps(name).decode() + ":"), values]
    return pc.binary_join_element_wise(*pieces, _literal(end), _literal(""))


def per_email(ids: pd.Series, keys: pd.Series, items: pa.Array) -> pa.Array:
    """The JSON array of each email's items: the rows whose key is its id, in row order."""
    ids = pa.array(ids.astype("str").array)
    positions = pc.index_in(pa.array(keys.astype("str").array), value_set=ids, skip_nulls=True)
    positions = positions.fill_null(-1).to_numpy()  # a row of no email in the frame: -1
    order = np.argsort(positions, kind="stable")
    order = order[positions[order] >= 0]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(positions[order], minlength=len(ids)), out=offsets[1:])
    arrays = json_arrays(offsets, items.take(pa.array(order, pa.int64())))
    first = pc.index_in(ids, value_set=ids, skip_nulls=True).fill_null(0).to_numpy()  # an id twice: its first
    return arrays if np.array_equal(first, np.arange(len(ids))) else arrays.take(pa.array(first))


def emails_json(emails: pd.DataFrame, causes: pd.DataFrame, notes: pd.DataFrame, unchecked: pd.DataFrame) -> str:
    """The contract's ``emails`` array as JSON text."""
    ids = emails["activityid"]
    cause_items = json_objects({
        "id": json_values(causes["cause"].tolist()), "kind": json_values(causes["kind"].tolist()),
        "queue": json_values(_texts(causes["queue"])),
        "evidence": json_lists([list(evidence) for evidence in causes["evidence"].tolist()]),
        "remediation": json_values(_texts(causes["remediation"]))})
    unchecked_items = json_objects({"id": json_values(unchecked["cause"].tolist()),
                                    "missing": json_lists([list(missing) for missing in unchecked["missing"]])})
    objects = json_objects({
        "activityid": json_values(ids.tolist()),
        "subject": json_values(_texts(emails["subject"])),
        "received_on": json_values(pc.strftime(_seconds(emails["received_on"]), "%Y-%m-%dT%H:%M:%SZ").to_pylist()),
        "sender": json_values(_texts(emails["sender"])),
        "queues": json_lists([value if isinstance(value, list) else [] for value in emails["queues"].tolist()]),
        "verdict": json_values(emails["verdict"].tolist()),
        "primary_cause": json_values(_texts(emails["primary_cause"])),
        "primary_kind": json_values(_texts(emails["primary_kind"])),
        "threaded": json_values(emails["threaded"].fillna(False).astype(bool).tolist()),
        "causes": per_email(ids, causes["activityid"], cause_items),
        "notes": per_email(ids, notes["activityid"], json_values(notes["note"].tolist())),
        "unchecked": per_email(ids, unchecked["activityid"], unchecked_items),
    }, end="},")
    return _joined(objects)


def _joined(objects: pa.Array) -> bytes:
    """``[a,b,...]`` from objects that each end with a comma: Arrow's value buffer is the array's inside."""
    if not len(objects):
        return b"[]"
    _, offsets, values = objects.buffers()
    start, end = np.frombuffer(offsets, np.int64)[[objects.offset, objects.offset + len(objects)]]
    return b"".join([b"[", memoryview(values)[start:end - 1], b"]"])  # one copy, not three


def _texts(values: pd.Series) -> list[str | None]:
    return values.astype(object).where(values.notna(), None).tolist()


def _seconds(values: pd.Series) -> pa.Array:
    """Whole seconds (Arrow's %S would print the fraction too), as pandas' strftime shows them."""
    return pa.array(values).cast(pa.timestamp("s", "UTC"), safe=False)
