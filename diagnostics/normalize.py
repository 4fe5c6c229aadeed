"""Normalisation of addresses, message ids and GUIDs, as the contract defines them.

Each rule exists twice: a scalar function for single values (headers, tests) and a vectorised one
for whole pandas columns (the engine). Both apply the same steps in the same order.
"""

from __future__ import annotations

from email.utils import parseaddr

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def address_key(value: str | None) -> str | None:
    """Lower-cased, trimmed address without display name or angle brackets."""
    if not isinstance(value, str) or not value.strip():
        return None
    _, address = parseaddr(value)
    address = (address or value).strip().strip("<>").strip().lower()
    return address or None


def message_id_key(value: str | None) -> str | None:
    """Message id without angle brackets and surrounding white space, lower-cased."""
    if not isinstance(value, str):
        return None
    key = value.strip().strip("<>").strip().lower()
    return key or None


def guid_key(value: str | None) -> str | None:
    """GUID lower-cased, without braces."""
    if not isinstance(value, str):
        return None
    key = value.strip().strip("{}").lower()
    return key or None


def address_column(values: pd.Series) -> pd.Series:
    """Vectorised `address_key`: keeps the part in angle brackets when there is one."""
    text = values.astype("str").str.strip()
    bracketed = text.str.endswith(">").fillna(False).astype(bool)  # the (costly) regex only where it can match
    if bracketed.any():
        text = text.mask(bracketed, text[bracketed].str.replace(r"^.*<([^<>]*)>$", r"\1", regex=True))
    text = text.str.strip().str.strip("<>").str.strip().str.lower()
    return text.where(text.str.len() > 0)


def message_id_column(values: pd.Series) -> pd.Series:
    """Vectorised `message_id_key`."""
    text = values.astype("str").str.strip().str.strip("<>").str.strip().str.lower()
    return text.where(text.str.len() > 0)


def guid_column(values: pd.Series) -> pd.Series:
    """Vectorised `guid_key`."""
    text = values.astype("str").str.strip().str.strip("{}").str.lower()
    return text.where(text.str.len() > 0)


def isin(values: pd.Series, allowed: pd.Series | pd.Index | list) -> pd.Series:
    """``values.isin(allowed)`` for string columns through Arrow's hash set.

    pandas' own ``isin`` on Arrow-backed strings converts ``allowed`` to Python objects first, which
    costs seconds at a few hundred thousand ids. Missing values never match.
    """
    left = pa.array(_as_str(values).array)
    right = pa.array(_as_str(pd.Series(allowed)).dropna().unique())
    found = pc.is_in(left, value_set=right, skip_nulls=True)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def _as_str(values: pd.Series) -> pd.Series:
    return values if values.dtype == "str" else values.astype("str")


def group_lists(keys: pd.Series, values: pd.Series) -> pd.Series:
    """The values of each key as a list (in their order of appearance), indexed by key.

    One factorize and one stable sort instead of a pandas groupby with a Python aggregation, which
    builds a Series per group.
    """
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]
    if len(order) == 0:
        return pd.Series([], dtype=object)
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    flat = values.to_numpy(dtype=object)[order].tolist()  # slicing a list beats np.split's array per group
    lists = [flat[start:end] for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(flat)], strict=True)]
    return pd.Series(lists, index=uniques.take(sorted_codes[starts]), dtype=object)


def joined_by_key(keys: pd.Series, values: pd.Series, separator: str = ", ", distinct: bool = True) -> pd.Series:
    """The text values of each key, sorted (and without repeats when ``distinct``), joined into one string;
    indexed by key. Arrow joins every group in one call."""
    frame = pd.DataFrame({"key": _as_str(keys).array, "value": _as_str(values).array}).dropna()
    if distinct:
        frame = frame.drop_duplicates()
    if frame.empty:
        return pd.Series([], dtype="str", index=pd.Index([], dtype="str"))
    frame = frame.sort_values(["key", "value"], kind="stable")
    sorted_keys = frame["key"].to_numpy()
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    offsets = pa.array(np.r_[starts, len(frame)].astype(np.int32))
    groups = pa.ListArray.from_arrays(offsets, pa.array(frame["value"].array, pa.string()))
    joined = pc.binary_join(groups, separator)
    return pd.Series(pd.array(joined, dtype="str"), index=pd.Index(frame["key"].array[starts]), dtype="str")
