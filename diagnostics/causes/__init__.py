"""The registry of the nine causes, in the contract's pipeline order.

Each cause lives in its own module with its id, the support article's wording, how it is detected,
the evidence it produces and its remediation (a message registry in the manner of pylint's).
"""

from __future__ import annotations

from . import (
    contact_creation_failed,
    customer_email_conflict,
    email_not_synced,
    no_active_rule_for_queue,
    queue_item_missing,
    queue_only_in_bcc,
    reply_to_tracked_email,
    rule_configuration_error,
    unknown_sender_not_allowed,
)
from .base import KINDS, Cause, Context, Kind


def _registry(causes: tuple[Cause, ...]) -> tuple[Cause, ...]:
    """The causes in pipeline order; a repeated id, order, seed number or colour is refused at import."""
    for attribute in ("id", "order", "seed_number", "color"):
        values = [getattr(cause, attribute) for cause in causes]
        repeated = sorted({str(value) for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"cause registry: {attribute} repeated: {', '.join(repeated)}")
    return tuple(sorted(causes, key=lambda cause: cause.order))


CAUSES: tuple[Cause, ...] = _registry(tuple(module.CAUSE for module in (
    email_not_synced, queue_only_in_bcc, queue_item_missing, reply_to_tracked_email, no_active_rule_for_queue,
    rule_configuration_error, unknown_sender_not_allowed, contact_creation_failed, customer_email_conflict)))
BY_ID: dict[str, Cause] = {cause.id: cause for cause in CAUSES}
ORDER: dict[str, int] = {cause.id: cause.order for cause in CAUSES}
COLORS: dict[str, str] = {cause.id: cause.color for cause in CAUSES}

__all__ = ["BY_ID", "CAUSES", "COLORS", "KINDS", "ORDER", "Cause", "Context", "Kind"]
