"""Evidence as values: what a cause found, as a code, the record it is about and the values it cites.

Each cause declares its evidence codes (``Code``): a stable id, a template of the sentence an admin reads, the
kind of record it is about, its severity in the fix plan and the fix. Detection emits rows of values; the text
is rendered from the template here, in one place, so the fix plan, masking, compare and every page read the
values and never parse a sentence back (Great Expectations' split of evaluated values from rendering).

Rows are long frames (``ROW_COLUMNS``): one per piece of evidence, with ``values`` as the JSON text of the
cited values (written as it is into the report) and ``text`` rendered from the template.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .json_columns import json_strings  # the report's JSON writer: strings are escaped one way everywhere

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
# What an entry can be about: a table of the snapshot, or a group of senders (no single record to open).
SENDERS = "senders"
SETTING_TABLE = "environmentvariabledefinitions"
ABOUT_TABLES = ("queues", "mailboxes", "convertrules", "systemusers", "workflows", "asyncoperations",
                SETTING_TABLE, "activitymonitors", SENDERS)
# Values that are customer data: masked in a shared report, then the text is rendered again.
ADDRESS_VALUES = frozenset({"sender", "recipients", "address"})
HIDDEN_VALUES = {"subject": "(subject hidden)", "customers": "(customer hidden)", "message_id": "(hidden)"}
ROW_COLUMNS = ["activityid", "queue", "code", "about_table", "about_id", "about_name", "values", "text"]
LEGACY = "text"  # the code of a sentence from a report saved before evidence had codes
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TEXT = pa.large_string()


@dataclass(frozen=True)
class Code:
    """One kind of evidence a cause emits.

    ``template`` names its values in braces (``"rule '{rule}' has no conditions"``); ``raw`` is the field it
    rests on, shown beside the words (``"allowunknownsender = false"``). ``about`` is the table of the record a
    fix-plan entry is about (``SENDERS`` for a group of senders: ``group`` names it). ``severity`` holds when
    the thing blocks counted emails; ``unproven`` when it blocks none (mail it stops may never reach Dataverse).
    ``stops_queue``: it stops every email of a queue (ranked first). ``fix`` is the fix-plan text (``{name}``:
    the record's name), else the cause's remediation."""

    code: str
    template: str
    about: str | None = None
    severity: Severity = "error"
    unproven: Severity = "warning"
    fix: str | None = None
    doc_url: str | None = None
    raw: str | None = None
    group: str | None = None
    stops_queue: bool = False

    def __post_init__(self) -> None:
        problems = [
            (not _SLUG.match(self.code), "code must be kebab-case"),
            (self.about is not None and self.about not in ABOUT_TABLES, f"about must be one of {ABOUT_TABLES}"),
            (self.severity not in SEVERITY_RANK or self.unproven not in SEVERITY_RANK, "unknown severity"),
            (self.about == SENDERS and not self.group, "a group of senders needs its name (group)"),
            (self.doc_url is not None and not self.doc_url.startswith("https://learn.microsoft.com/"),
             "doc_url must be on learn.microsoft.com"),
        ]
        wrong = [why for failed, why in problems if failed]
        if wrong:
            raise ValueError(f"evidence code {self.code!r}: " + "; ".join(wrong))

    @property
    def fields(self) -> tuple[str, ...]:
        return template_fields(self.template)


def template_fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


# --------------------------------------------------------------------------- rendering (the one place)

def render(template: str, values: dict[str, pd.Series | str], index: pd.Index) -> pd.Series:
    """The template filled row by row from value columns (whole columns: one join, no loop over rows)."""
    pieces: list[pa.Array | str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if name:
            value = values[name]
            pieces.append(value if isinstance(value, str) else _text(value.astype("str").fillna("(empty)")))
    return _joined(pieces, index)


def render_one(template: str, values: dict) -> str:
    """One sentence from its values (a masked report renders its evidence again)."""
    shown = {name: "(empty)" if values.get(name) is None else str(values.get(name))
             for name in template_fields(template)}
    return template.format_map(shown)


def values_json(values: dict[str, pd.Series | str], index: pd.Index) -> pd.Series:
    """The JSON object of the cited values per row, from columns (Arrow writes each string's JSON)."""
    pieces: list[pa.Array | str] = []
    for number, (name, value) in enumerate(values.items()):
        column = pd.Series(value, index=index) if isinstance(value, str) else value
        prefix = ("{" if number == 0 else ",") + orjson.dumps(name).decode() + ":"
        pieces.append(json_strings(_text(column.astype("str")), prefix))
    pieces.append("}" if values else "{}")
    return _joined(pieces, index)


def _text(column: pd.Series) -> pa.Array:
    return pa.array(column.array, from_pandas=True).cast(_TEXT)


def _joined(pieces: list[pa.Array | str], index: pd.Index) -> pd.Series:
    """The pieces (text arrays and literals) joined row by row, as one text column on ``index``."""
    arrays = [piece for piece in pieces if not isinstance(piece, str)]
    if not arrays:
        return pd.Series("".join(pieces), index=index, dtype="str")  # type: ignore[arg-type]
    joined = pc.binary_join_element_wise(*[pa.scalar(piece, _TEXT) if isinstance(piece, str) else piece
                                           for piece in pieces if not isinstance(piece, str) or piece],
                                         pa.scalar("", _TEXT))
    return pd.Series(pd.array(joined, dtype="str"), index=index, copy=False)


def rows(frame: pd.DataFrame, code: Code, values: dict[str, pd.Series | str], *, about_id: pd.Series | None = None,
         about_name: pd.Series | str | None = None, queue: str | None = "queueid") -> pd.DataFrame:
    """Evidence rows of ``code`` for the rows of ``frame`` (its ``activityid``, or none for a finding)."""
    unknown = set(code.fields) - set(values)
    if unknown:
        raise KeyError(f"evidence code {code.code!r}: no value for {sorted(unknown)}")
    if not len(frame.index):  # most checks find nothing: no columns to build
        return empty_rows()
    index = frame.index
    name = code.group if code.about == SENDERS else about_name
    return pd.DataFrame({
        "activityid": _column(frame.get("activityid"), index),
        "queue": _column(frame[queue] if queue and queue in frame else None, index),
        "code": _column(code.code, index),
        "about_table": _column(code.about, index),
        "about_id": _column(about_id, index),
        "about_name": _column(name, index),
        "values": values_json(values, index),
        "text": render(code.template, values, index),
    }, index=index, copy=False)


def _column(value: pd.Series | str | None, index: pd.Index) -> pd.Series:
    """A text column on ``index``: a column's values by position, one text repeated, or missing."""
    if value is None:
        return pd.Series(pd.array(pa.nulls(len(index), _TEXT), dtype="str"), index=index, copy=False)
    if isinstance(value, str):
        repeated = pa.array([value], _TEXT).take(np.zeros(len(index), dtype=np.int64))
        return pd.Series(pd.array(repeated, dtype="str"), index=index, copy=False)
    return value.astype("str").set_axis(index)


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="str") for column in ROW_COLUMNS})


