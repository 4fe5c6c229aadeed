"""A local stand-in for the Dataverse Web API, serving a snapshot's records on 127.0.0.1.

What a pull relies on is done as Dataverse does it: ``$select`` (selected columns only, the key and
``@odata.etag`` always, a selected column absent from a record as null), ``$filter`` (comparisons,
``and``/``or``/``not``, parentheses, a single-valued navigation such as ``activityid_email/createdon``, and
``any`` over the collection-valued ``Incident_Emails``),
``Prefer: odata.maxpagesize`` and ``odata.include-annotations`` (annotations only when asked),
``@odata.nextLink`` with a ``$skiptoken`` paging cookie, ``modifiedon`` on every record, and ``401``
with Dataverse's error body without the right bearer token. Faults can be injected per table and page: ``429`` with
``Retry-After``, ``503``, ``403``, ``400``, a dropped connection, an answer that never ends.

``latency`` (seconds per page) and ``per_row`` (seconds per row of the page) make each answer as slow as a real
organisation's; ``in_flight`` and ``most_in_flight`` count the requests being answered at once, and every request
is logged with when it came and when it was answered. ``serving_seconds`` adds up the time spent answering (the
delays left out), for the benchmark's overhead figure.
"""

from __future__ import annotations

import bisect
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson

from diagnostics.demo import ENTITY_SETS

API = "/api/data/v9.2/"
TOKEN = "stand-in-token"
UNAUTHORIZED = {"code": "0x80072560", "message": "The user is not a member of the organization."}
FORBIDDEN = {"code": "0x80040220", "message": "Principal user (Id=5e0c6c4f-0000-0000-0000-000000000000, type=8) "
             "is missing prvReadEmail privilege on OTC=4202 for entity 'email'."}
THROTTLED = {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000 over time window of "
             "300 seconds."}
UNAVAILABLE = {"code": "0x80040216", "message": "The service is temporarily unavailable."}
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_WINDOW = re.compile(r"(?P<path>[A-Za-z_][\w/]*) ge (?P<low>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) and "
                     r"(?P=path) lt (?P<high>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")
PAGE_FILE = re.compile(r"^(?P<set>[a-z]+)(?:\.(?P<page>\d+))?\.json$")


@dataclass
class Fault:
    """Answer the ``page`` of ``table`` (any when None) badly, ``times`` times: ``429``, ``503``, ``403``, ``404``,
    ``400``, ``drop`` (the connection is reset) or ``hang`` (headers, part of the body, then silence)."""

    kind: str
    table: str | None = None
    page: int | None = None
    times: int = 1
    retry_after: str = "1"
    message: str = ""  # the 400's message, when not the default one

    def matches(self, table: str, page: int) -> bool:
        return self.times > 0 and self.table in (None, table) and self.page in (None, page)


