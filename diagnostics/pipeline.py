"""One path from bytes to report: the memory budget, the load, the diagnosis and its fix plan, the errors.

The upload page, Connect to Dataverse, the Compare upload and the command line (``diagnose``, ``compare``)
all call ``load_and_diagnose``. Whatever stops it comes out as one ``DiagnosisError`` whose text is one line
fit to show as is: input that cannot be read, a server over its memory budget, or something unexpected (its
traceback goes to the log, never into the line). Releasing what the caller holds (an app's uploaded files)
stays with the caller; the snapshot's tables are dropped here, all but those asked to be kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import budget, malloc
from .errors import DiagnosisError, SnapshotError
from .evaluate import diagnose
from .report import Report
from .snapshot import Progress, Snapshot, load_snapshot, load_uploaded

LOG = logging.getLogger("diagnostics.pipeline")
# What "Check one email" reads of an uploaded snapshot (headers/snapshot_check.py): the app keeps these.
CHECK_EMAIL_TABLES = ("emails", "queues", "mailboxes", "incidents")
Files = Sequence[tuple[str, bytes]]  # (file name, bytes) of an upload
NAMES_SHOWN = 3  # file names quoted in a message about an upload of many files


@dataclass
class Diagnosed:
    """A diagnosed snapshot: the report, its fix plan built; of the snapshot, only the tables kept."""

    report: Report
    snapshot: Snapshot  # source, notes, ignored files and organisation of the whole; tables as asked


def load_and_diagnose(source: str | Path | Files, *, progress: Progress | None = None, check_budget: bool = True,
                      keep: Sequence[str] = CHECK_EMAIL_TABLES,
                      loaded: Callable[[Snapshot], None] | None = None) -> Diagnosed:
    """Load ``source`` (a path, or an upload's files), diagnose it and build its fix plan.

    ``progress(stage, done, total)`` as ``load_snapshot`` and ``diagnose`` call it; ``check_budget`` refuses
    the work while the server is over its memory budget (the app; not the command line); ``loaded`` sees the
    whole snapshot once it is read. Raises ``DiagnosisError`` and nothing else.
    """
    name = _name(source)
    try:
        if check_budget:
            refuse_when_busy()
        if isinstance(source, str | Path):
            snapshot = load_snapshot(source, progress)
        else:
            snapshot = load_uploaded(source, progress)
        if loaded:
            loaded(snapshot)
        report = diagnose_snapshot(snapshot, progress)
        return Diagnosed(report, kept(snapshot, keep))
    except DiagnosisError:
        raise
    except SnapshotError as error:
        raise DiagnosisError(str(error), "unreadable") from None
    except OSError as error:  # a file the command line cannot open, a temporary folder that is full…
        raise DiagnosisError(f"{error.filename or name}: {error.strerror or error}", "unreadable") from None
    except MemoryError:
        raise DiagnosisError(f"{name}: too large for this machine's memory", "too-large") from None
    except Exception as error:
        LOG.exception("unexpected error while diagnosing %s", name)
        raise DiagnosisError(f"{name}: unexpected {type(error).__name__} while reading it", "unexpected") from error


def diagnose_snapshot(snapshot: Snapshot, progress: Progress | None = None) -> Report:
    """``diagnose``, then the fix plan with record ids and links from the snapshot (built once, kept)."""
    with malloc.evaluation_memory():  # the allocator policy: diagnostics/malloc.py
        report = diagnose(snapshot, progress=progress)
        report.fix_plan(snapshot)
    return report


def refuse_when_busy() -> None:
    """``DiagnosisError`` ("busy") while the server is over its memory budget: new work waits, open sessions go on."""
    refused = budget.refusal()
    if refused:
        LOG.warning("diagnosis refused: the server holds %d MiB, over its budget", budget.resident_bytes() >> 20)
        raise DiagnosisError(refused, "busy")


def kept(snapshot: Snapshot, tables: Sequence[str]) -> Snapshot:
    """The snapshot with only ``tables`` (those it has); the rest is freed once the whole is dropped."""
    return Snapshot({name: snapshot.tables[name] for name in tables if name in snapshot.tables},
                    source=snapshot.source, ignored_files=snapshot.ignored_files, notes=snapshot.notes,
                    org_url=snapshot.org_url)


def _name(source: str | Path | Files) -> str:
    """The input as a message names it: a path's last part, or an upload's file names."""
    if isinstance(source, str | Path):
        return Path(source).name or str(source)
    names = [name for name, _ in source]
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more files" if more > 0 else "") or "the upload"
