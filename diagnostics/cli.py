"""The command line of the contract: ``diagnose``, ``headers``, ``demo``, ``compare``, ``causes``, ``runs``,
``pull`` and ``watch``.

Input that cannot be read exits 2 with one line on stderr, never a traceback; an error of ours exits 1, its
line after the traceback (``pipeline``).
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

from .errors import DiagnosisError, SnapshotError
from .watch import DEFAULT_DAYS, DEFAULT_DROP, DEFAULT_KEEP_DAYS  # light: the round's modules load when it runs

if TYPE_CHECKING:  # the pull's modules load only when a pull runs
    from .dataverse import PullSummary
    from .report import Report

MAX_HEADER_BYTES = 5 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except SnapshotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DiagnosisError as error:  # the pipeline's one line; something unexpected is our fault, not the input's
        print(f"error: {error}", file=sys.stderr)
        return 1 if error.reason == "unexpected" else 2
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
    demo.add_argument("out", help="the folder to write, or a file ending in .zip to write the files zipped")
    demo.add_argument("--emails", type=int, default=400, help="how many emails (default 400)")
    demo.set_defaults(run=_demo)

    compare = commands.add_parser("compare", help="compare two diagnoses: what was fixed, what is new")
    compare.add_argument("before", help="a snapshot, or a report saved by diagnose --format json")
    compare.add_argument("after", help="a later snapshot or saved report of the same organisation")
    compare.add_argument("--format", choices=["json", "text"], default="json")
    compare.add_argument("--output", help="write to this file instead of standard output")
    compare.set_defaults(run=_compare)

    causes = commands.add_parser("causes", help="list the causes the diagnosis looks for (the registry)")
    causes.add_argument("--format", choices=["json", "text"], default="json")
    causes.set_defaults(run=_causes)

    runs = commands.add_parser("runs", help="list or delete the runs kept in the store ($DIAGNOSTICS_STORE)")
    runs.add_argument("action", choices=["list", "delete"], nargs="?", default="list")
    runs.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="with delete: ids as the list shows them")
    runs.set_defaults(run=_runs)

    pull = commands.add_parser("pull", help="pull a snapshot straight from Dataverse into a .zip")
    pull.add_argument("org_url", help="your organisation, e.g. https://contoso.crm.dynamics.com")
    pull.add_argument("--out", required=True, help="the snapshot .zip to write")
    _range_arguments(pull)
    pull.set_defaults(run=_pull)

    watch = commands.add_parser("watch", help="one unattended round: pull, diagnose, keep, alert when worse",
                                description="One watch round, for a scheduler (cron, a systemd timer, Task "
                                            "Scheduler). Exits 0 when the round worked (with or without an "
                                            "alert), 1 when it failed or its alert could not be sent, 2 for "
                                            "a wrong command.")
    watch.add_argument("org_url", help="your organisation, e.g. https://contoso.crm.dynamics.com")
    watch.add_argument("--days", type=int, default=DEFAULT_DAYS,
                       help=f"the last N days of emails, today included (default {DEFAULT_DAYS})")
    watch.add_argument("--notify", action="append", metavar="URL",
                       help="an Apprise URL to alert (repeat for more; default: DIAGNOSTICS_NOTIFY)")
    watch.add_argument("--drop", type=float, default=DEFAULT_DROP,
                       help=f"alert when the share of emails that became cases falls by this many points "
                            f"({DEFAULT_DROP:g})")
    watch.add_argument("--share-days", type=int, metavar="N",
                       help="put a link to the report in alerts, valid N days (needs DIAGNOSTICS_APP_URL)")
    watch.add_argument("--mask-share", action="store_true",
                       help="mask customer addresses and subjects in the shared report")
    watch.add_argument("--keep-days", type=int, default=DEFAULT_KEEP_DAYS,
                       help=f"keep each round's run this many days ({DEFAULT_KEEP_DAYS})")
    watch.set_defaults(run=_watch)
    return parser


def _range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="first day of emails to pull, YYYY-MM-DD (default: 30 days ago)")
    parser.add_argument("--until", help="last day of emails to pull, YYYY-MM-DD (default: today)")
    parser.add_argument("--client-id", help="app registration for device-code sign-in (default: DATAVERSE_CLIENT_ID, "
                                            "else Microsoft's shared sample registration)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N",
                        help="requests in flight while pulling, 1 to 16 (default 4; 1 reads one page after another)")


def _diagnose(args: argparse.Namespace) -> int:
    from .pipeline import load_and_diagnose

    if (args.snapshot is None) == (args.pull is None):
        raise SnapshotError("give either a SNAPSHOT or --pull ORG_URL")
    if args.pull:
        return _pull_then_diagnose(args)
    # No table is kept: their memory is given back before the report is written
    diagnosed = load_and_diagnose(args.snapshot, check_budget=False, keep=())
    for note in diagnosed.snapshot.notes:  # e.g. deleted-record markers skipped: worth knowing, not an error
        print(f"note: {note}", file=sys.stderr)
    report = diagnosed.report
    pieces = report.json_pieces() if args.format == "json" else [_text_report(report).encode()]
    _write_pieces(pieces, args.output)
    return 0


def _text_report(report: Report) -> str:
    """``--format text``: the headline sentence (as on the Overview), a partial snapshot's warning, the rest."""
    from .headline import headline, partial_warning
    from .report import render_text

    partial = partial_warning(report)
    return headline(report).sentence + "\n" + (f"Partial snapshot: {partial}\n" if partial else "") + "\n" + \
        render_text(report)


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
    from .demo import write_demo, write_demo_zip

    if args.emails < 1:
        raise SnapshotError("--emails must be at least 1")
    write = write_demo_zip if args.out.lower().endswith(".zip") else write_demo
    if write is write_demo_zip and Path(args.out).is_dir():
        raise SnapshotError(f"{args.out}: a folder of that name exists; remove it or pick another name")
    counts = write(args.out, emails=args.emails)
    print(f"wrote {sum(counts.values())} records in {len(counts)} tables to {args.out}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare, load_report, render_compare_text

    result = compare(load_report(args.before), load_report(args.after))
    data = orjson.dumps(result) if args.format == "json" else render_compare_text(result).encode()
    _write(data, args.output)
    return 0


def _causes(args: argparse.Namespace) -> int:
    from .cause_list import listing, render_text

    causes = listing()
    _write(orjson.dumps(causes) if args.format == "json" else render_text(causes).encode(), None)
    return 0


def _runs(args: argparse.Namespace) -> int:
    from .store import RunStore, StoreError

    try:
        store = RunStore()
    except ValueError as error:
        raise SnapshotError(str(error)) from None
    try:
        if args.action == "delete":
            if not args.run_ids:
                raise SnapshotError("runs delete: name the run ids to delete (see: runs list)")
            for run_id in args.run_ids:
                deleted = store.delete_run(run_id.lower())
                print(f"{run_id}: {'deleted' if deleted else 'no such run'}")
            return 0
        listed = store.list_runs()
    except StoreError as error:
        raise SnapshotError(f"{store.location}: the run store cannot be read ({error})") from None
    print(f"{len(listed)} runs in {store.location}")
    for run in listed:
        masked = ", masked" if run.masked else ""
        tenant = f" (tenant {run.creator_tid})" if run.creator_tid else ""
        print(f"{run.run_id}  {run.kind:<10}  {run.created_at}  expires {run.expires_at[:10]}  "
              f"{run.name or '(unnamed)'}  by {run.created_by}{tenant}{masked}")
    return 0

def _watch(args: argparse.Namespace) -> int:
    import signal

    from .watch import run_round, settings_from

    settings = settings_from(args.org_url, days=args.days, notify=args.notify, drop=args.drop,
                             share_days=args.share_days, mask_share=args.mask_share, keep_days=args.keep_days)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the round's clean-ups run: no half-pulled zip, no half-kept run

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        outcome = run_round(settings)
    except KeyboardInterrupt:
        print("error: the watch round was interrupted; nothing of it was kept", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(outcome.line, file=sys.stdout if outcome.exit_code == 0 else sys.stderr)
    if outcome.alert is not None:
        print(f"\n{outcome.alert.title}\n{outcome.alert.body}")
    return outcome.exit_code


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
