"""The post-call survey on real Asterisk: the operator's card button sends the customer to
[dialer-survey], the test keys in the answers (DTMF into the IVR's Read()), and the report
shows the NPS and CSAT they make."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.console import console_overrides, running_console, signed_in
from support.observer import AmiObserver
from support.operators import operators_overrides, pause, sandbox_dialplan
from support.scenarios import add_leads, wait_until_settled
from support.voices import require_tools, say

from dialerd.config import load_config
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import leads as store
from dialerd.store import surveys

pytestmark = pytest.mark.asterisk

TALKS = "+79161235001"  # answers and talks up to 30 s (4th digit from the end: 5)


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
    instance = start_asterisk(extra_config=sandbox_dialplan(25))  # the operator stays on
    try:
        yield instance
    finally:
        instance.stop()


async def _reading(observer: AmiObserver, call_id: str, prompt: str, within_s: float) -> None:
    """Until the survey's Read() of ``prompt`` runs on the customer's channel."""

    def started() -> bool:
        return any(
            s.name == "Newexten"
            and s.frame.get("Uniqueid") == call_id
            and s.frame.get("Application") in ("Read", "ExecIf")
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


async def _surveyed_call(tmp_path, pbx, prompts, keys: tuple[str, str]):
    """One conversation with operator anna (the sandbox's 101; the others paused), sent to
    the survey by her card's button; the answers ``keys`` keyed in; returns (attempt, survey
    row, today's report by operator)."""
    overrides = operators_overrides(
        pbx,
        mode="customer_first",
        store_path=tmp_path / "d.sqlite3",
        campaign={"survey": {"enabled": True, **prompts, "answer_timeout_s": 3}},
    )
    overrides["ami"]["secret"] = pbx.secret
    overrides["operators"] = [
        {"name": "anna", "group": "sales", "interface": "Local/101@operators"}
    ]
    overrides |= console_overrides(tmp_path)
    loaded = load_config(None, overrides=overrides)
    async with AmiObserver.of(pbx) as observer, running_console(loaded) as daemon:
        await pause(observer, "102", "103", "104", "105")
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, anna.stream():
            (lead_id,) = await add_leads(db, [TALKS])
            daemon.parts.engine.wake()
            card = await anna.wait_for("card", lead_id=lead_id)
            call_id = card["call_id"]
            assert 'id="survey-transfer"' in card["html"]  # the campaign has a survey
            await observer.wait_for(
                lambda: bool(observer.named("AgentConnect")), 20, "AgentConnect"
            )
            customer = next(
                s.frame["Channel"]
                for s in observer.named("Newchannel")
                if s.frame["Uniqueid"] == f"{call_id};2"
            )
            sent = await anna.post(f"/operator/calls/{call_id}/survey", {})
            assert sent.status_code == 200, sent.text
        await _reading(observer, call_id, prompts["nps_prompt"], 10)
        await _key(observer, customer, keys[0])
        await _reading(observer, call_id, prompts["csat_prompt"], 10)
        await _key(observer, customer, keys[1])
        await wait_until_settled(db, [lead_id], timeout_s=30)
        (attempt,) = await store.attempts_of(db, lead_id)
        async with asyncio.timeout(10):
            while (row := await surveys.of_attempt(db, attempt["id"])) is None:
                await asyncio.sleep(0.1)
        tz = loaded.settings.window.timezone
        today = local_today(time.time(), tz)
        report = await build_report(
            db, loaded.settings, days(today, today, tz), "operator", now=time.time()
        )
    return attempt, row, report


async def test_keyed_answers_become_the_reports_nps_and_csat(tmp_path, pbx, prompts):
    attempt, row, report = await _surveyed_call(tmp_path, pbx, prompts, ("9#", "4"))
    assert (attempt["outcome"], attempt["operator"]) == ("answered", "anna")
    assert (row["nps"], row["csat"], row["answered"]) == (9, 4, 1)
    assert row["operator"] == attempt["operator"]
    totals = report.totals
    assert (totals.nps, totals.nps_answers) == (100.0, 1)  # one promoter
    assert (totals.csat, totals.csat_answers) == (1.0, 1)  # one 4-5 answer
    (mine,) = [r for r in report.rows if r.key == "anna"]
    assert mine.metrics.nps == 100.0


async def test_a_survey_without_keys_is_recorded_as_no_answer(tmp_path, pbx, prompts):
    attempt, row, report = await _surveyed_call(tmp_path, pbx, prompts, ("", ""))
    assert (row["nps"], row["csat"], row["answered"]) == (None, None, 0)
    assert report.totals.nps is None and report.totals.nps_answers == 0
    assert report.totals.surveys_unanswered == 1
