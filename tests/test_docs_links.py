"""Every documentation address the package prints is in ``diagnostics.docs.ADDRESSES`` (third round, item 12)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from diagnostics import docs
from diagnostics.causes import CAUSES

ROOT = Path(__file__).resolve().parents[1]
LEARN = re.compile(r"https://learn\.microsoft\.com/[^\s'\"<>)\]]*")


def printed_addresses() -> dict[str, list[str]]:
    """Documentation addresses written as strings (not comments) in the package and the pages, with where."""
    found: dict[str, list[str]] = {}
    for path in [*sorted((ROOT / "diagnostics").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]:
        if path.name == "docs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for address in LEARN.findall(node.value):
                    found.setdefault(address, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_address_is_printed_outside_the_list():
    outside = {address: where for address, where in printed_addresses().items()
               if address.rstrip(".,") not in docs.ADDRESSES and address != "https://learn.microsoft.com/"}
    assert outside == {}


def test_every_cause_and_code_links_into_the_list():
    for cause in CAUSES:
        assert cause.doc_url in docs.ADDRESSES, cause.id
        assert all(code.doc_url in docs.ADDRESSES for code in cause.codes if code.doc_url), cause.id


def test_the_list_holds_the_corrected_addresses():
    assert docs.TROUBLESHOOT_SYNC.endswith("troubleshooting-monitoring-server-side-synchronization")
    assert not any("server-based" in address for address in docs.ADDRESSES)
    assert docs.SYMPTOM_2.endswith("#symptom-2") and docs.ARC_FAQ.endswith("/arc-faqs")
