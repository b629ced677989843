"""agent_first on the simulator: the operator's phone is rung first, and once it answers the
dialplan (``[dialer-agent-first]``) dials the customer from the operator's channel, as
Asterisk's Dial() reports it; so the daemon completes agent_first calls on the simulator
with the outcomes real Asterisk gives (tests/integration/test_conformance.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from support.observer import AmiObserver
from support.scenarios import OUTCOME_PHONES, pbx_config, run_outcome_scenarios

from dialerd.pbx.sim.server import AmiSimulator

SECRET = "sim-secret"
AGENT_FIRST: dict[str, Any] = {
    "groups": {"sales": {}},
    "operators": [{"name": "101", "group": "sales", "device": "Local/101@operators"}],
    "campaigns": {"default": {"mode": "agent_first", "group": "sales"}},
}


async def originate_agent_first(observer: AmiObserver, customer: str, call_id: str) -> None:
    variables = f"DIALER_CUSTOMER=Local/{customer}@customers,DIALER_RING_TIMEOUT=30"
    reply = await observer.action(
        {
            "Action": "Originate",
            "Channel": "Local/101@operators",
            "Context": "dialer-agent-first",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "ChannelId": call_id,
            "Variable": variables,
        }
    )
    assert reply[0]["Response"] == "Success", reply


async def test_the_operator_answers_then_the_customer_is_dialed_from_their_channel():
    async with (
        AmiSimulator(secret=SECRET, time_scale=100) as sim,
        AmiObserver("127.0.0.1", sim.port, sim.username, SECRET) as observer,
    ):
        sim.add_member("sales", "Local/101@operators", "Operator 101")
        await originate_agent_first(observer, "79161231001", "af-1")
        await originate_agent_first(observer, "79161232001", "af-2")
        await observer.wait_for(
            lambda: (
                sum(s.frame.get("Uniqueid") in ("af-1", "af-2") for s in observer.named("Hangup"))
                == 2
            ),
            5,
            "both operators' channels hung up",
        )
    ours = [
        s
        for s in observer.events
        if s.frame.get("Linkedid") == "af-1"
        or (s.name == "OriginateResponse" and s.frame["Uniqueid"] == "af-1")
    ]
    names = [(s.name, s.frame["Uniqueid"]) for s in ours]
    originate = next(i for i, s in enumerate(ours) if s.name == "OriginateResponse")
    dial_begin = names.index(("DialBegin", "af-1"))  # the operator's channel calls
    assert ours[originate].frame["Response"] == "Success"  # the operator answered ...
    assert originate < dial_begin  # ... before the customer was dialed
    begin = ours[dial_begin].frame
    assert begin["DestChannel"].startswith("Local/79161231001@customers-")
    assert begin["DestLinkedid"] == "af-1" and begin["DialString"] == "79161231001@customers"
    (end,) = [s.frame for s in ours if s.name == "DialEnd" and s.frame["Uniqueid"] == "af-1"]
    assert (end["DialStatus"], end["DestUniqueid"]) == ("ANSWER", begin["DestUniqueid"])
    customer_hangup = names.index(("Hangup", begin["DestUniqueid"]))
    assert customer_hangup < names.index(("Hangup", "af-1"))  # the customer ended the call
    busy = [s.frame for s in observer.named("DialEnd") if s.frame.get("Uniqueid") == "af-2"]
    assert [f["DialStatus"] for f in busy] == ["BUSY"]
    # the operator's queue membership follows their phone: in use for each call, then free
    member = [s.frame["Status"] for s in observer.named("QueueMemberStatus")]
    assert member[0] == "2" and member[-1] == "1"
    devices = [(s.frame["Device"], s.frame["State"]) for s in observer.named("DeviceStateChange")]
    ours = [state for device, state in devices if device == "Local/101@operators"]
    assert ours[0] == "INUSE" and ours[-1] == "NOT_INUSE"


async def test_the_daemon_completes_agent_first_calls_with_each_outcome(tmp_path):
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim:
        loaded = pbx_config(
            tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=AGENT_FIRST
        )
        recorded = await asyncio.wait_for(run_outcome_scenarios(loaded), 30)
        attempts = sim.originates
    summary = {phone: (r.outcome, r.cause_class, r.attempts) for phone, r in recorded.items()}
    assert summary == {
        OUTCOME_PHONES["answered"]: ("answered", "normal", 1),
        OUTCOME_PHONES["busy"]: ("busy", "busy", 1),
        OUTCOME_PHONES["no_answer"]: ("no_answer", "none", 1),
        OUTCOME_PHONES["congestion"]: ("congestion", "congestion", 1),
        # as on Asterisk 22: Dial() to a number that does not exist ends NOANSWER, cause 1:
        # recorded failed (not retried as unanswered)
        OUTCOME_PHONES["failed"]: ("failed", "invalid_number", 1),
    }
    # every Originate rang the operator's device, one per lead: nothing looped
    assert [o.headers["Channel"] for o in attempts] == ["Local/101@operators"] * 5
    assert {o.headers["Context"] for o in attempts} == {"dialer-agent-first"}
