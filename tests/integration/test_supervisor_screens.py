"""The supervisor's screens in a real browser on a real Asterisk (issue 13).

The sandbox's simulated operators (``Local/10x@operators``, auto-answering) are the members
of queue ``sales``; headless Chromium (Debian's, driven by Playwright) is signed in as the
supervisor. The wallboard's numbers are checked against what Asterisk's own QueueStatus,
``dialerd operators`` and the report say at the same moment; the lead desk finds a lead and
plays its recording; a campaign paused from the page stops new Originates at once, as seen
from Asterisk's side (an independent AMI session), and resumes; every action lands in the
audit table. The README's screenshots are taken here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
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
from support.operators import operators_overrides, sandbox_dialplan

from dialerd.cli.operators import operators_report
from dialerd.config import load_config
from dialerd.domain import Result
from dialerd.policy.disposition import Disposition
from dialerd.policy.phones import Phone
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import dispositions
from dialerd.store import leads as store
from dialerd.web.wallboard import clock_text, percent_text

pytestmark = pytest.mark.asterisk

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
QUEUE = "sales"
LONG, SHORT, BUSY, NO_ANSWER = "5", "1", "2", "3"  # answers for 30 s, for 2 s; busy; never
TEAM = {"anna": "101", "boris": "102", "carl": "103"}


def phone(outcome: str, n: int, group: int = 3) -> str:
    """A sandbox customer: the 4th digit from the end decides (extensions_sandbox.conf)."""
    return f"+791612{group}{outcome}{n:03d}"


def sandbox(talk_s: int) -> dict[str, str]:
    """Queue ``sales`` with three members, operators talking ``talk_s`` s, and a supervisor's
    phone (``Local/301@supervisor-phones``) that answers and listens."""
    config = sandbox_dialplan(talk_s)
    config["extensions_sandbox.conf"] += (
        "\n[supervisor-phones]\nexten => 301,1,Answer()\n same => n,Wait(60)\n same => n,Hangup()\n"
    )
    text = (default_config_dir() / "queues.conf").read_text()
    kept = [line for line in text.splitlines() if not line.startswith("member =>")]
    members = [f"member => Local/{ext}@operators,0,{name}" for name, ext in TEAM.items()]
    config["queues.conf"] = "\n".join(kept + members) + "\n"
    return config


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox(talk_s=12))
    try:
        yield instance
    finally:
        instance.stop()


@contextlib.contextmanager
def recordings_seen_by_both(instance: AsteriskInstance) -> Iterator[Path]:
    """Asterisk (chrooted) and dialerd see the recordings under the same path, as on a real
    host: a link at the instance directory's path inside the chroot, pointing into it."""
    inside = Path(instance.in_chroot(instance.instance_dir))
    created_parent = not inside.parent.exists()
    inside.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(instance.instance_dir, inside)
    try:
        yield inside / "spool" / "monitor"
    finally:
        inside.unlink()
        if created_parent:
            with contextlib.suppress(OSError):
                inside.parent.rmdir()


@pytest.fixture
async def browser_page() -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh page in headless Chromium, and the console errors it logs."""
    async with chromium_page(
        1440, 1000, extra_flags=("--autoplay-policy=no-user-gesture-required",)
    ) as found:
        yield found


def config(tmp_path, instance, recordings: Path | None = None):
    overrides = operators_overrides(
        instance, mode="customer_first", store_path=tmp_path / "d.sqlite3"
    )
    overrides["ami"]["secret"] = instance.secret
    overrides["operators"] = [
        {"name": name, "group": "sales", "interface": f"Local/{ext}@operators"}
        for name, ext in TEAM.items()
    ]
    overrides["campaigns"]["default"]["max_attempts"] = 1  # every lead ends closed
    overrides |= console_overrides(tmp_path)
    overrides["console"]["supervisors"] = [
        {"name": "boss", "device": "Local/301@supervisor-phones"}
    ]
    if recordings is not None:
        overrides["api"]["recordings_dir"] = str(recordings)
    return load_config(None, overrides=overrides)


async def add_lead(db, phone: str, **fields) -> int:
    now = time.time()
    lead = store.NewLead(phone=Phone(phone), **fields)
    return await store.insert_lead(db, lead, now, store.Placement(deadline_at=now + 900))


async def sign_in(page: Page, url: str, name: str) -> None:
    await page.goto(url + "/signin")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORDS[name])
    await page.get_by_role("button", name="Sign in").click()


def tile(page: Page, key: str):
    return page.locator(f'[data-number="{key}"] .value')


def row(page: Page, name: str):
    return page.locator(f'#operators tr[data-operator="{name}"]')


async def queue_status(observer: AmiObserver) -> tuple[int, dict[str, dict[str, str]]]:
    """Asterisk's word: callers waiting in the queue, and each member by name."""
    frames = await observer.action({"Action": "QueueStatus", "Queue": QUEUE}, as_list=True)
    (params,) = [f for f in frames if f.get("Event") == "QueueParams"]
    members = {f["Name"]: f for f in frames if f.get("Event") == "QueueMember"}
    return int(params["Calls"]), members


