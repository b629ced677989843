"""Lead intake: validate at the edge, so nothing downstream re-checks (R1).

A rejected lead names its field and the reason, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dialerd.ami_safety import UnsafeAmiValue, check_ami_value
from dialerd.policy.phones import InvalidPhone, parse_phone
from dialerd.store.leads import NewLead

MAX_TEXT = 200


class LeadRejected(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class LeadInput:
    phone: str
    order_id: str | None = None
    name: str | None = None
    amount: str | float | int | None = None
    campaign: str = "default"
    comment: str | None = None
    source: str = "api"


def validate_lead(raw: LeadInput, default_region: str) -> NewLead:
    try:
        phone = parse_phone(raw.phone, default_region)
    except InvalidPhone as exc:
        raise LeadRejected("phone", str(exc)) from None
    return NewLead(
        phone=phone,
        campaign=_text("campaign", raw.campaign, max_len=64) or "default",
        order_id=_text("order_id", raw.order_id, max_len=64),
        name=_text("name", raw.name),
        amount_minor=_amount(raw.amount),
        comment=_text("comment", raw.comment, max_len=2000),
        source=raw.source,
    )


def _text(field: str, value: str | None, *, max_len: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise LeadRejected(field, "must be a string")
    value = value.strip()
    if len(value) > max_len:
        raise LeadRejected(field, f"is longer than {max_len} characters")
    try:
        check_ami_value(value)  # channel variables and logs must never carry CR/LF
    except UnsafeAmiValue as exc:
        raise LeadRejected(field, str(exc)) from None
    return value or None


def _amount(value: str | float | int | None) -> int | None:
    """Order amount in minor units (kopecks, cents): money is never a float in the store."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise LeadRejected("amount", f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise LeadRejected("amount", "must be a non-negative number")
    if amount > Decimal("1e12"):
        raise LeadRejected("amount", "is implausibly large")
    minor = amount * 100
    if minor != minor.to_integral_value():
        raise LeadRejected("amount", "has more than two decimal places")
    return int(minor)
