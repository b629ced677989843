"""Lead intake: validate at the edge, so nothing downstream re-checks (R1, R2).

A rejected lead names its field and the reason, and nothing is stored; a
duplicate is recorded (it counts in the duplicate rate) and names the lead it
duplicates; a lead on the do-not-call list is stored closed as ``dnc``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from dialerd.config import CampaignSettings, Settings
from dialerd.domain import CloseReason
from dialerd.policy.ami_safety import UnsafeAmiValue, check_ami_value
from dialerd.policy.dedup import DuplicateRule, KnownLead, find_duplicate
from dialerd.policy.lead_zone import check_timezone
from dialerd.policy.phones import InvalidPhone, parse_phone
from dialerd.policy.priority import rank_for
from dialerd.policy.regions import UnknownRegion, region_zone
from dialerd.policy.window import CallingWindow, deadline
from dialerd.store import leads as store
from dialerd.store.leads import JsonText, NewLead
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Conn, Store

MAX_TEXT = 200
MAX_REGION = 100
# an amount as most shops send it, below the 1e12 bound: read without Decimal (same result)
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?")


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
    campaign: str | None = None
    comment: str | None = None
    callback_at: float | None = None
    source: str = "api"
    items: list[Any] | JsonText | None = None  # the order's items, kept as JSON (CRM, console)
    metadata: dict[str, Any] | JsonText | None = None  # free-form, kept as JSON
    timezone: str | None = None  # IANA: the customer's zone, when the shop knows it
    region: str | None = None  # the delivery region: ISO 3166-2 code or a region's name


@dataclass(frozen=True)
class Accepted:
    lead_id: int
    closed_as: CloseReason | None = None  # dnc: stored, never dialed


@dataclass(frozen=True)
class Duplicate:
    duplicate_of: int
    rule: DuplicateRule


def validate_lead(raw: LeadInput, settings: Settings, now: float) -> NewLead:
    """A checked lead, or LeadRejected naming the field and the reason."""
    try:
        phone = parse_phone(raw.phone, settings.phones.default_region)
    except InvalidPhone as exc:
        raise LeadRejected("phone", str(exc)) from None
    campaign = _text("campaign", raw.campaign, max_len=64) or settings.default_campaign
    if campaign not in settings.campaigns:
        known = ", ".join(sorted(settings.campaigns))
        raise LeadRejected("campaign", f"unknown campaign {campaign!r} (configured: {known})")
    if raw.callback_at is not None and raw.callback_at <= now:
        raise LeadRejected("callback_at", "is in the past")
    timezone = _timezone(raw.timezone)
    return NewLead(
        phone=phone,
        campaign=campaign,
        order_id=_text("order_id", raw.order_id, max_len=64),
        name=_text("name", raw.name),
        amount_minor=_amount(raw.amount),
        comment=_text("comment", raw.comment, max_len=2000),
        source=raw.source,
        callback_at=raw.callback_at,
        items=raw.items,
        metadata=raw.metadata,
        timezone=timezone,
        region=_region(raw.region, with_timezone=timezone is not None),
    )


def _timezone(value: str | None) -> str | None:
    text = _text("timezone", value, max_len=64)
    if text is None:
        return None
    try:
        return check_timezone(text)
    except ValueError as exc:
        raise LeadRejected("timezone", str(exc)) from None


def _region(value: str | None, *, with_timezone: bool) -> str | None:
    """The region as stored: its ISO 3166-2 code when known.

    Without a timezone it must be one dialerd can place in a zone: a lead whose region
    says nothing would be dialed by its number's zones while the shop believes otherwise.
    With one, the region is kept as sent (the timezone decides).
    """
    text = _text("region", value, max_len=MAX_REGION)
    if text is None:
        return None
    try:
        return region_zone(text)[0]
    except UnknownRegion as exc:
        if with_timezone:
            return text
        raise LeadRejected("region", str(exc)) from None


async def submit(db: Store, lead: NewLead, settings: Settings, now: float) -> Accepted | Duplicate:
    """Duplicate check and insert in one write transaction, so two submits cannot both pass."""
    async with db.transaction() as conn:
        (result,) = await submit_many_in(conn, [lead], settings, now)
    return result


async def submit_many_in(
    conn: Conn, leads: Sequence[NewLead], settings: Settings, now: float
) -> list[Accepted | Duplicate]:
    """Intake inside the caller's write transaction, one result per lead, in order.

    The leads are checked in order against the store and against each other (the
    second of two equal leads in one batch is its first's duplicate), with a few
    statements for the whole list rather than a few per lead.
    """
    if not leads:
        return []
    window = settings.policy.window
    phones = sorted({lead.phone.e164 for lead in leads})
    await store.lock_intake(conn)  # before the duplicate check reads (PostgreSQL)
    known = await store.known_leads_many(conn, phones)
    blocked = await store.on_dnc_many(conn, phones)
    next_id = await store.next_lead_id(conn)
    placements: dict[tuple[str, bool, bool], store.Placement] = {}
    results: list[Accepted | Duplicate] = []
    rows: list[tuple[int, NewLead, store.Placement]] = []
    duplicates: list[tuple[NewLead, int, str]] = []
    for lead in leads:
        # validated against the config of its request; a reload since may have removed the
        # campaign: its leads then follow the default campaign's rules (as the engine does)
        campaign = (
            settings.campaigns.get(lead.campaign) or settings.campaigns[settings.default_campaign]
        )
        seen = known.get((lead.phone.e164, lead.campaign))
        if seen is None:  # the usual case: a phone new to the campaign
            seen = known[(lead.phone.e164, lead.campaign)] = []
        else:
            rules = campaign.duplicates
            earlier = find_duplicate(rules.rule, rules.window_h * 3600, lead.order_id, now, seen)
            if earlier is not None:
                duplicates.append((lead, earlier.lead_id, rules.rule.value))
                results.append(Duplicate(earlier.lead_id, rules.rule))
                continue
        callback, on_dnc = lead.callback_at is not None, lead.phone.e164 in blocked
        placement = placements.get((lead.campaign, callback, on_dnc))
        if placement is None:
            placement = _placement(campaign, callback, on_dnc, window, now)
            placements[(lead.campaign, callback, on_dnc)] = placement
        rows.append((next_id, lead, placement))
        seen.append(KnownLead(next_id, lead.order_id, now))
        results.append(Accepted(next_id, placement.closed_as))
        next_id += 1
    await store.insert_leads_many_in(conn, rows, now)
    await store.insert_duplicates_many_in(conn, duplicates, now)
    for lead_id, _, placement in rows:
        if placement.closed_as is not None:
            await enqueue_result(conn, lead_id, now)  # the CRM hears it will not be called
    return results


def _placement(
    campaign: CampaignSettings, callback: bool, blocked: bool, window: CallingWindow, now: float
) -> store.Placement:
    """Rank, speed-to-lead deadline and closure of a new lead; the same for all alike in a batch.

    A requested callback has no deadline (the customer chose the time); a phone on the
    do-not-call list is stored closed as ``dnc``.
    """
    deadline_at = None
    if not callback:
        target = timedelta(minutes=campaign.speed_to_lead_min)
        deadline_at = deadline(datetime.fromtimestamp(now, UTC), window, target).timestamp()
    return store.Placement(
        rank=rank_for(campaign.scheme, 0, callback_pending=callback),
        deadline_at=deadline_at,
        closed_as=CloseReason.DNC if blocked else None,
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


def parse_amount(value: str | float | int | None) -> int | None:
    """An amount in minor units, or LeadRejected naming ``amount`` (shared with dispositions)."""
    return _amount(value)


def _amount(value: str | float | int | None) -> int | None:
    """Order amount in minor units (kopecks, cents): money is never a float in the store."""
    if value is None or value == "":
        return None
    if type(value) is str and (plain := _PLAIN_AMOUNT.fullmatch(value)):  # "1299.90": no Decimal
        whole, cents = plain.groups()
        return int(whole) * 100 + int((cents or "").ljust(2, "0"))
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
