"""Paused and busy operators are not used, and customers in flight never exceed the free
operators × ratio — counted from Asterisk's own channel list by an independent AMI session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import (
    inbound_call,
    operators_config,
    pause,
    sandbox_dialplan,
)
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own (operators' pauses must not leak), operators talking 3 s."""
    instance = start_asterisk(extra_config=sandbox_dialplan(3))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.mark.parametrize("mode", ["agent_first", "customer_first"])
async def test_paused_and_busy_operators_are_not_used(tmp_path, pbx, mode):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode=mode)
    phones = [f"+7916123100{n}" for n in range(3)]
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "101", "102", "103")
        inbound = await inbound_call(observer, "104", seconds=60)  # 104 talks to a caller
        await observer.wait_for(
            lambda: any(
                s.frame.get("Interface") == "Local/104@operators" and s.frame.get("Status") == "2"
                for s in observer.named("QueueMemberStatus")
            ),
            5,
            "operator 104 busy",
        )
        observer.watch_channels(every_s=0.03)
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, phones)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=40)
            attempts = await store.attempts_of(db)
        await observer.action({"Action": "Hangup", "Channel": "/^Local\\/104@operators-.*$/"})
    assert inbound
    assert [a["outcome"] for a in attempts] == ["answered"] * 3
    assert {a["operator"] for a in attempts} == {"105"}  # the only free operator
    assert observer.samples > 20
    assert observer.peak == 1  # Asterisk never held more than one customer call at once
    connected = {s.frame["Interface"] for s in observer.named("AgentConnect", "AgentCalled")}
    assert connected <= {"Local/105@operators"}


async def test_progressive_ratio_holds_calls_in_flight_to_free_operators(tmp_path, pbx):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="customer_first")
    phones = [f"+791612310{n:02d}" for n in range(6)]
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "101", "104", "105")
        observer.watch_channels(every_s=0.03)
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, phones)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=40)
            attempts = await store.attempts_of(db)
    assert [a["outcome"] for a in attempts] == ["answered"] * 6
    assert {a["operator"] for a in attempts} == {"102", "103"}
    assert observer.peak == 2  # 5 operators, 3 paused: 2 free × dial_ratio 1.0
