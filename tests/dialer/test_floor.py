"""Each call's phase for the wallboard, and campaigns paused by a supervisor (issue 13)."""

from __future__ import annotations

import pytest

from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.floor import CallPhase, CampaignHold, phase_of, phases
from dialerd.dialer.tracking import CallTrack
from dialerd.store import campaign_pauses, sql


def customer_first(**state):
    track = CallTrack(1, 1, "c-1", 0.0, queue_tracked=True, group="sales")
    for key, value in state.items():
        setattr(track, key, value)
    return track


def test_a_customer_first_call_rings_then_queues_then_talks_then_is_gone():
    assert phase_of(customer_first()) is CallPhase.RINGING
    assert phase_of(customer_first(success=False, reason=5)) is CallPhase.RINGING
    assert phase_of(customer_first(success=True, reason=4)) is CallPhase.QUEUED
    talking = customer_first(success=True, reason=4, operator="anna", operator_at=2.0)
    assert phase_of(talking) is CallPhase.TALKING
    unqueued = customer_first(success=True, reason=4, queue_tracked=False)
    assert phase_of(unqueued) is CallPhase.TALKING  # answered outside a queue: nobody to wait for
    assert phase_of(customer_first(success=True, main_hangup_at=3.0)) is None


def test_an_agent_first_call_rings_until_the_customer_answers():
    track = AgentCallTrack(1, 1, "c-2", 0.0, "anna")
    assert phase_of(track) is CallPhase.RINGING
    track.success, track.reason = True, 4  # the operator answered; the customer rings
    assert phase_of(track) is CallPhase.RINGING
    track.dial_status = "ANSWER"
    assert phase_of(track) is CallPhase.TALKING
    counted = phases([track, customer_first(), customer_first(success=True)])
    assert counted == {CallPhase.RINGING: 1, CallPhase.QUEUED: 1, CallPhase.TALKING: 1}


@pytest.mark.engines("sqlite", "postgresql")
async def test_a_paused_campaign_stays_paused_across_a_restart(db):
    woken = []
    hold = CampaignHold(db, lambda: 100.0, lambda: woken.append(1))
    await hold.load()
    assert await hold.pause("default", "boss", "out of stock")
    assert not await hold.pause("default", "olga")  # already: nothing written
    assert hold.is_paused("default") and woken == []
    again = CampaignHold(db, lambda: 200.0, lambda: None)
    await again.load()
    assert again.paused["default"].paused_by == "boss"
    assert await again.resume("default", "olga") and not again.is_paused("default")
    assert not await again.resume("default", "olga")
    rows = await sql.rows(db.conn, 'SELECT "user", action, target, at FROM audit ORDER BY id')
    assert [tuple(r) for r in rows] == [
        ("boss", "campaign_pause", "default", 100.0),
        ("olga", "campaign_resume", "default", 200.0),
    ]


async def test_a_pause_the_store_refused_is_not_held(db, monkeypatch):
    hold = CampaignHold(db, lambda: 1.0, lambda: None)

    async def refuse(*_, **__):
        raise OSError("disk full")

    monkeypatch.setattr(campaign_pauses, "set_paused", refuse)
    with pytest.raises(OSError):
        await hold.pause("default", "boss")
    assert not hold.is_paused("default")
