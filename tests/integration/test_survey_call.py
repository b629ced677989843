"""The survey campaign on real Asterisk: a sale an operator confirms on the console gives the
customer a survey call ``call_after_h`` later, straight into [dialer-survey] with nobody else
on the line; the test keys the answers (DTMF into the IVR's Read()) and the report credits
them to the operator who made the sale. A survey campaign dials with no operator signed in,
while a sales campaign waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.console import console_overrides, running_console, signed_in
from support.observer import AmiObserver
from support.operators import SANDBOX_OPERATORS, operators_overrides, pause, sandbox_dialplan
from support.scenarios import running_engine, wait_until_settled
from support.voices import require_tools, say

from dialerd.config import load_config
from dialerd.domain import OperatorsAway
from dialerd.policy.phones import Phone
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import leads as store
from dialerd.store import survey_calls, surveys

pytestmark = pytest.mark.asterisk

TALKS = "+79161235001"  # answers and talks up to 30 s (4th digit from the end: 5)
ANSWERS = "+79161231001"  # answers, talks 2 s (4th digit from the end: 1)
AFTER_H = 0.001  # the survey call 3.6 s after the confirmation


@pytest.fixture(scope="module")
def prompts(asterisk: AsteriskInstance) -> dict[str, str]:
    require_tools()
    return {
        "nps_prompt": say(
            asterisk,
            "survey-nps",
            "How likely are you to recommend us, from zero to ten?",
            silence_after_s=0,
        ),
        "csat_prompt": say(
            asterisk, "survey-csat", "How satisfied are you, from one to five?", silence_after_s=0
        ),
    }


@pytest.fixture
def pbx(asterisk: AsteriskInstance, prompts: dict[str, str]) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(3))  # operators talk 3 s
    try:
        yield instance
    finally:
        instance.stop()


def overrides_for(pbx: AsteriskInstance, tmp_path, prompts: dict[str, str]) -> dict:
    """Campaign ``default`` sells (customer_first, group sales) and calls confirmed customers
    back through ``after-sale`` (mode survey) AFTER_H hours later."""
    overrides = operators_overrides(
        pbx,
        mode="customer_first",
        store_path=tmp_path / "d.sqlite3",
        campaign={"survey": {"campaign": "after-sale", "call_after_h": AFTER_H}},
    )
    overrides["ami"]["secret"] = pbx.secret
    overrides["campaigns"]["after-sale"] = {
        "mode": "survey",
        "max_attempts": 2,
        "survey": {**prompts, "answer_timeout_s": 2},
    }
    overrides["phone_limits"] = {"min_gap_min": 0}  # the same phone again seconds later
    return overrides


def survey_started(observer: AmiObserver, call_id: str) -> bool:
    """Asterisk ran [dialer-survey] on the call (the customer answered into the IVR)."""
    return any(
        s.name == "Newexten"
        and s.frame.get("Uniqueid") == call_id
        and s.frame.get("Context") == "dialer-survey"
        for s in observer.events
    )


async def _reading(observer: AmiObserver, call_id: str, prompt: str, within_s: float) -> None:
    """Until the survey's Read() of ``prompt`` runs on the customer's channel."""

    def started() -> bool:
        return any(
            s.name == "Newexten"
            and s.frame.get("Uniqueid") == call_id
            and "Read(SURVEY_" in s.frame.get("AppData", "")
            and prompt in s.frame.get("AppData", "")
            for s in observer.events
        )

    await observer.wait_for(started, within_s, f"Read({prompt})")


async def _key(observer: AmiObserver, channel: str, digits: str) -> None:
    """The customer presses ``digits``: DTMF from their half of the Local channel."""
    for digit in digits:
        reply = await observer.action({"Action": "PlayDTMF", "Channel": channel, "Digit": digit})
        assert reply[0].get("Response") == "Success", reply
        await asyncio.sleep(0.3)


async def _first_attempt(db, lead_id: int, within_s: float) -> dict:
    async with asyncio.timeout(within_s):
        while not (found := await store.attempts_of(db, lead_id)):
            await asyncio.sleep(0.05)
    return found[0]


async def test_a_confirmed_sale_is_surveyed_later_and_credited_to_its_operator(
    tmp_path, pbx, prompts
):
    overrides = overrides_for(pbx, tmp_path, prompts)
    overrides["operators"] = [
        {"name": "anna", "group": "sales", "interface": "Local/101@operators"}
    ]
    overrides |= console_overrides(tmp_path)
    loaded = load_config(None, overrides=overrides)
    async with AmiObserver.of(pbx) as observer, running_console(loaded) as daemon:
        await pause(observer, "102", "103", "104", "105")
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, anna.stream():
            lead_id = await store.insert_lead(
                db, store.NewLead(phone=Phone(TALKS), order_id="A-7"), time.time()
            )
            daemon.parts.engine.wake()
            card = await anna.wait_for("card", lead_id=lead_id)
            sale_call = card["call_id"]
            await anna.wait_for("ended", call_id=sale_call, timeout_s=30)
            saved = await anna.post(
                f"/operator/calls/{sale_call}/result", {"result": "confirmed", "amount": "990.00"}
            )
            assert saved.status_code in (200, 201), saved.text
            confirmed_at = time.time()
        (sale_attempt,) = await store.attempts_of(db, lead_id)
        assert (sale_attempt["outcome"], sale_attempt["operator"]) == ("answered", "anna")
        row = await survey_calls.of_sale(db, lead_id)
        assert row is not None and row["of_attempt"] == sale_attempt["id"]
        survey_lead = int(str(row["lead_id"]))
        survey = await _first_attempt(db, survey_lead, 30)
        assert survey["campaign"] == "after-sale" and survey["operator"] is None
        assert survey["created_at"] >= confirmed_at + AFTER_H * 3600 - 1.0
        call_id = survey["call_id"]
        await _reading(observer, call_id, prompts["nps_prompt"], 15)
        customer = next(
            s.frame["Channel"]
            for s in observer.named("Newchannel")
            if s.frame["Uniqueid"] == f"{call_id};2"
        )
        assert TALKS[1:] in customer  # the confirmed customer's own number
        await _key(observer, customer, "1")
        await _key(observer, customer, "0")  # 10: a promoter
        await _reading(observer, call_id, prompts["csat_prompt"], 10)
        await _key(observer, customer, "5")
        await wait_until_settled(db, [survey_lead], timeout_s=30)
        async with asyncio.timeout(10):
            while (answer := await surveys.of_attempt(db, sale_attempt["id"])) is None:
                await asyncio.sleep(0.1)
        (survey,) = await store.attempts_of(db, survey_lead)
        survey_own = await surveys.of_attempt(db, survey["id"])
        tz = loaded.settings.window.timezone
        today = local_today(time.time(), tz)
        report = await build_report(
            db, loaded.settings, days(today, today, tz), "operator", now=time.time()
        )
    # no queue and no operator on the survey call: Asterisk connected nobody to it
    assert not [s for s in observer.named("AgentConnect") if s.frame.get("Uniqueid") == call_id]
    assert survey["outcome"] == "answered" and survey["operator"] is None
    assert (answer["nps"], answer["csat"], answer["answered"]) == (10, 5, 1)
    assert (answer["operator"], answer["campaign"]) == ("anna", "default")  # who sold it
    assert survey_own is None  # the answers are the sale's, not the survey call's
    (mine,) = [r for r in report.rows if r.key == "anna"]
    assert (mine.metrics.nps, mine.metrics.nps_answers) == (100.0, 1)
    assert (mine.metrics.csat, mine.metrics.csat_answers) == (1.0, 1)


async def test_a_survey_campaign_dials_with_no_operator_signed_in(tmp_path, pbx, prompts):
    """Every operator paused: the sales lead waits, the survey lead is called; the customer
    keys nothing, which is recorded as an unanswered survey."""
    loaded = load_config(None, overrides=overrides_for(pbx, tmp_path, prompts))
    told: list[OperatorsAway] = []

    def listen(event: object) -> None:
        if isinstance(event, OperatorsAway):
            told.append(event)

    async with AmiObserver.of(pbx) as observer:
        await pause(observer, *SANDBOX_OPERATORS)
        async with running_engine(loaded, listeners=[listen]) as (engine, db, _):
            now = time.time()
            sale = await store.insert_lead(db, store.NewLead(phone=Phone(ANSWERS)), now)
            survey = await store.insert_lead(
                db, store.NewLead(phone=Phone(TALKS), campaign="after-sale"), now
            )
            engine.wake()
            await observer.wait_for(lambda: bool(told), 10, "dialing held for want of operators")
            attempt = await _first_attempt(db, survey, 15)
            await observer.wait_for(
                lambda: survey_started(observer, attempt["call_id"]), 15, "[dialer-survey]"
            )
            await wait_until_settled(db, [survey], timeout_s=30)
            async with asyncio.timeout(10):
                while (answer := await surveys.of_attempt(db, attempt["id"])) is None:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # time enough to have dialed the sales lead many times
            waiting = await store.get_lead(db, sale)
            (attempt,) = await store.attempts_of(db, survey)
    assert waiting is not None and (waiting["state"], waiting["attempts"]) == ("waiting", 0)
    dialed = [s.frame["Channel"] for s in observer.named("Newchannel")]
    assert not [c for c in dialed if ANSWERS[1:] in c]
    assert [c for c in dialed if TALKS[1:] in c]
    assert [event.away for event in told] == [True]
    assert (attempt["outcome"], attempt["operator"]) == ("answered", None)
    assert (answer["nps"], answer["csat"], answer["answered"]) == (None, None, 0)