async def settled(db) -> None:
    async with asyncio.timeout(60):
        while await db.conn.execute_fetchall("SELECT 1 FROM leads WHERE state != 'closed'"):
            await asyncio.sleep(0.1)


async def test_the_wallboard_follows_a_dialing_run_as_asterisk_the_cli_and_the_report_do(
    tmp_path, pbx, browser_page
):
    page, problems = browser_page
    async with (
        AmiObserver.of(pbx) as observer,
        running_console(config(tmp_path, pbx)) as daemon,
    ):
        db, settings = daemon.parts.db, daemon.parts.engine.settings
        await sign_in(page, daemon.url, "boss")
        await expect(page.get_by_role("heading", name="Calls in flight")).to_be_visible()
        await expect(tile(page, "ops_free")).to_have_text("3", timeout=15_000)
        # two short calls and a long one first; two more long ones then take the operators
        # those free, and two leads wait for them
        await add_lead(db, phone(SHORT, 0), name="Short 0")
        await add_lead(db, phone(SHORT, 1), name="Short 1")
        for n in range(3):
            last_long = await add_lead(db, phone(LONG, n), name=f"Long {n}", order_id=f"L-{n}")
        for n, outcome in enumerate([BUSY, NO_ANSWER]):
            await add_lead(db, phone(outcome, n, group=4), name=f"Lead {n}")
        daemon.parts.engine.wake()
        await expect(tile(page, "conversations")).to_have_text("2", timeout=20_000)
        await expect(tile(page, "calls_talking")).to_have_text("3", timeout=20_000)
        await expect(tile(page, "ops_talking")).to_have_text("3")
        await expect(tile(page, "waiting_total")).to_have_text("2")
        # the same moment, four ways: the page, Asterisk, the CLI, the engine
        waiting_callers, members = await queue_status(observer)
        cli = await asyncio.to_thread(operators_report, settings, time.time())
        assert waiting_callers == 0 and await tile(page, "calls_queued").inner_text() == "0"
        assert sorted(m["Status"] for m in members.values()) == ["2", "2", "2"]  # in use
        assert sorted(r["state"] for r in cli["operators"]) == ["busy", "busy", "busy"]
        assert len(daemon.parts.engine.calls.tracks) == 3
        for name in TEAM:
            await expect(row(page, name).locator(".op-state")).to_have_text("Talking")
        await page.screenshot(path=str(SCREENSHOTS / "wallboard.png"), full_page=True)
        # listening: the supervisor's phone is rung into ChanSpy on the channels of the
        # operator whose call started last (the longest still to go)
        (listened,) = [
            op.name
            for op in daemon.parts.engine.operators.operators.values()
            if op.current is not None and op.current.lead_id == last_long
        ]
        await row(page, listened).get_by_role("button", name="Listen").click()
        await expect(page.locator("#notice")).to_have_text(
            "Your phone answered: you are listening.", timeout=10_000
        )
        await observer.wait_for(
            lambda: any(
                s.frame.get("SpyeeChannel", "").startswith(f"Local/{TEAM[listened]}@operators-")
                and s.frame.get("SpyerChannel", "").startswith("Local/301@supervisor-phones-")
                for s in observer.named("ChanSpyStart")
            ),
            5,
            "ChanSpyStart on the operator's call",
        )
        # Asterisk pauses carl's queue membership: the page follows within a second
        paused_at = time.monotonic()
        await observer.action(
            {
                "Action": "QueuePause",
                "Interface": "Local/103@operators",
                "Paused": "true",
                "Reason": "coaching",
            }
        )
        await expect(row(page, "carl").locator(".op-state")).to_have_text("Paused", timeout=1_000)
        await expect(row(page, "carl").locator(".op-reason")).to_have_text(
            "coaching", timeout=1_000
        )
        await expect(tile(page, "ops_paused")).to_have_text("1", timeout=1_000)
        followed_s = time.monotonic() - paused_at
        _, members = await queue_status(observer)
        assert members["carl"]["Paused"] == "1"
        await observer.action(
            {"Action": "QueuePause", "Interface": "Local/103@operators", "Paused": "false"}
        )
        await expect(tile(page, "ops_paused")).to_have_text("0", timeout=1_000)
        # the run ends; today's numbers are then the report's
        await settled(db)
        now = time.time()
        zone = settings.window.timezone
        today = local_today(now, zone)
        totals = (await build_report(db, settings, days(today, today, zone), None, now=now)).totals
        await expect(tile(page, "calls_talking")).to_have_text("0", timeout=10_000)
        await expect(tile(page, "answer_rate")).to_have_text(
            percent_text(totals.answer_rate), timeout=10_000
        )
        await expect(tile(page, "conversations")).to_have_text(str(totals.conversations))
        await expect(tile(page, "stl_median")).to_have_text(
            clock_text(totals.speed_to_lead_median_s)
        )
        await expect(tile(page, "stl_p90")).to_have_text(clock_text(totals.speed_to_lead_p90_s))
        await expect(tile(page, "stl_within")).to_have_text(
            percent_text(totals.speed_to_lead_within_target)
        )
        await expect(tile(page, "ops_free")).to_have_text("3", timeout=15_000)
        waiting_callers, members = await queue_status(observer)
        cli = await asyncio.to_thread(operators_report, settings, time.time())
        assert waiting_callers == 0
        assert sorted((m["Status"], m["Paused"]) for m in members.values()) == [("1", "0")] * 3
        assert [r["state"] for r in cli["operators"]] == ["free"] * 3
        for cli_row in cli["operators"]:
            cells = row(page, cli_row["name"])
            await expect(cells.locator(".op-calls")).to_have_text(str(cli_row["today"]["calls"]))
            await expect(cells.locator(".op-talk")).to_have_text(
                clock_text(cli_row["today"]["talk_s"])
            )
        assert sum(r["today"]["calls"] for r in cli["operators"]) == totals.conversations == 5
        audit = await db.conn.execute_fetchall("SELECT user, action, target FROM audit")
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.goto(daemon.url + "/supervisor?tv=1")
        await expect(tile(page, "ops_free")).to_have_text("3")
        await page.screenshot(path=str(SCREENSHOTS / "wallboard-tv.png"))
    assert followed_s < 1.0
    assert [tuple(r) for r in audit] == [("boss", "listen", listened)]
    assert problems == []


