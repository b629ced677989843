"""The dialer's wrap-up after a call on a real Asterisk 22 (issue 12): after an answered
customer_first call the operator is paused in the queue with the reason ``wrap-up``
(``queue show`` and QueueStatus say so), the next customer is not dialed for her, and
``operator_ready`` unpauses her in Asterisk, after which she takes the next call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import QUEUE, operators_overrides, pause, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.config import LoadedConfig, load_config
from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

ANSWERS = ("+79161231001", "+79161231002")  # answer, talk 2 s, hang up
ANNA = "Local/101@operators"


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own (pauses must not leak into other tests), operators talking 2 s."""
    instance = start_asterisk(extra_config=sandbox_dialplan(2))
    try:
        yield instance
    finally:
        instance.stop()


def config(pbx: AsteriskInstance, tmp_path) -> LoadedConfig:
    """The sandbox's queue ``sales``, member 101 the operator ``anna``, a 60 s wrap-up."""
    overrides: dict[str, Any] = operators_overrides(
        pbx,
        mode="customer_first",
        operators=("101",),
        group={"after_call_work_s": 60},
        store_path=tmp_path / "d.sqlite3",
    )
    overrides["operators"][0]["name"] = "anna"
    overrides["ami"]["secret"] = pbx.secret
    return load_config(None, overrides=overrides)


async def anna_in_asterisk(observer: AmiObserver, pbx: AsteriskInstance) -> tuple[str, str, str]:
    """(Paused, PausedReason) from QueueStatus, and her line of ``queue show``."""
    frames = await observer.action(
        {"Action": "QueueStatus", "Queue": QUEUE, "Member": ANNA}, as_list=True
    )
    (member,) = [f for f in frames if f.get("Event") == "QueueMember"]
    shown = await asyncio.to_thread(pbx.cli, f"queue show {QUEUE}")
    (line,) = [line for line in shown.splitlines() if f"({ANNA})" in line]
    return member["Paused"], member["PausedReason"], line


async def until_in_asterisk(observer, pbx, paused: str, within_s: float = 10.0):
    async with asyncio.timeout(within_s):
        while (found := await anna_in_asterisk(observer, pbx))[0] != paused:
            await asyncio.sleep(0.1)
    return found


async def test_after_a_call_queue_show_says_paused_wrap_up_until_ready(tmp_path, pbx):
    loaded = config(pbx, tmp_path)
    async with AmiObserver.of(pbx) as observer:
        async with running_engine(loaded) as (engine, db, _ami):
            await pause(observer, "102", "103", "104", "105")  # anna alone takes calls
            async with asyncio.timeout(10):
                while engine.operators.free_count(time.time()) != 1:
                    await asyncio.sleep(0.05)
            first, second = await add_leads(db, list(ANSWERS))
            engine.wake()
            await wait_until_settled(db, [first], timeout_s=30)

            paused, reason, line = await until_in_asterisk(observer, pbx, "1")
            assert (paused, reason) == ("1", "wrap-up")
            assert "(paused:wrap-up" in line
            await asyncio.sleep(1.0)
            lead = await store.get_lead(db, second)
            assert lead is not None and lead["attempts"] == 0  # nobody dialed for her meanwhile

            engine.operator_ready("anna")
            paused, reason, line = await until_in_asterisk(observer, pbx, "0")
            assert (paused, reason) == ("0", "") and "paused" not in line
            await wait_until_settled(db, [second], timeout_s=30)
            (attempt,) = await store.attempts_of(db, second)
            assert (attempt["operator"], attempt["outcome"]) == ("anna", "answered")
            await until_in_asterisk(observer, pbx, "1")  # her next wrap-up
        paused, _reason, line = await anna_in_asterisk(observer, pbx)
        assert paused == "0" and "paused" not in line  # a stop ends the wrap-up in Asterisk
