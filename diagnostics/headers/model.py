"""What the headers say, as plain dataclasses: no parsing here and no diagnosis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from .spam import SpamVerdict, read_verdict, scl_of

# Servers that stamp whole seconds (truncated or rounded) disagree by a second or two without any real skew.
CLOCK_TOLERANCE_SECONDS = 5


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
    sending: int = 0  # 0: the original sending; 1, 2…: the re-sendings (Resent-Date), oldest first

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


@dataclass(frozen=True)
class Resent:
    """One re-sending: its Resent-* fields (RFC 5322 section 3.6.6)."""

    date: datetime | None
    from_: Mailbox | None = None
    to: tuple[Mailbox, ...] = ()
    message_id: str | None = None


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
    report_present: bool = False  # there is an X-Forefront-Antispam-Report
    mailbox_delivery: dict[str, str] = field(default_factory=dict)  # X-Microsoft-Antispam-Mailbox-Delivery's pairs
    other_filters: dict[str, str] = field(default_factory=dict)  # X-KLMS-AntiSpam-Status, X-Spam-Flag, …
    resent: list[Resent] = field(default_factory=list)  # oldest first
    authentication: list[Authentication] = field(default_factory=list)
    received_spf: str | None = None  # the topmost Received-SPF's result
    exchange: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the pre-pass repaired or ignored

    @property
    def recipients(self) -> set[str]:
        """To and Cc addresses: the only ones server-side sync makes queue items for."""
        return {mailbox.address for mailbox in (*self.to, *self.cc)}

    @property
    def resent_recipients(self) -> set[str]:
        """The Resent-To addresses of every re-sending."""
        return {mailbox.address for item in self.resent for mailbox in item.to}

    @property
    def envelope_recipients(self) -> list[str]:
        return list(dict.fromkeys(address for address, _ in self.envelope))

    @property
    def scl(self) -> int | None:
        return scl_of(self.antispam)

    @property
    def sfv(self) -> str | None:
        return self.antispam.get("SFV", "").upper() or None

    @cached_property
    def spam(self) -> SpamVerdict:
        """Whose anti-spam verdict counts and where the mailbox put the message."""
        return read_verdict(self.antispam, self.report_present, self.mailbox_delivery, self.other_filters)

    @property
    def junk_reason(self) -> str | None:
        """Why the message is (or would be) in Junk Email, if it is."""
        return self.spam.reason

    @property
    def receiving_authentication(self) -> Authentication | None:
        """The receiving organisation's checks: the newest Authentication-Results."""
        return self.authentication[0] if self.authentication else None

    @property
    def sent_at(self) -> datetime | None:
        """When the sending that delivered this copy started: the newest Resent-Date, else Date."""
        dates = [resent.date for resent in self.resent if resent.date]
        return dates[-1] if dates else self.date

    @property
    def total_transit_seconds(self) -> int | None:
        """From the Date header (a re-sent message: the newest Resent-Date), else the first hop of that
        sending, to the last hop."""
        sending = max((hop.sending for hop in self.hops), default=0)
        times = [hop.at for hop in self.hops if hop.at and hop.sending == sending]
        start = self.sent_at or (times[0] if times else None)
        return round((times[-1] - start).total_seconds()) if times and start else None

    @property
    def arrival(self) -> tuple[datetime, str] | None:
        """When the message arrived, and from which header: the newest timed Received hop, else Date."""
        timed = [hop.at for hop in self.hops if hop.at]
        if timed:
            return timed[-1], "Received"
        return (self.date, "Date") if self.date else None
