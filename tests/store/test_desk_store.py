"""The lead desk's store side (issue 13): search, and each action written with its audit row
in one transaction; a requeued lead is picked again and closed when its extras are spent."""

from __future__ import annotations

from datetime import time as wall
from zoneinfo import ZoneInfo

import pytest

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import FinishedCall, Outcome
from dialerd.policy.desk import DeskRefused
from dialerd.policy.phone_limits import PhoneLimits
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Policy, judge
from dialerd.policy.priority import Scheme
from dialerd.policy.retry import after_attempt
from dialerd.policy.window import CallingWindow
from dialerd.store import attempts, desk
from dialerd.store import leads as store

NOW = 1_800_000_000.0


def policy(scheme=Scheme.FEWEST_ATTEMPTS, cap=2):
    window = CallingWindow(ZoneInfo("UTC"), wall(0), wall(0))
    rules = campaign_rules(CampaignSettings(scheme=scheme, max_attempts=cap))
    # a requeued lead is redialed at once: the per-phone limits are not what this is about
    return Policy(window, {"default": rules}, "default", PhoneLimits(per_day=None, min_gap_s=0))


async def add(db, phone, **fields):
    return await store.insert_lead(db, store.NewLead(phone=Phone(phone), **fields), NOW)


async def test_search_by_phone_order_or_a_part_of_the_name(db):
    first = await add(db, "+79161234001", order_id="A-1", name="Irina Petrova")
    second = await add(db, "+79161234002", name="Petr 100%_off")
    found = await desk.search(db, phone="+79161234001", text="x")
    assert [f.lead_id for f in found] == [first]
    assert [f.lead_id for f in await desk.search(db, phone=None, text="A-1")] == [first]
    assert [f.lead_id for f in await desk.search(db, phone=None, text="petr")] == [second, first]
    assert [f.lead_id for f in await desk.search(db, phone=None, text="100%_")] == [second]
    assert await desk.search(db, phone=None, text="P%a") == []  # LIKE's wildcards are literal


async def test_a_refused_action_writes_nothing(db):
    lead_id = await add(db, "+79161234003")
    await desk.close(db, lead_id, "done", user="boss", now=NOW)
    with pytest.raises(DeskRefused):
        await desk.close(db, lead_id, "again", user="boss", now=NOW)
    with pytest.raises(desk.LeadNotFound):
        await desk.close(db, 999, None, user="boss", now=NOW)
    rows = await db.conn.execute_fetchall("SELECT action, lead_id FROM audit")
    assert [tuple(r) for r in rows] == [("close", lead_id)]


@pytest.mark.parametrize("scheme", list(Scheme))
async def test_a_requeued_lead_is_picked_again_and_closed_when_its_extras_are_spent(db, scheme):
    rules = policy(scheme, cap=2)
    lead_id = await add(db, "+79161234004")

    async def dial_once(at: float) -> None:
        claim = await attempts.claim_next(db, at, rules.ranks, lambda lead: judge(lead, at, rules))
        assert claim is not None and claim.lead_id == lead_id
        call = FinishedCall(
            claim.attempt_id, claim.lead_id, claim.call_id, Outcome.BUSY, 5, 17, None, at, 1.0, None
        )

        def decide(count: int, campaign: str, extra: int = 0):
            # due again at once: the test dials without waiting out a retry delay
            update = after_attempt(Outcome.BUSY, count, rules.campaign(campaign), at, extra)
            return type(update)(update.state, update.rank, at, update.close_reason)

        await attempts.finish_attempt(db, call, decide, at)

    await dial_once(NOW + 1)
    await dial_once(NOW + 2)
    lead = await store.get_lead(db, lead_id)
    assert (lead["state"], lead["close_reason"], lead["attempts"]) == ("closed", "exhausted", 2)
    cap = await desk.requeue(db, lead_id, 1, rules, user="boss", now=NOW + 3)
    assert cap == 3
    await dial_once(NOW + 4)
    lead = await store.get_lead(db, lead_id)
    assert (lead["state"], lead["close_reason"], lead["attempts"]) == ("closed", "exhausted", 3)
    assert (
        await attempts.claim_next(db, NOW + 5, rules.ranks, lambda lead: judge(lead, NOW, rules))
        is None
    )
