"""``python -m diagnostics causes``: the registry listed as JSON and as text."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

from diagnostics import cause_list
from diagnostics.causes import CAUSES, KINDS


def causes_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnostics", "causes", *args], capture_output=True, text=True,
                          timeout=120)


def test_json_lists_every_cause_of_the_registry_in_pipeline_order():
    done = causes_cli("--format", "json")
    assert done.returncode == 0 and not done.stderr
    listed = json.loads(done.stdout)
    assert [cause["id"] for cause in listed] == [cause.id for cause in CAUSES]
    assert [cause["order"] for cause in listed] == sorted(cause["order"] for cause in listed)
    for entry, cause in zip(listed, CAUSES, strict=True):
        assert entry["kind"] in KINDS and entry["kind"] == cause.kind
        assert entry["seed_number"] == cause.seed_number and entry["title"] == cause.title
        assert entry["tables"] == list(cause.tables) and set(entry["requires"]) <= set(entry["tables"])
        assert entry["doc_url"] == cause.doc_url and entry["doc_url"].startswith("https://")
        assert entry["codes"] == [{"code": code.code, "doc_url": getattr(code, "doc_url", None)}
                                  for code in getattr(cause, "codes", ())]
    seeds = [cause["seed_number"] for cause in listed if cause["seed_number"] is not None]
    assert len(set(seeds)) == len(seeds) == 9
    assert causes_cli().stdout == done.stdout  # JSON is the default


def test_text_gives_each_cause_its_block_in_order():
    done = causes_cli("--format", "text")
    assert done.returncode == 0 and not done.stderr
    text = done.stdout
    assert text.startswith(f"{len(CAUSES)} causes, in pipeline order\n")
    blocks = text.split("\n\n")[1:]
    assert len(blocks) == len(CAUSES)
    for block, cause in zip(blocks, CAUSES, strict=True):
        lines = block.splitlines()
        source = (f"support article cause {cause.seed_number}" if cause.seed_number is not None
                  else "beyond the support article")
        assert lines[0] == f"{cause.order}. {cause.id}  ({cause.kind}; {source})"
        assert lines[1].strip() == cause.title
        assert f"reads:    {', '.join(cause.tables)}" in block and f"docs:     {cause.doc_url}" in block


FIELDS = ("id", "order", "title", "kind", "seed_number", "tables", "requires", "doc_url")


def like(cause, codes) -> SimpleNamespace:  # noqa: ANN001 - a Cause of the registry
    """A cause of the registry with the evidence codes given."""
    return SimpleNamespace(**{name: getattr(cause, name) for name in FIELDS}, codes=codes)


def test_evidence_codes_are_listed_where_a_cause_declares_them():
    codes = (SimpleNamespace(code="rule-without-items", doc_url="https://learn.microsoft.com/x"),
             SimpleNamespace(code="rule-inactive", doc_url=None))
    listed = cause_list.listing([like(CAUSES[0], codes), like(CAUSES[1], ())])
    assert listed[0]["codes"] == [{"code": "rule-without-items", "doc_url": "https://learn.microsoft.com/x"},
                                  {"code": "rule-inactive", "doc_url": None}]
    assert listed[1]["codes"] == []
    text = cause_list.render_text(listed)
    assert "   evidence codes:\n     rule-without-items  https://learn.microsoft.com/x\n     rule-inactive\n" in text
    assert text.count("evidence codes:") == 1  # a cause without codes has no heading
    keyed = like(CAUSES[0], {code.code: code for code in codes})  # codes keyed by name work too
    assert cause_list.listing([keyed])[0]["codes"] == listed[0]["codes"]
