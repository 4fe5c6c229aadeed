"""Masking a report before it is shared further than its team: customer data hidden, the organisation's kept.

Evidence carries its values typed (``evidence.ADDRESS_VALUES``, ``evidence.HIDDEN_VALUES``): those values are
masked and the sentence is rendered again from its cause's template, so no sentence is searched. Every email
address except the queues' own (the organisation's addresses, needed to act on the report) becomes
``a***@contoso.com``; senders lose their display names; subjects become ``(subject hidden)``. Texts that are
not evidence (notes, sentences of reports saved before evidence had codes) are masked as text: addresses
matched broadly, subjects found between quotes.
"""

from __future__ import annotations

import re

from .causes import BY_ID
from .evidence import ADDRESS_VALUES, HIDDEN_VALUES, LEGACY, render_one
from .normalize import address_key

HIDDEN_SUBJECT = HIDDEN_VALUES["subject"]
HIDDEN_SENDER = "(sender hidden)"
# Broad on purpose: masking too much is harmless, leaving an address is not.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:]+@[^\s@<>()\[\],;:'\"]+")
_EVIDENCE_HOLDERS = ("causes", "findings", "fix_plan")  # lists whose entries hold evidence, and their cause id


def mask_report(report: dict) -> dict:
    """A copy of the report with customer addresses masked and subjects hidden; the input is untouched."""
    masker = _Masker(report)
    masked = masker.walk(report, cause=None)  # builds new lists and dicts all the way down
    for email in masked.get("emails") or []:
        if email.get("subject"):
            email["subject"] = HIDDEN_SUBJECT
        if email.get("sender"):
            email["sender"] = _mask_sender(email["sender"])
    return masked


def mask_address(address: str) -> str:
    """``jo.smith@contoso.com`` -> ``j***@contoso.com``."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _mask_sender(sender: str) -> str:
    """Only the masked address: a display name is personal data too."""
    found = _ADDRESS.search(sender)
    return mask_address(found.group().rstrip(".")) if found else HIDDEN_SENDER


class _Masker:
    def __init__(self, report: dict):
        self.keep = {key for queue in report.get("queues") or [] if (key := address_key(queue.get("emailaddress")))}
        self.subjects = {email["subject"] for email in report.get("emails") or [] if email.get("subject")}

    def walk(self, value: object, cause: str | None) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.walk(entry, cause) for entry in value]
        if isinstance(value, dict):
            if "code" in value and "text" in value and "values" in value:
                return self.item(value, cause)
            cause = value.get("cause") or (value.get("id") if "evidence" in value else cause)
            return {key: self.walk(entry, cause) for key, entry in value.items()}
        return value

    def item(self, item: dict, cause: str | None) -> dict:
        """An evidence item: its typed values masked, its text rendered again from them."""
        known = BY_ID[cause].code(item["code"]) if cause in BY_ID and item["code"] != LEGACY else None
        if known is None:  # a sentence of an old report, or of header mode: masked as text
            return {**self.walk({key: entry for key, entry in item.items() if key != "text"}, cause),
                    "text": self.text(item["text"])}
        values = {name: self.value(name, entry) for name, entry in (item.get("values") or {}).items()}
        return {**item, "values": values, "about": self.walk(item.get("about"), cause),
                "text": render_one(known.template, values)}

    def value(self, name: str, value: object) -> object:
        if not isinstance(value, str):
            return value
        if name in HIDDEN_VALUES:
            return HIDDEN_VALUES[name]
        if name in ADDRESS_VALUES:
            return _ADDRESS.sub(lambda found: self.address(found.group()), value)
        return value

    def text(self, text: str) -> str:
        if "@" in text:
            text = _ADDRESS.sub(lambda found: self.address(found.group()), text)
        if self.subjects and ("'" in text or '"' in text):
            text = _hide_quoted_subjects(text, self.subjects)
        return text

    def address(self, found: str) -> str:
        # quotes around an address and the full stop ending a sentence are not part of it
        address = found.lstrip("'\"`").rstrip(".")
        start = found.index(address)
        before, after = found[:start], found[start + len(address):]
        return found if address.lower() in self.keep else before + mask_address(address) + after


def _hide_quoted_subjects(text: str, subjects: set[str]) -> str:
    """Notes quote subjects ('…'); a subject may hold quotes itself, so pair each quote with later ones."""
    for quote in ("'", '"'):
        positions = [index for index, char in enumerate(text) if char == quote]
        if len(positions) > 40:  # quadratic pairing would be slow: plain substring search instead
            for subject in subjects:
                text = text.replace(subject, HIDDEN_SUBJECT)
            continue
        parts, done = [], 0
        for start in positions:
            if parts and start <= done:  # inside, or closing, the last hidden subject
                continue
            end = next((end for end in positions if end > start and text[start + 1:end] in subjects), None)
            if end is not None:
                parts += [text[done:start + 1], HIDDEN_SUBJECT]
                done = end
        text = "".join(parts) + text[done:]
    return text
