"""Two daemons on one PostgreSQL store, each with a PBX and an operator of its own, over-dial
one campaign on one abandon budget: what one has in flight beyond its operator comes off what
the other may (``dialer/risk_ledger.py``), as a single daemon with both PBXs would pace."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from support.scenarios import SANDBOX_DIALING, add_leads, fast_ami, fleet_dialing

from dialerd.config import LoadedConfig, load_config
from dialerd.config.store import postgres_target
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.store import sql
from dialerd.store.pg import open_pg_store

pytestmark = [pytest.mark.engines("postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"


def one_operator(sim: AmiSimulator) -> AmiSimulator:
    sim.add_member("sales", "Local/101@operators", "Operator 101")
    sim.route_to_queue("operators", "600", "sales", timeout_s=None)
    return sim


def daemon_config(daemon_id: str, pbx: str, sim: AmiSimulator) -> LoadedConfig:
    """A daemon driving one PBX with one operator there, on the store of ``engine_store``."""
    overrides: dict[str, Any] = {
        "daemon": {"id": daemon_id},
        "ami": [{"name": pbx, **fast_ami("127.0.0.1", sim.port), "secret": SECRET}],
        # customers ring a long while (the Originate timeout: 60 s simulated, 6 s)
        "dialing": {**SANDBOX_DIALING, "max_concurrent_calls": 5, "originate_timeout_s": 60},
        "window": {"open": "00:00", "close": "00:00"},
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": f"op-{pbx}", "group": "sales", "interface": "Local/101@operators", "pbx": pbx}
        ],
        "campaigns": {
            "default": {
                "max_attempts": 1,
                "group": "sales",
                "mode": "customer_first",
                "dial_ratio": 4,
            }
        },
        "api": {"enabled": False},
        "console": {"enabled": False},
    }
    return load_config(None, overrides=overrides)


async def seed_answered(answered: int) -> None:
    """Answered calls an hour ago: with a 3 % cap, room for 3 abandons (3 / 103 ≤ 3 %)."""
    target = postgres_target(os.environ["DIALERD_STORE__URL"])
    async with open_pg_store(target, os.environ["DIALERD_STORE__PASSWORD"]) as db:
        async with db.transaction() as conn:
            await sql.run(
                conn,
                "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state,"
                " close_reason) VALUES (100000, '+79160000000', 0, 0, 0, 'closed', 'reached')",
            )
            at = time.time() - 3600
            await sql.run_many(
                conn,
                "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
                " mode, status, created_at, outcome, answered_at, operator_at) VALUES (100000,"
                " ?, ?, ?, 'default', '+79160000000', 'customer_first', 'done', ?, 'answered',"
                " ?, ?)",
                [(n + 1, f"h-{n}", f"ha-{n}", at, at + 1, at + 1.5) for n in range(answered)],
            )


def sent(sim: AmiSimulator) -> int:
    """Calls the PBX was asked to place."""
    return sum(1 for o in sim.originates if "ChannelId" in o.headers)


async def test_two_daemons_over_dial_one_campaign_on_one_abandon_budget():
    async with (
        AmiSimulator(secret=SECRET, time_scale=10.0) as east,
        AmiSimulator(secret=SECRET, time_scale=10.0) as west,
    ):
        await seed_answered(100)
        first = daemon_config("daemon-east", "east", one_operator(east))
        second = daemon_config("daemon-west", "west", one_operator(west))
        async with (
            fleet_dialing(first, drain=False) as one,
            fleet_dialing(second, drain=False) as other,
        ):
            await add_leads(one.db, [f"+791612330{n:02d}" for n in range(12)])  # ring long
            one.fleet.wake()
            other.fleet.wake()
            async with asyncio.timeout(10):
                while sent(east) + sent(west) < 5:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # 10 s simulated: room for more, had any been allowed
            counts = {"east": sent(east), "west": sent(west)}
    # one operator on each PBX, and 3 customers beyond them for the two daemons together
    # (alone, each would ring 1 + 3)
    assert sum(counts.values()) == 5, counts
    assert min(counts.values()) >= 1


async def test_two_daemons_on_one_pbx_count_each_other_s_customers_for_its_operator():
    """Both daemons see the PBX's one free operator: the second counts the customers the
    first has ringing for that operator, instead of dialing 1 + 3 of its own on top."""
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as east:
        one_operator(east)
        await seed_answered(100)
        first = daemon_config("daemon-a", "east", east)
        second = daemon_config("daemon-b", "east", east)
        async with (
            fleet_dialing(first, drain=False) as one,
            fleet_dialing(second, drain=False) as other,
        ):
            await add_leads(one.db, [f"+791612330{n:02d}" for n in range(12)])  # ring long
            one.fleet.wake()
            other.fleet.wake()
            async with asyncio.timeout(10):
                while sent(east) < 4:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # 10 s simulated: room for more, had any been allowed
            total = sent(east)
    # one operator, and 3 customers beyond it: 4 in all, as one daemon alone would dial
    assert total == 4
