"""The one renderer of a cause block: what the Emails page, Check one email, the exports, the text report and
header mode show for a cause, built from its evidence items (never from parsing a sentence).

``cause_view`` gives the words of each piece of evidence with the raw field it rests on (rendered from the
code's ``raw`` template), the fix and the documentation; ``text_lines`` writes it as plain text. Markdown and
HTML renderers take the same view (``app_state.evidence_md``, the HTML template).
"""

from __future__ import annotations

from dataclasses import dataclass

from .causes import BY_ID
from .evidence import LEGACY, as_item, render_one


@dataclass(frozen=True)
class CauseView:
    id: str
    title: str
    queue_label: str | None
    lines: tuple[tuple[str, str | None], ...]  # (words, raw field or None) per piece of evidence
    fix: str
    doc_url: str | None


def item_parts(item: object, cause_id: object) -> tuple[str, str | None]:
    """An evidence item's words and the raw field it rests on (None when its code names none)."""
    found = as_item(item)
    cause = BY_ID.get(str(cause_id))
    code = cause.code(found["code"]) if cause and found["code"] != LEGACY else None
    raw = render_one(code.raw, found["values"]) if code and code.raw else None
    return found["text"], raw


def cause_view(cause: dict, queue_label: str | None = None, seen: set[str] | None = None) -> CauseView:
    """A cause of an email (the contract's shape, snapshot or header mode); ``seen`` drops evidence already shown
    for the same cause on another queue."""
    registry = BY_ID.get(str(cause.get("id")))
    lines = []
    for item in cause.get("evidence") or []:
        words, raw = item_parts(item, cause.get("id"))
        if seen is not None:
            if words in seen:
                continue
            seen.add(words)
        lines.append((words, raw))
    return CauseView(id=str(cause.get("id")), title=registry.title if registry else str(cause.get("id")),
                     queue_label=queue_label, lines=tuple(lines), fix=str(cause.get("remediation") or ""),
                     doc_url=registry.doc_url if registry else None)


def words_of(item: object, cause_id: object) -> str:
    """Evidence as one line of plain text: the words, then the raw field in brackets."""
    words, raw = item_parts(item, cause_id)
    return f"{words} [{raw}]" if raw else words


def text_lines(view: CauseView, indent: str = "  ", limit: int | None = None) -> list[str]:
    """A cause block as plain text (the command line, header mode)."""
    where = f" (queue {view.queue_label})" if view.queue_label else ""
    lines = [f"{indent}{view.id}{where}: {view.title}"]
    lines += [f"{indent}  - {words}" + (f" [{raw}]" if raw else "") for words, raw in view.lines[:limit]]
    if view.fix:
        lines.append(f"{indent}  fix: {view.fix}")
    return lines
