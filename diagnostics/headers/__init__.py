"""Header mode: one email's internet headers -> facts, hops and why it did not become a case.

The layers, in the manner of Microsoft's Message Header Analyzer (model, rules and rendering apart):

- ``prepass``: decode, refuse binary and oversized input, repair lost indentation;
- ``fields`` and ``received``: ``parse_headers(raw) -> ParsedHeaders`` (``model``), hops;
- ``spam``: the anti-spam headers read together (whose verdict, which folder);
- ``diagnosis``: ``analyse_headers(raw, snapshot=None, queue=None, report=None) -> dict``, the contract's
  header JSON: note rules, the Bcc check, the verdict;
- ``snapshot_check``: the email looked up in a snapshot (the only part that needs the engine);
- ``render``: ``headers_json`` (the facts) and ``render_headers_text(result)``.

Unreadable input raises ``SnapshotError`` with a one-line message.

Keys beyond the contract: per hop ``with``, ``clock_skew`` and ``comment`` (qmail's "(qmail 4410 invoked by
uid 1001)"); the first hop's ``delay_seconds`` counts from the Date header, and the first hop of a re-sending
from its Resent-Date. Then ``total_transit_seconds`` (of the sending that delivered this copy), ``resent`` (per
re-sending, oldest first: ``date``, ``from``, ``to``, ``message_id``, ``first_hop``), ``envelope_recipients``,
``auto_reply``, ``bulk`` (Precedence bulk/list, List-Id), ``spam`` (``scl``, ``sfv``, ``cat``, ``junk`` and also
``junk_reason``, ``verdict_by``, ``bcl``, ``dir``, ``dest``, ``delivered_to``, ``override``, ``mailbox_delivery``,
``other_filters``, ``report``), ``authentication`` (per Authentication-Results header, newest first:
``authserv_id``, ``spf``, ``dkim``, ``dmarc``, ``compauth``, ``compauth_reason``, ``arc``), ``received_spf``,
``exchange`` (the X-MS-Exchange-Organization-* headers), ``queues`` (the queues checked: ``id``, ``name``,
``address``), ``snapshot_email`` (the snapshot email with this Message-ID, summarised), ``not_in_snapshot``
(``reason``: before-period, after-period or sent-to-none-of-its-queues; ``time``, ``time_from``, ``oldest``,
``newest``, ``why``), ``notes`` and ``unchecked``. A cause's ``queue`` is the queue id when the snapshot knows the
queue, else the queue address (header mode without a snapshot has no ids), or null for a cause of the whole email.

Where the contract's "Header mode" differs, the brief of issue 20 wins: ``junk`` follows the mailbox delivery's
``dest`` when there is one (dest:I is not junk, dest:J is), a DIR:OUT report is never the receiver's junk verdict,
and an SCL with no Forefront report is attributed to the filter the headers show.
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
