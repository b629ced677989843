"""Safe harbor on real Asterisk: a customer who answers and gets no operator within the
campaign's abandon.after_s hears the campaign's recorded message (Asterisk's own Newexten
event: Playback of that sound) within after_s + 1 s of the answer, instead of waiting in
silence; the call is recorded as abandoned. The customer an operator takes hears nothing."""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import operators_config, pause, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.store import leads as store
from dialerd.store.db import open_store

pytestmark = pytest.mark.asterisk

# ring 1 s (so the over-dialed calls are all out before the first is answered), answer,
# stay 2 s: longer than after_s, so only the message can end their wait
PHONES = ["+79161231001", "+79161231002", "+79161231003"]
AFTER_S = 1


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(4, customer_ring_s=1))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def message(pbx: AsteriskInstance) -> Iterator[str]:
    """A 1.5 s recording where Asterisk finds sounds named custom/... (8 kHz mono WAV)."""
    name = f"dialerd-safe-harbor-test-{os.getpid()}-{time.monotonic_ns()}"
    path = pbx.chroot / "usr/local/share/asterisk/sounds" / f"{name}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * 12000)
    try:
        yield f"custom/{name}"
    finally:
        Path(path).unlink(missing_ok=True)


async def seed_budget(db) -> None:
    """100 answered calls (room for abandons), none abandoned, and 1 in 20 calls answered
    (yesterday, 1 s of ring): the campaign dials a second customer for its one free operator."""
    now = time.time()
    await db.conn.execute(
        "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state, close_reason)"
        " VALUES (1000, '+79160000000', 0, 0, 0, 'closed', 'reached')"
    )
    rows = [(now - 86400, "answered", now - 86399, now - 86398.5)] * 90
    rows += [(now - 86400, "no_answer", None, None)] * 1800
    rows += [(now - 600, "answered", now - 599, now - 598.5)] * 10
    rows += [(now - 600, "no_answer", None, None)] * 30
    for n, (created, outcome, answered_at, operator_at) in enumerate(rows):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at, outcome, answered_at, operator_at)"
            " VALUES (1000, ?, ?, ?, 'default', '+79160000000', 'predictive', 'done', ?, ?, ?, ?)",
            (n + 1, f"hist-{n}", f"hist-a-{n}", created, outcome, answered_at, operator_at),
        )
    await db.conn.commit()


async def test_a_customer_without_an_operator_hears_the_message_and_is_abandoned(
    tmp_path, pbx, message
):
    loaded = operators_config(
        pbx,
        tmp_path / "d.sqlite3",
        mode="predictive",
        campaign={"abandon": {"after_s": AFTER_S, "message": message}},
    )
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "102", "103", "104", "105")  # one free operator
        async with open_store(loaded.settings.store.path) as db:
            await seed_budget(db)
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, PHONES)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=40)
            attempts = [(await store.attempts_of(db, i))[0] for i in lead_ids]
    outcomes = {a["call_id"]: a["outcome"] for a in attempts}
    assert sorted(outcomes.values()).count("answered") >= 1  # operator 101 took one
    abandoned = [call for call, outcome in outcomes.items() if outcome == "abandoned"]
    assert abandoned, outcomes
    played = {
        s.frame["Uniqueid"]: s.at
        for s in observer.named("Newexten")
        if s.frame.get("Application") == "Playback" and s.frame.get("AppData") == message
    }
    # exactly the abandoned calls heard the message; the one an operator took did not
    assert set(played) == set(abandoned)
    for call_id in abandoned:
        (answered,) = [
            s.at
            for s in observer.named("Newstate")
            if s.frame["Uniqueid"] == call_id and s.frame["ChannelStateDesc"] == "Up"
        ]
        waited = played[call_id] - answered
        assert 0 < waited <= AFTER_S + 1, (call_id, waited)
