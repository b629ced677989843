"""``dialerd demo``: the real daemon on a temporary store and the built-in AMI simulator.

Nothing here is a toy loop: leads go through the same intake, the service runs
the same engine and AMI adapter as production; only the PBX is simulated (a real
TCP server speaking AMI) and its clock runs ``speed`` times faster.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dialerd.config import load_config
from dialerd.engine import AttemptStarted, EngineEvent
from dialerd.intake import LeadInput, submit, validate_lead
from dialerd.logs import configure_logging
from dialerd.pbx.simulator import AmiSimulator
from dialerd.pbx.tracking import FinishedCall
from dialerd.service import run_service
from dialerd.store import leads as store
from dialerd.store.db import open_store

DEMO_SECRET = "demo-secret"
# The simulator's customers behave by the 4th digit from the end (as the test dialplan does):
# 1 answers, 2 busy, 3 never answers, 4 congestion, 5 long call, 9 unallocated number.
_SCENARIO_DIGITS = "1111112345559"
_NAMES = [
    "Anna",
    "Boris",
    "Vera",
    "Gleb",
    "Daria",
    "Egor",
    "Zoya",
    "Ivan",
    "Kira",
    "Lev",
    "Maya",
    "Oleg",
]


class _Clock:
    """Simulated time: ``speed`` simulated seconds per real second, from the demo's start."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._real0 = time.time()

    def __call__(self) -> float:
        return self._real0 + (time.time() - self._real0) * self._speed


async def run_demo(*, leads: int, speed: float, lines: int, store_path: Path | None) -> int:
    console = Console()
    configure_logging("warning", "console")
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="dialerd-demo-") as tmp:
        path = store_path or Path(tmp) / "demo.sqlite3"
        async with AmiSimulator(secret=DEMO_SECRET, time_scale=speed) as sim:
            loaded = load_config(
                None,
                overrides={
                    "store": {"path": str(path)},
                    "ami": {"port": sim.port, "secret": DEMO_SECRET, "reconnect_initial_s": 0.2},
                    "dialing": {
                        "max_concurrent_calls": lines,
                        "channel_template": "Local/{number}@customers",
                        "context": "operators",
                        "exten": "101",
                    },
                    # the demo shows every lead being dialed whatever the real time of day is
                    "window": {"open": "00:00", "close": "00:00"},
                    "api": {"enabled": False},
                },
            )
            clock = _Clock(speed)
            async with open_store(path) as db:
                for n in range(leads):
                    digit = rng.choice(_SCENARIO_DIGITS)
                    raw = LeadInput(
                        phone=f"+7 916 {rng.randint(100, 999)} {digit}{rng.randint(0, 999):03d}",
                        order_id=f"A-{1000 + n}",
                        name=rng.choice(_NAMES),
                        amount=str(rng.randint(5, 200) * 100),
                        source="demo",
                    )
                    await submit(
                        db, validate_lead(raw, loaded.settings, clock()), loaded.settings, clock()
                    )
            console.print(
                f"[bold]dialerd demo[/]: {leads} leads, {lines} lines, AMI simulator on "
                f"127.0.0.1:{sim.port}, clock x{speed:g}, store {path}"
            )
            await run_service(
                loaded,
                until_idle=True,
                listeners=[_printer(console)],
                clock=clock,
                handle_signals=False,
            )
        async with open_store(path) as db:
            attempts = await store.attempts_of(db)
            rows = await store.list_leads(db, limit=leads)
    _summary(console, attempts, rows)
    return 0


def _printer(console: Console):  # type: ignore[no-untyped-def]
    def show(event: EngineEvent) -> None:
        if isinstance(event, AttemptStarted):
            claim = event.claim
            console.print(
                f"  → lead {claim.lead_id:>3}  {claim.phone}  attempt {claim.attempt_number}  dialing"
            )
        elif isinstance(event, FinishedCall):
            extra = (
                f"talked {event.talk_s:.0f} s"
                if event.talk_s is not None
                else f"cause {event.hangup_cause}"
            )
            console.print(f"  ← lead {event.lead_id:>3}  [bold]{event.outcome.value}[/]  ({extra})")

    return show


def _summary(
    console: Console, attempts: list[dict[str, object]], leads: list[dict[str, object]]
) -> None:
    outcomes = Counter(str(row["outcome"]) for row in attempts)
    table = Table("outcome", "attempts", title="Outcomes recorded in the store")
    for outcome, count in outcomes.most_common():
        table.add_row(outcome, str(count))
    console.print(table)
    waiting = sum(1 for row in leads if row["state"] == "waiting")
    reached = sum(1 for row in leads if row["close_reason"] == "reached")
    console.print(
        f"{len(leads)} leads: {reached} reached, {waiting} waiting for a retry; "
        f"{len(attempts)} attempts recorded."
    )
