"""The anti-spam headers read together: whose verdict each one is, and where the mailbox put the message.

- ``X-Forefront-Antispam-Report`` is Exchange Online Protection's report
  (https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo). Its ``DIR`` is INB (inbound), OUT
  (outbound) or INT (internal): a DIR:OUT report is the *sending* organisation's outbound filter, never the
  receiving tenant's junk verdict.
- ``X-Microsoft-Antispam-Mailbox-Delivery`` is not documented by Microsoft. Reading ``dest:I`` as the Inbox,
  ``dest:J`` as Junk Email, ``dest:C`` as a custom folder and ``OFR`` as the reason for an override is our
  inference from observed headers; when the header is there, ``dest`` decides where the message went.
- ``X-MS-Exchange-Organization-SCL`` with no Forefront report was not set by Exchange Online Protection's
  filter: another filter (a gateway, on-premises Exchange, a mail flow rule) set it; name what the headers show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# SFV values that send the message to Junk Email or quarantine (the Microsoft page above).
JUNK_VERDICTS = {"SPM": "marked as spam by spam filtering", "SKS": "marked as spam by a mail flow rule",
                 "SKB": "from a sender or domain on the blocked list of an anti-spam policy",
                 "BLK": "from an address on the recipient's Blocked Senders list"}
# SFV values and IPV:CAL that let a message skip filtering: what an override looks like in the report.
ALLOW_VERDICTS = {"SKN": "a mail flow rule bypassed spam filtering (SFV:SKN)",
                  "SKA": "the sender is on an anti-spam policy's allowed senders or domains (SFV:SKA)",
                  "SFE": "the sender is on the recipient's Safe Senders list (SFV:SFE)",
                  "SKI": "the connecting IP address is on the connection filter's IP Allow List (SFV:SKI)",
                  "SKQ": "it was released from quarantine (SFV:SKQ)"}
JUNK_SCL = 5
FOLDERS = {"I": "Inbox", "J": "Junk Email", "C": "a custom folder"}
# Other filters' verdict headers, by lower-case name: who they are.
OTHER_FILTERS = {"x-klms-antispam-status": "Kaspersky Linux Mail Security",
                 "x-ksmg-antispam-status": "Kaspersky Secure Mail Gateway",
                 "x-barracuda-spam-status": "Barracuda", "x-spam-flag": "SpamAssassin or a similar filter",
                 "x-spam-status": "SpamAssassin or a similar filter", "x-spam": "a spam filter"}
_SPAM_WORD = re.compile(r"^\s*(?:spam|yes|true)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SpamVerdict:
    """``junk``: the message is in Junk Email (or would be); ``reason`` why; ``by`` whose verdict that is;
    ``delivered_to`` the folder the mailbox delivery header names; ``filter_reason`` what the receiving side's
    filter said, whatever the mailbox then did; ``outbound_reason`` what a DIR:OUT report said."""

    junk: bool = False
    reason: str | None = None
    by: str | None = None
    delivered_to: str | None = None
    override: str | None = None
    filter_reason: str | None = None
    outbound_reason: str | None = None


def read_verdict(antispam: dict[str, str], report_present: bool, delivery: dict[str, str],
         other_filters: dict[str, str]) -> SpamVerdict:
    """The verdict that counts, from the report's pairs (``antispam``), the mailbox delivery's pairs and the
    other filters' headers."""
    outbound = report_present and antispam.get("DIR", "").upper() == "OUT"
    filter_reason = None if outbound else _filter_reason(antispam)
    outbound_reason = _outbound_reason(antispam) if outbound else None
    by = _whose(report_present, outbound, other_filters) if (filter_reason or outbound_reason) else None
    dest = antispam.get("DEST")
    override = delivery.get("OFR") or None
    if dest:  # where the mailbox put it decides
        reason = None
        if dest == "J":
            reason = "delivered to Junk Email (X-Microsoft-Antispam-Mailbox-Delivery dest:J)"
            reason += f"; {filter_reason}" if filter_reason else ""
        return SpamVerdict(dest == "J", reason, by, FOLDERS.get(dest, f"dest:{dest}"), override, filter_reason,
                           outbound_reason)
    return SpamVerdict(filter_reason is not None, filter_reason, by, None, override, filter_reason, outbound_reason)


