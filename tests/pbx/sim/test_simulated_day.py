"""On a simulated day the simulator and the daemon share one clock, so queue operators come
free after each call whether that day is in the wall clock's past or future.

Before: the simulator reported LastCall from the wall clock; on a day in the past each
operator's last call "ended" days later by the daemon's clock, and every operator took one
call and was never offered another.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from support.scenarios import pbx_config, running_engine

from dialerd.clock import Clock
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store

SECRET = "sim-secret"
OPERATORS = 8
SPEED = 400.0  # 30 simulated minutes in 4.5 real seconds
MINUTES = 30
MOSCOW = ZoneInfo("Europe/Moscow")


def customers(_number: str) -> SimOutcome:
    return SimOutcome("answer", ring_s=5, talk_s=120, patience_s=30)


async def conversations(tmp_path: Path, day: datetime) -> dict[str, int]:
    """Each operator's conversations in 30 simulated minutes of customer_first from ``day``."""
    clock = Clock(speed=SPEED, start=day.timestamp())
    async with AmiSimulator(secret=SECRET, time_scale=SPEED, rule=customers, clock=clock) as sim:
        names = [f"op{n}" for n in range(1, OPERATORS + 1)]
        for name in names:
            sim.add_member("sales", f"Local/{name}@operators", name)
        sim.route_to_queue("operators", "600", "sales")
        extra = {
            "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
            "operators": [
                {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
                for name in names
            ],
            "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
        }
        loaded = pbx_config(
            tmp_path / f"{day.year}.sqlite3",
            "127.0.0.1",
            sim.port,
            SECRET,
            extra=extra,
            max_concurrent_calls=OPERATORS * 2,
            originate_timeout_s=30,
        )
        async with running_engine(loaded, clock=clock) as (engine, db, _pbx):
            for n in range(300):
                lead = store.NewLead(phone=Phone(f"+7916{n:07d}"))
                await store.insert_lead(db, lead, clock())
            engine.wake()
            start = clock()
            await asyncio.sleep(clock.real_seconds(MINUTES * 60))
            rows = await db.conn.execute_fetchall(
                "SELECT operator, COUNT(*) FROM attempts WHERE outcome = 'answered'"
                " AND operator IS NOT NULL AND answered_at BETWEEN ? AND ? GROUP BY operator",
                (start, start + MINUTES * 60),
            )
    return {str(name): int(count) for name, count in rows}


async def test_operators_take_call_after_call_on_a_past_day_as_on_a_future_one(tmp_path):
    past = await conversations(tmp_path, datetime(2020, 3, 2, 11, 0, tzinfo=MOSCOW))
    future = await conversations(tmp_path, datetime(2031, 3, 3, 11, 0, tzinfo=MOSCOW))
    # 125 s a call: up to 14 each in 30 minutes; the wall clock's LastCall gave 1 each
    assert len(past) == len(future) == OPERATORS  # everyone worked
    assert min(past.values()) >= 8 and min(future.values()) >= 8
    assert abs(sum(past.values()) - sum(future.values())) <= 2 * OPERATORS
