"""Row numbers of the snapshot's emails, so that "is this email among those" is an array lookup.

Hashing a column of 36-character ids costs about 30 ms per 200,000 values, and Arrow's ``is_in``
builds its hash set again on every call. The evaluation asks that question dozens of times, about
the same few columns (activity parties, queue items, activity monitor rows, replies...): each column
is looked up once here, and every later question is a boolean array indexed by row number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .normalize import STR, arrow_text

NOT_AN_EMAIL = -1


class EmailRows:
    """The emails of one table (ids unique, as the loader checks), numbered by position."""

    def __init__(self, ids: pd.Series) -> None:
        self._ids = arrow_text(ids)
        self.count = len(ids)

    def of(self, ids: pd.Series) -> np.ndarray:
        """The row number of each id, ``NOT_AN_EMAIL`` for an id that is no email of the table."""
        found = pc.index_in(arrow_text(ids), value_set=self._ids)
        return found.fill_null(NOT_AN_EMAIL).to_numpy().astype(np.int64, copy=False)

    def ids(self, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """The id of each row number (rows of the table's emails)."""
        return STR.__from_arrow__(self._ids.take(pa.array(rows)))

    def mark(self, rows: np.ndarray) -> np.ndarray:
        """One flag per email: whether its row number is among ``rows``."""
        flags = np.zeros(self.count, dtype=bool)
        flags[rows[rows != NOT_AN_EMAIL]] = True
        return flags

    def among(self, rows: np.ndarray, flags: np.ndarray) -> np.ndarray:
        """For each row number, whether that email is flagged (never for ``NOT_AN_EMAIL``)."""
        if not self.count:
            return np.zeros(len(rows), dtype=bool)
        return (rows != NOT_AN_EMAIL) & flags[rows]  # flags[-1] is read but masked out


