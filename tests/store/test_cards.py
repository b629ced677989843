"""The lead card and the operator's own day, as an operator would see them, read from a real
SQLite store through a separate read-only connection (as the web layer reads it), with the
leads, attempts and results written by the real intake, claim, finish and record paths."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite
import pytest

from dialerd.domain import CloseReason, FinishedCall, LeadState, Outcome, Result
from dialerd.intake.leads import Accepted, LeadInput, submit, validate_lead
from dialerd.policy.disposition import Disposition
from dialerd.policy.local_time import ZoneSource
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS, Scheme
from dialerd.policy.retry import after_attempt
from dialerd.store import attempts, dispositions
from dialerd.store.cards import (
    CallOwner,
    CardItem,
    OperatorDayCounts,
    call_owner,
    display_metadata,
    lead_card,
    operator_day,
)
from dialerd.store.db import Database

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
HOUR = 3600.0


class Shop:
    """A store with the campaigns' config, and the steps a lead's life takes, done for real."""

    def __init__(self, db: Database, make_config) -> None:
        self.db = db
        self.settings = make_config(
            campaigns={
                "default": {"max_attempts": 5},
                "vip": {"max_attempts": 3, "scheme": "fewest_attempts"},
            }
        ).settings
        self.policy = self.settings.policy

    async def lead(self, phone: str, now: float, **fields) -> int:
        new = validate_lead(LeadInput(phone=phone, **fields), self.settings, now)
        accepted = await submit(self.db, new, self.settings, now)
        assert isinstance(accepted, Accepted), accepted
        return accepted.lead_id

    async def dial(self, lead_id: int, now: float, *, operator: str | None = None):
        """Claim the lead (the only one due), agent_first when an operator is rung first."""
        mode = "agent_first" if operator else "customer_first"
        claim = await attempts.claim_next(
            self.db, now, RANKS, lambda _: Dial(), mode_of=lambda _: mode
        )
        assert claim is not None and claim.lead_id == lead_id
        if operator:
            await attempts.set_operator(self.db, claim.attempt_id, operator)
        return claim

    async def end(self, claim, outcome: Outcome, at: float, *, operator=None, talk_s=None):
        answered = at - (talk_s or 0) if outcome is Outcome.ANSWERED else None
        call = FinishedCall(
            claim.attempt_id,
            claim.lead_id,
            claim.call_id,
            outcome,
            None,
            None,
            answered,
            at,
            5.0,
            talk_s,
            operator=operator,
            operator_at=answered,
        )

        def decide(count: int, campaign: str, extra: int = 0):
            return after_attempt(outcome, count, self.policy.campaign(campaign), at)

        await attempts.finish_attempt(self.db, call, decide, at)

    async def result(self, claim, at: float, result: Result, **fields) -> None:
        await dispositions.record(
            self.db, claim.call_id, Disposition(result, **fields), self.policy, at
        )

    async def conversation(self, lead_id, at, operator, result, talk_s=90.0, **fields):
        claim = await self.dial(lead_id, at)
        await self.end(claim, Outcome.ANSWERED, at + talk_s, operator=operator, talk_s=talk_s)
        await self.result(claim, at + talk_s + 20, result, operator=operator, **fields)
        return claim


@asynccontextmanager
async def reader(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A read-only connection without the store's row factory: what the web layer may pass."""
    conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def shop(db, make_config) -> Shop:
    return Shop(db, make_config)


async def a_customers_third_call(shop: Shop):
    """A customer who bought before (A-1, confirmed) and refused once (A-0), now on a new
    order (A-2) typed differently, at its third attempt: a callback Anna agreed, Boris rung."""
    # earlier orders of the same customer, the phone written three ways
    old = await shop.lead("+7 916 123-45-67", T0, order_id="A-0", amount="500")
    await shop.conversation(old, T0 + 60, "olga", Result.REFUSED, note="too expensive")
    bought = await shop.lead("8 (916) 123-45-67", T0 + HOUR, order_id="A-1", amount="2500.00")
    await shop.conversation(
        bought, T0 + HOUR + 60, "olga", Result.CONFIRMED, talk_s=120.0, amount_minor=250000
    )
    received = T0 + 24 * HOUR
    lead_id = await shop.lead(
        "79161234567",
        received,
        order_id="A-2",
        name="Anna Petrova",
        amount="1299.90",
        comment="leave at the door",
        items=[
            {"name": "Kettle", "qty": 1, "price": "1299.90"},
            {"sku": "KB-1", "quantity": 2, "color": "red"},
            "gift wrap",
        ],
        metadata={"utm_source": "ads", "city": "Tver", "gclid": "xyz", "cart": {"n": 2}},
    )
    first = await shop.dial(lead_id, received + 10)
    await shop.end(first, Outcome.NO_ANSWER, received + 40)
    callback_at = received + 5 * HOUR
    await shop.conversation(
        lead_id,
        received + 2 * HOUR,
        "anna",
        Result.CALLBACK,
        talk_s=95.0,
        callback_at=callback_at,
        note="call after 6 pm, husband decides",
    )
    third = await shop.dial(lead_id, callback_at, operator="boris")
    # after this call was picked: another order of the same phone, and another customer's
    await shop.lead("+79161234567", callback_at + 1, order_id="A-3")
    await shop.lead("+79161239999", received - HOUR, order_id="B-1")
    return lead_id, third


