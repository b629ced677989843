"""What the operator's screen reads (issue 12): the lead card of a call, the operator's own
counts of the day, and whose call a call id is.

Read-only, on the one reader connection the web layer passes, with a fixed number of
statements that are all index lookups (``attempts.call_id``, ``attempts_lead``,
``leads_phone``, ``dispositions.attempt_id``, ``dispositions_confirmed``,
``attempts_operator_created``): the card must be on the page within 300 ms of the
connect however many attempts the store holds, so nothing here scans a table or grows
with the store, only with one lead's attempts and one phone's orders.

The three statements of a card are not wrapped in one read transaction: the lead and its
call come from one statement; the earlier attempts and earlier orders it adds do not
change under a call in flight (only a late result of an earlier attempt could land
between them, and showing it one refresh later is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias
from zoneinfo import ZoneInfo

from dialerd.domain import CloseReason, LeadState, Outcome, Result
from dialerd.policy.lead_zone import LeadZoneSource, lead_zone
from dialerd.policy.local_time import CustomerZone, customer_zone
from dialerd.policy.pick import Policy
from dialerd.policy.priority import Scheme, describe_rank
from dialerd.store import sql
from dialerd.store.sql import Conn

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]

EARLIER_ORDERS = 10  # the card lists the newest ten; ``repeat_customer`` looks at all


@dataclass(frozen=True)
class CardItem:
    """One line of the order as the shop sent it (intake keeps ``items`` as free JSON).

    The usual keys are picked out for the card's columns, as text as sent (``price`` in
    whatever unit the shop uses: intake does not say); every other key is in ``other``.
    An item that is not an object (plain text) is its ``name``.
    """

    name: str | None
    sku: str | None
    qty: str | None
    price: str | None
    other: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CardLead:
    lead_id: int
    phone: str  # E.164
    name: str | None
    order_id: str | None
    amount_minor: int | None  # the shop's currency (the store keeps no currency)
    items: tuple[CardItem, ...]
    comment: str | None
    metadata: Mapping[str, JsonValue]  # all of it; the card shows ``display_metadata``
    campaign: str
    source: str  # api | cli | csv | missed_call | demo
    received_at: float
    state: LeadState
    close_reason: CloseReason | None
    attempts: int
    callback_at: float | None  # the agreed callback this call is for, while it is in flight


@dataclass(frozen=True)
class CardCall:
    """The attempt the card is for."""

    call_id: str
    number: int  # "attempt n of cap"
    mode: str  # agent_first | customer_first | predictive
    operator: str | None  # None while a customer_first call is live (written when it ends)
    created_at: float
    status: str  # dialing | done
    outcome: Outcome | None  # once done
    answered_at: float | None
    result: Result | None  # the operator's result, once recorded (a page reloaded in wrap-up)


@dataclass(frozen=True)
class EarlierAttempt:
    """An earlier attempt of the same lead, with the operator's result and note if any."""

    number: int
    call_id: str
    created_at: float
    outcome: Outcome | None  # None: still dialing (cannot happen while this call is)
    talk_s: float | None
    operator: str | None
    result: Result | None
    note: str | None
    callback_at: float | None  # the time agreed, for a callback


@dataclass(frozen=True)
class EarlierOrder:
    """Another lead of the same phone received before this one (any campaign)."""

    lead_id: int
    order_id: str | None
    amount_minor: int | None
    received_at: float
    campaign: str
    state: LeadState
    close_reason: CloseReason | None
    confirmed: bool
    confirmed_minor: int | None  # the confirmed amount (the operator's, else the order's)


@dataclass(frozen=True)
class CardData:
    """Everything the lead card shows, read at once."""

    lead: CardLead
    call: CardCall
    cap: int  # the campaign's max_attempts, from the policy passed in
    scheme: Scheme
    # the rank the lead was picked at, known while this call is its attempt in flight
    # (the engine re-ranks the lead when the attempt ends; the attempt keeps no rank)
    rank: int | None
    tier: str | None  # ``rank`` in the words of `dialerd plan`: new, second_attempt, ...
    earlier_attempts: tuple[EarlierAttempt, ...]  # oldest first
    earlier_orders: tuple[EarlierOrder, ...]  # newest first, at most EARLIER_ORDERS
    repeat_customer: bool  # any order of this phone confirmed before this lead came in
    zone: CustomerZone  # ``zone.describe(now)``: the customer's local time


@dataclass(frozen=True)
class OperatorDayCounts:
    """One operator's calls since a moment, as the operator's page shows them.

    Not ``calls.OperatorDay`` (calls, answered and talk of every operator, for
    ``dialerd operators``): this one adds confirmations and revenue. Talk time counts
    conversations only and revenue is the confirmed amount, else the order's, as the
    reports' operator breakdown counts them, so the page and the report agree.
    """

    calls: int
    answered: int
    talk_s: float
    confirmed: int
    revenue_minor: int


class CallOwner(NamedTuple):
    """Whose call a call id is, read cheaply before anything else (``attempts.call_id``)."""

    lead_id: int
    operator: str | None  # None while a customer_first call is live: ask the operator board
    state: str  # 'dialing' while in flight, else its outcome