class StandIn:
    """``with StandIn(files) as server: server.url`` serves the records of ``files`` (name -> JSON page)."""

    def __init__(self, files: dict[str, bytes], token: str = TOKEN, latency: float = 0.0, per_row: float = 0.0,
                 dop_hint: int | None = None):
        self.tables = _records(files)
        self.token = token
        self.latency, self.per_row = latency, per_row
        self.dop_hint = dop_hint  # sent as x-ms-dop-hint (Dataverse's recommended requests at once) when set
        self.faults: list[Fault] = []
        # table, page, prefer, query, status, came and answered (time.monotonic()) of every request
        self.requests: list[dict] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.serving_seconds = 0.0
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # the answers being computed
        self._counting = threading.Lock()  # the requests in flight
        self._results: dict[tuple, tuple[list[int], dict[str, int]]] = {}
        self._indexes: dict[tuple, tuple[list[datetime], list[int]]] = {}
        self._serialised: dict[tuple, list[bytes]] = {}
        self._keys: dict[str, dict] | None = None
        self._collections: dict[str, dict[str, list[dict]]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def change(self, table: str, match: Callable[[dict], bool], **values: object) -> int:
        """Change the records of ``table`` that ``match`` (as an admin would in Dataverse); how many changed."""
        with self._lock:
            changed = [record for record in self.tables[table] if match(record)]
            for record in changed:
                record.update(values)
            self._results.clear()  # answers computed before the change are stale
            self._indexes.clear()
            self._collections.clear()
            self._keys = None
        return len(changed)

    def fault(self, table: str, page: int) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(table, page):
                    fault.times -= 1
                    return fault
        return None

    def rows(self, table: str, select: list[str] | None, filter_text: str | None, annotated: bool) -> list[dict]:
        """The records a query returns, as it returns them (every page of it)."""
        key, records = _key_column(table, self.tables[table]), self.tables[table]
        return [_project(records[index], key, select, annotated) for index in self.query(table, filter_text)[0]]

    def query(self, table: str, filter_text: str | None) -> tuple[list[int], dict[str, int]]:
        """The positions of the records a ``$filter`` keeps, and where each key is among them (computed once per
        filter; a page projects only its own records, as a database reads only the rows it returns)."""
        with self._lock:
            if (table, filter_text) not in self._results:
                key = _key_column(table, self.tables[table])
                positions = self._matches(table, filter_text)
                keys = {str(self.tables[table][position].get(key)).lower(): index
                        for index, position in enumerate(positions)}
                self._results[(table, filter_text)] = (positions, keys)
            return self._results[(table, filter_text)]

    def _matches(self, table: str, filter_text: str | None) -> list[int]:
        """The positions of the records a ``$filter`` keeps. A time window (``path ge T1 and path lt T2``) is
        found in an index of the rest of the filter by date, as a database's index would: reading a large table
        in windows then costs the stand-in no more than reading it whole."""
        window = _window_of(filter_text or "")
        if not window:
            matches = parse_filter(filter_text, self.resolve, self.collection) if filter_text else (lambda _row: True)
            return [index for index, row in enumerate(self.tables[table]) if matches(row)]
        rest = filter_text[:window.start()] + "true eq true" + filter_text[window.end():]
        dates, positions = self._dated(table, rest, window["path"])
        low, high = (datetime.fromisoformat(window[bound].replace("Z", "+00:00")) for bound in ("low", "high"))
        return sorted(positions[bisect.bisect_left(dates, low):bisect.bisect_left(dates, high)])

    def _dated(self, table: str, rest: str, path: str) -> tuple[list[datetime], list[int]]:
        """The records the filter keeps (without its window), sorted by the window's date, with their positions."""
        index_key = (table, rest, path)
        if index_key not in self._indexes:
            matches, value = parse_filter(rest, self.resolve, self.collection), _path(path, self.resolve)
            dated = []
            for position, row in enumerate(self.tables[table]):
                moment = value(row)
                if isinstance(moment, str) and moment and matches(row):
                    dated.append((datetime.fromisoformat(moment.replace("Z", "+00:00")), position))
            dated.sort()
            self._indexes[index_key] = ([moment for moment, _ in dated], [position for _, position in dated])
        return self._indexes[index_key]

    def forget(self) -> None:
        """Drop the answers computed so far (a benchmark's runs each start cold); what ``warm`` built stays."""
        with self._lock:
            self._results.clear()

    def warm(self, queries: list[tuple[str, list[str], str | None]], annotated: bool = True) -> None:
        """Ahead of the requests, for each (table, selected columns, filter): serialise every record once and index
        the filter's dates, as a database holds its rows in memory and its dates in an index. A page is then joined
        from bytes and a window found by bisection: a benchmark's pulls measure the pull, not this stand-in's
        Python (one GIL for every request it answers). Without it, each page's records are serialised when asked
        for and an index is built on first use."""
        for table, select, filter_text in queries:
            key, records = _key_column(table, self.tables[table]), self.tables[table]
            self._serialised[(table, tuple(select), annotated)] = [
                orjson.dumps(_project(record, key, select, annotated)) for record in records]
            self._matches(table, filter_text)

    def serialised(self, table: str, select: list[str] | None, annotated: bool, positions: list[int]) -> list[bytes]:
        """The records at ``positions`` as the query's JSON objects."""
        warmed = self._serialised.get((table, tuple(select or ()), annotated))
        if warmed is not None:
            return [warmed[position] for position in positions]
        key, records = _key_column(table, self.tables[table]), self.tables[table]
        return [orjson.dumps(_project(records[position], key, select, annotated)) for position in positions]

    def collection(self, row: dict, name: str) -> list[dict]:
        """The records of a collection-valued navigation property of ``row`` (``Incident_Emails``: its emails)."""
        if name not in COLLECTIONS:
            raise FilterError(f"unknown collection {name!r}")
        key, table, lookup = COLLECTIONS[name]
        if name not in self._collections:
            index: dict[str, list[dict]] = {}
            for record in self.tables.get(table, []):
                index.setdefault(str(record.get(lookup)).lower(), []).append(record)
            self._collections[name] = index
        return self._collections[name].get(str(row.get(key)).lower(), [])

    def resolve(self, row: dict, navigation: str) -> dict | None:
        """The record a single-valued navigation property points to (``activityid_email`` -> the email)."""
        if self._keys is None:
            self._keys = {str(record[_key_column(table, records)]).lower(): record
                          for table, records in self.tables.items() for record in records}
        lookup = f"_{navigation.split('_')[0].lower()}_value"
        target = row.get(lookup)
        return self._keys.get(str(target).lower()) if target else None


def _window_of(text: str) -> re.Match | None:
    """``path ge T1 and path lt T2`` when the whole filter is that window and other conditions joined by ``and``
    (not inside parentheses, after a ``not`` or beside a top-level ``or``)."""
    window = _WINDOW.search(text)
    if not window or text[:window.start()].rstrip().endswith("not"):
        return None
    before = text[:window.start()]
    if before.count("(") != before.count(")"):
        return None
    top_level = text
    while re.search(r"\([^()]*\)", top_level):
        top_level = re.sub(r"\([^()]*\)", "", top_level)
    return None if " or " in top_level else window


def _records(files: dict[str, bytes]) -> dict[str, list[dict]]:
    pages: dict[str, list[tuple[int, list[dict]]]] = {}
    for name, data in files.items():
        match = PAGE_FILE.match(name)
        if match:
            pages.setdefault(match["set"], []).append((int(match["page"] or 1), orjson.loads(data)["value"]))
    return {table: [_with_modifiedon(row) for _page, rows in sorted(parts, key=lambda part: part[0]) for row in rows]
            for table, parts in pages.items()}


def _with_modifiedon(row: dict) -> dict:
    """Every Dataverse record has ``modifiedon``; a snapshot may not have exported it: the latest of its dates."""
    if "modifiedon" not in row:
        dates = [value for name, value in row.items() if name.endswith("on") and isinstance(value, str)
                 and ISO_DATE.match(value)]
        if dates:
            row["modifiedon"] = max(dates)
    return row


def _key_column(table: str, records: list[dict]) -> str:
    return ENTITY_SETS.get(table) or next((name for name in (records or [{}])[0] if name.endswith("id")), "id")


def _project(row: dict, key: str, select: list[str] | None, annotated: bool) -> dict:
    projected: dict = {"@odata.etag": f'W/"{abs(hash(str(row.get(key)))) % 10**8}"'}
    names = [name for name in row if "@" not in name] if select is None else list(dict.fromkeys([*select, key]))
    annotations: dict[str, list[tuple[str, object]]] = {}
    if annotated:  # each column's annotations (name@...), in one pass over the record
        for column, value in row.items():
            base, at, _rest = column.partition("@")
            if at and base:
                annotations.setdefault(base, []).append((column, value))
    for name in names:
        projected[name] = row.get(name)
        projected.update(annotations.get(name, ()))
    return projected


# --------------------------------------------------------------------------- $filter

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<open>\()|(?P<close>\))|(?P<colon>:)"
                    r"|(?P<datetime>\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d))"
                    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w/]*))")
