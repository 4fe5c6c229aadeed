"""The registry of the causes (the nine of the support article and those beyond it), in pipeline order.

Each cause lives in its own module with its id, the support article's wording, how it is detected,
the evidence it produces and its remediation (a message registry in the manner of pylint's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import (
    contact_creation_failed,
    customer_email_conflict,
    email_not_synced,
    no_active_rule_for_queue,
    no_condition_matched,
    no_valid_entitlement,
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
        values = [getattr(cause, attribute) for cause in causes if getattr(cause, attribute) is not None]
        repeated = sorted({str(value) for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"cause registry: {attribute} repeated: {', '.join(repeated)}")
    return tuple(sorted(causes, key=lambda cause: cause.order))


CAUSES: list[Cause] = list(_registry(tuple(module.CAUSE for module in (
    email_not_synced, queue_only_in_bcc, queue_item_missing, reply_to_tracked_email, no_active_rule_for_queue,
    rule_configuration_error, unknown_sender_not_allowed, contact_creation_failed, customer_email_conflict,
    no_valid_entitlement, no_condition_matched))))
# Views of the registry; ``register`` keeps them (and CAUSES) up to date in place, so every importer sees a new cause.
BY_ID: dict[str, Cause] = {}
ORDER: dict[str, int] = {}
COLORS: dict[str, str] = {}


def _refresh() -> None:
    CAUSES[:] = _registry(tuple(CAUSES))
    for view, value in ((BY_ID, lambda cause: cause), (ORDER, lambda cause: cause.order),
                        (COLORS, lambda cause: cause.color)):
        view.clear()
        view.update({cause.id: value(cause) for cause in CAUSES})


def register(cause: Cause) -> None:
    """Add a cause to the registry (a cause module of its own, or a test's): validated like the nine."""
    _registry((*CAUSES, cause))
    CAUSES.append(cause)
    _refresh()


def unregister(cause_id: str) -> None:
    CAUSES[:] = [cause for cause in CAUSES if cause.id != cause_id]
    _refresh()


@contextmanager
def registered(cause: Cause) -> Iterator[Cause]:
    """The cause is in the registry while the block runs."""
    register(cause)
    try:
        yield cause
    finally:
        unregister(cause.id)


_refresh()

__all__ = ["BY_ID", "CAUSES", "COLORS", "KINDS", "ORDER", "Cause", "Context", "Kind", "register", "registered",
           "unregister"]
