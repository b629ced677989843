"""The operator's page across a daemon restart (issue 12): it reconnects by itself, the session
still holds (sessions live in the store), and a result clicked while the daemon was down is
sent when it is back; the operator sees that it was not saved until it was.

Real headless Chromium (Debian's, through Playwright) on the AMI simulator.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import async_playwright, expect
from support.console import (
    CHROMIUM_FLAGS,
    PASSWORDS,
    chromium_path,
    console_overrides,
    running_console,
)
from support.scenarios import pbx_config
from support.softphone import free_port

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store

SECRET = "sim-secret"


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, time_scale=1.0, rule=lambda number: SimOutcome("answer", talk_s=0.5)
    ) as simulator:
        simulator.add_member("sales", "Local/anna@operators", "anna")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


async def test_a_result_clicked_while_the_daemon_restarts_is_saved_when_it_is_back(tmp_path, sim):
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [{"name": "anna", "group": "sales", "interface": "Local/anna@operators"}],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
        **console_overrides(tmp_path),
    }
    extra["console"]["port"] = free_port()  # the page comes back to the same address
    loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        page = await browser.new_page()
        async with running_console(loaded) as daemon:
            await page.goto(daemon.url + "/signin")
            await page.get_by_label("Name").fill("anna")
            await page.get_by_label("Password").fill(PASSWORDS["anna"])
            await page.get_by_role("button", name="Sign in").click()
            lead = store.NewLead(phone=Phone("+79161234007"), order_id="R-7", amount_minor=50000)
            lead_id = await store.insert_lead(daemon.parts.db, lead, time.time())
            daemon.parts.engine.wake()
            await expect(page.locator("#card-phone")).to_have_text("+79161234007", timeout=15_000)
            await expect(page.locator("#result-status")).to_have_text(
                "The call ended: record the result.", timeout=15_000
            )
        # the daemon is down: the click is kept, and the operator is told so
        await page.get_by_role("button", name=re.compile("Confirmed")).click()
        await expect(page.locator("#result-status")).to_have_text(
            "Not saved yet: the daemon cannot be reached. Retrying…"
        )
        async with running_console(loaded) as daemon:
            await expect(page.locator("#result-status")).to_have_text(
                "Saved: Confirmed.", timeout=15_000
            )
            await expect(page.locator("#presence-name")).to_have_text("Free")
            rows = await daemon.parts.db.conn.execute_fetchall(
                "SELECT result, amount_minor, operator FROM dispositions WHERE lead_id = ?",
                (lead_id,),
            )
        await browser.close()
    assert [tuple(r) for r in rows] == [("confirmed", 50000, "anna")]