_COMPARE = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
Predicate = Callable[[dict], bool]
# Collection-valued navigation properties: the records of a table whose lookup holds the row's key.
COLLECTIONS = {"Incident_Emails": ("incidentid", "emails", "_regardingobjectid_value")}


class FilterError(ValueError):
    pass


def parse_filter(text: str, resolve: Callable[[dict, str], dict | None],
                 collection: Callable[[dict, str], list[dict]] = lambda _row, _name: []) -> Predicate:
    """An OData ``$filter`` as a predicate over a record; ``FilterError`` for what the stand-in does not know."""
    tokens = _tokens(text)
    position = [0]

    def peek() -> tuple[str, str] | None:
        return tokens[position[0]] if position[0] < len(tokens) else None

    def take() -> tuple[str, str]:
        token = peek()
        if token is None:
            raise FilterError("the filter ends too early")
        position[0] += 1
        return token

    def expression() -> Predicate:
        left = conjunction()
        while peek() == ("word", "or"):
            take()
            left = (lambda a, b: lambda row: a(row) or b(row))(left, conjunction())
        return left

    def conjunction() -> Predicate:
        left = unary()
        while peek() == ("word", "and"):
            take()
            left = (lambda a, b: lambda row: a(row) and b(row))(left, unary())
        return left

    def unary() -> Predicate:
        if peek() == ("word", "not"):
            take()
            inner = unary()
            return lambda row: not inner(row)
        if peek() and peek()[0] == "word" and peek()[1].endswith("/any"):
            return lambda_any()
        if peek() == ("open", "("):
            take()
            inner = expression()
            if take() != ("close", ")"):
                raise FilterError("a parenthesis is not closed")
            return inner
        return comparison()

    def lambda_any() -> Predicate:
        """``path/Collection/any(e:e/column op value ...)``: true when one record of the collection matches."""
        *navigations, name, _any = take()[1].split("/")
        if take() != ("open", "(") or (variable := take())[0] != "word" or take() != ("colon", ":"):
            raise FilterError("a lambda reads path/any(v:v/column ...)")
        bound.append(variable[1] + "/")
        inner = expression()
        bound.pop()
        if take() != ("close", ")"):
            raise FilterError("a parenthesis is not closed")

        def test(row: dict) -> bool:
            for navigation in navigations:
                row = resolve(row, navigation) or {}
            return any(inner(item) for item in collection(row, name))

        return test

    def comparison() -> Predicate:
        left, (kind, operator), right = operand(), take(), operand()
        if kind != "word" or operator not in _COMPARE:
            raise FilterError(f"unknown operator {operator!r}")
        compare = _COMPARE[operator]

        def test(row: dict) -> bool:
            a, b = _comparable(left(row), right(row))
            if a is None or b is None:
                return compare(a, b) if operator in ("eq", "ne") else False
            return compare(a, b)

        return test

    def operand() -> Callable[[dict], object]:
        kind, text = take()
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            return lambda _row: value
        if kind == "datetime":
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return lambda _row: instant
        if kind == "number":
            number = float(text)
            return lambda _row: number
        if text in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[text]
            return lambda _row: constant
        if "(" in text or kind != "word":
            raise FilterError(f"unsupported operand {text!r}")
        if bound and text.startswith(bound[-1]):
            text = text[len(bound[-1]):]  # a column of the lambda's record
        return _path(text, resolve)

    bound: list[str] = []  # the lambda variables in scope, as "e/"
    predicate = expression()
    if peek() is not None:
        raise FilterError(f"unexpected {peek()[1]!r}")
    return predicate


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, index = [], 0
    while index < len(text.rstrip()):
        match = _TOKEN.match(text, index)
        if not match:
            raise FilterError(f"cannot read the filter at {text[index:index + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        index = match.end()
    return tokens


def _path(text: str, resolve: Callable[[dict, str], dict | None]) -> Callable[[dict], object]:
    *navigations, column = text.split("/")

    def value(row: dict) -> object:
        for navigation in navigations:
            row = resolve(row, navigation) or {}
        return row.get(column)

    return value


def _comparable(a: object, b: object) -> tuple[object, object]:
    """Dates compare as instants, numbers as numbers, text case-insensitively (as Dataverse does)."""
    if isinstance(b, datetime) and isinstance(a, str):
        a = datetime.fromisoformat(a.replace("Z", "+00:00"))
    if isinstance(a, datetime) and isinstance(b, str):
        b = datetime.fromisoformat(b.replace("Z", "+00:00"))
    if isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


# --------------------------------------------------------------------------- HTTP

def _handler(server: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Dataverse

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # http.server's name for it
            started = time.perf_counter()
            with server._counting:
                server.in_flight += 1
                server.most_in_flight = max(server.most_in_flight, server.in_flight)
            delay = 0.0
            try:
                delay = _answer(server, self)
            finally:
                with server._counting:
                    server.in_flight -= 1
                    server.serving_seconds += time.perf_counter() - started - delay

    return Handler


def _delay(server: StandIn, rows: int) -> float:
    """Wait as a real organisation would before answering; returns the seconds waited."""
    seconds = server.latency + server.per_row * rows
    if seconds:
        server.stopping.wait(seconds)
    return seconds


def _answer(server: StandIn, request: BaseHTTPRequestHandler) -> float:
    """Answers one request; returns the seconds it was delayed on purpose."""
    came = time.monotonic()
    parts = urlsplit(request.path)
    table = parts.path[len(API):] if parts.path.startswith(API) else ""
    query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    page = _page_number(query.get("$skiptoken"))
    logged = {"table": table, "page": page, "prefer": request.headers.get("Prefer", ""), "query": query,
              "came": came}
    server.requests.append(logged)  # atomic; the lock is for the answers being computed
    delay = 0.0
    if table not in server.tables:
        logged["status"] = 404
        _error(request, 404, {"code": "0x8006088a", "message": f"Resource not found for the segment '{table}'."})
    elif request.headers.get("Authorization") != f"Bearer {server.token}":
        logged["status"] = 401
        _error(request, 401, UNAUTHORIZED)
    elif fault := server.fault(table, page):
        delay = _delay(server, 0)
        logged["status"] = _fault(server, request, fault)
    elif unknown := [name for name in query if name not in ("$select", "$filter", "$skiptoken")]:
        logged["status"] = 400
        _error(request, 400, {"code": "0x0", "message": f"The stand-in does not support {unknown[0]}."})
    else:
        delay, logged["status"] = _serve_page(server, request, table, query, page)
    logged["answered"] = time.monotonic()
    return delay


def _serve_page(server: StandIn, request: BaseHTTPRequestHandler, table: str, query: dict,
                page: int) -> tuple[float, int]:
    """The page of the query; returns the seconds delayed and the status."""
    prefer = request.headers.get("Prefer", "")
    size_match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    size = int(size_match.group(1)) if size_match else 5000
    annotated = "odata.include-annotations" in prefer
    select = query["$select"].split(",") if query.get("$select") else None
    try:
        matches, keys = server.query(table, query.get("$filter"))
    except FilterError as error:
        _error(request, 400, {"code": "0x80060888", "message": f"Invalid $filter: {error}"})
        return 0.0, 400
    start = keys[_last_key(query["$skiptoken"])] + 1 if "$skiptoken" in query else 0
    key = _key_column(table, server.tables[table])
    chunk = matches[start:start + size]
    root = f"{server.url}{API}"
    data = b'{"@odata.context":' + orjson.dumps(f"{root}$metadata#{table}({query.get('$select', '')})") + \
        b',"value":[' + b",".join(server.serialised(table, select, annotated, chunk)) + b"]"
    if start + size < len(matches):
        kept = "&".join(f"{name}={quote(value, safe=',/:()=*@.-_')}" for name, value in query.items()
                        if name != "$skiptoken")
        first, last = (server.tables[table][position][key] for position in (chunk[0], chunk[-1]))
        link = f"{root}{table}?{kept}&$skiptoken={_skiptoken(key, page, first, last)}"
        data += b',"@odata.nextLink":' + orjson.dumps(link)
    data += b"}"
    applied = ",".join(part for part in ([prefer.split(",")[0]] if annotated else [])
                       + ([f"odata.maxpagesize={size}"] if size_match else []))
    headers = {"Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0"}
    if server.dop_hint:
        headers["x-ms-dop-hint"] = str(server.dop_hint)
    if applied:
        headers["Preference-Applied"] = applied
    delay = _delay(server, len(chunk))
    _send(request, 200, data, headers)
    return delay, 200


def _skiptoken(key: str, page: int, first: object, last: object) -> str:
    cookie = (f'<cookie page="{page}"><{key} last="{{{str(last).upper()}}}" '
              f'first="{{{str(first).upper()}}}" /></cookie>')
    token = f'<cookie pagenumber="{page + 1}" pagingcookie="{quote(cookie, safe="")}" istracking="False" />'
    return quote(token, safe="")


def _page_number(token: str | None) -> int:
    match = re.search(r'pagenumber="(\d+)"', token or "")
    return int(match.group(1)) if match else 1


def _last_key(token: str) -> str:
    match = re.search(r'last="\{([^}]+)\}"', unquote(token))
    return match.group(1).lower() if match else ""


def _fault(server: StandIn, request: BaseHTTPRequestHandler, fault: Fault) -> int:
    """Answers badly as the fault says; returns the status (0: no answer)."""
    if fault.kind in ("429", "503", "403", "404", "400"):
        status = int(fault.kind)
        error = {"429": THROTTLED, "503": UNAVAILABLE, "403": FORBIDDEN,
                 "404": {"code": "0x8006088a", "message": f"Resource not found for the segment '{fault.table}'."},
                 "400": {"code": "0x80060888", "message": fault.message or "Could not find a property named "
                         "'queueid' on type 'Microsoft.Dynamics.CRM.activitymonitor'."}}[fault.kind]
        _error(request, status, error, {"Retry-After": fault.retry_after} if status == 429 else None)
        return status
    if fault.kind == "drop":  # a reset: close at once with SO_LINGER 0
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        request.close_connection = True
        request.connection.close()
        return 0
    if fault.kind == "hang":
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", "1000000")
        request.end_headers()
        request.wfile.write(b'{"value": [')
        request.wfile.flush()
        server.stopping.wait(30)
        request.close_connection = True
        return 0
    raise ValueError(f"unknown fault {fault.kind}")


def _error(request: BaseHTTPRequestHandler, status: int, error: dict, headers: dict | None = None) -> None:
    _send(request, status, orjson.dumps({"error": error}),
          {"Content-Type": "application/json; odata.metadata=minimal", **(headers or {})})


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict) -> None:
    request.send_response(status)
    for name, value in {**headers, "Content-Length": str(len(body))}.items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)
