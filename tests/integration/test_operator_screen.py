"""The operator's screen in a real browser, on a real Asterisk, with a real SIP phone (issue 12).

baresip (the operator's phone) is the only member of queue ``sales``; headless Chromium
(Debian's, driven by Playwright) is signed in as that operator. The tests assert what the
operator sees on the page and what each click does in the store, at the CRM, in the report
and in Asterisk's own QueueStatus; the README's screenshot is taken here.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from support.asterisk import AsteriskInstance, default_config_dir, start_asterisk
from support.console import (
    PASSWORDS,
    chromium_page,
    console_overrides,
    running_console,
)
from support.observer import AmiObserver
from support.operators import operators_overrides
from support.softphone import Softphone, free_port, pjsip_conf
from support.webhook import WebhookServer

from dialerd.config import load_config
from dialerd.policy.phones import Phone
from dialerd.reports.build import build_totals
from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ANSWERS = "+79161235001"  # the sandbox's customer who answers and stays on the line
CRM_SECRET = "operator-screen-crm-secret"


def queue_of_one_sip_phone() -> dict[str, str]:
    """Queue ``sales`` with baresip (PJSIP/201) as its only member, instead of Local/10x."""
    text = (default_config_dir() / "queues.conf").read_text()
    kept = [line for line in text.splitlines() if not line.startswith("member =>")]
    return {"queues.conf": "\n".join(kept) + "\nmember => PJSIP/201,0,anna\n"}


@pytest.fixture
def sip(asterisk: AsteriskInstance) -> Iterator[tuple[AsteriskInstance, Softphone]]:
    port = free_port(kind=2)  # SOCK_DGRAM
    instance = start_asterisk(
        extra_config={"pjsip.conf": pjsip_conf(port, {"201": "pw-201"}), **queue_of_one_sip_phone()}
    )
    try:
        with Softphone(instance, "201", "pw-201", port, talk_s=4.0) as phone:
            yield instance, phone
    finally:
        instance.stop()


@pytest.fixture
async def browser_page() -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh page in headless Chromium, and the console errors it logs."""
    async with chromium_page(1200, 860) as found:
        yield found


def config(tmp_path, instance, crm_url, *, mode):
    overrides = operators_overrides(instance, mode=mode, store_path=tmp_path / "d.sqlite3")
    overrides["ami"]["secret"] = instance.secret
    if mode == "agent_first":
        overrides["groups"] = {"desk": {}}  # no queue: the phone's device state decides
        overrides["operators"] = [{"name": "anna", "group": "desk", "device": "PJSIP/201"}]
        overrides["campaigns"]["default"]["group"] = "desk"
        # the test answers by hand after checking the page: a loaded machine must not turn
        # that into a missed offer (5 s by default in these tests)
        overrides["dialing"]["operator_ring_timeout_s"] = 20
    else:
        overrides["groups"] = {"sales": {"queue": "sales", "context": "operators", "exten": "600"}}
        overrides["operators"] = [{"name": "anna", "group": "sales", "interface": "PJSIP/201"}]
        overrides["campaigns"]["default"]["group"] = "sales"
    overrides["campaigns"]["default"]["max_attempts"] = 3
    overrides["crm"] = {"url": crm_url, "secret": CRM_SECRET}
    overrides["pauses"] = {"reasons": ["lunch", "training"]}
    overrides |= console_overrides(tmp_path)
    return load_config(None, overrides=overrides)


async def add_order(db, phone=ANSWERS, order_id="A-2041"):
    lead = store.NewLead(
        phone=Phone(phone),
        order_id=order_id,
        name="Irina Petrova",
        amount_minor=249000,
        items=[{"name": "Espresso machine", "qty": 1, "price": "2490.00"}],
        comment="Leave at the door",
        metadata={"delivery": "courier"},
    )
    return await store.insert_lead(db, lead, time.time())


async def sign_in(page: Page, url: str, name: str = "anna") -> None:
    await page.goto(url + "/signin")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORDS[name])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#presence-name")).to_have_text("Free", timeout=15_000)


