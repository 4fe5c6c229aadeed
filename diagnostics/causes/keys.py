"""Joins, lookups and evidence rows the causes share, on whole columns.

A pandas merge on 36-character ids hashes both key columns, then copies every column of both frames (``take`` on
Arrow strings), while a cause cites two or three of them. Here the matching positions are found once (Arrow's hash
lookup, or the emails' row numbers the context frames carry) and a cause takes only the columns it cites. The
pairs come in the order pandas' merge gives them: the left rows in their order, each one's matches in the right's.

Evidence that cites a record alone (a queue, a rule, a job's message) is rendered once per record and spread to
the emails by position (``spread``, ``about_queues``): rendering costs per row, and a tenant
has a few queues and rules for thousands of emails.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..evidence import ROW_COLUMNS, Code, empty_rows, rows
from ..normalize import arrow_text
from .base import Context

NONE = -1  # the position of no row


def _keys(values: pd.Series) -> pa.Array:
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return pa.array(values.to_numpy())
    return arrow_text(values)


def first_positions(keys: pd.Series, among: pd.Series) -> np.ndarray:
    """For each key, the position of its first equal value in ``among`` (``NONE`` without one; missing keys
    match nothing)."""
    found = pc.index_in(_keys(keys), value_set=_keys(among), skip_nulls=True)
    return found.fill_null(NONE).to_numpy().astype(np.int64, copy=False)


def key_positions(keys: pd.Series, among: pd.Series) -> np.ndarray:
    """``first_positions`` where ``among`` is unique (a table's primary key: the loader refuses a repeated one),
    hashing the shorter side: probing many values against a small set costs less than building a large one."""
    if len(keys) * 2 >= len(among):
        return first_positions(keys, among)
    found = first_positions(among, keys)  # each value of among: the first equal key
    first_of = np.full(len(keys), NONE, dtype=np.int64)
    matched = found != NONE
    first_of[found[matched]] = np.flatnonzero(matched)
    return np.append(first_of, NONE)[first_positions(keys, keys)]  # a repeated key: as its first occurrence


def join_positions(left: pd.Series, right: pd.Series, how: str = "inner") -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) positions of the rows ``pd.merge`` on these key columns gives, in its order; ``how`` is
    ``"inner"`` or ``"left"`` (a left row without a match pairs with ``NONE``). Missing keys match nothing.

    Keys are grouped by their first position on the side with fewer keys: one hash table of it, probed by both."""
    if left.count() < right.count():
        return _pairs(first_positions(left, left), first_positions(right, left), len(left), how)
    return _pairs(first_positions(left, right), first_positions(right, right), len(right), how)


def _pairs(left_group: np.ndarray, right_group: np.ndarray, groups: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (left, right) pair of rows in the same group: the left rows in their order, each one's right rows in
    theirs."""
    valid = np.flatnonzero(right_group != NONE)
    order = valid[np.argsort(right_group[valid], kind="stable")]  # right rows by group, each group in right's order
    counts = np.bincount(right_group[valid], minlength=groups + 1)  # one more: a group to read for missing keys
    starts = np.cumsum(counts) - counts
    group = np.where(left_group != NONE, left_group, groups)  # missing: the empty group
    found = counts[group]
    taken = np.maximum(found, 1) if how == "left" else found
    left_positions = np.repeat(np.arange(len(group)), taken)
    within = np.arange(len(left_positions)) - np.repeat(np.cumsum(taken) - taken, taken)
    right_positions = np.append(order, NONE)[np.where(np.repeat(found, taken) > 0,
                                                      np.repeat(starts[group], taken) + within, len(order))]
    return left_positions, right_positions


def taken(values: pd.Series, positions: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """The values at these positions, missing at ``NONE`` (as a merge's left join fills them)."""
    array = pd.api.extensions.take(values.array, positions, allow_fill=True)
    return pd.Series(array, index=index if index is not None else pd.RangeIndex(len(positions)), name=values.name)


def labels(names: list[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``names[code]`` for each code, as a string column: Arrow takes them, where numpy's strings would be converted
    one by one."""
    return pd.array(names, dtype="str").take(np.asarray(codes, dtype=np.int64))


def email_count(context: Context) -> int:
    return len(context.snapshot.tables["emails"]) if context.has("emails") else 0


def email_flags(context: Context, email_rows: pd.Series | np.ndarray) -> np.ndarray:
    """One flag per email of the snapshot (by row number): whether it is among ``email_rows``."""
    email_rows = np.asarray(email_rows, dtype=np.int64)
    flags = np.zeros(max(email_count(context), int(email_rows.max(initial=-1)) + 1), dtype=bool)
    flags[email_rows[email_rows >= 0]] = True
    return flags


def flagged(email_rows: pd.Series | np.ndarray, flags: np.ndarray) -> np.ndarray:
    """For each row number, whether that email is flagged."""
    email_rows = np.asarray(email_rows, dtype=np.int64)
    inside = (email_rows >= 0) & (email_rows < len(flags))
    return inside & flags[np.where(inside, email_rows, 0)]


def spread(found: pd.DataFrame, record: np.ndarray, frame: pd.DataFrame, queue: str | None = "queueid") -> pd.DataFrame:
    """Evidence rows rendered once per distinct record (``found``), given to each row of ``frame`` (``record``:
    the position of its record in ``found``) with the row's own email and queue: a sentence citing only the record
    is rendered once, not once per email."""
    if not len(frame):
        return empty_rows()
    missing = pd.Series(pd.NA, index=frame.index, dtype="str")
    return pd.DataFrame({"activityid": frame.get("activityid", missing).array,
                         "queue": frame[queue].array if queue else missing.array,
                         **{column: found[column].array.take(record) for column in ROW_COLUMNS[2:]}},
                        index=frame.index)


def about_queues(context: Context, frame: pd.DataFrame, code: Code,
                 values: Callable[[pd.Series], dict[str, pd.Series | str]]) -> pd.DataFrame:
    """Evidence about each row's queue (``queueid``) whose values cite the queue alone (``values`` of the queue
    ids): rendered once per queue, a tenant has a few."""
    record, queues = pd.factorize(frame["queueid"])
    queues = pd.Series(queues, dtype="str")
    found = rows(pd.DataFrame(index=queues.index), code, values(queues), about_id=queues,
                 about_name=context.queue_name(queues))
    return spread(found, record, frame)

