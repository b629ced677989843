"""Predictive dialing on real Asterisk: over-dials when the campaign's answer rate says few
will answer, records abandoned calls from real queue events, and dials no more customers than
free operators once the abandon window is at its cap."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import operators_config, pause, queue_wrapup, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.config import LoadedConfig
from dialerd.store import leads as store
from dialerd.store.db import Database, open_store

pytestmark = pytest.mark.asterisk

# ring 1 s, answer, hang up 2 s later: in the queue with no operator that is an abandoned call
PHONES = ["+79161231001", "+79161231002", "+79161231003"]


def start(wrapup_s: int) -> AsteriskInstance:
    """Customers ring 1 s; after a call an operator has ``wrapup_s`` of wrap-up (queues.conf)."""
    return start_asterisk(
        extra_config=sandbox_dialplan(3, customer_ring_s=1) | queue_wrapup(wrapup_s)
    )


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start(0)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def pbx_wrapup(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start(5)
    try:
        yield instance
    finally:
        instance.stop()


async def seed_history(
    loaded: LoadedConfig,
    *,
    answered: int,
    abandoned: int,
    recent: tuple[int, int],
    missed: int = 0,
) -> None:
    """Past calls of the campaign (before the daemon starts): the 30-day window, the last hour,
    and ``missed`` unanswered calls a day ago (the answer rate pacing learns)."""
    async with open_store(loaded.settings.store.path) as db:
        await _seed(db, answered, abandoned, recent, missed)


async def _seed(
    db: Database, answered: int, abandoned: int, recent: tuple[int, int], missed: int
) -> None:
    now = time.time()
    await db.conn.execute(
        "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state, close_reason)"
        " VALUES (1000, '+79160000000', 0, 0, 0, 'closed', 'reached')"
    )
    rows = []
    for n in range(answered):  # a day ago, answered after 1 s, an operator half a second later
        outcome = "abandoned" if n < abandoned else "answered"
        op_at = None if n < abandoned else now - 86400 + 1.5
        rows.append((now - 86400, outcome, now - 86400 + 1, op_at))
    rows += [(now - 86400, "no_answer", None, None)] * missed
    attempts, picked_up = recent
    for n in range(attempts):  # the last hour: the answer rate the ratio follows
        if n < picked_up:
            rows.append((now - 600, "answered", now - 599, now - 598.5))
        else:
            rows.append((now - 600, "no_answer", None, None))
    for n, (created, outcome, answered_at, operator_at) in enumerate(rows):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at, outcome, answered_at, operator_at)"
            " VALUES (1000, ?, ?, ?, 'default', '+79160000000', 'predictive', 'done', ?, ?, ?, ?)",
            (n + 1, f"hist-{n}", f"hist-a-{n}", created, outcome, answered_at, operator_at),
        )


async def test_predictive_overdials_records_abandons_and_retries_them(tmp_path, pbx_wrapup):
    pbx = pbx_wrapup
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="predictive", group={"wrapup_s": 5})
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "102", "103", "104", "105")  # one free operator
        observer.watch_channels(every_s=0.03)
        # 100 answered, none abandoned: room for 3 abandons; 1 in 20 answers, so a second
        # customer for the one free operator risks little (the share of answers it may
        # abandon stays under the cap), a third would risk too much
        await seed_history(loaded, answered=90, abandoned=0, recent=(40, 10), missed=1800)
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, PHONES)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=30)
            attempts = [(await store.attempts_of(db, i))[0] for i in lead_ids]
            leads = [await store.get_lead(db, i) for i in lead_ids]
    assert observer.peak == 2  # two customers for one free operator
    # both answered: one talked to operator 101, the other waited and hung up; the third was
    # dialed for 101 as their wrap-up ran out, and got them
    assert sorted(a["outcome"] for a in attempts) == ["abandoned", "answered", "answered"]
    for attempt, lead in zip(attempts, leads, strict=True):
        assert attempt["mode"] == "predictive" and attempt["answered_at"] is not None
        if attempt["outcome"] == "abandoned":
            assert attempt["operator"] is None and attempt["recording_path"]
            assert lead["state"] == "waiting"  # retried after retry_delays.abandoned (120 s)
            assert lead["due_at"] == pytest.approx(attempt["ended_at"] + 120, abs=2)
        else:
            assert attempt["operator"] == "101" and lead["close_reason"] == "reached"
    abandons = {s.frame["Uniqueid"] for s in observer.named("QueueCallerAbandon")}
    assert abandons == {a["call_id"] for a in attempts if a["outcome"] == "abandoned"}


async def test_a_spent_abandon_budget_brings_the_ratio_back_to_one(tmp_path, pbx):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="predictive")
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "102", "103", "104", "105")
        observer.watch_channels(every_s=0.03)
        # 3 of 100 answered calls abandoned in the window: exactly the 3 % cap
        await seed_history(loaded, answered=90, abandoned=3, recent=(40, 10))
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, PHONES)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=30)
            attempts = await store.attempts_of(db)
    ours = [a for a in attempts if a["lead_id"] in lead_ids]
    assert observer.peak == 1  # one free operator, ratio 1.0: one customer at a time
    assert [a["outcome"] for a in ours] == ["answered"] * 3
    assert {a["operator"] for a in ours} == {"101"}
    assert not observer.named("QueueCallerAbandon")
