"""Alerts reach a real local SMTP server (aiosmtpd) and a local webhook, once per cause."""

import asyncio
import time

import pytest
from support.scenarios import pbx_config, running_engine
from support.smtp import Inbox, smtp_server
from support.webhook import WebhookServer

from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.daemon.service import assembled
from dialerd.pbx.events import PbxConnected, PbxDisconnected
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.phones import Phone
from dialerd.store import alerts as alert_store
from dialerd.store import dnc
from dialerd.store import leads as store
from dialerd.store.db import open_store
from dialerd.store.outbox import enqueue_result

HOOK_SECRET = "alert-hook-key"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with smtp_server(inbox) as controller:
        yield controller, inbox


@pytest.fixture
async def hook():
    async with WebhookServer(secret=HOOK_SECRET) as server:
        yield server


def alert_settings(tmp_path, monkeypatch, smtp=None, hook=None, **rules):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", HOOK_SECRET)
    alerts = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, **rules}
    if hook is not None:
        alerts["webhook"] = {"url": hook.url}
    if smtp is not None:
        alerts["email"] = {
            "host": "127.0.0.1",
            "port": smtp.port,
            "starttls": False,
            "from": "dialerd@shop.example",
            "to": ["owner@shop.example", "lead@shop.example"],
        }
    overrides = {"store": {"path": str(tmp_path / "d.sqlite3")}, "alerts": alerts}
    return load_config(None, overrides=overrides).settings


async def wait(check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def wait_sent(db, count):
    """Until ``count`` alerts are recorded as sent (a receiver's 2xx alone is not enough:
    stopping before it is recorded sends the alert again, with the same Idempotency-Key)."""
    async with asyncio.timeout(10):
        while [r["state"] for r in await alert_store.all_alerts(db)] != ["sent"] * count:
            await asyncio.sleep(0.02)


async def complaint(db, phone, now):
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone(phone), name="Boris"), now)
    async with db.transaction() as conn:  # what the API's disposition transaction does
        cursor = await conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, status,"
            " created_at, operator) VALUES (?, 1, ?, ?, 'default', ?, 'done', ?, '102')",
            (lead_id, f"c{lead_id}", f"a{lead_id}", phone, now),
        )
        await conn.execute(
            "INSERT INTO dispositions (attempt_id, lead_id, result, note, operator, created_at)"
            " VALUES (?, ?, 'complaint', 'shouted at', '102', ?)",
            (cursor.lastrowid, lead_id, now),
        )
        await conn.execute(
            "UPDATE leads SET state = 'closed', close_reason = 'complaint', closed_at = ?"
            " WHERE id = ?",
            (now, lead_id),
        )
        await enqueue_result(conn, lead_id, now)
    return lead_id


async def test_a_complaint_is_mailed_and_posted_once(tmp_path, monkeypatch, smtp, hook):
    controller, inbox = smtp
    settings = alert_settings(tmp_path, monkeypatch, controller, hook)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts):
            await complaint(db, "+79161234567", time.time())
            await wait_sent(db, 2)
        async with Alerter(db, settings.alerts):  # a restart does not send it again
            await asyncio.sleep(0.3)
        rows = await alert_store.all_alerts(db)
    ((recipients, mail),), (post,) = inbox.mails, hook.delivered()
    assert recipients == ["owner@shop.example", "lead@shop.example"]
    assert mail["Subject"] == "[dialerd] Complaint from +79161234567"
    assert mail["From"] == "dialerd@shop.example"
    assert "shouted at" in mail.get_payload() and "Operator 102" in mail.get_payload()
    assert post.signature_ok and post.json()["kind"] == "complaint"
    assert post.json()["details"]["phone"] == "+79161234567"
    assert [(r["channel"], r["state"], r["attempts"]) for r in rows] == [
        ("webhook", "sent", 1),
        ("email", "sent", 1),
    ]


async def test_speed_to_lead_warnings_and_misses_once_each(tmp_path, monkeypatch, hook):
    settings = alert_settings(tmp_path, monkeypatch, hook=hook, speed_to_lead_warn_min=3)
    now = time.time()
    async with open_store(settings.store.path) as db:
        soon = await store.insert_lead(
            db,
            store.NewLead(phone=Phone("+79161230001")),
            now,
            store.Placement(deadline_at=now + 60),
        )
        late = await store.insert_lead(
            db,
            store.NewLead(phone=Phone("+79161230002")),
            now - 900,
            store.Placement(deadline_at=now - 1),
        )
        # far from its deadline: nothing yet
        await store.insert_lead(
            db,
            store.NewLead(phone=Phone("+79161230003")),
            now,
            store.Placement(deadline_at=now + 900),
        )
        async with Alerter(db, settings.alerts):
            await wait_sent(db, 2)
        async with Alerter(db, settings.alerts):
            await asyncio.sleep(0.3)
    kinds = {r.json()["kind"]: r.json() for r in hook.delivered()}
    assert len(hook.received) == 2
    assert [lead["lead_id"] for lead in kinds["speed_to_lead_warning"]["details"]["leads"]] == [
        soon
    ]
    assert [lead["lead_id"] for lead in kinds["speed_to_lead_missed"]["details"]["leads"]] == [late]


