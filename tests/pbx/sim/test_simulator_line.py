"""The simulator's queue behaves like app_queue in a call centre: one line in arrival order,
customers who give up when their patience runs out, operators' wrap-up after each call,
and every time it reports on the clock it was given (a simulated day's, not the wall's)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from support.observer import AmiObserver, Frame

from dialerd.pbx.sim.server import AmiSimulator, OutcomeRule, SimOutcome

SECRET = "sim-secret"
SCALE = 200  # simulated seconds per real second
_ids = itertools.count(1)


def customers(talk_s: float = 10.0, patience_s: float | None = 600.0) -> OutcomeRule:
    return lambda _number: SimOutcome("answer", talk_s=talk_s, patience_s=patience_s)


@contextlib.asynccontextmanager
async def call_centre(
    rule: OutcomeRule, members: int = 1, scale: float = SCALE, **options: Any
) -> AsyncIterator[tuple[AmiSimulator, AmiObserver]]:
    """Queue ``sales`` with ``members`` operators; answered customers at operators/600 join it."""
    async with AmiSimulator(secret=SECRET, time_scale=scale, rule=rule, **options) as sim:
        for n in range(members):
            sim.add_member("sales", f"Local/10{n + 1}@operators", f"Operator 10{n + 1}")
        sim.route_to_queue("operators", "600", "sales", timeout_s=None)
        async with AmiObserver("127.0.0.1", sim.port, sim.username, SECRET) as observer:
            yield sim, observer


async def dial(observer: AmiObserver, number: str = "79161231001") -> str:
    """An Originate as customer_first sends it; the call's Uniqueid."""
    call_id = f"call-{next(_ids)}"
    reply = await observer.action(
        {
            "Action": "Originate",
            "Channel": f"Local/{number}@customers",
            "Context": "operators",
            "Exten": "600",
            "Priority": "1",
            "Async": "true",
            "ChannelId": call_id,
        }
    )
    assert reply[0]["Response"] == "Success", reply
    return call_id


def frames(observer: AmiObserver, event: str) -> list[Frame]:
    return [seen.frame for seen in observer.named(event)]


async def until(observer: AmiObserver, test: Callable[[], bool], what: str) -> None:
    await observer.wait_for(test, 5.0, what)


async def test_callers_are_offered_to_the_operator_in_the_order_they_joined():
    async with call_centre(customers(talk_s=30)) as (sim, observer):
        await observer.action(
            {"Action": "QueuePause", "Interface": "Local/101@operators", "Paused": "true"}
        )
        calls = []
        for _ in range(3):
            calls.append(await dial(observer))
            await asyncio.sleep(0.02)  # joined 4 simulated seconds apart
        await until(observer, lambda: len(frames(observer, "QueueCallerJoin")) == 3, "3 joins")
        joins = frames(observer, "QueueCallerJoin")
        assert [(j["Uniqueid"], j["Position"]) for j in joins] == [
            (calls[0], "1"),
            (calls[1], "2"),
            (calls[2], "3"),
        ]
        await observer.action(
            {"Action": "QueuePause", "Interface": "Local/101@operators", "Paused": "false"}
        )
        await until(observer, lambda: len(frames(observer, "AgentComplete")) == 3, "3 calls")
        connects = frames(observer, "AgentConnect")
    assert [c["Uniqueid"] for c in connects] == calls  # first come, first served
    holds = [int(c["HoldTime"]) for c in connects]
    assert holds[0] < holds[1] < holds[2]  # each waited for the calls before it
    assert holds[2] - holds[1] >= 30 - 4 - 2  # the whole of the call before it, less the gap


async def test_a_customer_nobody_takes_abandons_when_their_patience_runs_out():
    async with call_centre(customers(talk_s=300, patience_s=25), members=1) as (sim, observer):
        first = await dial(observer)  # talks to the only operator for 300 s
        await until(observer, lambda: len(frames(observer, "AgentConnect")) == 1, "connect")
        second = await dial(observer)
        await until(observer, lambda: len(frames(observer, "QueueCallerAbandon")) == 1, "abandon")
        await until(
            observer,
            lambda: any(f["Uniqueid"] == second for f in frames(observer, "Hangup")),
            "hangup",
        )
        ((abandon,),) = [frames(observer, "QueueCallerAbandon")]
        seconds = [f for f in observer.events if f.frame.get("Uniqueid") == second]
    assert abandon["Uniqueid"] == second
    assert (abandon["Position"], abandon["OriginalPosition"]) == ("1", "1")
    assert 24 <= int(abandon["HoldTime"]) <= 35  # their patience, not the first call's 300 s
    names = [s.name for s in seconds if s.name.startswith("Queue")]
    assert names == ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]
    assert [f["Uniqueid"] for f in frames(observer, "AgentConnect")] == [first]


