"""The command line of the contract: ``diagnose``, ``headers``, ``demo``, ``compare``, ``runs`` and ``pull``.

Input that cannot be read exits 2 with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from .errors import SnapshotError

if TYPE_CHECKING:  # the pull's modules load only when a pull runs
    from .dataverse import PullSummary

MAX_HEADER_BYTES = 5 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except SnapshotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: the input is too large for this machine's memory", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m diagnostics",
                                     description="Why did incoming emails not become cases?")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    diagnose = commands.add_parser("diagnose", help="diagnose every email of a snapshot")
    diagnose.add_argument("snapshot", nargs="?",
                          help="a .zip or folder of Web API JSON files, or a CMT data.zip/data.xml")
    diagnose.add_argument("--format", choices=["json", "text"], default="json")
    diagnose.add_argument("--output", help="write to this file instead of standard output")
    diagnose.add_argument("--pull", metavar="ORG_URL", help="pull the snapshot from Dataverse first (see pull)")
    _range_arguments(diagnose)
    diagnose.set_defaults(run=_diagnose)

    headers = commands.add_parser("headers", help="diagnose one email from its raw headers")
    headers.add_argument("file", help="a file of raw headers or an .eml, or - for standard input")
    headers.add_argument("--snapshot", help="a snapshot to look the email up in")
    headers.add_argument("--queue", help="the queue address the email was meant for")
    headers.add_argument("--format", choices=["json", "text"], default="json")
    headers.set_defaults(run=_headers)

    demo = commands.add_parser("demo", help="write the embedded demo snapshot as Web API JSON files")
    demo.add_argument("out", help="the folder to write")
    demo.add_argument("--emails", type=int, default=400, help="how many emails (default 400)")
    demo.set_defaults(run=_demo)

    compare = commands.add_parser("compare", help="compare two diagnoses: what was fixed, what is new")
    compare.add_argument("before", help="a snapshot, or a report saved by diagnose --format json")
    compare.add_argument("after", help="a later snapshot or saved report of the same organisation")
    compare.add_argument("--format", choices=["json", "text"], default="json")
    compare.add_argument("--output", help="write to this file instead of standard output")
    compare.set_defaults(run=_compare)

    runs = commands.add_parser("runs", help="list or delete the runs kept in the store ($DIAGNOSTICS_STORE)")
    runs.add_argument("action", choices=["list", "delete"], nargs="?", default="list")
    runs.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="with delete: ids as the list shows them")
    runs.set_defaults(run=_runs)

    pull = commands.add_parser("pull", help="pull a snapshot straight from Dataverse into a .zip")
    pull.add_argument("org_url", help="your organisation, e.g. https://contoso.crm.dynamics.com")
    pull.add_argument("--out", required=True, help="the snapshot .zip to write")
    _range_arguments(pull)
    pull.set_defaults(run=_pull)
    return parser


def _range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="first day of emails to pull, YYYY-MM-DD (default: 30 days ago)")
    parser.add_argument("--until", help="last day of emails to pull, YYYY-MM-DD (default: today)")
    parser.add_argument("--client-id", help="app registration for device-code sign-in (default: DATAVERSE_CLIENT_ID, "
                                            "else Microsoft's shared sample registration)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N",
                        help="requests in flight while pulling, 1 to 16 (default 4; 1 reads one page after another)")


def _diagnose(args: argparse.Namespace) -> int:
    from .evaluate import diagnose
    from .report import render_text
    from .snapshot import load_snapshot

    if (args.snapshot is None) == (args.pull is None):
        raise SnapshotError("give either a SNAPSHOT or --pull ORG_URL")
    if args.pull:
        return _pull_then_diagnose(args)
    snapshot = load_snapshot(args.snapshot)
    for note in snapshot.notes:  # e.g. deleted-record markers skipped: worth knowing, not an error
        print(f"note: {note}", file=sys.stderr)
    report = diagnose(snapshot)
    report.fix_plan(snapshot)  # record ids and links from the snapshot
    del snapshot  # its tables are not needed to write the report: give their memory back first
    pieces = report.json_pieces() if args.format == "json" else [render_text(report).encode()]
    _write_pieces(pieces, args.output)
    return 0


def _headers(args: argparse.Namespace) -> int:
    from .headers import analyse_headers, render_headers_text
    from .snapshot import load_snapshot

    raw = _read_headers(args.file)
    snapshot = load_snapshot(args.snapshot) if args.snapshot else None
    result = analyse_headers(raw, snapshot=snapshot, queue=args.queue)
    data = orjson.dumps(result) if args.format == "json" else render_headers_text(result).encode()
    _write(data, None)
    return 0


def _read_headers(name: str) -> bytes:
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_HEADER_BYTES + 1)
    else:
        path = Path(name)
        if not path.is_file():
            raise SnapshotError(f"{name}: no such file")
        with path.open("rb") as stream:
            raw = stream.read(MAX_HEADER_BYTES + 1)
    if len(raw) > MAX_HEADER_BYTES:
        raise SnapshotError(f"{name}: more than 5 MB; paste only the headers")
    return raw


def _demo(args: argparse.Namespace) -> int:
    from .demo import write_demo

    if args.emails < 1:
        raise SnapshotError("--emails must be at least 1")
    counts = write_demo(args.out, emails=args.emails)
    print(f"wrote {sum(counts.values())} records in {len(counts)} tables to {args.out}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare, load_report, render_compare_text

    result = compare(load_report(args.before), load_report(args.after))
    data = orjson.dumps(result) if args.format == "json" else render_compare_text(result).encode()
    _write(data, args.output)
    return 0


def _runs(args: argparse.Namespace) -> int:
    import sqlite3

    from .store import RunStore

    store = RunStore()
    try:
        if args.action == "delete":
            if not args.run_ids:
                raise SnapshotError("runs delete: name the run ids to delete (see: runs list)")
            for run_id in args.run_ids:
                deleted = store.delete_run(run_id.lower())
                print(f"{run_id}: {'deleted' if deleted else 'no such run'}")
            return 0
        listed = store.list_runs()
    except sqlite3.Error as error:
        raise SnapshotError(f"{store.path}: the run store cannot be read ({error})") from None
    print(f"{len(listed)} runs in {store.path}")
    for run in listed:
        masked = ", masked" if run.masked else ""
        print(f"{run.run_id}  {run.kind:<10}  {run.created_at}  expires {run.expires_at[:10]}  "
              f"{run.name or '(unnamed)'}  by {run.created_by}{masked}")
    return 0

def _pull_then_diagnose(args: argparse.Namespace) -> int:
    """``diagnose --pull``: the pulled zip lives in a temporary folder for the diagnosis only."""
    with tempfile.TemporaryDirectory(prefix="pull-") as folder:
        summary = _pull_to(args, args.pull, Path(folder) / "snapshot.zip", notes=False)  # diagnose prints them
        return _diagnose(argparse.Namespace(**{**vars(args), "snapshot": str(summary.path), "pull": None}))


def _pull(args: argparse.Namespace) -> int:
    summary = _pull_to(args, args.org_url, Path(args.out))
    print(summary.line())
    return 0


def _pull_to(args: argparse.Namespace, org_url: str, out: Path, notes: bool = True) -> PullSummary:
    """The pull, with bars on a terminal; one ``note:`` line per table Dataverse refused (the pull goes on)."""
    from .dataverse import pull_snapshot, sign_in

    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    if sys.stderr.isatty():
        from .pull_terminal import TerminalProgress

        shown = TerminalProgress()
    else:
        shown = contextlib.nullcontext(None)
    with shown as progress:
        summary = pull_snapshot(org_url, out, since, until, signin=sign_in(client_id=args.client_id),
                                progress=progress, concurrency=args.concurrency)
    for note in summary.notes() if notes else ():
        print(f"note: {note}", file=sys.stderr)
    return summary


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SnapshotError(f"{option} {text!r} is not a date like 2026-11-20") from None


def _write_pieces(pieces: list, output: str | None) -> None:
    """The pieces and a newline, written one after the other (a report's emails are 100 MB: not joined first)."""
    with open(output, "wb") if output else contextlib.nullcontext(sys.stdout.buffer) as stream:
        for piece in [*pieces, b"\n"]:
            stream.write(piece)


def _write(data: bytes, output: str | None) -> None:
    if output:
        Path(output).write_bytes(data + b"\n")
    else:
        sys.stdout.buffer.write(data + b"\n")
