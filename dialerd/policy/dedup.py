"""Duplicate leads at intake (R2): shoppers double-submit, a repeat order is not a duplicate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class DuplicateRule(StrEnum):
    PHONE_AND_ORDER = "phone_and_order"  # variant A: same phone and same order id
    PHONE_WINDOW = "phone_window"  # variant B: same phone within a window


@dataclass(frozen=True)
class KnownLead:
    lead_id: int
    order_id: str | None
    received_at: float


def find_duplicate(
    rule: DuplicateRule,
    window_s: float,
    order_id: str | None,
    now: float,
    known: Iterable[KnownLead],
) -> KnownLead | None:
    """The earlier lead (same phone, same campaign) that this one duplicates, or None.

    Variant A: the same order id is a duplicate, a different one is a new order (two leads
    without an order id count as the same request). Variant B: any lead from the phone
    received within ``window_s`` is a duplicate; older ones do not count.
    """
    candidates = sorted(known, key=lambda lead: lead.received_at, reverse=True)
    for lead in candidates:
        if rule is DuplicateRule.PHONE_AND_ORDER and lead.order_id == order_id:
            return lead
        if rule is DuplicateRule.PHONE_WINDOW and now - lead.received_at < window_s:
            return lead
    return None
