"""The owner hears once per spell that leads miss their speed-to-lead target because no
operator is signed in (so nobody is dialed), and hears it again only after someone has
signed in and everyone has left again."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.webhook import WebhookServer

from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.domain import OperatorsAway
from dialerd.pbx.events import PbxDisconnected
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import open_store

SECRET = "alert-hook-key"


@pytest.fixture
async def hook():
    async with WebhookServer(secret=SECRET) as server:
        yield server


def settings_for(tmp_path, monkeypatch, hook, **rules):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", SECRET)
    alerts = {
        "webhook": {"url": hook.url},
        "backoff_initial_s": 0.05,
        # the lead's own speed-to-lead alerts are not what this is about
        "speed_to_lead_warn_min": None,
        "speed_to_lead_missed": False,
        **rules,
    }
    overrides = {"store": {"path": str(tmp_path / "d.sqlite3")}, "alerts": alerts}
    return load_config(None, overrides=overrides).settings


async def until(check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def late_lead(db, phone, now):
    return await store.insert_lead(
        db, store.NewLead(phone=Phone(phone)), now - 900, store.Placement(deadline_at=now - 1)
    )


async def test_no_operators_is_alerted_once_per_spell_with_the_late_leads(
    tmp_path, monkeypatch, hook
):
    settings = settings_for(tmp_path, monkeypatch, hook)
    now = time.time()
    async with open_store(settings.store.path) as db:
        late = await late_lead(db, "+79161230002", now)
        async with Alerter(db, settings.alerts) as alerter:
            await alerter.check()  # operators at work: a late lead alone is not this alert
            await asyncio.sleep(0.2)
            assert hook.delivered() == []
            alerter.on_engine_event(OperatorsAway(True, now - 120))
            await until(lambda: len(hook.delivered()) == 1)
            await alerter.check()  # the same spell: not again
            await asyncio.sleep(0.2)
            assert len(hook.delivered()) == 1
            alerter.on_engine_event(OperatorsAway(False, now))  # someone signed in
            await alerter.check()
            alerter.on_engine_event(OperatorsAway(True, now + 1))  # ... and left again
            await until(lambda: len(hook.delivered()) == 2)
    first = hook.delivered()[0].json()
    assert first["kind"] == "no_operators"
    assert first["details"]["past_deadline"] == 1
    assert [lead["lead_id"] for lead in first["details"]["leads"]] == [late]
    assert "No operator has been signed in" in first["text"]


async def test_nobody_signed_in_without_late_leads_or_with_the_rule_off_is_quiet(
    tmp_path, monkeypatch, hook
):
    now = time.time()
    settings = settings_for(tmp_path, monkeypatch, hook)
    async with open_store(settings.store.path) as db:
        await store.insert_lead(  # waiting, its deadline still ahead
            db,
            store.NewLead(phone=Phone("+79161230003")),
            now,
            store.Placement(deadline_at=now + 900),
        )
        async with Alerter(db, settings.alerts) as alerter:
            alerter.on_engine_event(OperatorsAway(True, now))
            assert await alerter.check() == pytest.approx(now + 900)  # looks again then
            await asyncio.sleep(0.2)
        off = settings_for(tmp_path, monkeypatch, hook, no_operators=False)
        await late_lead(db, "+79161230004", now)
        async with Alerter(db, off.alerts) as alerter:
            alerter.on_engine_event(OperatorsAway(True, now))
            await alerter.check()
            await asyncio.sleep(0.2)
        async with Alerter(db, settings.alerts) as alerter:
            alerter.on_engine_event(OperatorsAway(True, now))
            alerter.on_engine_event(PbxDisconnected("connection closed", now))  # the link's own
            await alerter.check()
            await asyncio.sleep(0.2)
    assert hook.delivered() == []
