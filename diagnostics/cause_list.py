"""The cause registry as ``python -m diagnostics causes`` lists it (as pylint's ``--list-msgs``), JSON or text.

Per cause, in pipeline order: id, title, kind, its number in the support article, the tables it reads (and
those it cannot run without), its documentation link, and its evidence codes with their own links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .causes import CAUSES, Cause


def listing(causes: Iterable[Cause] = CAUSES) -> list[dict]:
    """One dict per cause, in the order given (the registry's: pipeline order)."""
    return [{"id": cause.id, "order": cause.order, "title": cause.title, "kind": cause.kind,
             "seed_number": cause.seed_number, "tables": list(cause.tables), "requires": list(cause.requires),
             "doc_url": cause.doc_url, "codes": _codes(cause)} for cause in causes]


def _codes(cause: Cause) -> list[dict]:
    """The cause's evidence codes, where it declares them (objects with ``code`` and ``doc_url``)."""
    codes = getattr(cause, "codes", ())
    items = codes.values() if isinstance(codes, Mapping) else codes
    return [{"code": str(item.code), "doc_url": getattr(item, "doc_url", None)} for item in items]


def render_text(causes: list[dict]) -> str:
    """The listing for a terminal: a block per cause."""
    lines = [f"{len(causes)} causes, in pipeline order", ""]
    for cause in causes:
        reads = ", ".join(cause["tables"]) or "none"
        needs = ", ".join(cause["requires"])
        source = (f"support article cause {cause['seed_number']}" if cause["seed_number"] is not None
                  else "beyond the support article")
        lines += [f"{cause['order']}. {cause['id']}  ({cause['kind']}; {source})",
                  f"   {cause['title']}",
                  f"   reads:    {reads}" + (f" (cannot run without {needs})" if needs else ""),
                  f"   docs:     {cause['doc_url']}"]
        if cause["codes"]:
            lines.append("   evidence codes:")
            lines += [f"     {code['code']}" + (f"  {code['doc_url']}" if code["doc_url"] else "")
                      for code in cause["codes"]]
        lines.append("")
    return "\n".join(lines).rstrip()
