"""QueuePause through the daemon's AMI adapter (issue 12), on the simulator, which answers it
as Asterisk 22.10.1 does (seen on the sandbox): one ``QueueMemberPause`` per member touched,
with ``Paused`` and ``PausedReason``, the pause listed by QueueStatus, "Interface not found"
for an interface in no such queue, and an unpause that clears the reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialerd.config import AmiSettings
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import ActionRefused, AmiPbx, PbxUnavailable
from dialerd.pbx.events import AgentConnected, MemberState, QueueCallerLeft
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.ami_safety import UnsafeAmiValue

SECRET = "sim-secret"
ANNA = "Local/101@operators"


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=100) as simulator:
        simulator.add_member("sales", ANNA, "Operator 101")
        simulator.add_member("support", ANNA, "Operator 101")
        simulator.add_member("sales", "Local/102@operators", "Operator 102")
        yield simulator


@pytest.fixture
async def pbx(sim: AmiSimulator) -> AsyncIterator[AmiPbx]:
    settings = AmiSettings(port=sim.port, login_timeout_s=2, reconnect_initial_s=0.05)
    async with AmiPbx(settings, SECRET) as adapter:
        await asyncio.wait_for(adapter.connected.wait(), 2)
        yield adapter


async def member_events(pbx: AmiPbx, count: int) -> list[MemberState]:
    found: list[MemberState] = []
    async with asyncio.timeout(2):
        while len(found) < count:
            event = await pbx.events.get()
            if isinstance(event, MemberState):
                found.append(event)
    return found


def listed(members: list[MemberState]) -> dict[tuple[str, str], tuple[bool, str]]:
    return {(m.queue, m.interface): (m.paused, m.paused_reason) for m in members}


def test_the_action_is_composed_as_asterisk_reads_it():
    pause = QueuePauseRequest(ANNA, True, "lunch", "sales").to_action()
    assert pause == {
        "Action": "QueuePause",
        "Interface": ANNA,
        "Paused": "true",
        "Queue": "sales",
        "Reason": "lunch",
    }
    resume = QueuePauseRequest(ANNA, False, "lunch").to_action()
    assert resume == {"Action": "QueuePause", "Interface": ANNA, "Paused": "false"}
    with pytest.raises(UnsafeAmiValue):
        QueuePauseRequest(ANNA, True, "lunch\r\nAction: Originate", "sales").to_action()


async def test_a_pause_is_in_queuestatus_with_its_reason_and_a_resume_clears_it(pbx):
    await pbx.queue_pause(QueuePauseRequest(ANNA, True, "lunch", "sales"))
    (event,) = await member_events(pbx, 1)
    assert (event.queue, event.interface, event.paused, event.paused_reason) == (
        "sales",
        ANNA,
        True,
        "lunch",
    )
    assert listed(await pbx.queue_members()) == {
        ("sales", ANNA): (True, "lunch"),
        ("support", ANNA): (False, ""),  # only the queue named
        ("sales", "Local/102@operators"): (False, ""),
    }
    await pbx.queue_pause(QueuePauseRequest(ANNA, False, None, "sales"))
    (event,) = await member_events(pbx, 1)
    assert (event.paused, event.paused_reason) == (False, "")
    assert listed(await pbx.queue_members())[("sales", ANNA)] == (False, "")


async def test_without_a_queue_the_interface_is_paused_in_every_queue(pbx):
    await pbx.queue_pause(QueuePauseRequest(ANNA, True, "training"))
    events = await member_events(pbx, 2)
    assert {(e.queue, e.paused_reason) for e in events} == {
        ("sales", "training"),
        ("support", "training"),
    }


async def test_a_member_that_is_not_there_is_refused_with_asterisks_words(pbx):
    with pytest.raises(ActionRefused, match="Interface not found") as refused:
        await pbx.queue_pause(QueuePauseRequest("Local/999@operators", True, "lunch", "sales"))
    assert refused.value.message == "Interface not found"
    with pytest.raises(ActionRefused, match="Interface not found"):
        await pbx.queue_pause(QueuePauseRequest(ANNA, True, "lunch", "nosuch"))


async def test_nothing_is_sent_while_not_logged_in(sim):
    settings = AmiSettings(port=sim.port, login_timeout_s=2, reconnect_initial_s=0.05)
    pbx = AmiPbx(settings, SECRET)  # never started
    with pytest.raises(PbxUnavailable):
        await pbx.queue_pause(QueuePauseRequest(ANNA, True, "lunch", "sales"))
    assert not any(m.paused for m in sim.members)


async def test_a_paused_member_is_not_given_queue_callers(sim, pbx):
    await pbx.queue_pause(QueuePauseRequest(ANNA, True, "lunch", "sales"))
    await pbx.queue_pause(QueuePauseRequest("Local/102@operators", True, "break", "sales"))
    uid = sim.queue_call("79161230001", "answer", after_s=1, talk_s=1)
    seen = []
    async with asyncio.timeout(2):
        while not any(isinstance(e, QueueCallerLeft) and e.uniqueid == uid for e in seen):
            seen.append(await pbx.events.get())
    assert not any(isinstance(e, AgentConnected) for e in seen)  # nobody free: the caller left
    assert all(m.calls_taken == 0 for m in sim.members)