async def test_the_card_shows_the_lead_this_attempt_of_its_cap_and_the_tier_it_was_picked_in(
    shop,
):
    lead_id, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, third.call_id, shop.policy)
    assert card is not None
    lead = card.lead
    assert (lead.lead_id, lead.phone, lead.name, lead.order_id, lead.amount_minor) == (
        lead_id,
        "+79161234567",
        "Anna Petrova",
        "A-2",
        129990,
    )
    assert (lead.comment, lead.campaign, lead.state) == (
        "leave at the door",
        "default",
        LeadState.DIALING,
    )
    assert lead.items == (
        CardItem(name="Kettle", sku=None, qty="1", price="1299.90"),
        CardItem(name=None, sku="KB-1", qty="2", price=None, other=(("color", "red"),)),
        CardItem(name="gift wrap", sku=None, qty=None, price=None),
    )
    assert (card.call.number, card.cap) == (3, 5)  # "attempt 3 of 5"
    assert (card.call.mode, card.call.operator, card.call.status) == (
        "agent_first",
        "boris",
        "dialing",
    )
    assert (card.scheme, card.rank, card.tier) == (Scheme.TIERS, 3, "callback")
    assert card.zone.source is ZoneSource.SEVERAL  # a Russian mobile: a range, honestly


async def test_earlier_attempts_come_in_order_with_the_operators_result_and_note(shop):
    _, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, third.call_id, shop.policy)
    seen = [
        (a.number, a.outcome, a.operator, a.result, a.note, a.talk_s) for a in card.earlier_attempts
    ]
    assert seen == [
        (1, Outcome.NO_ANSWER, None, None, None, None),
        (2, Outcome.ANSWERED, "anna", Result.CALLBACK, "call after 6 pm, husband decides", 95.0),
    ]
    assert card.earlier_attempts[1].callback_at == card.lead.callback_at


async def test_a_repeat_customer_is_flagged_from_an_earlier_confirmed_order_of_the_same_phone(
    shop,
):
    lead_id, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, third.call_id, shop.policy)
    assert card.repeat_customer
    seen = [
        (o.order_id, o.amount_minor, o.confirmed, o.confirmed_minor, o.close_reason)
        for o in card.earlier_orders
    ]
    # newest first; neither the later A-3 nor another customer's B-1
    assert seen == [
        ("A-1", 250000, True, 250000, CloseReason.CONFIRMED),
        ("A-0", 50000, False, None, CloseReason.REFUSED),
    ]


async def test_a_first_time_customer_is_not_a_repeat_one(shop):
    earlier = await shop.lead("+48221234567", T0 - HOUR, order_id="P-0")  # never confirmed
    lead_id = await shop.lead("+48 22 123 45 67", T0, order_id="P-1", campaign="vip")
    busy = await shop.dial(earlier, T0 + 1)  # P-0 is picked first; then P-1 is
    await shop.end(busy, Outcome.BUSY, T0 + 5)
    claim = await shop.dial(lead_id, T0 + 10)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, claim.call_id, shop.policy)
    assert not card.repeat_customer
    assert [(o.order_id, o.confirmed) for o in card.earlier_orders] == [("P-0", False)]
    assert (card.cap, card.scheme, card.tier) == (3, Scheme.FEWEST_ATTEMPTS, "new")
    assert card.earlier_attempts == ()
    assert card.zone.zone is not None and card.zone.zone.key == "Europe/Warsaw"


