"""agent_first with a real SIP softphone as the operator: baresip registered over PJSIP,
followed by device state (no queue), ringing a real SIP endpoint before the customer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import host_path, operators_overrides
from support.scenarios import add_leads, running_engine, wait_until_settled
from support.softphone import Softphone, free_port, pjsip_conf

from dialerd.config import load_config
from dialerd.dialer.events import OfferMissed
from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

ANSWERS = "+79161235001"  # the customer answers and stays; the operator (baresip) hangs up


@pytest.fixture
def sip(asterisk: AsteriskInstance) -> Iterator[tuple[AsteriskInstance, Softphone]]:
    port = free_port(kind=2)  # SOCK_DGRAM
    instance = start_asterisk(extra_config={"pjsip.conf": pjsip_conf(port, {"201": "pw-201"})})
    try:
        with Softphone(instance, "201", "pw-201", port, talk_s=2.0) as phone:
            yield instance, phone
    finally:
        instance.stop()


def config(tmp_path, instance):
    overrides = operators_overrides(instance, mode="agent_first", store_path=tmp_path / "d.sqlite3")
    overrides["ami"]["secret"] = instance.secret
    overrides["groups"] = {"desk": {}}  # no queue: the softphone's device state decides
    overrides["operators"] = [{"name": "anna", "group": "desk", "device": "PJSIP/201"}]
    overrides["campaigns"]["default"]["group"] = "desk"
    overrides["dialing"] |= {"operator_ring_timeout_s": 2, "operator_missed_pause_s": 1}
    return load_config(None, overrides=overrides)


async def test_agent_first_rings_a_real_softphone_then_the_customer(tmp_path, sip):
    instance, phone = sip
    async with (
        AmiObserver.of(instance) as observer,
        running_engine(config(tmp_path, instance)) as (
            engine,
            db,
            _,
        ),
    ):
        async with asyncio.timeout(10):
            while engine.operators.operators["anna"].state.value != "free":
                await asyncio.sleep(0.05)
        (lead_id,) = await add_leads(db, [ANSWERS])
        engine.wake()
        await wait_until_settled(db, [lead_id], timeout_s=20)
        (attempt,) = await store.attempts_of(db, lead_id)
    assert (attempt["mode"], attempt["operator"], attempt["outcome"]) == (
        "agent_first",
        "anna",
        "answered",
    )
    assert attempt["talk_s"] == pytest.approx(2.0, abs=1.0)  # baresip hung up at its file's end
    recording = host_path(instance, attempt["recording_path"])
    assert recording.stat().st_size > 8000  # the operator's voice was recorded, not just a header
    call = [s for s in observer.events if s.frame.get("Linkedid") == attempt["call_id"]]
    devices = [s.frame["Device"] for s in observer.named("DeviceStateChange")]
    assert "PJSIP/201" in devices
    sip_leg = next(
        s for s in call if s.name == "Newchannel" and s.frame["Channel"].startswith("PJSIP/201-")
    )
    customer = next(
        s for s in call if s.name == "Newchannel" and "@customers-" in s.frame["Channel"]
    )
    answered = next(
        s
        for s in call
        if s.name == "Newstate"
        and s.frame["Channel"].startswith("PJSIP/201-")
        and s.frame["ChannelStateDesc"] == "Up"
    )
    assert (
        sip_leg.at <= answered.at <= customer.at
    )  # the SIP phone answered before the customer rang


async def test_an_operator_who_does_not_answer_never_leads_to_a_customer_call(tmp_path, sip):
    instance, phone = sip
    assert phone.command("answermode", "manual")
    missed: list[OfferMissed] = []

    def on_event(event: object) -> None:
        if isinstance(event, OfferMissed):
            missed.append(event)

    loaded = config(tmp_path, instance)
    async with (
        AmiObserver.of(instance) as observer,
        running_engine(loaded, listeners=[on_event]) as (engine, db, _),
    ):
        (lead_id,) = await add_leads(db, [ANSWERS])
        engine.wake()
        await observer.wait_for(lambda: bool(missed), 10, "the 2 s ring timeout to pass")
        lead = await store.get_lead(db, lead_id)
        assert (lead["state"], lead["attempts"]) == ("waiting", 0)  # given back untouched
        assert await store.attempts_of(db, lead_id) == []
        assert not [s for s in observer.named("Newchannel") if "@customers-" in s.frame["Channel"]]
        rang = [
            s
            for s in observer.named("DeviceStateChange")
            if s.frame.get("Device") == "PJSIP/201" and s.frame.get("State") == "RINGING"
        ]
        assert rang  # the SIP phone really rang
        # the softphone showed who was about to be called
        assert f"Incoming call from: Lead {lead_id} sip:{ANSWERS}@" in phone.log_path.read_text()
        phone.command("answermode", "auto")
        await wait_until_settled(db, [lead_id], timeout_s=20)  # she answers a later ring
        (attempt,) = await store.attempts_of(db, lead_id)
    assert (attempt["number"], attempt["outcome"], attempt["operator"]) == (1, "answered", "anna")
    assert missed[0].operator == "anna" and "did not answer" in missed[0].why
