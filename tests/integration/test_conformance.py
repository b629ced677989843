"""The same scenarios on the AMI simulator and on real Asterisk: the daemon records the same."""

import asyncio
import time

import pytest
from support.observer import AmiObserver
from support.operators import operators_overrides, pause, queue_wrapup, sandbox_dialplan
from support.scenarios import (
    OUTCOME_PHONES,
    add_leads,
    pbx_config,
    run_outcome_scenarios,
    running_engine,
    wait_until_settled,
)

from dialerd.config import AmiSettings, load_config
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import ActionRefused, AmiPbx
from dialerd.pbx.events import MemberState
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome, outcome_by_digit
from dialerd.store import leads as store

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


# --- agent_first: the operator first, then Dial() to the customer ----------------------------


async def test_agent_first_outcomes_on_the_simulator_are_real_asterisks(tmp_path, asterisk):
    """The same leads through agent_first: the operator answers, the dialplan dials the
    customer, and the daemon records the customer's fate the same way on both."""
    real = await run_outcome_scenarios(operators_config(asterisk, tmp_path / "r.sqlite3"))
    async with AmiSimulator(secret="s", time_scale=10) as sim:
        for n in range(101, 106):
            sim.add_member("sales", f"Local/{n}@operators", f"Operator {n}")
        simulated = await run_outcome_scenarios(
            operators_config(asterisk, tmp_path / "s.sqlite3", sim=sim)
        )
    # Dial() to a number that does not exist ends NOANSWER with cause 1: recorded failed, as
    # in customer_first; a Dial() that times out leaves no cause on the customer's channels
    assert summary(real) == EXPECTED | {OUTCOME_PHONES["no_answer"]: ("no_answer", "none")}
    assert summary(simulated) == summary(real)
    assert all(r.attempts == 1 for r in (*real.values(), *simulated.values()))


def operators_config(
    instance,
    store_path,
    *,
    sim: AmiSimulator | None = None,
    mode: str = "agent_first",
    ring_timeout_s: float = 3,
    **kw,
):
    """The sandbox's operators and queue; on ``sim`` instead of ``instance`` when given."""
    overrides = operators_overrides(instance, mode=mode, store_path=store_path, **kw)
    overrides["ami"]["secret"] = instance.secret
    overrides["dialing"]["originate_timeout_s"] = ring_timeout_s
    if sim is not None:
        overrides["ami"].update(host="127.0.0.1", port=sim.port, username=sim.username)
        overrides["ami"]["secret"] = "s"
        del overrides["recording"]  # the simulator records nothing
    return load_config(None, overrides=overrides)


# --- queue scenarios: answered by a member, an abandon in the member's wrap-up ----------------

WRAPUP_S = 10  # queues.conf wrapuptime: longer than a customer rings and waits
RING_S = 3  # answering customers ring this long first


def queue_customers(number: str) -> SimOutcome:
    """The sandbox's customers (extensions_sandbox.conf with ``customer_ring_s``): ring 3 s,
    answer, hang up 2 s later, in the queue or talking."""
    outcome = outcome_by_digit(number)
    if outcome.kind != "answer":
        return outcome
    return SimOutcome("answer", ring_s=RING_S, talk_s=outcome.talk_s, patience_s=outcome.talk_s)


async def queue_scenarios(loaded, observer: AmiObserver) -> list[tuple[object, ...]]:
    """Operator 101 alone in queue ``sales`` (102-105 paused), its wrapuptime not told to the
    daemon: a customer answered by them; the next one, dialed at once, answers during the
    operator's wrap-up and abandons in the queue; one dialed once the wrap-up is over is
    answered by them again."""
    async with running_engine(loaded) as (engine, db, pbx):
        async with asyncio.timeout(15):
            await pbx.connected.wait()
        await pause(observer, "102", "103", "104", "105")
        seen: list[tuple[object, ...]] = []
        attempts = []
        for phone in ("+79161231001", "+79161231002", "+79161231003"):
            if phone.endswith("3"):  # the wrap-up after the first call is over
                await asyncio.sleep(max(0.0, attempts[0]["ended_at"] + WRAPUP_S + 1 - time.time()))
            await observer.wait_for(
                lambda: engine.operators.free_count(time.time()) == 1, 15, "operator 101 free"
            )
            (lead_id,) = await add_leads(db, [phone])
            engine.wake()
            await wait_until_settled(db, [lead_id], timeout_s=30)
            (attempt,) = await store.attempts_of(db, lead_id)
            attempts.append(attempt)
            seen.append((phone, attempt["outcome"], attempt["operator"]))
        abandons = [a.frame for a in observer.named("QueueCallerAbandon")]
        seen += [(a["Uniqueid"] == attempts[1]["call_id"], a["Position"]) for a in abandons]
    return seen


async def test_queue_scenarios_on_the_simulator_are_real_asterisks(tmp_path, fresh_asterisk):
    instance = fresh_asterisk(
        extra_config={**queue_wrapup(WRAPUP_S), **sandbox_dialplan(20, customer_ring_s=RING_S)}
    )
    settings = {"mode": "customer_first", "operators": ("101",), "ring_timeout_s": 10}
    async with AmiObserver.of(instance) as observer:
        real = await queue_scenarios(
            operators_config(instance, tmp_path / "r.sqlite3", **settings), observer
        )
    async with AmiSimulator(secret="s", rule=queue_customers) as sim:
        for n in range(101, 106):
            sim.add_member("sales", f"Local/{n}@operators", f"Operator {n}")
        sim.route_to_queue("operators", "600", "sales", timeout_s=60)
        sim.set_wrapup("sales", WRAPUP_S)
        async with AmiObserver("127.0.0.1", sim.port, sim.username, "s") as observer:
            simulated = await queue_scenarios(
                operators_config(instance, tmp_path / "s.sqlite3", sim=sim, **settings), observer
            )
    assert real == [
        ("+79161231001", "answered", "101"),
        ("+79161231002", "abandoned", None),
        ("+79161231003", "answered", "101"),
        (True, "1"),  # the second customer, alone in the line, gave up there
    ]
    assert simulated == real
