"""A store that cannot be written (SQLITE_FULL): dialing stops, nothing is half-written,
every call in flight is recorded once space returns, and dialing resumes by itself.

The disk is "full" through SQLite's own ``max_page_count`` on the engine's connection;
tests/faults/ does the same with a real full file system under real Asterisk.
"""

import asyncio

from support.scenarios import add_leads, pbx_config, running_engine

from dialerd.dialer.events import AttemptStarted
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store.db import StoreTrouble

SECRET = "sim-secret"
PHONES = [f"+7916124{n:04d}" for n in range(120)]


async def page_count(db) -> int:
    async with db.conn.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    return int(row[0])


async def test_a_full_store_holds_dialing_and_loses_no_call(tmp_path):
    async with AmiSimulator(secret=SECRET, time_scale=20.0) as sim:
        sim.rule = lambda _number: SimOutcome("answer", talk_s=2.0)
        loaded = pbx_config(
            tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, max_concurrent_calls=4
        )
        troubles: list[StoreTrouble] = []
        started: list[AttemptStarted] = []

        def listen(event: object) -> None:
            if isinstance(event, StoreTrouble):
                troubles.append(event)
            elif isinstance(event, AttemptStarted):
                started.append(event)

        async with running_engine(loaded, listeners=[listen]) as (engine, db, pbx):
            await pbx.connected.wait()
            await add_leads(db, PHONES)
            await db.conn.execute(f"PRAGMA max_page_count = {await page_count(db)}")
            engine.wake()
            async with asyncio.timeout(30):
                while not troubles:
                    await asyncio.sleep(0.01)
            assert not troubles[0].writable and "full" in troubles[0].error
            sent_when_full = len(sim.originates)
            await asyncio.sleep(1.0)  # calls in flight end meanwhile; none can be recorded
            assert len(sim.originates) == sent_when_full  # nothing dialed that can't be recorded
            assert not sim.active_channels  # the calls in flight have ended at Asterisk

            await db.conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
            async with asyncio.timeout(60):
                while True:
                    async with db.conn.execute(
                        "SELECT COUNT(*) FROM leads WHERE attempts = 0 OR state = 'dialing'"
                    ) as cursor:
                        (left,) = await cursor.fetchone()
                    if left == 0:
                        break
                    await asyncio.sleep(0.05)
            assert troubles[-1].writable
            async with db.conn.execute(
                "SELECT COUNT(*), SUM(outcome = 'answered'), SUM(status = 'done') FROM attempts"
            ) as cursor:
                attempts, answered, done = await cursor.fetchone()
            async with db.conn.execute("PRAGMA integrity_check") as cursor:
                (integrity,) = await cursor.fetchone()
    # every Originate has its attempt and every attempt its Originate; none dialed twice
    assert attempts == len(sim.originates) == len(PHONES) == answered == done
    dialed = [o.headers["Channel"] for o in sim.originates]
    assert len(set(dialed)) == len(dialed)
    assert integrity == "ok"
