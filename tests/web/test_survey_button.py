"""The card's "To the survey" button over HTTP, on the AMI simulator: shown only when the
campaign has a survey, and refused for someone else's call, without the CSRF token, for a
supervisor, or for a campaign without one (real Asterisk: tests/integration/test_survey.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.console import console_overrides, running_console, signed_in
from support.scenarios import pbx_config

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store

SECRET = "sim-secret"
OPERATORS = ("anna", "boris")


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, time_scale=1.0, rule=lambda number: SimOutcome("answer", talk_s=30.0)
    ) as simulator:
        for name in OPERATORS:
            simulator.add_member("sales", f"Local/{name}@operators", name)
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def config(tmp_path, sim, *, survey: bool, mode: str = "customer_first"):
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in OPERATORS
        ],
        "campaigns": {"default": {"mode": mode, "group": "sales", "survey": {"enabled": survey}}},
        **console_overrides(tmp_path),
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def _connected(daemon, lead_id: int) -> str:
    async with asyncio.timeout(15):
        while True:
            for op in daemon.parts.engine.operators.operators.values():
                if op.current is not None and op.current.lead_id == lead_id:
                    return op.name
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("survey", [True, False])
async def test_the_button_and_its_refusals(tmp_path, sim, survey):
    async with running_console(config(tmp_path, sim, survey=survey)) as daemon:
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, signed_in(daemon.url, "boris") as boris:
            async with anna.stream(), boris.stream():
                lead_id = await store.insert_lead(
                    db, store.NewLead(phone=Phone("+79161234001")), time.time()
                )
                daemon.parts.engine.wake()
                owner = await _connected(daemon, lead_id)
                me, other = (anna, boris) if owner == "anna" else (boris, anna)
                card = await me.wait_for("card", lead_id=lead_id)
                assert ('id="survey-transfer"' in card["html"]) is survey
                path = f"/operator/calls/{card['call_id']}/survey"
                not_mine = await other.post(path, {})
                assert (not_mine.status_code, not_mine.json()["error"]["code"]) == (
                    409,
                    "not_on_call",
                )
                assert (await me.post(path, {}, csrf=False)).status_code == 403
                if not survey:
                    refused = await me.post(path, {})
                    assert refused.json()["error"]["code"] == "no_survey"
                    assert refused.json()["error"]["message"] == "This campaign has no survey"
        async with signed_in(daemon.url, "boss") as boss:
            assert (await boss.post(path, {})).status_code == 403  # operators only


async def test_no_survey_from_an_agent_first_call(tmp_path, sim):
    """There the call dialerd placed is the operator's phone: it must never be redirected."""
    async with running_console(config(tmp_path, sim, survey=True, mode="agent_first")) as daemon:
        async with daemon.parts.db.transaction() as conn:  # an agent_first call in flight
            await conn.execute(
                "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state)"
                " VALUES (1, '+79161234001', 0, 0, 0, 'dialing')"
            )
            await conn.execute(
                "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
                " mode, operator, created_at) VALUES (1, 1, 'dialerd-1-1-af', 'a1', 'default',"
                " '+79161234001', 'agent_first', 'anna', 0)"
            )
        async with signed_in(daemon.url, "anna") as anna:
            refused = await anna.post("/operator/calls/dialerd-1-1-af/survey", {})
            assert (refused.status_code, refused.json()["error"]["code"]) == (409, "agent_first")
