"""What the headers say, as plain dataclasses: no parsing here and no diagnosis."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# Servers that stamp whole seconds (truncated or rounded) disagree by a second or two without any real skew.
CLOCK_TOLERANCE_SECONDS = 5

# SFV, the spam filtering verdict of X-Forefront-Antispam-Report: these send the message to Junk Email or
# quarantine (https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo).
JUNK_VERDICTS = {"SPM": "marked as spam by spam filtering", "SKS": "marked as spam by a mail flow rule",
                 "SKB": "from a sender or domain on the blocked list of an anti-spam policy",
                 "BLK": "from an address on the recipient's Blocked Senders list"}
JUNK_SCL = 5


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str  # lower-cased

    def __str__(self) -> str:
        named = self.name and self.name.lower() != self.address  # Outlook repeats the address as name
        return f"{self.name} <{self.address}>" if named else self.address


@dataclass(frozen=True)
class Hop:
    """One Received header. ``delay_seconds`` counts from the previous timed hop (the first hop: from
    the Date header); a few seconds below zero is whole-second stamping, more is clock skew."""

    from_: str | None
    by: str | None
    with_: str | None
    for_: str | None  # the envelope recipient this hop names
    at: datetime | None  # UTC
    delay_seconds: int | None = None
    comment: str | None = None  # the whole route when it is only a comment: "qmail 4410 invoked by uid 1001"

    @property
    def clock_skew(self) -> bool:
        return self.delay_seconds is not None and self.delay_seconds < -CLOCK_TOLERANCE_SECONDS


@dataclass(frozen=True)
class Authentication:
    """One Authentication-Results header: who checked (``authserv_id``) and what it found."""

    authserv_id: str | None  # Exchange Online writes none
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    compauth: str | None = None
    compauth_reason: str | None = None
    arc: str | None = None


@dataclass
class ParsedHeaders:
    """What the headers say. Addresses are lower-cased; ``hops`` are oldest first; ``authentication``
    newest first (each server adds its header on top)."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    from_: Mailbox | None = None
    to: list[Mailbox] = field(default_factory=list)
    cc: list[Mailbox] = field(default_factory=list)
    subject: str | None = None
    date: datetime | None = None
    hops: list[Hop] = field(default_factory=list)
    envelope: list[tuple[str, str]] = field(default_factory=list)  # (address, where it shows)
    auto_reply: dict[str, str] = field(default_factory=dict)
    bulk: dict[str, str] = field(default_factory=dict)  # Precedence: bulk/list, List-Id
    antispam: dict[str, str] = field(default_factory=dict)  # X-Forefront-Antispam-Report, SCL, BCL, dest
    authentication: list[Authentication] = field(default_factory=list)
    received_spf: str | None = None  # the topmost Received-SPF's result
    exchange: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the pre-pass repaired or ignored

    @property
    def recipients(self) -> set[str]:
        """To and Cc addresses: the only ones server-side sync makes queue items for."""
        return {mailbox.address for mailbox in (*self.to, *self.cc)}

    @property
    def envelope_recipients(self) -> list[str]:
        return list(dict.fromkeys(address for address, _ in self.envelope))

    @property
    def scl(self) -> int | None:
        value = self.antispam.get("SCL", "")
        return int(value) if re.fullmatch(r"-?\d{1,3}", value) else None

    @property
    def sfv(self) -> str | None:
        return self.antispam.get("SFV", "").upper() or None

    @property
    def junk_reason(self) -> str | None:
        """Why Exchange Online Protection would put the message in Junk Email, if it would."""
        if self.sfv in JUNK_VERDICTS:
            return f"SFV:{self.sfv}, {JUNK_VERDICTS[self.sfv]}"
        if self.scl is not None and self.scl >= JUNK_SCL:
            return f"spam confidence level SCL {self.scl}"
        return None

    @property
    def receiving_authentication(self) -> Authentication | None:
        """The receiving organisation's checks: the newest Authentication-Results."""
        return self.authentication[0] if self.authentication else None

    @property
    def total_transit_seconds(self) -> int | None:
        """From the Date header (else the first hop) to the last hop."""
        times = [hop.at for hop in self.hops if hop.at]
        start = self.date or (times[0] if times else None)
        return round((times[-1] - start).total_seconds()) if times and start else None
