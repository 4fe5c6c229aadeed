"""The column helpers the evaluation relies on: email row numbers and texts joined per key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics.email_rows import NOT_AN_EMAIL, EmailRows
from diagnostics.normalize import joined_by_key

IDS = pd.Series(["a", "b", "c", "d"], dtype="str")


@pytest.mark.parametrize(("asked", "rows"), [
    (["c", "a", "c"], [2, 0, 2]),
    (["z", None, "b"], [NOT_AN_EMAIL, NOT_AN_EMAIL, 1]),
    ([], []),
])
def test_row_numbers_of_ids(asked, rows):
    assert EmailRows(IDS).of(pd.Series(asked, dtype="str")).tolist() == rows


def test_mark_and_among_ignore_ids_that_are_no_email():
    emails = EmailRows(IDS)
    rows = emails.of(pd.Series(["b", "nope", "d"], dtype="str"))
    flags = emails.mark(rows)
    assert flags.tolist() == [False, True, False, True]
    assert emails.among(rows, flags).tolist() == [True, False, True]
    # the last email flagged must not leak into ids that are no email (row -1 reads the last flag)
    assert emails.among(np.array([NOT_AN_EMAIL]), np.array([False, False, False, True])).tolist() == [False]


def test_an_empty_emails_table_answers_no():
    emails = EmailRows(pd.Series([], dtype="str"))
    rows = emails.of(pd.Series(["a"], dtype="str"))
    assert emails.among(rows, emails.mark(rows)).tolist() == [False]


@pytest.mark.parametrize(("keys", "values", "distinct", "expected"), [
    (["x", "y", "x", "x"], ["b", "c", "a", "b"], True, {"x": "a, b", "y": "c"}),
    (["x", "y", "x", "x"], ["b", "c", "a", "b"], False, {"x": "a, b, b", "y": "c"}),
    (["x", "x", "y"], ["é", "e", None], True, {"x": "e, é"}),  # code point order; missing values dropped
    ([], [], True, {}),
])
def test_joined_by_key(keys, values, distinct, expected):
    joined = joined_by_key(pd.Series(keys, dtype="str"), pd.Series(values, dtype="str"), distinct=distinct)
    assert joined.to_dict() == expected
    assert joined.equals(joined_by_key(pd.Series(keys[::-1], dtype="str"), pd.Series(values[::-1], dtype="str"),
                                       distinct=distinct))  # the order of the rows does not matter
