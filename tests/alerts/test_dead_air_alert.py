"""Customers left waiting after they answer: the owner hears once when the median wait to
an operator over the last 30 minutes passes alerts.dead_air_s, and once when it is back."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.webhook import WebhookServer

from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.policy.alerting import Backlog, dead_air_change
from dialerd.store.db import open_store

SECRET = "alert-hook-key"


def test_the_rule_needs_enough_calls_and_clears_at_the_threshold():
    slow = [6.0, 7.0, 1.0, 8.0, 9.0]
    assert dead_air_change(slow[:4], 5.0, active=False) is None  # too few to judge
    assert dead_air_change(slow, 5.0, active=False) is Backlog.RAISE
    assert dead_air_change(slow, 5.0, active=True) is None  # still raised: not again
    assert dead_air_change([5.0] * 5, 5.0, active=True) is Backlog.CLEAR
    assert dead_air_change([5.0] * 5, 5.0, active=False) is None
    assert dead_air_change(slow, None, active=True) is Backlog.CLEAR  # turned off


@pytest.fixture
async def hook():
    async with WebhookServer(secret=SECRET) as server:
        yield server


async def add_calls(db, waits, *, mode="predictive", start=0):
    now = time.time()
    await db.conn.execute(
        "INSERT OR IGNORE INTO leads (id, phone, received_at, due_at, updated_at, state,"
        " close_reason) VALUES (1000, '+79160000000', 0, 0, 0, 'closed', 'reached')"
    )
    for n, wait in enumerate(waits, start=start):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at, outcome, answered_at, operator_at)"
            " VALUES (1000, ?, ?, ?, 'default', '+79160000000', ?, 'done', ?, 'answered', ?, ?)",
            (n + 1, f"c-{n}", f"a-{n}", mode, now - 60, now - 50, now - 50 + wait),
        )
    await db.conn.commit()


async def until(check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def test_slow_answers_are_alerted_once_and_their_end_too(tmp_path, monkeypatch, hook):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", SECRET)
    overrides = {
        "store": {"path": str(tmp_path / "d.sqlite3")},
        "alerts": {
            "webhook": {"url": hook.url},
            "backoff_initial_s": 0.05,
            "speed_to_lead_warn_min": None,
            "speed_to_lead_missed": False,
            "dead_air_s": 5,
        },
    }
    settings = load_config(None, overrides=overrides).settings
    async with open_store(settings.store.path) as db:
        await add_calls(db, [0.5] * 6, mode="agent_first")  # an operator first: no wait
        await add_calls(db, [0.5, 7.0, 8.0, 9.0], start=6)  # four calls: too few
        async with Alerter(db, settings.alerts) as alerter:
            await alerter.check()
            await asyncio.sleep(0.2)
            assert hook.delivered() == []
            await add_calls(db, [6.0], start=10)  # five: median 7 s
            await alerter.check()
            await until(lambda: len(hook.delivered()) == 1)
            await alerter.check()
            await asyncio.sleep(0.2)
            assert len(hook.delivered()) == 1
            await add_calls(db, [0.2] * 6, start=11)  # quick again: median 0.5 s
            await alerter.check()
            await until(lambda: len(hook.delivered()) == 2)
    raised, cleared = (r.json() for r in hook.delivered())
    assert raised["kind"] == "dead_air"
    assert (raised["details"]["median_s"], raised["details"]["calls"]) == (7.0, 5)
    assert cleared["kind"] == "dead_air_cleared"
