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

STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str" dtype, backed by Arrow


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
    return _str_series(address_array(arrow_text(values)), values.index)


def message_id_column(values: pd.Series) -> pd.Series:
    """Vectorised `message_id_key`."""
    return _str_series(message_id_array(arrow_text(values)), values.index)


def guid_column(values: pd.Series) -> pd.Series:
    """Vectorised `guid_key`."""
    return _str_series(guid_array(arrow_text(values)), values.index)


# The same rules on Arrow string arrays, with the kernels pandas' own ``.str`` methods call
# (strip -> utf8_trim_whitespace, strip(chars) -> utf8_trim, lower -> utf8_lower), so results are identical.
# Each kernel writes a new copy of the column; values the rules would leave as they are (Dataverse's
# lower-case GUIDs, most addresses) are recognised from their bytes first and kept.

_CAPITALS = (0x41, 0x5A)
_ANGLE_BRACKETS = (0x3C, 0x3E)  # < = >


def address_array(text: pa.Array) -> pa.Array:
    if not _only_bytes(text, 0x21, 0x7E, _CAPITALS, _ANGLE_BRACKETS):  # a display name, spaces, capitals...
        text = pc.utf8_trim_whitespace(text)
        bracketed = pc.fill_null(pc.ends_with(text, ">"), False)  # the (costly) regex only where it can match
        if pc.any(bracketed).as_py():
            inside = pc.replace_substring_regex(text.filter(bracketed), r"^.*<([^<>]*)>$", r"\1")
            text = pc.replace_with_mask(text, bracketed, inside)
        text = lower_array(pc.utf8_trim_whitespace(pc.utf8_trim(pc.utf8_trim_whitespace(text), "<>")))
    return _non_empty(text)


def message_id_array(text: pa.Array) -> pa.Array:
    inner = _without_angle_brackets(text)
    if inner is None:
        inner = pc.utf8_trim_whitespace(pc.utf8_trim(pc.utf8_trim_whitespace(text), "<>"))
    return _non_empty(lower_array(inner))


_BRACES = ((0x7B, 0x7B), (0x7D, 0x7D))


def guid_array(text: pa.Array) -> pa.Array:
    if not _only_bytes(text, 0x21, 0x7A, _CAPITALS):  # braces ({ is 0x7b), spaces or capitals somewhere
        if _only_bytes(text, 0x21, 0x7E, *_BRACES):  # upper-case GUIDs: nothing to trim, ASCII to lower
            text = pc.ascii_lower(text)
        else:
            text = lower_array(pc.utf8_trim(pc.utf8_trim_whitespace(text), "{}"))
    return _non_empty(text)


def _without_angle_brackets(text: pa.Array) -> pa.Array | None:
    """Message ids as mail servers write them, every one ``<id@host>`` (or every one bare ``id@host``), with their
    angle brackets cut off in one copy: what the trims give when no value has white space or a bracket next to
    its ends. None when some value needs the trims (or the array is not one plain large_string buffer)."""
    if text.type != pa.large_string() or text.offset or text.buffers()[2] is None:
        return None
    offsets = np.frombuffer(text.buffers()[1], np.int64, count=len(text) + 1)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts  # a missing value (no bytes) and an empty one stay as they are
    if text.null_count and filled[~text.is_valid().to_numpy(zero_copy_only=False)].any():
        return None
    data = np.frombuffer(text.buffers()[2], np.uint8)
    first, last = starts[filled], ends[filled] - 1
    bracketed = bool(len(first)) and data[first[0]] == _ANGLE_BRACKETS[0]
    if bracketed:
        if not ((data[first] == _ANGLE_BRACKETS[0]) & (data[last] == _ANGLE_BRACKETS[1])).all():
            return None
        first, last = first + 1, last - 1
    if not ((first <= last).all() and _clean_end(data[first]).all() and _clean_end(data[last]).all()):
        return None
    return pc.utf8_slice_codeunits(text, 1, -1) if bracketed else text  # ASCII ends: one code unit is one byte


def _clean_end(bytes_: np.ndarray) -> np.ndarray:
    """Bytes no trim removes or stops at: printable ASCII other than a space and an angle bracket."""
    return (bytes_ >= 0x21) & (bytes_ <= 0x7E) & (bytes_ != _ANGLE_BRACKETS[0]) & (bytes_ != _ANGLE_BRACKETS[1])


