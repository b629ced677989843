"""The lead card: the store's ``CardData`` in the operator's words, rendered once per offer.

Dates are the centre's wall time (the operator's clock), the customer's local time in
the customer's zone(s); money in the shop's units as sent; outcomes and results through
the catalog. The callback choices are computed here from the calling window, so the
page never offers a time the dialer would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dialerd.formats import decimal_amount
from dialerd.policy.local_time import ZoneSource
from dialerd.policy.pick import Policy
from dialerd.store import cards as card_store
from dialerd.store.cards import CardData
from dialerd.web.context import ConsoleContext
from dialerd.web.i18n import Translator
from dialerd.web.render import fragment

# the key that picks each result, in the order the buttons stand
RESULTS: tuple[tuple[str, str], ...] = (
    ("1", "confirmed"),
    ("2", "callback"),
    ("3", "refused"),
    ("4", "fake"),
    ("5", "duplicate"),
    ("6", "wrong_number"),
    ("7", "complaint"),
    ("8", "no_decision"),
)
_WHEN = "%d.%m %H:%M"


@dataclass(frozen=True)
class CardView:
    call_id: str
    lead_id: int
    phone: str
    name: str | None
    order_id: str | None
    amount: str | None
    amount_input: str
    items: list[dict[str, str]]
    comment: str | None
    fields: list[tuple[str, str]]
    campaign: str
    tier: str | None
    attempt_n: int
    attempt_cap: int
    local_time: str
    customer_zone: str
    centre_zone: str
    history: list[dict[str, str]]
    orders: list[dict[str, str]]
    repeat: bool
    quick: list[tuple[str, str]]
    callback_min: str
    window_hint: str
    survey: bool = False  # the campaign has a post-call survey: the card offers the transfer


async def render_card(
    ctx: ConsoleContext, call_id: str, operator: str, language: str | None
) -> tuple[int, str] | None:
    """(lead id, the card's HTML) if the call is ``operator``'s own, else None."""
    if not owns(ctx, call_id, operator, await card_store.call_owner(ctx.reader.conn, call_id)):
        return None
    policy = ctx.policy()
    data = await card_store.lead_card(ctx.reader.conn, call_id, policy)
    if data is None:
        return None
    settings = ctx.settings()
    if language is None:
        language = next((o.language for o in settings.operators if o.name == operator), None)
    t = Translator(language or settings.console.language)
    view = card_view(data, policy, settings.console.card_fields, ctx.clock(), t)
    campaign = settings.campaigns.get(view.campaign)
    if campaign is not None and campaign.survey.enabled and data.call.mode != "agent_first":
        view = replace(view, survey=True)
    return data.lead.lead_id, fragment("_card.html", t, c=view, results=RESULTS)


def owns(
    ctx: ConsoleContext, call_id: str, operator: str, owner: card_store.CallOwner | None
) -> bool:
    """The store names the call's operator once it ends; while a queue call is live only the
    operator board knows who it was connected to."""
    if owner is None:
        return False
    if owner.operator is not None:
        return owner.operator == operator
    live = ctx.board().operators.get(operator)
    return live is not None and live.current is not None and live.current.call_id == call_id


def card_view(
    data: CardData, policy: Policy, card_fields: list[str], now: float, t: Translator
) -> CardView:
    tz = policy.tz
    lead = data.lead

    def when(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, tz).strftime(_WHEN)

    history = [
        {
            "number": str(a.number),
            "at": when(a.created_at),
            "outcome": t(f"outcome.{a.outcome.value}") if a.outcome is not None else "",
            "operator": a.operator or "",
            "result": t(f"result.{a.result.value}") if a.result is not None else "",
            "note": a.note or "",
        }
        for a in data.earlier_attempts
    ]
    orders = [
        {
            "order_id": o.order_id or f"#{o.lead_id}",
            "at": when(o.received_at),
            "amount": decimal_amount(o.confirmed_minor or o.amount_minor) or "",
            "result": t("outcome.confirmed")
            if o.confirmed
            else t("outcome.open")
            if o.close_reason is None
            else o.close_reason.value,
        }
        for o in data.earlier_orders
    ]
    items = [
        {"name": item.name or item.sku or "", "qty": item.qty or "", "price": item.price or ""}
        for item in lead.items
    ]
    return CardView(
        call_id=data.call.call_id,
        lead_id=lead.lead_id,
        phone=lead.phone,
        name=lead.name,
        order_id=lead.order_id,
        amount=decimal_amount(lead.amount_minor),
        amount_input=decimal_amount(lead.amount_minor) or "",
        items=items,
        comment=lead.comment,
        fields=list(card_store.display_metadata(lead.metadata, card_fields).items()),
        campaign=lead.campaign,
        tier=data.tier,
        attempt_n=data.call.number,
        attempt_cap=data.cap,
        local_time=_local_time(data, now, t),
        customer_zone=data.zone.zone.key if data.zone.zone is not None else "",
        centre_zone=tz.key,
        history=history,
        orders=orders,
        repeat=data.repeat_customer,
        quick=quick_choices(policy, now, t),
        callback_min=_picker(datetime.fromtimestamp(now, tz)),
        window_hint=t(
            "callback.window",
            open=policy.window.open.strftime("%H:%M"),
            close=policy.window.close.strftime("%H:%M"),
            zone=tz.key,
        ),
    )


def quick_choices(policy: Policy, now: float, t: Translator) -> list[tuple[str, str]]:
    """ "In 1 hour", "in 3 hours", "tomorrow at opening": each moved to the window's next
    opening when it falls outside, and given as the picker's value (centre's wall time)."""
    tz = policy.tz
    here = datetime.fromtimestamp(now, tz)
    choices = [
        ("callback.in_1h", here + timedelta(hours=1)),
        ("callback.in_3h", here + timedelta(hours=3)),
    ]
    tomorrow = (here + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    choices.append(("callback.tomorrow", policy.window.next_open(tomorrow).astimezone(tz)))
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, at in choices:
        if not policy.window.is_open(at):
            at = policy.window.next_open(at).astimezone(tz)
        value = _picker(at)
        if value not in seen:
            seen.add(value)
            found.append((t(key), value))
    return found


def _picker(at: datetime) -> str:
    """A ``datetime-local`` value, rounded up to the next minute."""
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return at.strftime("%Y-%m-%dT%H:%M")


def _local_time(data: CardData, now: float, t: Translator) -> str:
    local = data.zone.at(now)
    if data.zone.source is ZoneSource.CENTRE:
        return t("card.zone_centre", time=local.earliest.strftime("%H:%M"))
    if local.known:
        return local.earliest.strftime("%H:%M")
    span = f"{local.earliest:%H:%M}–{local.latest:%H:%M}"
    return t("card.zone_unknown", range=span)
