"""Real Asterisk: inbound queue calls and operators' states end up where the reports read them.

Inbound callers are simulated as in test_missed_call_asterisk.py: an Originate of
``Local/<number>@customers`` (the sandbox's PSTN: answers, waits 2 s, hangs up) into
``operators,600`` (queue ``sales``), with a ChannelId that is not dialerd's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import (
    SANDBOX_OPERATORS,
    operators_overrides,
    pause,
    sandbox_dialplan,
)
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.config import load_config
from dialerd.pbx.actions import OriginateRequest
from dialerd.store.db import open_store

pytestmark = pytest.mark.asterisk


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own (pauses must not leak), operators talking 3 s."""
    instance = start_asterisk(extra_config=sandbox_dialplan(3))
    try:
        yield instance
    finally:
        instance.stop()


def inbound(number: str) -> OriginateRequest:
    token = secrets.token_hex(4)
    return OriginateRequest(
        call_id=f"inbound-{token}",
        action_id=f"inbound-{token}",
        channel=f"Local/{number}@customers",
        context="operators",
        exten="600",
        priority=1,
        timeout_s=10,
        caller_id=f"Customer <{number}>",
    )


async def until(db, sql, count, timeout_s=20.0):
    async with asyncio.timeout(timeout_s):
        while len(rows := await db.conn.execute_fetchall(sql)) < count:
            await asyncio.sleep(0.1)
    return [dict(row) for row in rows]


async def test_inbound_calls_and_operator_states_on_real_asterisk(tmp_path, pbx):
    overrides = operators_overrides(pbx, mode="customer_first", store_path=tmp_path / "d.sqlite3")
    overrides["ami"]["secret"] = pbx.secret
    overrides["missed_calls"] = {"enabled": False}
    loaded = load_config(None, overrides=overrides)
    async with AmiObserver.of(pbx) as observer, running_engine(loaded) as (engine, db, pbx_):
        free = "SELECT * FROM operator_states WHERE state = 'free' AND ended_at IS NULL"
        await until(db, free, len(SANDBOX_OPERATORS))
        answered = inbound("89161231001")
        pbx_.originate(answered)
        done = "SELECT * FROM inbound_calls WHERE outcome IS NOT NULL"
        await until(db, done, 1)
        talked = "SELECT * FROM operator_states WHERE state = 'busy' AND ended_at IS NOT NULL"
        await until(db, talked, 1)  # the 3 s conversation is over
        await pause(observer, *SANDBOX_OPERATORS)
        abandoned = inbound("89161231002")
        pbx_.originate(abandoned)
        calls = {r["uniqueid"]: r for r in await until(db, done, 2)}
        await pause(observer, *SANDBOX_OPERATORS, paused=False)
        (lead_id,) = await add_leads(db, ["+79161231001"])  # the dialer's own queue call
        engine.wake()
        await wait_until_settled(db, [lead_id], timeout_s=20)
        await asyncio.sleep(1.5)  # past a batch
        all_calls = await db.conn.execute_fetchall("SELECT uniqueid FROM inbound_calls")
        (attempt,) = await db.conn.execute_fetchall("SELECT * FROM attempts")
    names = [s.name for s in observer.events if s.frame.get("Uniqueid") == abandoned.call_id]
    queue_frames = [n for n in names if n.startswith("QueueCaller")]  # the simulator's order
    assert queue_frames == ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]
    got = calls[answered.call_id]
    assert got["outcome"] == "answered"
    assert got["operator"] in SANDBOX_OPERATORS  # the board's name, not "Operator 101"
    assert got["wait_s"] == 0.0 and got["caller"] == "89161231001" and got["queue"] == "sales"
    lost = calls[abandoned.call_id]
    assert lost["outcome"] == "abandoned", names
    assert 1.0 <= lost["wait_s"] <= 4.0 and lost["answered_at"] is None
    assert attempt["outcome"] == "answered" and attempt["operator"] in SANDBOX_OPERATORS
    assert {r[0] for r in all_calls} == {answered.call_id, abandoned.call_id}
    async with asyncio.timeout(5):
        async with open_store(loaded.settings.store.path) as db:
            states = [
                dict(r)
                for r in await db.conn.execute_fetchall(
                    "SELECT * FROM operator_states WHERE operator = ? ORDER BY id",
                    (got["operator"],),
                )
            ]
    seq = [s["state"] for s in states]
    # busy with the inbound call (Asterisk's in-use), free again, later paused by a supervisor
    assert seq[:2] == ["unknown", "free"], seq
    assert seq.index("busy") < seq.index("paused"), seq
    assert seq[seq.index("busy") + 1] == "free", seq
    assert all(s["ended_at"] is not None for s in states)
