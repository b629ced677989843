"""The daemon SIGKILLed at random (seeded) moments while calls ring, talk and end.

Each loop queues a batch of customers (mostly answering, with varied ring and talk times,
some busy, one never answering), then kills ``dialerd run`` (10 kills over the loops): while a customer's
phone rings, while one talks, right after a call ended, or at any moment. After a kill the
daemon stays down for a moment -- often until a call that was up has ended, so the call
ends while nobody listens -- and is started again. Then it runs until every lead settled,
and the ledger compares the store with Asterisk's account.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter

import pytest
from faultkit import (
    ANSWERS_2S,
    BUSY,
    NO_ANSWER,
    RING_2S_TALK_12S,
    RING_3S_TALK_4S,
    TALK_6S,
    Dialerd,
    loops,
    phones,
    rng_for,
    settle,
    shuffled,
)
from ledger import compare
from support.callwatch import CallWatch

pytestmark = [pytest.mark.faults, pytest.mark.asterisk]

KILLS = 10  # at least, over all loops
MIX = {ANSWERS_2S: 4, TALK_6S: 4, RING_3S_TALK_4S: 3, BUSY: 1, NO_ANSWER: 1}
FIRST_MIX = MIX | {RING_2S_TALK_12S: 1}  # the 12 s talker is a loop's long pole: in the first only


async def kill_moment(rng: random.Random, watch: CallWatch) -> str:
    """Wait for a (seeded) random kind of moment; its name."""
    kind = rng.choice(["ringing", "talking", "ending", "any"])
    since = time.time()
    conditions = {
        "ringing": lambda: any(not c.answered for c in watch.live()),
        "talking": lambda: any(c.answered for c in watch.live()),
        "ending": lambda: any(c.end_seen and c.ended_at > since for c in watch.calls.values()),  # type: ignore[operator]
        "any": lambda: True,
    }
    with contextlib.suppress(AssertionError):  # no such moment soon: kill anyway
        await watch.wait_for(conditions[kind], 4.0, kind)
    pause = {"ending": (0.0, 0.05), "any": (0.1, 1.5)}.get(kind, (0.0, 0.4))
    await asyncio.sleep(rng.uniform(*pause))
    return kind


async def stay_down(rng: random.Random, watch: CallWatch, up_at_kill: list[str]) -> bool:
    """Keep the daemon down; True if a call that was up at the kill ended meanwhile."""
    if up_at_kill and rng.random() < 0.6:
        with contextlib.suppress(AssertionError):
            await watch.wait_for(
                lambda: any(watch.calls[c].ended for c in up_at_kill), 6.0, "a call to end"
            )
        await asyncio.sleep(rng.uniform(0.0, 0.5))
    else:
        await asyncio.sleep(rng.uniform(0.1, 1.0))
    return any(watch.calls[c].ended for c in up_at_kill)


async def test_daemon_sigkilled_at_random_moments(tmp_path, pbx, watch, fault_report):
    rng = rng_for("sigkill")
    daemon = Dialerd(tmp_path, pbx, tmp_path / "dialerd.sqlite3", pbx.port)
    await daemon.migrate()
    problems: list[str] = []
    moments: Counter[str] = Counter()
    ended_while_down = 0
    all_numbers: set[str] = set()
    try:
        for loop in range(1, loops() + 1):
            numbers = shuffled(phones(100 + loop, FIRST_MIX if loop == 1 else MIX), rng)
            all_numbers |= {n.lstrip("+") for n in numbers}
            await daemon.add_leads(numbers)
            started = time.monotonic()
            kills = 0
            for _ in range(-(-KILLS // loops())):
                if not daemon.alive:
                    await daemon.start()
                moments[await kill_moment(rng, watch)] += 1
                up = [c.call_id for c in watch.live()]
                if daemon.check_exited() is not None:
                    problems.append(f"loop {loop}: dialerd exited by itself:\n{daemon.tail()}")
                await daemon.kill()
                kills += 1
                ended_while_down += await stay_down(rng, watch, up)
            await daemon.start()
            killing_s = time.monotonic() - started
            unsettled = await settle(daemon, lambda: len(watch.live()), within_s=40)
            settling_s = time.monotonic() - started - killing_s
            if unsettled:
                problems.append(f"loop {loop}: {unsettled}")
            ledger = compare(
                daemon.store_path, watch, log=pbx.log_path, only={n.lstrip("+") for n in numbers}
            )
            fault_report(
                f"faults: sigkill-{loop} attempts={ledger.attempts} faults={kills}"
                f" disagreements={len(ledger.disagreements)}"
                f" (channels={ledger.channels}, kills {killing_s:.0f} s, settle {settling_s:.0f} s)"
                + (f" {ledger.by_reason()}" if ledger.disagreements else "")
            )
            if ledger.disagreements:
                problems.append(f"loop {loop}: {ledger.report()}")
    finally:
        await daemon.stop()
    overall = compare(daemon.store_path, watch, log=pbx.log_path, only=all_numbers)
    fault_report(
        f"faults: sigkill-all attempts={overall.attempts} faults={daemon.kills}"
        f" disagreements={len(overall.disagreements)} moments={dict(moments)}"
        f" calls_ended_while_down={ended_while_down}"
    )
    assert daemon.kills >= KILLS
    assert not problems, (
        "\n".join(problems)
        + "\n--- daemon log excerpt:\n"
        + daemon.excerpt("in_flight_adopted", "attempt_finished", limit=12)
    )
