"""The one error type for input that cannot be read."""


class SnapshotError(ValueError):
    """Input that cannot be read: a snapshot, an upload or pasted headers.

    ``str(error)`` is a single line that names the file and the problem, fit to show a user as is.
    """
