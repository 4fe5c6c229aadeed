"""Normalisation of addresses, message ids and GUIDs, as the contract defines them.

Each rule exists twice: a scalar function for single values (headers, tests) and a vectorised one
for whole pandas columns (the engine). Both apply the same steps in the same order.
"""

from __future__ import annotations

from email.utils import parseaddr

import pandas as pd


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
    bracketed = text.str.extract(r"<([^<>]*)>\s*$", expand=False)
    text = bracketed.where(bracketed.notna(), text)
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
