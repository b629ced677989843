"""A detractor's survey answer (0-6 of 10) reaches the owner once, through a real local webhook;
a promoter's does not, nor any answer with ``alerts.detractor: false``."""

import asyncio
import time

import pytest
from support.webhook import WebhookServer

from dialerd.alerts.monitor import MIN_GAP_S, Alerter
from dialerd.config import load_config
from dialerd.policy.phones import Phone
from dialerd.store import alerts as alert_store
from dialerd.store import leads as store
from dialerd.store import surveys
from dialerd.store.db import open_store
from dialerd.store.surveys import SurveyAnswer

HOOK_SECRET = "alert-hook-key"


@pytest.fixture
async def hook():
    async with WebhookServer(secret=HOOK_SECRET) as server:
        yield server


def settings_for(tmp_path, monkeypatch, hook, **rules):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", HOOK_SECRET)
    alerts = {
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "webhook": {"url": hook.url},
        "speed_to_lead_warn_min": None,  # these leads were never dialed: not this test's point
        "speed_to_lead_missed": False,
    }
    overrides = {"store": {"path": str(tmp_path / "d.sqlite3")}, "alerts": alerts | rules}
    return load_config(None, overrides=overrides).settings


async def surveyed(db, phone: str, nps: int, csat: int | None = None) -> int:
    now = time.time()
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone(phone)), now)
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, status,"
            " created_at, operator, outcome) VALUES (?, 1, ?, ?, 'default', ?, 'done', ?,"
            " 'anna', 'answered')",
            (lead_id, f"c{lead_id}", f"a{lead_id}", phone, now),
        )
        assert cursor.lastrowid is not None
        await surveys.record(conn, SurveyAnswer(cursor.lastrowid, lead_id, nps, csat, now))
    return lead_id


async def test_a_detractor_is_alerted_once_and_a_promoter_never(tmp_path, monkeypatch, hook):
    settings = settings_for(tmp_path, monkeypatch, hook)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts) as alerter:
            await surveyed(db, "+79161234567", nps=10)
            lead_id = await surveyed(db, "+79161234568", nps=4, csat=2)
            alerter.wake()
            async with asyncio.timeout(10):
                while [r["state"] for r in await alert_store.all_alerts(db)] != ["sent"]:
                    await asyncio.sleep(0.02)
        async with Alerter(db, settings.alerts):  # a restart does not send it again
            await asyncio.sleep(0.3)
    (post,) = hook.delivered()
    body = post.json()
    assert post.signature_ok and body["kind"] == "detractor"
    assert body["details"]["lead_id"] == lead_id
    assert (body["details"]["nps"], body["details"]["operator"]) == (4, "anna")
    assert "+79161234568 answered 4 of 10" in body["subject"]


async def test_no_detractor_alerts_when_turned_off(tmp_path, monkeypatch, hook):
    settings = settings_for(tmp_path, monkeypatch, hook, detractor=False)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts) as alerter:
            await surveyed(db, "+79161234568", nps=0)
            alerter.wake()
            await asyncio.sleep(MIN_GAP_S + 0.5)  # the look this wake asks for has been made
        assert await alert_store.all_alerts(db) == []
    assert hook.delivered() == []
