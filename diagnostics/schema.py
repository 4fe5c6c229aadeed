"""The Dataverse columns the diagnostics read, per Web API entity set, and their pydantic models.

Only the columns listed here are validated and kept; unknown columns are ignored. Every table is
described once, as column -> kind, and the pydantic models (TypedDicts, which validate from JSON bytes
in pydantic-core without building intermediate dicts) are derived from that description.

Kinds: ``key`` (the primary key GUID), ``lookup`` (a ``_x_value`` GUID, kept as column ``x``, with its
``lookuplogicalname`` annotation kept as ``x_type``), ``str``, ``int``, ``bool``, ``date`` (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

LOOKUP_TYPE = "@Microsoft.Dynamics.CRM.lookuplogicalname"

TABLES: dict[str, dict[str, str]] = {
    "emails": {
        "activityid": "key", "subject": "str", "messageid": "str", "inreplyto": "str",
        "directioncode": "bool", "correlationmethod": "int", "sender": "str", "torecipients": "str",
        "isduplicatesenderunresolved": "bool", "createdon": "date", "regardingobjectid": "lookup",
        "parentactivityid": "lookup", "correlatedactivityid": "lookup", "receivingmailboxid": "lookup",
        "statuscode": "int", "acceptingentityid": "lookup",
    },
    "activityparties": {
        "activitypartyid": "key", "activityid": "lookup", "partyid": "lookup",
        "participationtypemask": "int", "addressused": "str",
    },
    "queues": {
        "queueid": "key", "name": "str", "emailaddress": "str", "statecode": "int",
        "incomingemaildeliverymethod": "int", "incomingemailfilteringmethod": "int",
        "emailrouteraccessapproval": "int", "defaultmailbox": "lookup",
    },
    "queueitems": {
        "queueitemid": "key", "objectid": "lookup", "queueid": "lookup", "statecode": "int",
    },
    "convertrules": {
        "convertruleid": "key", "name": "str", "queueid": "lookup", "statecode": "int",
        "sourcetypecode": "int", "allowunknownsender": "bool", "ownerid": "lookup", "workflowid": "lookup",
        "checkifresolved": "bool", "resolvedsince": "int", "checkactiveentitlement": "bool",
    },
    "convertruleitems": {
        "convertruleitemid": "key", "convertruleid": "lookup", "name": "str", "workflowid": "lookup",
    },
    "activitymonitors": {
        "activitymonitorid": "key", "ruleid": "lookup", "monitoredactivityitemid": "lookup",
        "currentstate": "int", "reason": "int", "contactcreatedbyrule": "bool", "recommendation": "str",
        "createdon": "date",
    },
    "asyncoperations": {
        "asyncoperationid": "key", "name": "str", "statuscode": "int", "message": "str",
        "friendlymessage": "str", "regardingobjectid": "lookup", "createdon": "date",
    },
    "workflows": {"workflowid": "key", "name": "str", "category": "int", "statecode": "int"},
    "mailboxes": {
        "mailboxid": "key", "name": "str", "emailaddress": "str", "regardingobjectid": "lookup",
        "incomingemaildeliverymethod": "int", "incomingemailstatus": "int",
        "emailrouteraccessapproval": "int", "enabledforincomingemail": "bool", "lastsyncerror": "str",
        "lastsuccessfulsynccompletedon": "date",
    },
    "contacts": {
        "contactid": "key", "fullname": "str", "emailaddress1": "str", "emailaddress2": "str",
        "emailaddress3": "str", "statecode": "int", "createdon": "date",
    },
    "accounts": {
        "accountid": "key", "name": "str", "emailaddress1": "str", "emailaddress2": "str",
        "emailaddress3": "str", "statecode": "int", "createdon": "date",
    },
    "systemusers": {
        "systemuserid": "key", "fullname": "str", "isdisabled": "bool", "internalemailaddress": "str",
    },
    "environmentvariabledefinitions": {
        "environmentvariabledefinitionid": "key", "schemaname": "str", "defaultvalue": "str",
    },
    "environmentvariablevalues": {
        "environmentvariablevalueid": "key", "environmentvariabledefinitionid": "lookup",
        "schemaname": "str", "value": "str",
    },
    "incidents": {"incidentid": "key", "title": "str", "statecode": "int", "deactivatedon": "date"},
    # Optional: when a case was resolved, on versions whose incidents lack deactivatedon (contract, third round 13).
    "incidentresolutions": {"activityid": "key", "incidentid": "lookup", "statecode": "int", "createdon": "date"},
}

# Lookups whose target table matters to the evaluation keep their lookuplogicalname annotation.
TYPED_LOOKUPS = {("emails", "regardingobjectid"), ("emails", "acceptingentityid"), ("activityparties", "partyid"),
                 ("mailboxes", "regardingobjectid"), ("asyncoperations", "regardingobjectid")}

_PY_TYPES: dict[str, Any] = {"key": str, "str": str, "lookup": str, "date": str, "int": int, "bool": bool}

# Numbers where text is expected (a subject "4711" sent as a number) are accepted as text.
_CONFIG = ConfigDict(coerce_numbers_to_str=True)


def raw_name(table: str, column: str) -> str:
    """The Web API name of a column: lookups are ``_x_value``."""
    return f"_{column}_value" if TABLES[table][column] == "lookup" else column


def _optional(py_type: Any, alias: str | None = None) -> Any:
    """Every column is optional and filled with None, so each row dict has every key in column order."""
    return Annotated[py_type | None, Field(default=None, alias=alias)]


def _row_model(table: str) -> type:
    fields: dict[str, Any] = {}
    for column, kind in TABLES[table].items():
        name = raw_name(table, column)
        fields[column] = _optional(_PY_TYPES[kind], alias=name if name != column else None)
        if (table, column) in TYPED_LOOKUPS:
            fields[f"{column}_type"] = _optional(str, alias=name + LOOKUP_TYPE)
    model = TypedDict(f"{table}_row", fields)  # type: ignore[misc]
    model.__pydantic_config__ = _CONFIG  # type: ignore[attr-defined]
    return model


ROW_MODELS: dict[str, type] = {table: _row_model(table) for table in TABLES}


def _email_row_with_parties() -> type:
    """Emails may carry their parties expanded (``$expand=email_activity_parties``)."""
    fields = dict(ROW_MODELS["emails"].__annotations__)
    party = ROW_MODELS["activityparties"]
    fields["email_activity_parties"] = Annotated[list[party] | None, Field(default=None)]  # type: ignore[valid-type]
    model = TypedDict("emails_row_expanded", fields)  # type: ignore[misc]
    model.__pydantic_config__ = _CONFIG  # type: ignore[attr-defined]
    return model


def _page_model(row: type) -> type:
    return TypedDict(f"{row.__name__}_page", {"value": list[row]})  # type: ignore[misc,valid-type]


class _Adapters(Mapping[str, TypeAdapter]):
    """A table's TypeAdapter, built on first use: pydantic reads only the pages Arrow's fast path refuses
    (and the CMT records), while building every adapter would cost each start ~25 ms."""

    def __init__(self, shape: Callable[[type], Any]) -> None:
        self._shape = shape
        self._built: dict[str, TypeAdapter] = {}

    def __getitem__(self, table: str) -> TypeAdapter:
        if table not in self._built:
            self._built[table] = TypeAdapter(self._shape(_ROWS[table]))
        return self._built[table]

    def __iter__(self) -> Iterator[str]:
        return iter(_ROWS)

    def __len__(self) -> int:
        return len(_ROWS)


def _entities_model(row: type) -> type:
    return TypedDict(f"{row.__name__}_entities", {"entities": list[row]})  # type: ignore[misc,valid-type]


_ROWS = {**ROW_MODELS, "emails": _email_row_with_parties()}
PAGE_ADAPTERS = _Adapters(_page_model)
LIST_ADAPTERS = _Adapters(lambda row: list[row])  # type: ignore[valid-type]
# Rarer shapes of a saved page: Xrm.WebApi.retrieveMultipleRecords output, and one record ($entity).
ENTITIES_ADAPTERS = _Adapters(_entities_model)
ROW_ADAPTERS = _Adapters(lambda row: row)


def columns(table: str) -> list[str]:
    """The frame columns of a table after loading (lookup annotations as ``x_type``)."""
    names: list[str] = []
    for column in TABLES[table]:
        names.append(column)
        if (table, column) in TYPED_LOOKUPS:
            names.append(f"{column}_type")
    return names


def key_column(table: str) -> str:
    return next(column for column, kind in TABLES[table].items() if kind == "key")