async def test_the_lead_desk_plays_a_recording_and_a_paused_campaign_stops_dialing(
    tmp_path, asterisk, browser_page
):
    instance = start_asterisk(extra_config=sandbox(talk_s=3))
    page, problems = browser_page
    try:
        with recordings_seen_by_both(instance) as recordings:
            async with (
                AmiObserver.of(instance) as observer,
                running_console(config(tmp_path, instance, recordings)) as daemon,
            ):
                db = daemon.parts.db
                lead_id = await add_lead(
                    db,
                    "+79161231077",
                    name="Anna Karenina",
                    order_id="B-77",
                    amount_minor=1_990_000,
                    items=[{"name": "Samovar", "qty": 1, "price": "19900.00"}],
                )
                daemon.parts.engine.wake()
                await settled(db)
                (attempt,) = await store.attempts_of(db, lead_id)
                await dispositions.record(  # what the operator's screen records
                    db,
                    attempt["call_id"],
                    Disposition(
                        Result.CONFIRMED, 1_950_000, None, "deliver on Saturday", (), "anna"
                    ),
                    daemon.parts.engine.policy,
                    time.time(),
                )
                await sign_in(page, daemon.url, "boss")
                await page.get_by_role("link", name="Lead desk").click()
                await page.get_by_label("Phone, order id or name").fill("8 (916) 123-10-77")
                await page.get_by_role("button", name="Find").click()
                await page.get_by_role("link", name=str(lead_id), exact=True).click()
                await expect(page.locator("#lead-phone")).to_have_text("+79161231077")
                await expect(page.locator("#explain-reason")).to_have_text("closed: confirmed")
                await expect(page.locator("#attempts")).to_contain_text("Confirmed 19500.00")
                await expect(page.locator("#attempts")).to_contain_text("deliver on Saturday")
                audio = page.locator("#attempts audio")
                await expect(audio).to_have_count(1)
                await page.wait_for_function(
                    "() => { const a = document.querySelector('#attempts audio');"
                    " return a && a.readyState >= 1 && a.duration > 0; }",
                    timeout=10_000,
                )
                duration = await audio.evaluate("a => a.duration")
                played = await audio.evaluate(
                    "a => a.play().then(() => new Promise(r => setTimeout(() => r(a.currentTime), 400)))"
                )
                await page.screenshot(path=str(SCREENSHOTS / "lead-desk.png"), full_page=True)

                # pause from the wallboard: no new Originate reaches Asterisk, then resume
                await page.get_by_role("link", name="Wallboard").click()
                await page.get_by_role("button", name="Pause campaign").click()
                await expect(
                    page.locator('#campaigns tr[data-campaign="default"] .c-status')
                ).to_have_text("Paused")
                seen = len(customer_calls(observer))
                waiting = [
                    await add_lead(db, phone(SHORT, n, 5), name=f"Paused {n}") for n in range(2)
                ]
                daemon.parts.engine.wake()
                await asyncio.sleep(3.0)
                assert len(customer_calls(observer)) == seen  # Asterisk was asked for nothing
                await page.get_by_role("button", name="Resume campaign").click()
                await expect(
                    page.locator('#campaigns tr[data-campaign="default"] .c-status')
                ).to_have_text("Dialing")
                await observer.wait_for(
                    lambda: len(customer_calls(observer)) >= seen + 2, 15, "the calls after resume"
                )
                await settled(db)
                # a reschedule and a do-not-call from the lead's page
                await page.goto(f"{daemon.url}/supervisor/leads/{waiting[0]}")
                await page.get_by_label("Why never call this phone").fill("asked on the phone")
                await page.get_by_role("button", name="Do not call this phone").click()
                await expect(page.locator("#outcome")).to_have_text(
                    "The phone is on the do-not-call list."
                )
                await page.get_by_role("link", name="Audit").click()
                await expect(page.locator("#audit tbody tr")).to_have_count(3)
                audit = await db.conn.execute_fetchall(
                    "SELECT user, action, target FROM audit ORDER BY id"
                )
                supervisor_problems = list(problems)
                # an operator's session sees none of it (the browser logs the 403 itself)
                await page.context.clear_cookies()
                await sign_in(page, daemon.url, "anna")
                await page.goto(daemon.url + "/supervisor")
                await expect(page.get_by_text("This is not for your role.")).to_be_visible()
    finally:
        instance.stop()
    assert [tuple(r) for r in audit] == [
        ("boss", "campaign_pause", "default"),
        ("boss", "campaign_resume", "default"),
        ("boss", "dnc_add", phone(SHORT, 0, 5)),
    ]
    assert duration > 1.0 and played > 0
    assert supervisor_problems == []


def customer_calls(observer: AmiObserver) -> list[str]:
    """Each customer channel Asterisk created (its ``;2`` half is the customer's side)."""
    return [
        s.frame["Channel"]
        for s in observer.named("Newchannel")
        if "@customers-" in s.frame.get("Channel", "") and s.frame["Channel"].endswith(";2")
    ]
