"""The pick holds a lead back for its phone's sake, whatever lead or campaign dialed it:
the gap between dials, then the abandon lockout (not for agent_first), and `explain` says so."""

from __future__ import annotations

from datetime import datetime
from datetime import time as wall
from zoneinfo import ZoneInfo

from dialerd.config.campaigns import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import FinishedCall, Outcome
from dialerd.policy.modes import DialMode
from dialerd.policy.phone_limits import PhoneLimits
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Policy, explain, judge
from dialerd.policy.retry import after_attempt
from dialerd.policy.window import CallingWindow
from dialerd.store import attempts
from dialerd.store import leads as store

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=MOSCOW).timestamp()
PHONE = "+79161234001"


def policy() -> Policy:
    window = CallingWindow(MOSCOW, wall(0), wall(0))
    shop = campaign_rules(CampaignSettings())  # customer_first, lockout 72 h
    agent = campaign_rules(CampaignSettings(mode=DialMode.AGENT_FIRST, group="sales"))
    return Policy(window, {"shop": shop, "agent": agent}, "shop", PhoneLimits(3, 300))


async def add(db, campaign: str, received: float) -> int:
    return await store.insert_lead(
        db, store.NewLead(phone=Phone(PHONE), campaign=campaign), received
    )


async def claim(db, rules: Policy, now: float):
    return await attempts.claim_next(db, now, rules.ranks, lambda lead: judge(lead, now, rules))


async def why(db, rules: Policy, lead_id: int, now: float) -> tuple[bool, str, float | None]:
    (view,) = await store.lead_views(db, "id = ?", (lead_id,), "id", 1)
    decision = explain(view, now, rules)
    return decision.callable, decision.reason, decision.due_at


async def test_one_phone_is_held_across_leads_and_campaigns(db):
    rules = policy()
    first = await add(db, "shop", NOW - 30)
    second = await add(db, "shop", NOW - 20)
    agent = await add(db, "agent", NOW - 10)

    taken = await claim(db, rules, NOW)
    assert taken is not None and taken.lead_id == first
    # the same phone is ringing now: no other lead of it is dialed, its due time moves on
    assert await claim(db, rules, NOW + 1) is None
    lead = await store.get_lead(db, second)
    assert lead is not None and lead["due_at"] == NOW + 300
    assert await why(db, rules, second, NOW + 1) == (
        False,
        "held back: phone dialed at 2026-12-07 10:00 MSK (at most once in 5 min),"
        " next at 2026-12-07 10:05 MSK",
        NOW + 300,
    )

    # the customer answered and no operator came: abandoned
    call = FinishedCall(
        taken.attempt_id,
        first,
        taken.call_id,
        Outcome.ABANDONED,
        None,
        16,
        NOW + 10,
        NOW + 15,
        10.0,
        5.0,
    )

    def decide(count: int, campaign: str, extra: int):
        return after_attempt(Outcome.ABANDONED, count, rules.campaign(campaign), NOW + 15, extra)

    await attempts.finish_attempt(db, call, decide, NOW + 15)

    # past the gap: the customer_first lead is locked out 72 h, the agent_first one is not
    later = NOW + 400
    taken = await claim(db, rules, later)
    assert taken is not None and taken.lead_id == agent
    assert await why(db, rules, second, later) == (
        False,
        "held back: abandoned at 2026-12-07 10:00 MSK, locked out until 2026-12-10 10:00 MSK",
        NOW + 10 + 72 * 3600,
    )
    lead = await store.get_lead(db, second)
    assert lead is not None and lead["due_at"] == NOW + 10 + 72 * 3600
    # after the lockout it is dialed again
    taken = await claim(db, rules, NOW + 10 + 72 * 3600)
    assert taken is not None and taken.lead_id == second


async def test_explain_says_when_the_day_is_used_up(db):
    rules = policy()
    lead_ids = [await add(db, "shop", NOW - 60 + n) for n in range(4)]
    for n in range(3):
        taken = await claim(db, rules, NOW + n * 600)
        assert taken is not None
        call = FinishedCall(
            taken.attempt_id,
            taken.lead_id,
            taken.call_id,
            Outcome.BUSY,
            5,
            17,
            None,
            NOW + n * 600 + 5,
            5.0,
            None,
        )
        await attempts.finish_attempt(
            db,
            call,
            lambda count, campaign, extra: after_attempt(
                Outcome.BUSY, count, rules.campaign(campaign), NOW, extra
            ),
            NOW,
        )
    assert await claim(db, rules, NOW + 3 * 600) is None
    callable_, reason, due_at = await why(db, rules, lead_ids[3], NOW + 3 * 600)
    assert not callable_
    assert reason == (
        "held back: phone dialed 3 times today (limit 3), next at 2026-12-08 00:00 MSK"
    )
    assert due_at == datetime(2026, 12, 8, 0, 0, tzinfo=MOSCOW).timestamp()
