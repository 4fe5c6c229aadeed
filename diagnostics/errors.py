"""The error types: input that cannot be read, and the one way a load-and-diagnose stops (``pipeline``)."""

from typing import Literal

Reason = Literal["unreadable", "too-large", "busy", "unexpected"]


class SnapshotError(ValueError):
    """Input that cannot be read: a snapshot, an upload or pasted headers.

    ``str(error)`` is a single line that names the file and the problem, fit to show a user as is.
    """


class DiagnosisError(Exception):
    """No report came out of ``pipeline.load_and_diagnose``: ``str(error)`` is one line fit to show a user as
    is; ``reason`` says why (input that cannot be read, too large, a server over its memory budget, or
    something unexpected, whose traceback is logged)."""

    def __init__(self, line: str, reason: Reason) -> None:
        super().__init__(line)
        self.reason = reason
