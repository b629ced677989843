"""Two daemons on one PostgreSQL store driving the same PBX (each lists every PBX, so either
can take over) dial a campaign that takes no risk, customer_first at ratio 1: both see the
PBX's one free operator, and only one of them may dial a customer for it. A daemon alone on
its PBX writes nothing for such a campaign (``dialer/risk_ledger.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.scenarios import SANDBOX_DIALING, add_leads, fast_ami, fleet_dialing

from dialerd.config import LoadedConfig, load_config
from dialerd.config.store import postgres_target
from dialerd.daemon.service import Assembled
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store import sql
from dialerd.store.pg import open_pg_store

pytestmark = [pytest.mark.engines("postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"


def one_operator(sim: AmiSimulator) -> AmiSimulator:
    sim.add_member("sales", "Local/101@operators", "Operator 101")
    sim.route_to_queue("operators", "600", "sales", timeout_s=None)
    return sim


def daemon_config(
    daemon_id: str,
    sim: AmiSimulator,
    mode: str = "customer_first",
    extra: dict[str, Any] | None = None,
) -> LoadedConfig:
    """A daemon driving PBX ``east`` (one operator), customer_first at ratio 1 (or ``mode``);
    ``extra``: the groups instead (no queue); a short lease so the daemons' heartbeats tell each other about the shared PBX within a
    second."""
    overrides: dict[str, Any] = {
        "daemon": {"id": daemon_id, "lease_s": 3},
        "ami": [{"name": "east", **fast_ami("127.0.0.1", sim.port), "secret": SECRET}],
        # customers ring a long while (the Originate timeout: 60 s simulated, 6 s)
        "dialing": {**SANDBOX_DIALING, "max_concurrent_calls": 5, "originate_timeout_s": 60},
        "window": {"open": "00:00", "close": "00:00"},
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": "op-east", "group": "sales", "interface": "Local/101@operators", "pbx": "east"}
        ],
        "campaigns": {"default": {"max_attempts": 1, "group": "sales", "mode": mode}},
        "api": {"enabled": False},
        "console": {"enabled": False},
    }
    if extra:  # agent_first: the operator outside any queue, with a wrap-up after calls
        overrides["groups"] = extra["groups"]
    return load_config(None, overrides=overrides)


@contextlib.asynccontextmanager
async def store() -> AsyncIterator[sql.Store]:
    target = postgres_target(os.environ["DIALERD_STORE__URL"])
    async with open_pg_store(target, os.environ["DIALERD_STORE__PASSWORD"]) as db:
        yield db


def sent(sim: AmiSimulator) -> int:
    """Calls the PBX was asked to place."""
    return sum(1 for o in sim.originates if "ChannelId" in o.headers)


async def until_shared(*daemons: Assembled) -> None:
    """Each daemon's heartbeat has seen the other on PBX east."""
    async with asyncio.timeout(5):
        while any(d.heartbeat is None or "east" not in d.heartbeat.shared_pbxs for d in daemons):
            await asyncio.sleep(0.05)


async def test_two_daemons_on_one_pbx_dial_one_customer_for_its_one_free_operator():
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as east:
        one_operator(east)
        async with (
            fleet_dialing(daemon_config("daemon-a", east), drain=False) as one,
            fleet_dialing(daemon_config("daemon-b", east), drain=False) as other,
        ):
            await until_shared(one, other)
            await add_leads(one.db, [f"+791612330{n:02d}" for n in range(6)])  # ring long
            one.fleet.wake()
            other.fleet.wake()
            async with asyncio.timeout(10):
                while sent(east) < 1:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # 10 s simulated: room for a second, had one been let
            total = sent(east)
    # alone, each daemon would ring a customer for the free operator: one would then wait
    # in the queue with nobody to talk to, and abandon
    assert total == 1


async def test_two_daemons_on_one_pbx_never_ring_an_operator_the_other_holds_agent_first():
    """agent_first, an operator outside any queue: after one daemon's call the operator is in
    the wrap-up that daemon keeps (Asterisk knows nothing of it: no queue to pause them in),
    and the other daemon, which sees their phone idle again, must not ring them meanwhile."""
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as east:
        # the operator answers at once, then the customer; they talk 1 s (10 s simulated)
        east.rule = lambda number: SimOutcome("answer", talk_s=10.0)
        wrap_up = {"groups": {"sales": {"after_call_work_s": 5}}}
        async with (
            fleet_dialing(
                daemon_config("daemon-a", east, "agent_first", wrap_up), drain=False
            ) as one,
            fleet_dialing(
                daemon_config("daemon-b", east, "agent_first", wrap_up), drain=False
            ) as other,
        ):
            await until_shared(one, other)
            await add_leads(one.db, [f"+791612330{n:02d}" for n in range(6)])
            one.fleet.wake()
            other.fleet.wake()
            async with asyncio.timeout(10):
                while sent(east) < 1:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(3.0)  # the call over after 1 s, its wrap-up runs until 6 s
            total = sent(east)
    assert total == 1  # not rung again, by either daemon, during the wrap-up


async def test_a_daemon_alone_on_its_pbx_writes_nothing_for_a_campaign_at_ratio_1():
    """A daemon that stopped heartbeating long ago still lists the PBX: it is not live, so
    the one running is alone there and its calls cost no shared count."""
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as east:
        one_operator(east)
        async with store() as db, db.transaction() as conn:
            await sql.run(
                conn,
                "INSERT INTO daemons (id, host, pid, started_at, heartbeat_at, pbx)"
                " VALUES ('daemon-gone', 'elsewhere', 1, 0, 0, ?)",
                (f"east=127.0.0.1:{east.port}",),
            )
        async with fleet_dialing(daemon_config("daemon-a", east), drain=False) as one:
            await add_leads(one.db, [f"+791612330{n:02d}" for n in range(3)])
            one.fleet.wake()
            async with asyncio.timeout(10):
                while sent(east) < 1:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            assert one.heartbeat is not None and one.heartbeat.shared_pbxs == frozenset()
            async with store() as db:
                written = await sql.row(
                    db.conn,
                    "SELECT (SELECT COUNT(*) FROM pacing_risk) + (SELECT COUNT(*) FROM operator_holds)",
                )
    assert written is not None and written[0] == 0
    assert sent(east) == 1  # one free operator, one customer
