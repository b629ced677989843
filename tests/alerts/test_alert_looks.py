"""What the alert monitor costs a busy floor: every finished call wakes it (a result in the
outbox), so a burst of wakes must make a few looks, not one each, and a look that finds
nothing new must write nothing (each commit is a trip to the disk)."""

import asyncio
import time

from dialerd.alerts import monitor
from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.policy.phones import Phone
from dialerd.store import alerts as alert_store
from dialerd.store import leads as store
from dialerd.store.db import open_store
from dialerd.store.outbox import enqueue_result


def settings_for(tmp_path):
    overrides = {"store": {"path": str(tmp_path / "d.sqlite3")}}
    return load_config(None, overrides=overrides).settings


async def test_a_burst_of_wakes_makes_a_few_looks(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    looks: list[float] = []
    check = Alerter.check

    async def counted(self):
        looks.append(time.monotonic())
        return await check(self)

    monkeypatch.setattr(Alerter, "check", counted)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts) as alerter:
            await asyncio.sleep(0.05)  # the first look, at start
            started = time.monotonic()
            while time.monotonic() - started < 0.6:  # a call ending every 10 ms
                alerter.wake()
                await asyncio.sleep(0.01)
            await asyncio.sleep(monitor.MIN_GAP_S + 0.2)  # the look the last wakes asked for
    gaps = [b - a for a, b in zip(looks, looks[1:], strict=False)]
    assert 2 <= len(looks) <= 5, looks  # not ~60
    assert all(gap >= monitor.MIN_GAP_S * 0.9 for gap in gaps), gaps
    assert looks[-1] > started + 0.6 - 0.05  # the last wakes were looked at, not dropped


async def test_a_look_with_nothing_new_writes_nothing(tmp_path):
    settings = settings_for(tmp_path)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts) as alerter:
            await alerter.check()
            before = db.conn.total_changes
            await alerter.check()
            await alerter.check()
            assert db.conn.total_changes == before


async def closed_with_a_result(db, n: int, now: float) -> None:
    """A lead closed as exhausted, its result enqueued for the CRM: nothing to alert on."""
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone(f"+7916123000{n}")), now)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE leads SET state = 'closed', close_reason = 'exhausted', closed_at = ?"
            " WHERE id = ?",
            (now, lead_id),
        )
        await enqueue_result(conn, lead_id, now)


async def test_a_look_over_results_with_nothing_to_alert_commits_nothing(tmp_path):
    """Every finished call enqueues a result and wakes the monitor: a look that reads new
    results with nothing in them to alert on must not pay a transaction (a trip to the disk
    and several to SQLite's thread); its cursor is saved with its next alert, or later."""
    settings = settings_for(tmp_path)
    now = time.time()
    async with open_store(settings.store.path) as db:
        alerter = Alerter(db, settings.alerts)  # its looks only, no background task
        await alerter.check()
        for n in range(3):
            await closed_with_a_result(db, n, now)
        statements: list[str] = []
        await db.conn.set_trace_callback(statements.append)
        await alerter.check()
        await db.conn.set_trace_callback(None)
        read = [s for s in statements if "FROM outbox WHERE id >" in s]
        assert read and all(s.endswith("id > 0 ORDER BY id LIMIT 500") for s in read)
        assert not [s for s in statements if s.startswith(("BEGIN", "COMMIT"))], statements
        assert len(statements) <= 9, statements
        statements.clear()
        await db.conn.set_trace_callback(statements.append)
        await alerter.check()  # the cursor moved on in memory: the results are not read again
        await db.conn.set_trace_callback(None)
        assert [s for s in statements if "FROM outbox WHERE id >" in s] == [
            "SELECT id, payload FROM outbox WHERE id > 3 ORDER BY id LIMIT 500"
        ]


async def test_a_moved_cursor_is_saved_once_cursor_save_s_has_passed(tmp_path, monkeypatch):
    """A restart reads again only what came after the saved cursor: while results keep
    coming with nothing to alert on, it is saved once ``CURSOR_SAVE_S`` has passed."""
    settings = settings_for(tmp_path)
    now = time.time()
    async with open_store(settings.store.path) as db:
        alerter = Alerter(db, settings.alerts)
        await alerter.check()
        await closed_with_a_result(db, 1, now)
        await alerter.check()
        async with db.reading() as conn:
            assert await alert_store.get_state(conn, "results_cursor", 0) == 0
        monkeypatch.setattr(monitor, "CURSOR_SAVE_S", 0.0)  # as if it had passed
        await closed_with_a_result(db, 2, now)
        await alerter.check()
        async with db.reading() as conn:
            assert await alert_store.get_state(conn, "results_cursor", 0) == 2
