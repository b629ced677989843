"""The same scenarios on the AMI simulator and on real Asterisk: the daemon records the same."""

import asyncio

import pytest
from support.scenarios import OUTCOME_PHONES, pbx_config, run_outcome_scenarios

from dialerd.config import AmiSettings
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import ActionRefused, AmiPbx
from dialerd.pbx.events import MemberState
from dialerd.pbx.sim.server import AmiSimulator

pytestmark = pytest.mark.asterisk

EXPECTED = {
    OUTCOME_PHONES["answered"]: ("answered", "normal"),
    OUTCOME_PHONES["busy"]: ("busy", "busy"),
    OUTCOME_PHONES["no_answer"]: ("no_answer", "no_answer"),
    OUTCOME_PHONES["congestion"]: ("congestion", "congestion"),
    OUTCOME_PHONES["failed"]: ("failed", "invalid_number"),
}


def summary(recorded):
    return {phone: (r.outcome, r.cause_class) for phone, r in recorded.items()}


async def test_real_asterisk_outcomes_match_the_simulator(tmp_path, asterisk):
    real = await run_outcome_scenarios(
        pbx_config(tmp_path / "real.sqlite3", asterisk.host, asterisk.port, asterisk.secret)
    )
    async with AmiSimulator(secret="s", time_scale=10) as sim:
        simulated = await run_outcome_scenarios(
            pbx_config(tmp_path / "sim.sqlite3", "127.0.0.1", sim.port, "s")
        )
    assert summary(real) == EXPECTED
    assert summary(simulated) == summary(real)
    assert all(r.attempts == 1 for r in real.values())
    answered = real[OUTCOME_PHONES["answered"]]
    assert answered.outcome == "answered"


async def pause_transcript(host: str, port: int, username: str, secret: str) -> list[object]:
    """QueuePause through the daemon's adapter: the events, QueueStatus and refusals seen."""
    settings = AmiSettings(host=host, port=port, username=username, login_timeout_s=5)
    seen: list[object] = []
    async with AmiPbx(settings, secret) as pbx:
        await asyncio.wait_for(pbx.connected.wait(), 5)

        async def member_event() -> tuple[object, ...]:
            async with asyncio.timeout(5):
                while not isinstance(event := await pbx.events.get(), MemberState):
                    pass
            return (event.queue, event.interface, event.status, event.paused, event.paused_reason)

        async def listed() -> tuple[bool, str]:
            (member,) = [m for m in await pbx.queue_members() if m.interface == PAUSED]
            return member.paused, member.paused_reason

        for paused, reason in ((True, "lunch"), (True, "coaching session"), (False, None)):
            await pbx.queue_pause(QueuePauseRequest(PAUSED, paused, reason, "sales"))
            seen += [await member_event(), await listed()]
        for interface, queue in (("Local/199@operators", "sales"), (PAUSED, "nosuch")):
            try:
                await pbx.queue_pause(QueuePauseRequest(interface, True, "lunch", queue))
            except ActionRefused as exc:
                seen.append(exc.message)
    return seen


PAUSED = "Local/101@operators"


async def test_queue_pause_on_the_simulator_is_as_on_real_asterisk(fresh_asterisk):
    """Issue 12: the simulator's QueuePause is what Asterisk 22 answers and sends."""
    instance = fresh_asterisk()  # a pause of its own: nothing leaks into other tests
    real = await pause_transcript(instance.host, instance.port, instance.username, instance.secret)
    async with AmiSimulator(secret="s") as sim:
        for n in range(101, 106):
            sim.add_member("sales", f"Local/{n}@operators", f"Operator {n}")
        simulated = await pause_transcript("127.0.0.1", sim.port, sim.username, "s")
    assert real[:2] == [("sales", PAUSED, 1, True, "lunch"), (True, "lunch")]
    assert real[4:] == [("sales", PAUSED, 1, False, ""), (False, ""), *["Interface not found"] * 2]
    assert simulated == real