def lower_array(text: pa.Array) -> pa.Array:
    """pandas' ``str.lower``: the same array when no value has a capital, ASCII lowered without Unicode tables."""
    if _only_bytes(text, 0, 0x7F, _CAPITALS):
        return text
    return pc.ascii_lower(text) if _only_bytes(text, 0, 0x7F) else pc.utf8_lower(text)


def _non_empty(text: pa.Array) -> pa.Array:
    """Empty strings become missing values."""
    empty = pc.equal(pc.binary_length(text), 0)
    return pc.if_else(empty, pa.scalar(None, text.type), text) if pc.any(empty).as_py() else text


_BLOCK = 1 << 20  # bytes checked at a time: the scratch space stays in the cache


def _only_bytes(text: pa.Array, low: int, high: int, *gaps: tuple[int, int]) -> bool:
    """Whether every byte of the values lies in [low, high] and in none of the gaps (False when unsure)."""
    if text.type != pa.large_string() or text.buffers()[2] is None:
        return text.type == pa.large_string()  # no bytes at all: nothing to change
    offsets = np.frombuffer(text.buffers()[1], np.int64, count=len(text) + 1, offset=text.offset * 8)
    data = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    scratch = np.empty(min(len(data), _BLOCK), np.uint8)
    for start in range(0, len(data), _BLOCK):
        block = data[start:start + _BLOCK]
        shifted = scratch[:len(block)]
        if np.subtract(block, low, out=shifted).max() > high - low:  # bytes wrap around: one test per range
            return False
        if any(np.subtract(block, gap_low, out=shifted).min() <= gap_high - gap_low for gap_low, gap_high in gaps):
            return False
    return True


def arrow_text(values: pd.Series) -> pa.Array:
    """The column's values as one Arrow string array (no copy when it already is one chunk of one)."""
    chunks = pa.chunked_array(_as_str(values).array.__arrow_array__())
    return chunks.chunk(0) if chunks.num_chunks == 1 else chunks.combine_chunks()


def _str_series(text: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(STR.__from_arrow__(text), index=index, copy=False)


def isin(values: pd.Series, allowed: pd.Series | pd.Index | list) -> pd.Series:
    """``values.isin(allowed)`` for string columns through Arrow's hash set.

    pandas' own ``isin`` on Arrow-backed strings converts ``allowed`` to Python objects first, which
    costs seconds at a few hundred thousand ids. Missing values never match.
    """
    left = pa.array(_as_str(values).array)
    right = arrow_text(pd.Series(allowed))  # one hash set: is_in keeps each value once and skips nulls
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


def run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def joined_by_key(keys: pd.Series, values: pd.Series, separator: str = ", ", distinct: bool = True) -> pd.Series:
    """The text values of each key, sorted (and without repeats when ``distinct``), joined into one string;
    indexed by key. Arrow joins every group in one call."""
    frame = pd.DataFrame({"key": _as_str(keys).array, "value": _as_str(values).array}).dropna()
    if distinct:
        frame = frame.drop_duplicates()
    if frame.empty:
        return pd.Series([], dtype="str", index=pd.Index([], dtype="str"))
    frame = frame.sort_values(["key", "value"], kind="stable")
    starts = run_starts(frame["key"].to_numpy())
    offsets = pa.array(np.r_[starts, len(frame)].astype(np.int32))
    groups = pa.ListArray.from_arrays(offsets, arrow_text(frame["value"]))
    joined = pc.binary_join(groups, pa.scalar(separator, groups.type.value_type))
    return pd.Series(pd.array(joined, dtype="str"), index=pd.Index(frame["key"].array[starts]), dtype="str")


def utc_minutes(dates: pd.Series) -> pd.Series:
    """Each date as strftime's '%Y-%m-%d %H:%M' of its UTC time, written by numpy (strftime formats row by row)."""
    if getattr(dates.dtype, "tz", None) is None or str(dates.dtype.tz) != "UTC":
        return dates.dt.strftime("%Y-%m-%d %H:%M")
    text = np.datetime_as_string(dates.dt.tz_localize(None).to_numpy().astype("datetime64[m]"))
    text = pc.replace_substring(pa.array(text, pa.large_string()), "T", " ", max_replacements=1)
    return pd.Series(pd.array(text, dtype="str"), index=dates.index).where(dates.notna().to_numpy())