async def test_patience_is_drawn_per_customer_from_the_seed_not_their_talk_time():
    async def hold_times(seed: int) -> list[int]:
        rule = customers(talk_s=45, patience_s=None)
        async with call_centre(rule, members=0, scale=50, seed=seed) as (sim, observer):
            calls = [await dial(observer) for _ in range(6)]
            await until(observer, lambda: len(frames(observer, "QueueCallerAbandon")) == 6, "6")
            held = {
                f["Uniqueid"]: int(f["HoldTime"]) for f in frames(observer, "QueueCallerAbandon")
            }
            return [held[call] for call in calls]

    first, again, other = await hold_times(7), await hold_times(7), await hold_times(8)
    assert len(set(first)) >= 4  # customers differ
    assert first.count(45) <= 1  # nobody waits exactly their talk time by rule
    assert first == pytest.approx(again, abs=3)  # the same seed, the same customers
    assert first != pytest.approx(other, abs=3)


async def test_the_queue_timeout_ends_the_wait_of_a_patient_customer():
    async with call_centre(customers(patience_s=1000), members=0) as (sim, observer):
        sim.route_to_queue("operators", "600", "sales", timeout_s=60)
        await dial(observer)
        await until(observer, lambda: len(frames(observer, "QueueCallerAbandon")) == 1, "abandon")
        (abandon,) = frames(observer, "QueueCallerAbandon")
    assert 59 <= int(abandon["HoldTime"]) <= 70


async def test_an_operator_in_wrap_up_is_offered_no_caller_until_it_ends():
    async with call_centre(customers(talk_s=20), members=1) as (sim, observer):
        sim.set_wrapup("sales", 60)
        await dial(observer)
        await until(observer, lambda: len(frames(observer, "AgentConnect")) == 1, "first")
        second = await dial(observer)
        await until(observer, lambda: len(frames(observer, "AgentComplete")) == 2, "both calls")
        connects = frames(observer, "AgentConnect")
        statuses = frames(observer, "QueueMemberStatus")
        first_done = observer.named("AgentComplete")[0].at
        second_taken = observer.named("AgentConnect")[1].at
    assert connects[1]["Uniqueid"] == second
    assert (second_taken - first_done) * SCALE >= 60 - 2  # the whole wrap-up, then the caller
    assert connects[1]["Interface"] == "Local/101@operators"
    assert statuses[-1]["CallsTaken"] == "2"
    # Asterisk reports the queue's wrapuptime nowhere: the member's own is 0
    assert {s["Wrapuptime"] for s in statuses} == {"0"}


async def test_last_call_and_uniqueids_are_on_the_clock_given():
    day = 1_700_000_000.0  # a simulated day in the past
    loop = asyncio.get_running_loop()
    start = loop.time()
    clock = lambda: day + (loop.time() - start) * SCALE  # noqa: E731
    async with call_centre(customers(talk_s=10), members=1, clock=clock) as (sim, observer):
        await dial(observer)
        await until(observer, lambda: len(frames(observer, "AgentComplete")) == 1, "a call")
        await until(observer, lambda: len(frames(observer, "QueueMemberStatus")) == 2, "status")
        ended = frames(observer, "QueueMemberStatus")[-1]
        listed = await observer.action({"Action": "QueueStatus"}, as_list=True)
        ping = await observer.action({"Action": "Ping"})
    last_call = int(ended["LastCall"])
    assert day + 10 <= last_call <= day + 60  # the call ended 10 simulated s into the day
    (member,) = [f for f in listed if f.get("Event") == "QueueMember"]
    assert member["LastCall"] == str(last_call)
    assert day <= int(member["LoginTime"]) <= last_call
    assert day <= float(ping[0]["Timestamp"]) <= day + 3600
    agent_leg = frames(observer, "AgentConnect")[0]["DestUniqueid"]
    assert day <= float(agent_leg) <= day + 3600
