"""Header mode: one email's internet headers -> facts, hops and why it did not become a case.

The layers, in the manner of Microsoft's Message Header Analyzer (model, rules and rendering apart):

- ``prepass``: decode, refuse binary and oversized input, repair lost indentation;
- ``fields`` and ``received``: ``parse_headers(raw) -> ParsedHeaders`` (``model``), hops;
- ``diagnosis``: ``analyse_headers(raw, snapshot=None, queue=None, report=None) -> dict``, the contract's
  header JSON: note rules, the Bcc check, the verdict;
- ``snapshot_check``: the email looked up in a snapshot (the only part that needs the engine);
- ``render``: ``headers_json`` (the facts) and ``render_headers_text(result)``.

Unreadable input raises ``SnapshotError`` with a one-line message.

Keys beyond the contract: per hop ``with``, ``clock_skew`` and ``comment`` (qmail's "(qmail 4410 invoked by
uid 1001)"); the first hop's ``delay_seconds`` counts from the Date header. Then ``total_transit_seconds``,
``envelope_recipients``, ``auto_reply``, ``bulk`` (Precedence bulk/list, List-Id), ``spam`` (``scl``,
``sfv``, ``cat``, ``junk`` and also ``junk_reason``, ``bcl``, ``dir``, ``dest``, ``report``),
``authentication`` (per Authentication-Results header, newest first: ``authserv_id``, ``spf``, ``dkim``,
``dmarc``, ``compauth``, ``compauth_reason``, ``arc``), ``received_spf``, ``exchange`` (the
X-MS-Exchange-Organization-* headers), ``queues`` (the queues checked: ``id``, ``name``, ``address``),
``snapshot_email`` (the snapshot email with this Message-ID, summarised), ``notes`` and ``unchecked``. A
cause's ``queue`` is the queue id when the snapshot knows the queue, else the queue address (header mode
without a snapshot has no ids), or null for a cause of the whole email.
"""

from .diagnosis import NOT_IN_SNAPSHOT, NOTE_RULES, analyse_headers
from .fields import parse_headers
from .model import Authentication, Hop, Mailbox, ParsedHeaders
from .prepass import MAX_BYTES
from .render import (
    HEADER_VERDICT_LABELS,
    authentication_rows,
    authentication_summary,
    headers_json,
    render_headers_text,
    spam_rows,
    spam_summary,
)

__all__ = ["HEADER_VERDICT_LABELS", "MAX_BYTES", "NOTE_RULES", "NOT_IN_SNAPSHOT", "Authentication", "Hop", "Mailbox",
           "ParsedHeaders", "analyse_headers", "authentication_rows", "authentication_summary", "headers_json",
           "parse_headers", "render_headers_text", "spam_rows", "spam_summary"]
