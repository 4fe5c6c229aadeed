"""A pull's progress on a terminal: one line per table (rows, pages, a bar and the time left), drawn by rich."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from .dataverse import PullProgress, TableProgress


class TerminalProgress:
    """``with TerminalProgress() as show: pull_snapshot(..., progress=show)``; draws on standard error."""

    def __init__(self, console: Console | None = None):
        self._bars = Progress(TextColumn("{task.description:<32}"), BarColumn(bar_width=24),
                              TextColumn("{task.fields[counts]:>28}"), TextColumn("{task.fields[state]}"),
                              console=console or Console(stderr=True), refresh_per_second=4)
        self._tasks: dict[str, TaskID] = {}
        self._waiting = ""

    def __enter__(self) -> TerminalProgress:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._bars.stop()

    def __call__(self, step: PullProgress) -> None:
        for table in step.tables:  # one line per table, in the export guide's order
            self._show(table)
        if step.waiting and step.waiting != self._waiting:
            self._bars.console.print(step.waiting, markup=False, highlight=False)
        self._waiting = step.waiting

    def _show(self, table: TableProgress) -> None:
        if table.table not in self._tasks:
            self._tasks[table.table] = self._bars.add_task(table.table, total=None, counts="", state="")
        done = table.done and not table.refused
        share = 1.0 if done else table.share
        self._bars.update(self._tasks[table.table], total=1.0 if share is not None else None,
                          completed=share or 0.0, counts=table.counts, state=table.status)