_CARD = (
    "SELECT a.call_id, a.number, a.mode, COALESCE(a.operator, d.operator), a.created_at,"
    " a.status, a.outcome, a.answered_at, d.result,"
    " l.id, l.phone, l.name, l.order_id, l.amount_minor, l.items, l.comment, l.metadata,"
    " l.campaign, l.source, l.received_at, l.state, l.close_reason, l.attempts, l.callback_at,"
    " l.rank,"
    " EXISTS (SELECT 1 FROM leads e JOIN dispositions f ON f.lead_id = e.id"
    "   WHERE e.phone = l.phone AND e.received_at < l.received_at AND f.result = 'confirmed'),"
    " l.timezone, l.region, l.extra_attempts"
    " FROM attempts a JOIN leads l ON l.id = a.lead_id"
    " LEFT JOIN dispositions d ON d.attempt_id = a.id"
    " WHERE a.call_id = ?"
)
_EARLIER_ATTEMPTS = (
    "SELECT a.number, a.call_id, a.created_at, a.outcome, a.talk_s,"
    " COALESCE(a.operator, d.operator), d.result, d.note, d.callback_at"
    " FROM attempts a LEFT JOIN dispositions d ON d.attempt_id = a.id"
    " WHERE a.lead_id = ? AND a.number < ? ORDER BY a.number"
)
# Earlier: received strictly before, as the reports' repeat-customer count has it.
_EARLIER_ORDERS = (
    "SELECT l.id, l.order_id, l.amount_minor, l.received_at, l.campaign, l.state,"
    " l.close_reason,"
    " EXISTS (SELECT 1 FROM dispositions d WHERE d.lead_id = l.id AND d.result = 'confirmed'),"
    " (SELECT COALESCE(d.amount_minor, l.amount_minor) FROM dispositions d"
    "   WHERE d.lead_id = l.id AND d.result = 'confirmed' ORDER BY d.id DESC LIMIT 1)"
    " FROM leads l WHERE l.phone = ? AND l.received_at < ?"
    f" ORDER BY l.received_at DESC, l.id DESC LIMIT {EARLIER_ORDERS:d}"
)


async def lead_card(conn: Conn, call_id: str, policy: Policy) -> CardData | None:
    """The card of ``call_id``, or None when no attempt has that call id.

    ``policy``: the current config's, for the lead's campaign's cap and scheme (a campaign
    removed from the config follows the default's, as the engine does) and the centre's
    zone (the customer's local time when the number names none). Three statements.
    """
    rows = list(await sql.rows(conn, _CARD, (call_id,)))
    if not rows:
        return None
    (row,) = rows
    call = CardCall(
        call_id=row[0],
        number=row[1],
        mode=row[2],
        operator=row[3],
        created_at=row[4],
        status=row[5],
        outcome=_outcome(row[6]),
        answered_at=row[7],
        result=_result(row[8]),
    )
    lead = CardLead(
        lead_id=row[9],
        phone=row[10],
        name=row[11],
        order_id=row[12],
        amount_minor=row[13],
        items=_items(row[14]),
        comment=row[15],
        metadata=_metadata(row[16]),
        campaign=row[17],
        source=row[18],
        received_at=row[19],
        state=LeadState(row[20]),
        close_reason=_close_reason(row[21]),
        attempts=row[22],
        callback_at=row[23],
    )
    in_flight = (
        call.status == "dialing"
        and lead.state is LeadState.DIALING
        and lead.attempts == call.number
    )
    rank = int(row[24]) if in_flight else None
    rules = policy.campaign(lead.campaign)
    attempts = await sql.rows(conn, _EARLIER_ATTEMPTS, (lead.lead_id, call.number))
    orders = await sql.rows(conn, _EARLIER_ORDERS, (lead.phone, lead.received_at))
    return CardData(
        lead=lead,
        call=call,
        cap=rules.max_attempts + int(row[28]),  # with a supervisor's extra attempts
        scheme=rules.scheme,
        rank=rank,
        tier=describe_rank(rules.scheme, rank) if rank is not None else None,
        earlier_attempts=tuple(
            EarlierAttempt(
                number=a[0],
                call_id=a[1],
                created_at=a[2],
                outcome=_outcome(a[3]),
                talk_s=a[4],
                operator=a[5],
                result=_result(a[6]),
                note=a[7],
                callback_at=a[8],
            )
            for a in attempts
        ),
        earlier_orders=tuple(
            EarlierOrder(
                lead_id=o[0],
                order_id=o[1],
                amount_minor=o[2],
                received_at=o[3],
                campaign=o[4],
                state=LeadState(o[5]),
                close_reason=_close_reason(o[6]),
                confirmed=bool(o[7]),
                confirmed_minor=o[8],
            )
            for o in orders
        ),
        repeat_customer=bool(row[25]),
        zone=customer_zone(lead.phone, policy.tz, _own_zone(lead.phone, row[26], row[27], policy)),
    )


