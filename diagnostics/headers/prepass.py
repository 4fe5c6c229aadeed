"""Before parsing: decode, refuse binary and oversized input, and repair what copy and paste breaks.

Copy and paste loses the leading white space of folded lines (Outlook's "Internet headers" box, some
web mail). A line is a header when it reads ``Name: value`` with a plausible field name; it is a
continuation of the header above when it cannot be one (no name, a tag list such as ``SCL:1;`` or
``to:cc:subject:``, a reply prefix such as ``RE:``), or when the whole block evidently lost its
indentation and the name is neither hyphenated nor a known plain name.

Some servers write no space after the colon (kernel.org: ``ARC-Seal:i=1; a=rsa-sha256; …``). Such a line
looks like a tag list, yet it is a header when its name is a known field (ARC-*, DKIM-Signature,
Authentication-Results, Received-SPF, List-*, X-*), or any hyphenated name while the block kept its
indentation, unless the line is only a run of field names (a signature's folded ``h=`` list).
"""

from __future__ import annotations

import re

from ..errors import SnapshotError

MAX_BYTES = 5 * 1024 * 1024
MAX_LINE = 16 * 1024  # longer header lines are cut: none is real, and parsing them is slow

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# RFC 5322 allows any printable ASCII in a name; real names use letters, digits, "-", "_" and ".", and the
# narrower set keeps "h=from:to" and "(123);DIR:INB;" out. A value starting with "//" is a folded URL.
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*):(?!//)")
# "SCL:1;", "to:cc:subject:", "In-Reply-To:Content-Type; b=…", "CTRY:;": a tag list folded at a name, not a
# header (real headers put a space after the colon, or end the line there).
_TAG_LIST = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*:[^\s:;]*[:;]")
# Names that start a header even when written without a space after the colon.
_KNOWN_FIELD = re.compile(r"(?:arc-[a-z-]+|dkim-signature|authentication-results|received-spf|list-[a-z-]+"
                          r"|x-[a-z0-9_.-]+)", re.IGNORECASE)
# "List-Id:List-Unsubscribe;", "In-Reply-To:Content-Type; b=…": a folded list of names, never a header.
_NAME_LIST = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?::[A-Za-z][A-Za-z0-9_-]*)+[:;]?(?:\s|$)")
_REPLY_PREFIXES = {"re", "aw", "wg", "fw", "fwd", "sv", "vs", "tr", "rv", "ref", "antw", "doorst", "rif", "odp",
                   "vl", "vb", "enc", "res"}
# Without hyphen, only these names are trusted when the whole block lost its indentation.
_PLAIN_FIELDS = {"from", "to", "cc", "bcc", "subject", "date", "received", "sender", "references", "comments",
                 "keywords", "precedence", "importance", "priority", "sensitivity", "organization",
                 "organisation", "encoding", "lines", "path", "newsgroups", "xref", "status", "autocrypt",
                 "spamdiagnosticoutput", "spamdiagnosticmetadata", "msip_labels", "openpgp", "face", "expires",
                 "supersedes", "distribution", "summary", "approved", "x-face"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MS_PREAMBLE = "microsoft mail internet headers version"
NO_HEADER = "no email header found: expected lines such as 'Received:', 'From:' or 'Message-ID:'"


def decode(raw: str | bytes) -> str:
    """Text of the input (UTF-8, else Latin-1), refusing empty and oversized input."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise SnapshotError(f"the input is {size / 1024 / 1024:.1f} MB, more than the 5 MB header mode "
                            "reads: paste only the headers, or save the email without attachments")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("latin-1")
    text = raw.lstrip("\ufeff")
    if not text.strip():
        raise SnapshotError("the input is empty: paste an email's internet headers or give an .eml file")
    return text


def header_lines(text: str) -> tuple[list[str], list[str]]:
    """The header block's lines, repaired: preamble dropped, lost indentation restored, body cut off;
    and notes saying what was repaired or ignored."""
    lines = _LINE_BREAK.split(text)
    start = 0
    while start < len(lines) and (not lines[start].strip()
                                  or lines[start].strip().lower().startswith(_MS_PREAMBLE)):
        start += 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    head = lines[start:end]
    _reject_binary(head)
    notes = []
    first = next((i for i, line in enumerate(head) if could_be_field(line)), None)
    if first is None:
        raise SnapshotError(NO_HEADER)
    if first:  # an mbox "From " line, a title like "Internet headers", …
        notes.append(f"ignored {first} line(s) before the first header")
    if any(len(line) > MAX_LINE for line in head):  # no real header line is this long; parsing it is slow
        notes.append(f"lines longer than {MAX_LINE // 1024} KB were cut")
        head = [line[:MAX_LINE] for line in head]
    repaired, lost = _restore_indentation(head[first:])
    if lost:
        notes.append(f"{lost} folded line(s) had lost their indentation in copy and paste; joined them to "
                     "the header above")
    if any(line.strip() for line in lines[end:]):
        notes.append("read up to the first blank line; ignored what follows (a pasted body or the rest "
                     "of an .eml)")
    return repaired, notes


def _restore_indentation(head: list[str]) -> tuple[list[str], int]:
    """Lines that are not headers become continuations; how many were repaired."""
    all_lost = not any(line[:1] in " \t" for line in head[1:]) and not all(map(could_be_field, head))
    repaired, lost = [], 0
    for line in head:
        if line[:1] not in " \t" and not _is_header(line, all_lost):
            line, lost = " " + line, lost + 1
        repaired.append(line)
    return repaired, lost


def could_be_field(line: str) -> bool:
    """``Name: value`` with a plausible name, not a folded tag list nor a reply prefix."""
    return _is_header(line, all_lost=False, strict=True)


def _is_header(line: str, all_lost: bool, strict: bool = False) -> bool:
    """``strict``: a tag-list-shaped line needs a known name even in a block that kept its indentation."""
    match = _FIELD.match(line)
    if not match or match[1].lower() in _REPLY_PREFIXES:
        return False
    name = match[1].lower()
    if _TAG_LIST.match(line):  # "ARC-Seal:i=1; …" is a header, "SCL:1;" and "h=to:cc:" lists are not
        if _is_name_list(line):
            return False
        return bool(_KNOWN_FIELD.fullmatch(name)) or ("-" in name and not all_lost and not strict)
    return not all_lost or "-" in name or name in _PLAIN_FIELDS


def _is_name_list(line: str) -> bool:
    """"List-Id:List-Unsubscribe;", "to:cc:subject:": field names after the first colon (hyphenated or known),
    as a signature's folded h= list has; "Authentication-Results:mx;" names an authserv-id, not fields."""
    match = _NAME_LIST.match(line)
    names = match[0].strip().strip(":;").split(":")[1:] if match else []
    return any("-" in name or name.lower() in _PLAIN_FIELDS for name in names)


def _reject_binary(head: list[str]) -> None:
    text = "\n".join(head)
    if "\x00" in text or len(_CONTROL.findall(text)) > len(text) // 100:
        raise SnapshotError("this is binary data, not email headers: paste the headers as text or give "
                            "an .eml file")