def contract_junk(antispam: dict[str, str]) -> bool:
    """The contract's ``spam.junk``, as written there: SCL 5 or more, or SFV SPM, SKS, SKB or BLK. It ignores
    ``dest``, ``DIR`` and whose filter set the SCL; ``in_junk`` (``read_verdict``) is where the message went."""
    level = scl_of(antispam)
    return (level is not None and level >= JUNK_SCL) or antispam.get("SFV", "").upper() in JUNK_VERDICTS


def scl_of(antispam: dict[str, str]) -> int | None:
    value = antispam.get("SCL", "")
    return int(value) if re.fullmatch(r"-?\d{1,3}", value) else None


def allow_list_marks(delivery: dict[str, str]) -> list[str]:
    """The mailbox delivery's allow-list marks that are set ("wl:1", "pcwl:1"); undocumented, shown as written."""
    return [f"{key}:{value}" for key, value in delivery.items() if key.lower().endswith("wl") and value == "1"]


def flagged_filters(other_filters: dict[str, str]) -> list[str]:
    """"X-KLMS-AntiSpam-Status: spam (Kaspersky Linux Mail Security)" for each other filter that says spam."""
    return [f"{name}: {value} ({OTHER_FILTERS[name.lower()]})" for name, value in other_filters.items()
            if _SPAM_WORD.match(value)]


def allow_markers(antispam: dict[str, str], delivery: dict[str, str]) -> list[str]:
    """What in the headers shows an override that let the message through."""
    found = []
    if (sfv := antispam.get("SFV", "").upper()) in ALLOW_VERDICTS:
        found.append(ALLOW_VERDICTS[sfv])
    if antispam.get("IPV", "").upper() == "CAL" and sfv != "SKI":
        found.append("the connecting IP address is on the connection filter's IP Allow List (IPV:CAL)")
    if scl_of(antispam) == -1 and sfv not in ALLOW_VERDICTS:
        found.append("SCL -1: filtering was skipped (a mail flow rule or an allow entry)")
    if delivery.get("OFR"):
        found.append(f"the mailbox delivery names an override, OFR:{delivery['OFR']}")
    return found


def _filter_reason(antispam: dict[str, str]) -> str | None:
    sfv = antispam.get("SFV", "").upper()
    if sfv in JUNK_VERDICTS:
        return f"SFV:{sfv}, {JUNK_VERDICTS[sfv]}"
    level = scl_of(antispam)
    if level is not None and level >= JUNK_SCL:
        return f"spam confidence level SCL {level}"
    return None


def _whose(report_present: bool, outbound: bool, other_filters: dict[str, str]) -> str:
    if outbound:
        return "the sending organisation's outbound filter (X-Forefront-Antispam-Report DIR:OUT)"
    if report_present:
        return "Exchange Online Protection, the receiving organisation's filter (X-Forefront-Antispam-Report)"
    flagged = flagged_filters(other_filters)
    if flagged:
        return f"another filter: {'; '.join(flagged)}"
    return "not shown: X-MS-Exchange-Organization-SCL with no X-Forefront-Antispam-Report"


def _outbound_reason(antispam: dict[str, str]) -> str | None:
    """What a DIR:OUT report flagged ("SFV:SPM, CAT:OSPM, SCL 5"), or None when it flagged nothing."""
    if not _filter_reason(antispam) and antispam.get("CAT", "NONE").upper() in ("NONE", ""):
        return None
    parts = [f"{key}:{antispam[key]}" for key in ("SFV", "CAT") if antispam.get(key)]
    if (level := scl_of(antispam)) is not None:
        parts.append(f"SCL {level}")
    return ", ".join(parts)