async def test_only_the_fields_the_config_marks_are_displayed_in_its_order_as_text(shop):
    _, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, third.call_id, shop.policy)
    shown = display_metadata(card.lead.metadata, ["city", "missing", "cart", "utm_source"])
    assert list(shown.items()) == [("city", "Tver"), ("cart", '{"n": 2}'), ("utm_source", "ads")]


async def test_the_tier_is_not_guessed_once_the_attempt_has_ended(shop):
    lead_id = await shop.lead("+74951234567", T0)
    claim = await shop.dial(lead_id, T0 + 1)
    await shop.end(claim, Outcome.BUSY, T0 + 10)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, claim.call_id, shop.policy)
    assert (card.call.status, card.call.outcome) == ("done", Outcome.BUSY)
    assert (card.rank, card.tier) == (None, None)  # the lead was re-ranked for its next try
    assert card.zone.describe(T0) == "11:00"  # a Moscow landline: Moscow's time


async def test_another_operators_call_is_found_as_theirs(shop):
    lead_id, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        assert await call_owner(conn, third.call_id) == CallOwner(lead_id, "boris", "dialing")
        first_owner, second_owner = [
            await call_owner(conn, a.call_id)
            for a in (await lead_card(conn, third.call_id, shop.policy)).earlier_attempts
        ]
        assert second_owner == CallOwner(lead_id, "anna", "answered")
        assert first_owner == CallOwner(lead_id, None, "no_answer")
        assert await call_owner(conn, "dialerd-no-such-call") is None
        assert await lead_card(conn, "dialerd-no-such-call", shop.policy) is None


async def test_an_operators_day_counts_their_calls_talk_confirmations_and_revenue(shop):
    await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        olga = await operator_day(conn, "olga", T0)
        anna = await operator_day(conn, "anna", T0)
        boris = await operator_day(conn, "boris", T0)
        olga_later = await operator_day(conn, "olga", T0 + 2 * HOUR)
    assert olga == OperatorDayCounts(
        calls=2, answered=2, talk_s=210.0, confirmed=1, revenue_minor=250000
    )
    assert anna == OperatorDayCounts(calls=1, answered=1, talk_s=95.0, confirmed=0, revenue_minor=0)
    assert boris == OperatorDayCounts(calls=1, answered=0, talk_s=0.0, confirmed=0, revenue_minor=0)
    assert olga_later == OperatorDayCounts(0, 0, 0.0, 0, 0)


async def traced(conn: aiosqlite.Connection, read) -> list[str]:
    """The statements ``read`` runs on ``conn``, with their values bound."""
    statements: list[str] = []
    await conn.set_trace_callback(statements.append)
    try:
        assert await read is not None
    finally:
        await conn.set_trace_callback(None)
    return statements


async def test_the_screens_reads_take_a_few_indexed_statements_however_long_the_history(shop):
    """The card is on the page within 300 ms on a store of 1M attempts only if its reads
    neither multiply with the history nor scan a table."""
    fresh_lead = await shop.lead("+74951234567", T0 - HOUR)
    fresh = await shop.dial(fresh_lead, T0 - HOUR + 1)  # in flight: no earlier anything
    _, third = await a_customers_third_call(shop)
    async with reader(shop.db.path) as conn:
        long_history = await traced(conn, lead_card(conn, third.call_id, shop.policy))
        no_history = await traced(conn, lead_card(conn, fresh.call_id, shop.policy))
        others = await traced(conn, operator_day(conn, "olga", T0))
        others += await traced(conn, call_owner(conn, third.call_id))
    assert len(long_history) == len(no_history) <= 6
    plans = sqlite3.connect(shop.db.path)
    try:
        for statement in long_history + others:
            plan = [row[3] for row in plans.execute(f"EXPLAIN QUERY PLAN {statement}")]
            scans = [step for step in plan if step.startswith("SCAN")]
            assert scans == [], f"{statement}\n{plan}"
    finally:
        plans.close()


async def test_the_card_reads_the_customers_time_in_the_zone_the_shop_sent(shop):
    """A Russian mobile with its delivery region: one time (Kaliningrad's), not a range."""
    lead_id = await shop.lead("+79161234567", T0, region="Калининградская область")
    claim = await shop.dial(lead_id, T0 + 10)
    async with reader(shop.db.path) as conn:
        card = await lead_card(conn, claim.call_id, shop.policy)
    assert card is not None
    assert card.zone.source is ZoneSource.LEAD
    assert card.zone.describe(T0) == datetime.fromtimestamp(
        T0, ZoneInfo("Europe/Kaliningrad")
    ).strftime("%H:%M")
