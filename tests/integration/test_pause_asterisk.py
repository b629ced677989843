"""Operator pauses on a real Asterisk 22 (issue 12): ``engine.pause_operator`` shows in
Asterisk's own QueueStatus and ``queue show``, nobody offers the operator a call while
paused, and ``resume_operator`` clears it."""

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
from dialerd.dialer.board import OperatorState
from dialerd.dialer.pauses import PauseRefused
from dialerd.store import leads as store
from dialerd.store.db import open_store

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


def config(pbx: AsteriskInstance, tmp_path, mode: str, names: tuple[str, ...]) -> LoadedConfig:
    """The sandbox's queue ``sales``; member 101 is the operator ``anna``."""
    overrides: dict[str, Any] = operators_overrides(
        pbx, mode=mode, operators=names, store_path=tmp_path / "d.sqlite3"
    )
    overrides["operators"][0]["name"] = "anna"
    overrides["ami"]["secret"] = pbx.secret
    return load_config(None, overrides=overrides)


async def queue_status(observer: AmiObserver, interface: str) -> dict[str, str]:
    frames = await observer.action(
        {"Action": "QueueStatus", "Queue": QUEUE, "Member": interface}, as_list=True
    )
    (member,) = [f for f in frames if f.get("Event") == "QueueMember"]
    return member


async def until(check, within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while not check():
            await asyncio.sleep(0.05)


async def test_a_pause_is_asterisks_own_and_no_call_is_offered_until_resumed(tmp_path, pbx):
    loaded = config(pbx, tmp_path, "agent_first", ("101", "102"))
    async with (
        AmiObserver.of(pbx) as observer,
        running_engine(loaded) as (engine, db, _ami),
    ):
        anna = engine.operators.operators["anna"]
        await until(lambda: engine.operators.free_count(time.time()) == 2)

        await engine.pause_operator("anna", "lunch")
        member = await queue_status(observer, ANNA)
        assert (member["Paused"], member["PausedReason"]) == ("1", "lunch")
        shown = await asyncio.to_thread(pbx.cli, f"queue show {QUEUE}")
        (line,) = [line for line in shown.splitlines() if f"({ANNA})" in line]
        assert "(paused:lunch" in line
        await until(lambda: anna.state is OperatorState.PAUSED and anna.held_pause is None)
        assert (anna.pause_reason, anna.detail) == ("lunch", "paused in queue sales: lunch")

        lead_ids = await add_leads(db, list(ANSWERS))
        engine.wake()
        await wait_until_settled(db, lead_ids, timeout_s=30)
        attempts = [a for lead in lead_ids for a in await store.attempts_of(db, lead)]
        assert [(a["operator"], a["outcome"]) for a in attempts] == [
            ("102", "answered"),
            ("102", "answered"),
        ]
        rung = [
            s
            for s in observer.named("Newchannel")
            if s.frame.get("Channel", "").startswith(f"{ANNA}-")
        ]
        assert rung == []  # Asterisk never rang her phone

        await engine.resume_operator("anna")
        member = await queue_status(observer, ANNA)
        assert (member["Paused"], member["PausedReason"]) == ("0", "")
        await until(lambda: anna.is_free(time.time()))
        assert anna.pause_reason is None

    rows = await _pause_rows(loaded)
    assert ("paused", "lunch") in rows and rows[-1] == ("free", None)


async def test_customer_first_waits_for_the_paused_operator_then_she_takes_the_call(tmp_path, pbx):
    """Everyone else paused by a supervisor, anna by the dialer: no customer is dialed for
    nobody; once she resumes, the queue connects her to the customer."""
    loaded = config(pbx, tmp_path, "customer_first", ("101",))
    async with (
        AmiObserver.of(pbx) as observer,
        running_engine(loaded) as (engine, db, _ami),
    ):
        await pause(observer, "102", "103", "104", "105")
        await until(lambda: engine.operators.free_count(time.time()) == 1)
        await engine.pause_operator("anna", "training")
        assert (await queue_status(observer, ANNA))["PausedReason"] == "training"
        (lead_id,) = await add_leads(db, [ANSWERS[0]])
        engine.wake()
        await asyncio.sleep(1.5)
        lead = await store.get_lead(db, lead_id)
        assert lead is not None and lead["attempts"] == 0  # nobody free: nobody dialed
        assert observer.named("OriginateResponse") == []

        await engine.resume_operator("anna")
        await wait_until_settled(db, [lead_id], timeout_s=30)
        (attempt,) = await store.attempts_of(db, lead_id)
        assert (attempt["operator"], attempt["outcome"]) == ("anna", "answered")
        (connect,) = observer.named("AgentConnect")
        assert connect.frame["Interface"] == ANNA


async def test_asterisk_refuses_a_member_that_is_not_in_the_queue(tmp_path, pbx):
    loaded = config(pbx, tmp_path, "agent_first", ("101", "102"))
    overrides = loaded.settings.model_copy(
        update={
            "operators": [
                op.model_copy(update={"interface": "Local/199@operators"})
                if op.name == "102"
                else op
                for op in loaded.settings.operators
            ]
        }
    )
    async with running_engine(LoadedConfig(overrides, None)) as (engine, _db, _ami):
        await until(lambda: engine.operators.synced)
        with pytest.raises(PauseRefused, match="Interface not found"):
            await engine.pause_operator("102", "lunch")
        assert engine.operators.operators["102"].held_pause is None


async def _pause_rows(loaded: LoadedConfig) -> list[tuple[str, str | None]]:
    async with open_store(loaded.settings.store.path) as db:
        rows = await db.conn.execute_fetchall(
            "SELECT state, reason FROM operator_states WHERE operator = 'anna' ORDER BY id"
        )
    return [tuple(row) for row in rows]