async def test_the_deadline_passing_while_running_is_alerted_when_it_passes(
    tmp_path, monkeypatch, hook
):
    settings = alert_settings(tmp_path, monkeypatch, hook=hook, speed_to_lead_warn_min=None)
    async with open_store(settings.store.path) as db:
        async with Alerter(db, settings.alerts) as alerter:
            await asyncio.sleep(0.1)  # the monitor is asleep (30 s recheck)
            now = time.time()
            lead_id = await store.insert_lead(
                db,
                store.NewLead(phone=Phone("+79161230004")),
                now,
                store.Placement(deadline_at=now + 0.5),
            )
            alerter.wake()  # the poke after a new lead; the monitor then sleeps until the deadline
            await asyncio.sleep(0.1)
            assert hook.received == []
            await wait(lambda: hook.delivered(), timeout_s=5)
    (post,) = hook.delivered()
    assert post.json()["details"]["leads"][0]["lead_id"] == lead_id
    assert post.at >= now + 0.5


async def test_crm_backlog_alert_and_its_all_clear(tmp_path, monkeypatch, hook):
    settings = alert_settings(tmp_path, monkeypatch, hook=hook, crm_backlog=2)
    now = time.time()
    async with open_store(settings.store.path) as db:
        for n in range(3):
            await store.insert_lead(db, store.NewLead(phone=Phone(f"+7495123456{n}")), now)
        async with Alerter(db, settings.alerts, crm_pushes=True) as alerter:
            await dnc.add(db, "+7495", None, now)  # three results, nobody delivers them
            await wait(lambda: len(hook.delivered()) == 1)
            await db.conn.execute("UPDATE outbox SET state = 'delivered' WHERE id <= 2")
            alerter.wake()  # what the outbox worker does after each try
            await wait(lambda: len(hook.delivered()) == 2)
    assert [r.json()["kind"] for r in hook.delivered()] == ["crm_backlog", "crm_backlog_cleared"]
    assert hook.delivered()[0].json()["details"] == {"pending": 3, "threshold": 2}


@pytest.mark.parametrize("crm_url", [None, "http://127.0.0.1:9/crm"], ids=["no-crm", "crm"])
async def test_a_crm_backlog_is_alerted_only_when_there_is_a_crm(
    tmp_path, monkeypatch, hook, crm_url
):
    """Without ``crm.url`` the outbox only accumulates (nothing is pushed): no CRM alert."""
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", HOOK_SECRET)
    monkeypatch.setenv("DIALERD_CRM__SECRET", "crm-key")
    alerts = {
        "webhook": {"url": hook.url},
        "crm_backlog": 2,
        "speed_to_lead_warn_min": None,
        "speed_to_lead_missed": False,
        "ami_down_s": None,
    }
    async with AmiSimulator(secret="s", time_scale=10) as sim:
        extra = {"crm": {"url": crm_url}, "alerts": alerts}
        loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, "s", extra=extra)
        async with assembled(loaded) as parts:
            now = time.time()
            for n in range(50):
                await store.insert_lead(
                    parts.db, store.NewLead(phone=Phone(f"+749512345{n:02d}")), now
                )
            await dnc.add(parts.db, "+7495", None, now)  # 50 results wait in the outbox
            assert parts.alerter is not None
            await parts.alerter.check()
            kinds = [row["kind"] for row in await alert_store.all_alerts(parts.db)]
    assert kinds == ([] if crm_url is None else ["crm_backlog"])


async def test_ami_down_too_long_is_alerted_and_so_is_its_return(tmp_path, monkeypatch, hook):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", HOOK_SECRET)
    async with AmiSimulator(secret="s", time_scale=10) as sim:
        loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, "s")
        alerts = {"webhook": {"url": hook.url}, "ami_down_s": 0.5, "backoff_initial_s": 0.05}
        settings = loaded.settings.model_copy(
            update={"alerts": load_config(None, overrides={"alerts": alerts}).settings.alerts}
        )
        loaded = type(loaded)(settings=settings, path=None)
        async with running_engine(loaded) as (_engine, _db, pbx):
            await pbx.connected.wait()
            await sim.stop()  # Asterisk goes away
            down = time.time()
            await wait(lambda: hook.delivered(), timeout_s=10)
            assert time.time() - down >= 0.5
            await sim.start()  # same port: the adapter reconnects
            await wait(lambda: len(hook.delivered()) == 2, timeout_s=10)
    kinds = [r.json()["kind"] for r in hook.delivered()]
    assert kinds == ["ami_down", "ami_restored"]
    assert "connection closed" in hook.delivered()[0].json()["text"]


async def test_ami_down_is_not_repeated_by_a_restart_during_the_outage(tmp_path, monkeypatch, hook):
    settings = alert_settings(tmp_path, monkeypatch, hook=hook, ami_down_s=0.2)
    async with open_store(settings.store.path) as db:
        for _ in range(2):  # the daemon restarts while Asterisk stays down
            async with Alerter(db, settings.alerts) as alerter:
                alerter.on_engine_event(PbxDisconnected("connection refused", time.time()))
                await asyncio.sleep(0.5)
                await wait_sent(db, 1)
        async with Alerter(db, settings.alerts) as alerter:
            alerter.on_engine_event(PbxConnected(time.time()))
            await wait_sent(db, 2)
    assert [r.json()["kind"] for r in hook.delivered()] == ["ami_down", "ami_restored"]
