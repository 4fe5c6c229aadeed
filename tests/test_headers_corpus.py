"""Header corpus: realistic blocks of many origins, each beside its golden result.

Each ``tests/headers/corpus/<name>.txt`` is a header block in the shape one kind of server writes it
(Exchange Online inbound/outbound/internal, on-premises Exchange, Gmail, Gmail forwarding with ARC,
Postfix, qmail with ezmlm, Exim, SendGrid, Amazon SES, Mailman, Yahoo, Outlook's "Internet headers" view, a
kernel.org list, a re-sent message, filters other than Exchange Online Protection);
``<name>.json`` is what header mode makes of it: without a snapshot, unless ``<name>.options.json`` names one
(``{"snapshot": "fixtures/snapshot-basic", "queue": null}``, relative to ``tests/``). Regenerate the golden files
with ``UPDATE_GOLDEN=1 pytest tests/test_headers_corpus.py`` and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import TESTS

from diagnostics.headers import analyse_headers, parse_headers
from diagnostics.snapshot import load_snapshot

CORPUS = TESTS / "headers" / "corpus"
BLOCKS = sorted(CORPUS.glob("*.txt"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def test_the_corpus_has_at_least_fifteen_blocks() -> None:
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("path", BLOCKS, ids=lambda path: path.stem)
def test_block_matches_its_golden_result(path: Path) -> None:
    options_file = path.with_suffix(".options.json")
    options = json.loads(options_file.read_text(encoding="utf-8")) if options_file.exists() else {}
    snapshot = load_snapshot(TESTS / options["snapshot"]) if options.get("snapshot") else None
    result = analyse_headers(path.read_bytes(), snapshot=snapshot, queue=options.get("queue"))
    golden = path.with_suffix(".json")
    if UPDATE:
        golden.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert result == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", BLOCKS, ids=lambda path: path.stem)
def test_correctly_indented_block_needs_no_repair(path: Path) -> None:
    parsed = parse_headers(path.read_bytes())
    assert parsed.notes == []
    assert parsed.message_id and parsed.from_ and (parsed.to or parsed.cc)
    assert len(parsed.hops) >= 2
    assert all(hop.at is not None and (hop.by or hop.comment) for hop in parsed.hops)


def stripped(text: str) -> str:
    """The block as a copy and paste that lost every line's indentation."""
    return "\n".join(line.lstrip(" \t") for line in re.split(r"\r?\n", text))


@pytest.mark.parametrize("path", BLOCKS, ids=lambda path: path.stem)
def test_lost_indentation_gives_the_same_recipients_and_ids(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    original, repaired = parse_headers(text), parse_headers(stripped(text))
    assert (repaired.to, repaired.cc, repaired.in_reply_to, repaired.message_id, repaired.references) == \
        (original.to, original.cc, original.in_reply_to, original.message_id, original.references)
    assert (repaired.from_, repaired.subject, repaired.date) == (original.from_, original.subject, original.date)
    assert [hop.at for hop in repaired.hops] == [hop.at for hop in original.hops]
    assert repaired.scl == original.scl and repaired.sfv == original.sfv
    assert repaired.authentication == original.authentication
