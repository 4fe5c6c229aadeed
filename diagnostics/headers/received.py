"""Received headers -> hops (oldest first), and the date formats servers stamp them with."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from ..normalize import address_key
from .model import Hop

RESEND_SLACK = timedelta(minutes=10)
_ANGLE_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>\s]+)>|([^\s<>;,()]+@[^\s<>;,()]+)")
_COMMENT = re.compile(r"\([^()]*\)")
# Postfix's TLS comments after the client name: noise in a hop table.
_TLS_COMMENT = re.compile(r"\s*\((?:using |No client certificate)[^()]*(?:\([^()]*\)[^()]*)*\)")
_CLAUSE = re.compile(r"(?:^|\s)(from|by|via|with|id|for)\s+")
_FRACTION = re.compile(r"(\d{1,2}:\d{2}:\d{2})\.(\d+)")
# Without the semicolon: SendGrid's filters end with Go's time format, "2017-03-19 17:47:01.67872943 +0000 UTC"
# (and its monotonic clock "m=+1147.30"); its ismtpd with an RFC 5322 date after the id.
_ISO_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})"
                        r"(?:\s+[A-Z]{1,5})?(?:\s+m=[+-][\d.]+)?\s*$")
_RFC_STAMP = re.compile(r"(?:\b[A-Z][a-z]{2},\s*)?\b\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}\s+"
                        r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:[+-]\d{4}|[A-Z]{1,5}))?(?:\s*\([^()]*\))?\s*$")


def hops(values: list[str], date: datetime | None, resent: list[datetime] = ()) -> list[Hop]:
    """Received headers (topmost first, as each server adds its own on top) as hops, oldest first.

    ``resent``: the Resent-Date of each re-sending, oldest first. A hop stamped at (or just before) a
    Resent-Date starts that sending: its delay counts from the Resent-Date, not from the hop before it, since
    the gap between two sendings is no server's delay."""
    found, previous, sending = [], date, 0
    starts = _sending_starts(date, resent)
    for value in reversed(values):
        hop = parse_hop(value)
        while hop.at and sending < len(starts) and hop.at >= starts[sending][1]:
            previous, sending = starts[sending][0], sending + 1
        if hop.at and previous:
            hop = replace(hop, delay_seconds=round((hop.at - previous).total_seconds()))
        previous = hop.at or previous
        found.append(replace(hop, sending=sending) if sending else hop)
    return found


def _sending_starts(date: datetime | None, resent: list[datetime]) -> list[tuple[datetime, datetime]]:
    """(Resent-Date, the earliest hop time that belongs to it) per re-sending: a hop up to half the gap since the
    previous sending (at most 10 minutes) before the Resent-Date is already the re-sending's (clocks differ)."""
    starts, before = [], date
    for when in sorted(resent):
        slack = min(RESEND_SLACK, (when - before) / 2) if before and when > before else timedelta(0)
        starts.append((when, when - slack))
        before = when
    return starts


def parse_hop(value: str) -> Hop:
    route, when = _route_and_time(value)
    clauses = _clauses(route)
    recipient = _ANGLE_ADDRESS.search(clauses.get("for", ""))
    return Hop(
        from_=_TLS_COMMENT.sub("", clauses.get("from", "")) or None,
        by=clauses.get("by") or None,
        with_=" ".join(strip_comments(clauses.get("with", "")).split()) or None,
        for_=address_key(recipient[1] or recipient[2]) if recipient else None,
        at=when,
        comment=None if clauses else (" ".join(route.strip().strip("()").split()) or None),
    )


def _route_and_time(value: str) -> tuple[str, datetime | None]:
    route, separator, when = value.rpartition(";")
    if separator:
        return route, parse_date(when)
    if stamp := _ISO_STAMP.search(value):
        return value[:stamp.start()], _iso_stamp(stamp)
    if stamp := _RFC_STAMP.search(value):
        return value[:stamp.start()], parse_date(stamp[0])
    return value, None


def _iso_stamp(match: re.Match[str]) -> datetime | None:
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
    try:
        stamp = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        return None
    return stamp.astimezone(UTC) + _microseconds(fraction)


def _microseconds(fraction: str | None) -> timedelta:
    return timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def _clauses(route: str) -> dict[str, str]:
    """"from X by Y with Z id W for <R>" -> {"from": X, …}; keywords inside (comments) don't count."""
    matches = list(_CLAUSE.finditer(_mask_comments(route)))
    if not matches:  # qmail's "(qmail 4410 invoked by uid 1001)": a comment only
        return {}
    ends = [match.start() for match in matches[1:]] + [len(route)]
    clauses: dict[str, str] = {}
    for match, end in zip(matches, ends, strict=True):
        clauses.setdefault(match[1], " ".join(route[match.end():end].split()))
    return clauses


def _mask_comments(text: str) -> str:
    """Comments overwritten with "x" (same length), innermost first, so positions still match."""
    while True:
        masked = _COMMENT.sub(lambda match: "x" * len(match[0]), text)
        if masked == text:
            return masked
        text = masked


def strip_comments(text: str) -> str:
    """The text without its (comments), nested ones included."""
    while True:
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            return stripped
        text = stripped


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date (weekday, zone, trailing comment and fractional seconds optional) in UTC, or None."""
    text = text.strip()
    if not text:
        return None
    fraction = _FRACTION.search(text)
    if fraction:  # "17:47:01.650": the standard library's parser refuses the fraction
        text = text[:fraction.start()] + fraction[1] + text[fraction.end():]
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value + _microseconds(fraction[2] if fraction else None)


def host(clause: str | None) -> str:
    """The host name a from/by clause starts with."""
    return clause.split()[0] if clause else "?"
