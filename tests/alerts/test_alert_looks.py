"""What the alert monitor costs a busy floor: every finished call wakes it (a result in the
outbox), so a burst of wakes must make a few looks, not one each, and a look that finds
nothing new must write nothing (each commit is a trip to the disk)."""

import asyncio
import time

from dialerd.alerts import monitor
from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.store.db import open_store


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
