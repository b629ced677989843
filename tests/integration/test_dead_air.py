"""Answer to operator on real Asterisk: each answered customer-first call stores the time
from the customer's answer to the operator's arrival, and it matches the gap between
Asterisk's own events (the call going Up, then AgentConnect); the report shows its median
and 95th percentile. One operator, two customers at once: the second one waits."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import operators_config, pause, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.reports.build import build_report
from dialerd.reports.metrics import nearest_rank
from dialerd.reports.period import days, local_today
from dialerd.store import leads as store
from dialerd.store.db import open_store

pytestmark = pytest.mark.asterisk

# ring 1 s, answer, stay 6 s: the second customer is still there when the operator frees up
PHONES = ["+79161236001", "+79161236002"]


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(2, customer_ring_s=1))
    try:
        yield instance
    finally:
        instance.stop()


async def test_answer_to_operator_is_stored_as_asterisk_saw_it(tmp_path, pbx):
    loaded = operators_config(
        pbx,
        tmp_path / "d.sqlite3",
        mode="customer_first",
        # two customers per free operator; a long after_s so the one who waits is not let go
        campaign={"dial_ratio": 2, "abandon": {"after_s": 10, "cap": 0.5}},
    )
    async with AmiObserver.of(pbx) as observer:
        await pause(observer, "102", "103", "104", "105")  # one free operator
        async with open_store(loaded.settings.store.path) as db:
            await seed_answered(db)  # an abandon budget for the second customer
        async with running_engine(loaded) as (engine, db, _):
            lead_ids = await add_leads(db, PHONES)
            engine.wake()
            await wait_until_settled(db, lead_ids, timeout_s=40)
            attempts = [(await store.attempts_of(db, i))[0] for i in lead_ids]
            now = time.time()
            tz = loaded.settings.window.timezone
            report = await build_report(
                db,
                loaded.settings,
                days(local_today(now, tz), local_today(now, tz), tz),
                None,
                now=now,
            )
    stored = {}
    for attempt in attempts:
        assert attempt["outcome"] == "answered" and attempt["operator"] == "101"
        call_id = attempt["call_id"]
        (up,) = [
            s.at
            for s in observer.named("Newstate")
            if s.frame["Uniqueid"] == call_id and s.frame["ChannelStateDesc"] == "Up"
        ]
        (connect,) = [
            s.at for s in observer.named("AgentConnect") if s.frame["Uniqueid"] == call_id
        ]
        stored[call_id] = attempt["operator_at"] - attempt["answered_at"]
        assert stored[call_id] == pytest.approx(connect - up, abs=0.25), (call_id, connect - up)
    waits = sorted(stored.values())
    assert waits[1] > 1.0  # the second customer waited for operator 101's first call to end
    ours = waits  # the seeded history has no operator times
    assert report.totals.dead_air_median_s == pytest.approx(statistics.median(ours))
    assert report.totals.dead_air_p95_s == pytest.approx(nearest_rank(ours, 0.95))


async def seed_answered(db) -> None:
    """100 answered calls yesterday, none abandoned: room for a few abandons, so the
    campaign may dial two customers for its one free operator."""
    now = time.time()
    await db.conn.execute(
        "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state, close_reason)"
        " VALUES (1000, '+79160000000', 0, 0, 0, 'closed', 'reached')"
    )
    for n in range(100):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at, outcome, answered_at)"
            " VALUES (1000, ?, ?, ?, 'default', '+79160000000', 'customer_first', 'done', ?,"
            " 'answered', ?)",
            (n + 1, f"hist-{n}", f"hist-a-{n}", now - 86400, now - 86400),
        )
    await db.conn.commit()
