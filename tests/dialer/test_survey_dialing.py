"""Survey calls need no operator: on the real engine and AMI adapter over the simulator, a
survey campaign dials while every operator is paused and the sales campaign waits, and the
survey call is never offered to the operators' queue."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.scenarios import pbx_config, running_engine, wait_until_settled

from dialerd.domain import OperatorsAway
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
SALE, SURVEY = "+79161231001", "+79161231002"


@pytest.fixture
async def sim():
    rule = lambda number: SimOutcome("answer", talk_s=0.3)  # noqa: E731
    async with AmiSimulator(secret=SECRET, rule=rule) as simulator:
        for name in ("101", "102"):
            simulator.add_member("sales", f"Local/{name}@operators", f"Operator {name}")
            simulator.set_member(f"Local/{name}@operators", paused=True)
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def sim_config(tmp_path, sim):
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": n, "group": "sales", "interface": f"Local/{n}@operators"}
            for n in ("101", "102")
        ],
        "campaigns": {
            "default": {
                "mode": "customer_first",
                "group": "sales",
                "survey": {"campaign": "after-sale"},
            },
            "after-sale": {"mode": "survey"},
        },
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def test_survey_calls_go_on_while_every_operator_is_paused(tmp_path, sim):
    told: list[OperatorsAway] = []

    def listen(event: object) -> None:
        if isinstance(event, OperatorsAway):
            told.append(event)

    async with running_engine(sim_config(tmp_path, sim), listeners=[listen]) as (engine, db, _):
        now = time.time()
        sale = await store.insert_lead(db, store.NewLead(phone=Phone(SALE)), now)
        survey = await store.insert_lead(
            db, store.NewLead(phone=Phone(SURVEY), campaign="after-sale"), now
        )
        engine.wake()
        await wait_until_settled(db, [survey], timeout_s=10)
        await asyncio.sleep(0.5)  # time enough to have dialed the sale many times over
        waiting = await store.get_lead(db, sale)
        (attempt,) = await store.attempts_of(db, survey)
    assert waiting is not None and (waiting["state"], waiting["attempts"]) == ("waiting", 0)
    assert (attempt["mode"], attempt["outcome"], attempt["operator"]) == (
        "survey",
        "answered",
        None,
    )
    assert [event.away for event in told] == [True]
    ((channel, context),) = [(o.headers["Channel"], o.headers["Context"]) for o in sim.originates]
    assert SURVEY[1:] in channel and context == "dialer-survey"  # the IVR, not the queue