def _own_zone(
    phone: str, timezone: str | None, region: str | None, policy: Policy
) -> ZoneInfo | None:
    """The zone the shop sent for the lead (timezone, or its region's), as dialing uses it."""
    zone = lead_zone(phone, timezone, region, policy.tz)
    return zone.zone if zone.source in (LeadZoneSource.TIMEZONE, LeadZoneSource.REGION) else None


def display_metadata(metadata: Mapping[str, JsonValue], keys: Sequence[str]) -> dict[str, str]:
    """The metadata fields the config marks for display, in the config's order, as text.

    Keys the lead does not have are left out (a shop's form fields differ by source);
    strings are shown as they are, anything else as compact JSON.
    """
    return {key: _text(metadata[key]) for key in keys if key in metadata}


async def operator_day(conn: Conn, operator: str, since: float) -> OperatorDayCounts:
    """``operator``'s calls started since ``since`` (the page passes the centre's midnight).

    One range of ``attempts_operator_created``; a customer_first call counts once it has
    ended (its operator is written then), an agent_first call from the moment it rings.
    """
    row = await sql.row(
        conn,
        "SELECT COUNT(*), SUM(a.outcome = 'answered'),"
        " SUM(CASE WHEN a.outcome = 'answered' THEN a.talk_s END),"
        " COUNT(d.id),"
        " SUM(CASE WHEN d.id IS NOT NULL THEN COALESCE(d.amount_minor, l.amount_minor, 0) END)"
        " FROM attempts a INDEXED BY attempts_operator_created"
        " JOIN leads l ON l.id = a.lead_id"
        " LEFT JOIN dispositions d ON d.attempt_id = a.id AND d.result = 'confirmed'"
        " WHERE a.operator = ? AND a.created_at >= ?",
        (operator, since),
    )
    assert row is not None  # an aggregate always answers one row
    return OperatorDayCounts(
        calls=int(row[0]),
        answered=int(row[1] or 0),
        talk_s=float(row[2] or 0.0),
        confirmed=int(row[3]),
        revenue_minor=int(row[4] or 0),
    )


async def call_owner(conn: Conn, call_id: str) -> CallOwner | None:
    """Whose call ``call_id`` is (the attempt's operator, else the one who recorded its
    result), so the page can refuse another operator's call id before reading the card."""
    rows = list(
        await sql.rows(
            conn,
            "SELECT a.lead_id, COALESCE(a.operator, d.operator),"
            " CASE WHEN a.status = 'dialing' THEN 'dialing' ELSE COALESCE(a.outcome, a.status) END"
            " FROM attempts a LEFT JOIN dispositions d ON d.attempt_id = a.id WHERE a.call_id = ?",
            (call_id,),
        )
    )
    if not rows:
        return None
    return CallOwner(int(rows[0][0]), rows[0][1], str(rows[0][2]))


def _items(text: str | None) -> tuple[CardItem, ...]:
    value = _json(text)
    if not isinstance(value, list):
        return ()
    return tuple(_item(item) for item in value)


_ITEM_KEYS = {
    "name": ("name", "title"),
    "sku": ("sku",),
    "qty": ("qty", "quantity"),
    "price": ("price",),
}


def _item(value: JsonValue) -> CardItem:
    if not isinstance(value, dict):
        return CardItem(
            name=None if value is None else _text(value), sku=None, qty=None, price=None
        )
    picked: dict[str, str | None] = {}
    used: set[str] = set()
    for field, keys in _ITEM_KEYS.items():
        key = next((k for k in keys if value.get(k) is not None), None)
        picked[field] = None if key is None else _text(value[key])
        used.update(keys)
    other = tuple((k, _text(v)) for k, v in value.items() if k not in used and v is not None)
    return CardItem(picked["name"], picked["sku"], picked["qty"], picked["price"], other)


def _metadata(text: str | None) -> dict[str, JsonValue]:
    value = _json(text)
    return value if isinstance(value, dict) else {}


def _json(text: str | None) -> JsonValue:
    """A stored JSON column; None for none (intake wrote it, so it parses; a card never fails)."""
    if text is None:
        return None
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return None
    return value


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _outcome(value: str | None) -> Outcome | None:
    return None if value is None else Outcome(value)


def _result(value: str | None) -> Result | None:
    return None if value is None else Result(value)


def _close_reason(value: str | None) -> CloseReason | None:
    return None if value is None else CloseReason(value)


async def awaiting_result(conn: Conn, operator: str, since: float) -> str | None:
    """The operator's latest answered call since ``since`` that has no result yet.

    A page reloaded (or a daemon restarted) during wrap-up shows that call's card again,
    so a result is never forgotten because the screen went away.
    """
    rows = list(
        await sql.rows(
            conn,
            "SELECT a.call_id FROM attempts a"
            " WHERE a.operator = ? AND a.created_at >= ? AND a.outcome = 'answered'"
            " AND NOT EXISTS (SELECT 1 FROM dispositions d WHERE d.attempt_id = a.id)"
            " ORDER BY a.created_at DESC LIMIT 1",
            (operator, since),
        )
    )
    return str(rows[0][0]) if rows else None
