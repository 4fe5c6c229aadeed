"""The command line of the contract: ``diagnose``, ``headers`` and ``demo``.

Input that cannot be read exits 2 with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from .errors import SnapshotError

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
    diagnose.add_argument("snapshot", help="a .zip or folder of Web API JSON files, or a CMT data.zip/data.xml")
    diagnose.add_argument("--format", choices=["json", "text"], default="json")
    diagnose.add_argument("--output", help="write to this file instead of standard output")
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
    return parser


def _diagnose(args: argparse.Namespace) -> int:
    from .evaluate import diagnose
    from .report import render_text
    from .snapshot import load_snapshot

    report = diagnose(load_snapshot(args.snapshot))
    data = report.to_json() if args.format == "json" else render_text(report).encode()
    _write(data, args.output)
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


def _write(data: bytes, output: str | None) -> None:
    if output:
        Path(output).write_bytes(data + b"\n")
    else:
        sys.stdout.buffer.write(data + b"\n")
