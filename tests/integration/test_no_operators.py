"""No operator, no dial: with every operator paused on the real Asterisk nobody is dialed,
in any mode (a campaign without an operator group too); the first operator who comes back
gets the customer. Asterisk's own channel events are the witness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver, is_customer
from support.operators import SANDBOX_OPERATORS, operators_config, pause, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.domain import OperatorsAway
from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

ANSWERS = "+79161231001"  # answers, talks 2 s, hangs up (4th digit from the end: 1)


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own (operators' pauses must not leak), operators talking 2 s."""
    instance = start_asterisk(extra_config=sandbox_dialplan(2))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.mark.parametrize(
    ("mode", "group"),
    [
        ("customer_first", None),  # no group: only "someone is signed in" can hold it
        ("customer_first", "sales"),
        ("predictive", "sales"),
        ("agent_first", "sales"),
    ],
)
async def test_nobody_is_dialed_while_every_operator_is_paused(tmp_path, pbx, mode, group):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode=mode, campaign={"group": group})
    told: list[OperatorsAway] = []

    def listen(event: object) -> None:
        if isinstance(event, OperatorsAway):
            told.append(event)

    async with AmiObserver.of(pbx) as observer:
        await pause(observer, *SANDBOX_OPERATORS)
        async with running_engine(loaded, listeners=[listen]) as (engine, db, _):
            (lead_id,) = await add_leads(db, [ANSWERS])
            engine.wake()
            await observer.wait_for(lambda: bool(told), 10, "dialing held for want of operators")
            await asyncio.sleep(3)  # time enough to have dialed many times over
            lead = await store.get_lead(db, lead_id)
            assert lead is not None and (lead["state"], lead["attempts"]) == ("waiting", 0)
            assert [
                s for s in observer.named("Newchannel") if "@customers-" in s.frame["Channel"]
            ] == []
            await pause(observer, "103", paused=False)  # one operator comes back
            await wait_until_settled(db, [lead_id], timeout_s=20)
            (attempt,) = await store.attempts_of(db, lead_id)
    assert attempt["outcome"] == "answered"
    if group is not None:  # without a group dialerd does not follow who took the call
        assert attempt["operator"] == "103"
    if mode != "agent_first":  # Asterisk's word: the queue connected operator 103
        connects = [s.frame["Interface"] for s in observer.named("AgentConnect")]
        assert connects == ["Local/103@operators"]
    assert any(is_customer(s.frame["Channel"]) for s in observer.named("Newchannel"))
    assert [event.away for event in told] == [True, False]
