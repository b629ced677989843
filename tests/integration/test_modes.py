"""Both dialing modes connect a customer to an operator on real Asterisk (the recording too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import (
    host_path,
    operators_config,
    sandbox_dialplan,
)
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

ANSWERS = "+79161231001"  # answers, talks 2 s, hangs up (4th digit from the end: 1)


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own (operators' pauses must not leak), operators talking 3 s."""
    instance = start_asterisk(extra_config=sandbox_dialplan(3))
    try:
        yield instance
    finally:
        instance.stop()


async def test_customer_first_connects_the_answered_customer_to_a_queue_operator(tmp_path, pbx):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="customer_first")
    async with AmiObserver.of(pbx) as observer, running_engine(loaded) as (engine, db, _):
        (lead_id,) = await add_leads(db, [ANSWERS])
        engine.wake()
        await wait_until_settled(db, [lead_id], timeout_s=20)
        (attempt,) = await store.attempts_of(db, lead_id)
    assert attempt["mode"] == "customer_first"
    assert attempt["outcome"] == "answered"
    (connect,) = observer.named("AgentConnect")
    assert connect.frame["Uniqueid"] == attempt["call_id"]
    assert attempt["operator"] == connect.frame["Interface"].removeprefix("Local/")[:3]
    assert attempt["operator_at"] - attempt["answered_at"] < 2.0
    assert attempt["recording_path"].endswith(f"/{attempt['call_id']}.wav")
    assert host_path(pbx, attempt["recording_path"]).is_file()


async def test_agent_first_rings_the_operator_before_the_customer(tmp_path, pbx):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="agent_first")
    async with AmiObserver.of(pbx) as observer, running_engine(loaded) as (engine, db, _):
        (lead_id,) = await add_leads(db, [ANSWERS])
        engine.wake()
        await wait_until_settled(db, [lead_id], timeout_s=20)
        (attempt,) = await store.attempts_of(db, lead_id)
    call_id = attempt["call_id"]
    assert (attempt["mode"], attempt["outcome"]) == ("agent_first", "answered")
    assert attempt["operator"] in {"101", "102", "103", "104", "105"}
    assert host_path(pbx, attempt["recording_path"]).is_file()
    # Asterisk's own order of events: the operator's phone answered, then the customer was dialed
    ours = [s for s in observer.events if s.frame.get("Linkedid") == call_id]
    operator_up = next(
        i
        for i, s in enumerate(ours)
        if s.name == "Newstate"
        and s.frame["Channel"].startswith(f"Local/{attempt['operator']}@operators")
        and s.frame["ChannelStateDesc"] == "Up"
    )
    customer_new = next(
        i
        for i, s in enumerate(ours)
        if s.name == "Newchannel" and "@customers-" in s.frame["Channel"]
    )
    assert operator_up < customer_new
    # the operator's phone showed who was about to be called
    phone_side = [
        (s.frame["CallerIDName"], s.frame["CallerIDNum"])
        for s in ours
        if s.name == "NewCallerid" and s.frame["Uniqueid"] == f"{call_id};2"
    ]
    assert phone_side == [(f"Lead {lead_id}", ANSWERS)]
