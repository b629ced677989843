"""An abandoned number is not dialed again inside its lockout, on real Asterisk: a customer
of an over-dialing predictive campaign hangs up waiting for the one operator, is due again
at once (retry_delays.abandoned: 0), and Asterisk sees their phone rung again only once the
lockout since their answer has passed; `explain` says why meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import operators_config, pause, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.policy.pick import explain
from dialerd.store import leads as store
from dialerd.store.db import open_store

pytestmark = pytest.mark.asterisk

# ring 1 s, answer, hang up 2 s later: in the queue with no operator that is an abandoned call
PHONES = ["+79161231001", "+79161231002", "+79161231003"]
LOCKOUT_H = 0.004  # 14.4 s


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(3, customer_ring_s=1))
    try:
        yield instance
    finally:
        instance.stop()


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


def dials_of(observer: AmiObserver, phone: str) -> list[float]:
    """When Asterisk created a channel to this customer (monotonic seconds)."""
    digits = phone.removeprefix("+")
    return [
        s.at
        for s in observer.named("Newchannel")
        if s.frame["Channel"].startswith(f"Local/{digits}@customers-")
        and s.frame["Channel"].endswith(";1")
    ]


def answers_of(observer: AmiObserver, phone: str) -> list[float]:
    digits = phone.removeprefix("+")
    return [
        s.at
        for s in observer.named("Newstate")
        if s.frame["Channel"].startswith(f"Local/{digits}@customers-")
        and s.frame["Channel"].endswith(";2")
        and s.frame["ChannelStateDesc"] == "Up"
    ]


async def test_an_abandoned_number_is_not_redialed_inside_its_lockout(tmp_path, pbx):
    loaded = operators_config(
        pbx,
        tmp_path / "d.sqlite3",
        mode="predictive",
        campaign={
            "retry_delays": {"abandoned": 0, "answered": None},
            "abandon": {"lockout_h": LOCKOUT_H},
        },
    )
    settings = loaded.settings.model_copy(
        update={"phone_limits": type(loaded.settings.phone_limits)(per_day=None, min_gap_min=0)}
    )
    loaded = type(loaded)(settings=settings, path=None)
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "102", "103", "104", "105")  # one free operator
        async with open_store(loaded.settings.store.path) as db:
            await seed_budget(db)  # before the start: the pacer reads it at its first pick
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, PHONES)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=30)
            first = {i: (await store.attempts_of(db, i))[0] for i in lead_ids}
            abandoned = [i for i in lead_ids if first[i]["outcome"] == "abandoned"]
            assert abandoned  # the operator took one; the others hung up waiting
            # due again at once by its retry delay, but locked out: explain says so
            (view,) = await store.lead_views(db, "id = ?", (abandoned[0],), "id", 1)
            reason = explain(view, time.time(), loaded.settings.policy).reason
            assert reason.startswith("held back: abandoned at ")
            # wait for the redials (they come once the lockout is over)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                counts = [len(await store.attempts_of(db, i)) for i in abandoned]
                if all(c >= 2 for c in counts):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the abandoned numbers were never redialed")
    for lead_id in abandoned:
        phone = next(p for i, p in zip(lead_ids, PHONES, strict=True) if i == lead_id)
        dials, answers = dials_of(observer, phone), answers_of(observer, phone)
        assert len(dials) >= 2, phone
        # Asterisk's clock: the second dial comes a lockout after the first answer, not before
        assert dials[1] - answers[0] >= LOCKOUT_H * 3600 - 0.5, (phone, dials, answers)
        assert dials[1] - answers[0] < LOCKOUT_H * 3600 + 10  # ... and not much later
