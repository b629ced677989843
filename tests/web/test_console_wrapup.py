"""The wrap-up on the operator's screen (issue 12), on the AMI simulator: after a call the
page counts the wrap-up down (Asterisk holding her paused with ``wrap-up`` does not make it
"paused"), and saving the call's result ends it: she is unpaused and offered the next call."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr
from support.console import console_overrides, running_console, signed_in
from support.scenarios import pbx_config

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store

SECRET = "sim-secret"
ANNA = "Local/anna@operators"
API_TOKEN = "crm-token-0123456789abcdef"


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, rule=lambda number: SimOutcome("answer", talk_s=0.5)
    ) as simulator:
        simulator.add_member("sales", ANNA, "anna")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def config(tmp_path, sim):
    sales = {"queue": "sales", "context": "operators", "exten": "600", "after_call_work_s": 120}
    extra = {
        "groups": {"sales": sales},
        "operators": [{"name": "anna", "group": "sales", "interface": ANNA}],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
        **console_overrides(tmp_path),
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


def in_asterisk(sim: AmiSimulator) -> tuple[bool, str]:
    (member,) = sim.members
    return member.paused, member.paused_reason


async def until(check, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def add_order(db, phone: str) -> int:
    return await store.insert_lead(db, store.NewLead(phone=Phone(phone)), time.time())


async def test_the_page_counts_the_wrap_up_down_and_a_saved_result_ends_it(tmp_path, sim):
    async with running_console(config(tmp_path, sim)) as daemon:
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, anna.stream() as messages:
            await anna.wait_for("hello")
            first = await add_order(db, "+79161234001")
            daemon.parts.engine.wake()
            card = await anna.wait_for("card", lead_id=first)
            ended = await anna.wait_for("ended", call_id=card["call_id"])
            wrapup = await anna.wait_for("state", presence="wrapup")
            assert wrapup["wrapup_until"] == pytest.approx(ended["at"] + 120, abs=1)
            await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
            await asyncio.sleep(0.3)  # Asterisk's QueueMemberPause has reached the page's view
            shown = [m for m in messages if m["type"] == "state"][-1]
            assert (shown["presence"], shown["pause_reason"]) == ("wrapup", None)
            page = await anna.client.get("/operator")
            assert 'data-wrapup-until="' in page.text and 'data-wrapup-until=""' not in page.text

            second = await add_order(db, "+79161234002")
            daemon.parts.engine.wake()
            await asyncio.sleep(1.0)
            assert not [m for m in messages if m["type"] == "card" and m["lead_id"] == second]

            saved = await anna.post(
                f"/operator/calls/{card['call_id']}/result", {"result": "refused"}
            )
            assert saved.status_code == 201, saved.text
            await until(lambda: in_asterisk(sim) == (False, ""))
            await anna.wait_for("card", lead_id=second)  # the next customer, at once


async def test_a_result_sent_through_the_api_ends_the_wrap_up_too(tmp_path, sim):
    loaded = config(tmp_path, sim)
    settings = loaded.settings.model_copy(
        update={
            "api": loaded.settings.api.model_copy(
                update={"enabled": True, "port": 0, "tokens": {"crm": SecretStr(API_TOKEN)}}
            )
        }
    )
    async with running_console(replace(loaded, settings=settings)) as daemon:
        db = daemon.parts.db
        assert daemon.parts.api is not None
        first = await add_order(db, "+79161234003")
        daemon.parts.engine.wake()
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"), timeout_s=10)
        (row,) = await db.conn.execute_fetchall(
            "SELECT call_id FROM attempts WHERE lead_id = ?", (first,)
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{daemon.parts.api.port}",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        ) as api:
            response = await api.post(
                f"/api/v1/calls/{row[0]}/disposition", json={"result": "refused"}
            )
        assert response.status_code == 201, response.text
        await until(lambda: in_asterisk(sim) == (False, ""))