# --------------------------------------------------------------------------- items (the JSON objects)

def item(code: str, text: str, values: dict | None = None, about: dict | None = None) -> dict:
    return {"code": code, "about": about, "values": values or {}, "text": text}


def as_item(value: object) -> dict:
    """An evidence item, from an item or from a sentence of a report saved before evidence had codes."""
    if isinstance(value, dict) and "text" in value:
        return {"code": value.get("code") or LEGACY, "about": value.get("about"),
                "values": value.get("values") or {}, "text": str(value["text"])}
    return item(LEGACY, "" if value is None else str(value))


def text_of(value: object) -> str:
    """The sentence of an item (or of an old report's sentence)."""
    return as_item(value)["text"]


def about_of(table: object, record_id: object, name: object) -> dict | None:
    if table is None or table is pd.NA or (isinstance(table, float) and table != table):
        return None
    return {"table": str(table), "id": _plain(record_id), "name": _plain(name)}


def _plain(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)


def items_of(frame: pd.DataFrame) -> list[dict]:
    """The JSON objects of evidence rows (a handful: findings, one email's causes)."""
    return [item(code, text, orjson.loads(values), about_of(table, record_id, name))
            for code, text, values, table, record_id, name in zip(
                frame["code"].tolist(), frame["text"].tolist(), frame["values"].tolist(),
                frame["about_table"].tolist(), frame["about_id"].tolist(), frame["about_name"].tolist(), strict=True)]


def finding_dicts(cause: object, frame: pd.DataFrame) -> list[dict]:
    """A cause's finding rows as environment findings, one per (scope, subject). The severity here is the worst
    its codes have when no email is counted; the fix plan sets the one every page shows."""
    if frame.empty:
        return []
    found = []
    for (scope, subject), group in frame.groupby(["scope", "subject"], sort=True):  # a handful
        codes = [cause.code(code) for code in group["code"]]
        worst = min((SEVERITY_RANK[code.unproven] for code in codes if code), default=SEVERITY_RANK["warning"])
        found.append({"id": cause.id, "scope": str(scope), "subject": str(subject),
                      "severity": next(name for name, rank in SEVERITY_RANK.items() if rank == worst),
                      "evidence": items_of(group)})
    return found


def render_fix(template: str, name: object) -> str:
    """A fix-plan text with the record's name (fix texts may hold braces of the product's own, like
    {Sender (Email)}: only ``{name}`` is filled)."""
    return template.replace("{name}", f"'{name}'")