async def test_customer_first_card_at_connect_confirmed_in_one_click(tmp_path, sip, browser_page):
    instance, _phone = sip
    page, problems = browser_page
    async with (
        WebhookServer() as crm,
        running_console(config(tmp_path, instance, crm.url, mode="customer_first")) as daemon,
    ):
        db = daemon.parts.db
        await sign_in(page, daemon.url)
        lead_id = await add_order(db)
        daemon.parts.engine.wake()
        await expect(page.locator("#card-phone")).to_have_text(ANSWERS, timeout=30_000)
        connected = time.time()
        card = page.locator("#card")
        await expect(card).to_contain_text("Irina Petrova")
        await expect(card).to_contain_text("A-2041")
        await expect(card).to_contain_text("Espresso machine")
        await expect(card).to_contain_text("courier")
        await expect(card).to_contain_text("Attempt 1 of 3")
        await expect(page.locator("#presence-name")).to_have_text("Talking")
        await page.screenshot(path=str(SCREENSHOTS / "operator-card.png"))
        await page.get_by_label("Amount").fill("2350.00")
        await page.get_by_role("button", name=re.compile("Confirmed")).click()
        # baresip hangs up after 4 s; the result is saved then, without another click
        await expect(page.locator("#result-status")).to_have_text(
            "Saved: Confirmed.", timeout=20_000
        )
        await expect(page.locator("#idle")).to_be_visible(timeout=5_000)
        async with asyncio.timeout(15):
            while not crm.received:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a second delivery would arrive now
        now = time.time()
        start = now // 900 * 900 - 3600  # the reports count in whole 15-minute buckets
        settings = daemon.parts.engine.settings
        totals = await build_totals(db, settings, start, start + 2 * 3600, now=now)
        (attempt,) = await store.attempts_of(db, lead_id)
        rows = await db.conn.execute_fetchall(
            "SELECT result, amount_minor, operator FROM dispositions WHERE lead_id = ?", (lead_id,)
        )
    assert (attempt["outcome"], attempt["operator"]) == ("answered", "anna")
    assert [tuple(r) for r in rows] == [("confirmed", 235000, "anna")]
    assert len(crm.received) == 1  # exactly once
    pushed = crm.received[0].json()
    assert (pushed["result"], pushed["lead"]["id"], pushed["amount"]) == (
        "confirmed",
        lead_id,
        "2350.00",
    )
    assert pushed["operator"] == "anna"
    assert (totals.leads_confirmed, totals.revenue) == (1, 2350.0)
    assert connected - attempt["created_at"] < 30
    assert problems == []


async def test_agent_first_card_at_ring_before_the_customer_is_dialed(tmp_path, sip, browser_page):
    instance, phone = sip
    page, problems = browser_page
    assert phone.command("answermode", "manual")
    async with (
        WebhookServer() as crm,
        AmiObserver.of(instance) as observer,
        running_console(config(tmp_path, instance, crm.url, mode="agent_first")) as daemon,
    ):
        db = daemon.parts.db
        await sign_in(page, daemon.url)
        lead_id = await add_order(db, order_id="A-2042")
        daemon.parts.engine.wake()
        await expect(page.locator("#card-phone")).to_have_text(ANSWERS, timeout=20_000)
        await expect(page.locator("#presence-name")).to_have_text("Ringing")

        def phone_rings() -> bool:
            return any(
                s.frame.get("Device") == "PJSIP/201" and s.frame.get("State") == "RINGING"
                for s in observer.named("DeviceStateChange")
            )

        # the card comes at the Originate, a moment before the INVITE reaches the phone:
        # answer only once Asterisk says it rings, or baresip has nothing to accept yet
        await observer.wait_for(phone_rings, 15, "the operator's phone to ring")
        customers = [s for s in observer.named("Newchannel") if "@customers-" in s.frame["Channel"]]
        assert customers == []  # the card is up while only the operator's phone rings
        await asyncio.sleep(0.3)  # baresip has logged the incoming call by now
        phone.command("accept")
        await page.get_by_role("button", name=re.compile("Refused")).click()
        await expect(page.locator("#result-status")).to_have_text("Saved: Refused.", timeout=25_000)
        lead = await store.get_lead(db, lead_id)
    assert (lead["state"], lead["close_reason"]) == ("closed", "refused")
    assert problems == []


async def test_callback_picked_in_the_card_and_pause_seen_by_asterisk(tmp_path, sip, browser_page):
    instance, _phone = sip
    page, problems = browser_page
    async with (
        WebhookServer() as crm,
        running_console(config(tmp_path, instance, crm.url, mode="customer_first")) as daemon,
    ):
        db = daemon.parts.db
        await sign_in(page, daemon.url)
        # pause with a reason: Asterisk's own QueueStatus says so; resume clears it
        await page.get_by_label("Pause reason").select_option("lunch")
        await page.get_by_role("button", name="Pause", exact=True).click()
        await expect(page.locator("#presence-name")).to_have_text("Paused", timeout=10_000)
        await expect(page.locator("#presence-reason")).to_have_text("lunch")
        shown = instance.cli("queue show sales")
        assert re.search(r"PJSIP/201.*paused:lunch", shown, re.I), shown
        await page.get_by_role("button", name="Resume").click()
        await expect(page.locator("#presence-name")).to_have_text("Free", timeout=10_000)
        assert "paused" not in instance.cli("queue show sales").lower()
        # a callback picked in the card: the lead is due then, not before
        lead_id = await add_order(db, order_id="A-2043")
        daemon.parts.engine.wake()
        await expect(page.locator("#card-phone")).to_have_text(ANSWERS, timeout=30_000)
        await page.get_by_role("button", name=re.compile("Callback")).click()
        choice = page.get_by_role("button", name="In 1 hour")
        picked = await choice.get_attribute("data-at")
        await choice.click()
        await expect(page.locator("#result-status")).to_have_text(
            "Saved: Callback.", timeout=20_000
        )
        await asyncio.sleep(2)  # the engine had time to dial it again, if it were going to
        lead = await store.get_lead(db, lead_id)
        attempts = await store.attempts_of(db, lead_id)
    tz = daemon.parts.engine.policy.tz
    expected = datetime.fromisoformat(picked).replace(tzinfo=tz).timestamp()
    assert lead["state"] == "waiting" and len(attempts) == 1
    assert lead["due_at"] == pytest.approx(expected, abs=1)
    assert expected - time.time() > 3000  # about an hour away
    assert problems == []
