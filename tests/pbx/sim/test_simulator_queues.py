"""The simulator's queues speak app_queue's frames (transcripts-22.10.1/queue*.txt), and
``queue_events.parse`` reads them into the typed events the daemon records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from dialerd.pbx import parse as queue_events
from dialerd.pbx.events import AgentConnected, MemberState, QueueCallerJoined, QueueCallerLeft
from dialerd.pbx.sim.server import AmiSimulator

SECRET = "sim-secret"


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=100) as simulator:
        simulator.add_member("sales", "Local/101@operators", "Operator 101")
        yield simulator


@contextlib.asynccontextmanager
async def manager(simulator: AmiSimulator) -> AsyncIterator[tuple[Manager, list[Message]]]:
    loop = asyncio.get_running_loop()
    logged_in: asyncio.Future[None] = loop.create_future()
    events: list[Message] = []
    ami = Manager(
        host="127.0.0.1",
        port=simulator.port,
        username="dialer",
        secret=SECRET,
        loop=loop,
        ping_delay=600,
        reconnect_timeout=600,
        on_login=lambda _: logged_in.done() or logged_in.set_result(None),
    )
    ami.register_event("*", lambda _, event: events.append(event))
    ami.connect()
    try:
        await asyncio.wait_for(logged_in, 2)
        yield ami, events
    finally:
        ami.close()


async def frames_of(events: list[Message], uniqueid: str, last: str) -> list[Message]:
    async with asyncio.timeout(3):
        while not any(e.get("Event") == last and e.get("Uniqueid") == uniqueid for e in events):
            await asyncio.sleep(0.01)
    return [e for e in events if e.get("Uniqueid") == uniqueid]


async def test_an_answered_caller_gets_the_transcripts_frames_in_order(sim):
    async with manager(sim) as (_ami, events):
        uid = sim.queue_call("79161230001", "answer", after_s=5, talk_s=20)
        frames = await frames_of(events, uid, "Hangup")
        member_states = [e for e in events if e.get("Event") == "QueueMemberStatus"]
    assert [f["Event"] for f in frames] == [
        "QueueCallerJoin",
        "AgentCalled",
        "QueueCallerLeave",  # before AgentConnect, as Asterisk 22 sends it
        "AgentConnect",
        "AgentComplete",
        "Hangup",
    ]
    parsed = [queue_events.parse(f, 0.0) for f in frames]
    assert parsed[0] == QueueCallerJoined(uid, uid, "sales", "79161230001", 1, 0.0)
    assert parsed[2] == QueueCallerLeft(uid, uid, "sales", 0.0)
    connect = parsed[3]
    assert isinstance(connect, AgentConnected)
    assert (connect.interface, connect.member_name, connect.hold_s) == (
        "Local/101@operators",
        "Operator 101",
        5.0,
    )
    assert frames[4]["TalkTime"] == "20"
    # the member: in use while talking, then not in use with its LastCall
    states = [queue_events.parse(e, 0.0) for e in member_states]
    assert [(s.status, s.last_call > 0) for s in states if isinstance(s, MemberState)] == [
        (2, False),
        (1, True),
    ]


async def test_abandon_and_leave(sim):
    async with manager(sim) as (_ami, events):
        gone = sim.queue_call("79161230002", "abandon", after_s=12)
        left = sim.queue_call("79161230003", "leave", after_s=3)
        abandoned = await frames_of(events, gone, "Hangup")
        timed_out = await frames_of(events, left, "Hangup")
    names = [f["Event"] for f in abandoned]
    assert names == ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "Hangup"]
    assert abandoned[1]["HoldTime"] == "12"
    assert [f["Event"] for f in timed_out] == ["QueueCallerJoin", "QueueCallerLeave", "Hangup"]


async def test_queue_status_lists_members_as_asterisk_does(sim):
    sim.set_member("Local/101@operators", paused=True)
    async with manager(sim) as (ami, _events):
        replies = await ami.send_action({"Action": "QueueStatus"}, as_list=True)
    names = [r.get("Event") for r in replies]
    assert names[-1] == "QueueStatusComplete" and "QueueParams" in names
    members = [queue_events.parse(r, 0.0) for r in replies if r.get("Event") == "QueueMember"]
    assert members == [
        MemberState(
            "sales",
            "Local/101@operators",
            "Operator 101",
            1,
            True,
            False,
            "test",
            0.0,
            last_call=0.0,
        )
    ]
