"""Scenarios run the same way against the AMI simulator and against real Asterisk.

The conformance test compares what the daemon *records* on both, so the demo and
the fast tests can be trusted to mean what production means.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialerd.clock import Clock
from dialerd.config import LoadedConfig, load_config
from dialerd.daemon.service import Assembled, assembled
from dialerd.dialer.engine import Engine
from dialerd.dialer.events import EngineEvent
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.outcomes import cause_class
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import Database

# One customer per outcome; the 4th digit from the end picks the behaviour (dialplan and simulator).
OUTCOME_PHONES: dict[str, str] = {
    "answered": "+79161231001",
    "busy": "+79161232001",
    "no_answer": "+79161233001",
    "congestion": "+79161234001",
    "failed": "+79161239001",
}


@dataclass(frozen=True)
class Recorded:
    phone: str
    outcome: str
    cause_class: str
    attempts: int
    talk_s: float | None = None


# How the tests' daemons dial: customers simulated by number in [customers], connected
# to operator 101 ([operators] in config/asterisk and in the simulator).
SANDBOX_DIALING: dict[str, Any] = {
    "channel_template": "Local/{number}@customers",
    "context": "operators",
    "exten": "101",
    "originate_timeout_s": 3,
}


def fast_ami(host: str, port: int) -> dict[str, Any]:
    """AMI settings for tests: reconnects and dead links noticed in about a second."""
    return {
        "host": host,
        "port": port,
        "reconnect_initial_s": 0.1,
        "reconnect_max_s": 1.0,
        "ping_interval_s": 2.0,
        "login_timeout_s": 5.0,
    }


def pbx_config(
    store_path: Path,
    host: str,
    port: int,
    secret: str,
    *,
    extra: dict[str, Any] | None = None,
    **dialing: Any,
) -> LoadedConfig:
    """Settings for a test daemon: the test dialplan's contexts, a short ring timeout.

    The HTTP API is off unless ``extra`` (merged over these settings) turns it on.
    """
    overrides: dict[str, Any] = {
        "store": {"path": str(store_path)},
        "ami": {**fast_ami(host, port), "secret": secret},
        "dialing": {**SANDBOX_DIALING, "max_concurrent_calls": 10, **dialing},
        # always open: these scenarios must not depend on the time of day they run at
        "window": {"open": "00:00", "close": "00:00"},
        "campaigns": {"default": {"retry_delays": {key: 3600 for key in _RETRIED}}},
        "api": {"enabled": False},
        "console": {"enabled": False},
    }
    return load_config(None, overrides=_merged(overrides, extra or {}))


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


_RETRIED = ("busy", "no_answer", "congestion", "failed", "unknown")


@contextlib.asynccontextmanager
async def running_engine(
    loaded: LoadedConfig,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[tuple[Engine, Database, AmiPbx]]:
    """The service's parts, dialing in the background until the block ends (then drained)."""
    async with assembled(loaded, listeners=listeners, clock=clock) as parts:
        task = asyncio.create_task(parts.engine.run(drain_timeout_s=30))
        try:
            yield parts.engine, parts.db, parts.pbx
        finally:
            parts.engine.stop()
            await task


@contextlib.asynccontextmanager
async def fleet_dialing(loaded: LoadedConfig, *, drain: bool = True) -> AsyncIterator[Assembled]:
    """The daemon's parts with every PBX's engine dialing until the block ends; ``drain``
    False ends as a second SIGTERM does, calls left 'dialing' (for the next start, or for
    a store that goes with the test)."""
    async with assembled(loaded) as parts:
        assert parts.fleet is not None
        task = asyncio.create_task(parts.fleet.run(drain_timeout_s=30))
        try:
            yield parts
        finally:
            if drain:
                parts.fleet.stop()
            else:
                parts.fleet.stop_now()
            await task


async def add_leads(db: Database, phones: list[str]) -> list[int]:
    return [await store.insert_lead(db, store.NewLead(phone=Phone(p)), time.time()) for p in phones]


async def wait_until_settled(db: Database, lead_ids: list[int], timeout_s: float = 30.0) -> None:
    """Until every lead's first attempt is finished (no lead 'dialing', each dialed once)."""
    async with asyncio.timeout(timeout_s):
        while True:
            rows = [await store.get_lead(db, lead_id) for lead_id in lead_ids]
            if all(r is not None and r["attempts"] >= 1 and r["state"] != "dialing" for r in rows):
                return
            await asyncio.sleep(0.05)


async def recorded(db: Database, lead_ids: list[int]) -> dict[str, Recorded]:
    found = {}
    for lead_id in lead_ids:
        lead = await store.get_lead(db, lead_id)
        assert lead is not None
        attempts = await store.attempts_of(db, lead_id)
        last = attempts[-1]
        found[lead["phone"]] = Recorded(
            lead["phone"],
            str(last["outcome"]),
            cause_class(last["hangup_cause"]),
            len(attempts),
            last["talk_s"],
        )
    return found


async def run_outcome_scenarios(
    loaded: LoadedConfig, phones: list[str] | None = None
) -> dict[str, Recorded]:
    """One lead per outcome (or per phone of ``phones``) through the real engine; what the
    store recorded, by phone."""
    async with running_engine(loaded) as (engine, db, pbx):
        async with asyncio.timeout(15):
            await pbx.connected.wait()
        lead_ids = await add_leads(db, phones or list(OUTCOME_PHONES.values()))
        engine.wake()
        await wait_until_settled(db, lead_ids)
        return await recorded(db, lead_ids)
