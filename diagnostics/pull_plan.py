"""What a pull asks for next: the large tables read in time windows, and how many requests are in flight.

Every table is first asked for as the export guide has it (the serial pull's own first request). A large
dated table (``WINDOWED``) whose first page comes back full is read again in ``fanout`` time windows of its
``createdon`` (activity parties through their email's): half-open intervals ``[start, end)`` on whole
seconds, so a row at a window's edge belongs to exactly one window. That one page is read twice: a page of
the whole period overlaps every window. Each window then follows its own ``@odata.nextLink`` chain.

A window's full first page is held until its sibling windows have answered. When only a few of them are full
(at most a quarter), the rows crowd there: each full one is split again (its page dropped) down to one
second. When most are full, the rows are spread out, and every held page is kept and its chain followed, so
a busy period costs no extra request. Nothing here does I/O: ``dataverse`` sends the requests and writes the
pages this plan hands back.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .export_guide import ExportStep, window_step

WINDOWED = ("emails", "activityparties", "queueitems", "activitymonitors")
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16  # Dataverse allows 52 concurrent requests per user and web server: stay well under
CROWDED = 0.25  # a split's windows that come back full are "a few" when they are at most this share of them
# Which request goes first: a chain that cannot be split (it is the pull's longest path), then every table's
# first page (to learn early which tables are large), then the windows that share out the large ones.
CHAIN, FIRST, WINDOW = 0, 1, 2


@dataclass(frozen=True)
class Window:
    """``start <= createdon < end``, in whole seconds."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def split(self, parts: int) -> list[Window]:
        """``parts`` windows (fewer when the window is shorter than that many seconds) that tile this one."""
        parts = max(1, min(parts, self.seconds))
        edges = [self.start + timedelta(seconds=self.seconds * index // parts) for index in range(parts + 1)]
        return [Window(low, high) for low, high in itertools.pairwise(edges)]


@dataclass
class _Split:
    """Sibling windows made by one split: their full first pages wait here until every sibling has answered."""

    windows: int
    answered: int = 0
    held: list[Answer] = field(default_factory=list)


@dataclass
class Request:
    table: str
    url: str
    window: Window | None = None  # None: the table's whole period (or an undated table)
    page: int = 1  # in its chain
    split: _Split | None = None  # the siblings of a window's first page

    @property
    def first_of_window(self) -> bool:
        return self.page == 1 and self.split is not None


@dataclass(frozen=True)
class Answer:
    """A page Dataverse returned for a request: its bytes, rows and the next page's address."""

    request: Request
    body: bytes
    rows: int
    next_link: str | None


@dataclass
class TableState:
    """One table's reading so far; ``covered`` is the share of its period done (tables read in windows)."""

    table: str
    rows: int = 0
    pages: int = 0
    requests: int = 0
    windows: int = 0  # windows being read (0: read page by page as the export guide has it)
    covered: float = 0.0
    started: float | None = None
    done: bool = False
    refused: str = ""


class Plan:
    """The requests of a pull, best first, and what to keep of each answer."""

    def __init__(self, steps: list[ExportStep], period: Window | None, fanout: int):
        self.steps = {step.table: step for step in steps}
        self.period = period
        self.fanout = fanout
        self.tables = {step.table: TableState(step.table) for step in steps}
        self._queue: list[tuple[int, int, Request]] = []
        self._order = itertools.count()
        self._open: dict[str, int] = {}  # requests queued, in flight or held, per table
        for step in steps:
            self._push(FIRST, Request(step.table, step.url))

    def next_request(self, now: float) -> Request | None:
        while self._queue:
            _priority, _order, request = heapq.heappop(self._queue)
            state = self.tables[request.table]
            if state.refused:
                continue
            state.requests += 1
            state.started = now if state.started is None else state.started
            return request
        return None

    def answered(self, answer: Answer) -> list[Answer]:
        """The pages to write now (in order), having queued what the answer calls for next."""
        request, state = answer.request, self.tables[answer.request.table]
        if state.refused:  # an answer still in flight when its table was refused
            return []
        self._open[request.table] -= 1
        if answer.next_link and request.page == 1 and self._splits(request):
            self._split(request, self.period, state)
            return []
        if request.first_of_window:
            return self._sibling_answered(answer)
        return self._keep(answer)

    def refuse(self, table: str, reason: str) -> None:
        """The table is left out: its queued requests are dropped, answers still in flight are ignored."""
        state = self.tables[table]
        state.refused, state.done = reason, True
        self._queue = [item for item in self._queue if item[2].table != table]
        heapq.heapify(self._queue)
        self._open[table] = 0

    def _splits(self, request: Request) -> bool:
        """A full first page of the whole period splits it into windows; a window's waits for its siblings."""
        return (request.table in WINDOWED and self.fanout > 1 and self.period is not None
                and request.window is None and self.period.seconds > 1)

    def _split(self, request: Request, window: Window, state: TableState) -> None:
        windows = window.split(self.fanout)
        split = _Split(len(windows))
        state.windows += len(windows) - (1 if request.window else 0)
        for part in windows:
            url = window_step(self.steps[request.table], part.start, part.end).url
            self._push(WINDOW, Request(request.table, url, part, 1, split))

    def _sibling_answered(self, answer: Answer) -> list[Answer]:
        split = answer.request.split
        split.answered += 1
        if answer.next_link:
            split.held.append(answer)
            self._open[answer.request.table] += 1  # it waits for its siblings
        written = [] if answer.next_link else self._keep(answer)
        if split.answered < split.windows:
            return written
        held, split.held = split.held, []
        for waiting in held:
            self._open[waiting.request.table] -= 1
        crowded = len(held) <= split.windows * CROWDED
        for waiting in held:
            request = waiting.request
            if crowded and request.window.seconds > 1 and not self.tables[request.table].refused:
                self._split(request, request.window, self.tables[request.table])
            else:
                written += self._keep(waiting)
        return written

    def _keep(self, answer: Answer) -> list[Answer]:
        request, state = answer.request, self.tables[answer.request.table]
        if state.refused:
            return []
        state.rows += answer.rows
        state.pages += 1
        if answer.next_link:
            priority = CHAIN if request.window is None else WINDOW
            self._push(priority, Request(request.table, answer.next_link, request.window, request.page + 1))
        elif request.window is not None and self.period is not None:
            state.covered += request.window.seconds / self.period.seconds
        if not self._open[request.table]:
            state.done, state.covered = True, 1.0
        return [answer]

    def _push(self, priority: int, request: Request) -> None:
        self._open[request.table] = self._open.get(request.table, 0) + 1
        heapq.heappush(self._queue, (priority, next(self._order), request))


class Throttle:
    """At most ``limit`` requests in flight. A pull starts with one (a refused sign-in stops it before any
    other request is sent), then ``limit``. A 429 closes the gate to every worker for its ``Retry-After``;
    then they start again from one request, one more after each answer, back up to ``limit``."""

    def __init__(self, limit: int):
        self.configured = self.limit = limit
        self.allowed = 1
        self._answered = False
        self.in_flight = 0
        self.most_in_flight = 0
        self.pauses = 0
        self._closed = 0
        self._stopped = False
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._stopped or (not self._closed and self.in_flight < self.allowed))
            if self._stopped:
                raise Stopped
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def answered(self, hint: int | None = None) -> None:
        """An answer came; ``hint`` is Dataverse's recommended number of requests at once (``x-ms-dop-hint``),
        which lowers the limit (never above the configured one)."""
        with self._changed:
            if hint:
                self.limit = max(1, min(self.configured, hint))
            self.allowed = min(self.limit, self.allowed + 1) if self._answered else self.limit
            self._answered = True
            self._changed.notify_all()

    def pause(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """Close the gate while ``sleep(seconds)`` runs in this thread (the one that got the 429)."""
        with self._changed:
            self._closed += 1
            self.pauses += 1
            self.allowed = 1
        try:
            sleep(seconds)
        finally:
            with self._changed:
                self._closed -= 1
                self.allowed = 1  # answers that came during the pause were to requests sent before it
                self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


class Stopped(Exception):
    """The pull ended (refused or interrupted) while this request waited for a slot."""
