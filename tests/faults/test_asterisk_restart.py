"""Asterisk restarted (``core restart now``) and stopped (``core stop now``, then started again
by the harness) during live calls, with a backlog waiting.

While it shuts down, Asterisk answers every Originate with ``Response: Error``, ``Message:
Asterisk is shutting down`` (seen on 22.10.1: for about a second, until it closes AMI). Such
an Originate dialed nobody: it must not cost the lead an attempt, and the backlog must
still be there -- and dialed, by itself -- once Asterisk is back. Each loop prints the time
from Asterisk fully booted again to the next customer channel (``resume_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest
from faultkit import (
    ANSWERS_2S,
    BUSY,
    RING_3S_TALK_4S,
    TALK_6S,
    Dialerd,
    in_thread,
    phones,
    rng_for,
    settle,
    shuffled,
)
from ledger import compare
from support.asterisk import AsteriskCliError, AsteriskInstance
from support.callwatch import CallWatch

pytestmark = [pytest.mark.faults, pytest.mark.asterisk]

MIX = {ANSWERS_2S: 14, TALK_6S: 2, RING_3S_TALK_4S: 2, BUSY: 2}  # 20 a loop, 40 in all
LINES = 4
RESUME_WITHIN_S = 5.0
FAULTS = ("core restart now", "core stop now")  # one loop each, in this order


async def wait_booted(pbx: AsteriskInstance, within_s: float = 60.0) -> float:
    """Poll ``core waitfullybooted`` until Asterisk answers it; when it did."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with contextlib.suppress(AsteriskCliError):
            if "fully booted" in await in_thread(pbx.cli, "core waitfullybooted"):
                return time.time()
        await asyncio.sleep(0.1)
    raise AssertionError(f"Asterisk did not boot again within {within_s} s\n{pbx.log_tail()}")


async def restart_now(pbx: AsteriskInstance, watch: CallWatch) -> float:
    """``core restart now`` (Asterisk re-executes itself, same pid); when it is booted again."""
    blind_before = len(watch.blind)
    with contextlib.suppress(AsteriskCliError):  # the CLI connection may die with it
        await in_thread(pbx.cli, "core restart now")
    await watch.wait_for(lambda: len(watch.blind) > blind_before, 15, "Asterisk to go away")
    return await wait_booted(pbx)


async def stop_then_start(pbx: AsteriskInstance, down_s: float) -> float:
    """``core stop now``; down for ``down_s``; the harness starts it again (same port, config)."""
    with contextlib.suppress(AsteriskCliError):
        await in_thread(pbx.cli, "core stop now")
    deadline = time.monotonic() + 15
    while pbx.is_running():
        assert time.monotonic() < deadline, "Asterisk did not stop"
        await asyncio.sleep(0.05)
    await asyncio.sleep(down_s)
    await in_thread(pbx.restart)  # returns once fully booted and taking AMI logins
    return time.time()


async def test_asterisk_restarted_and_stopped_during_live_calls(tmp_path, pbx, watch, fault_report):
    rng = rng_for("asterisk-restart")
    daemon = Dialerd(
        tmp_path,
        pbx,
        tmp_path / "dialerd.sqlite3",
        pbx.port,
        extra={"dialing": {"max_concurrent_calls": LINES}},
    )
    await daemon.migrate()
    problems: list[str] = []
    try:
        await daemon.start()
        for loop, fault in enumerate(FAULTS, start=1):
            line, found = await one_loop(loop, fault, daemon, pbx, watch, rng)
            fault_report(line)
            problems += found
    finally:
        await daemon.stop()
    assert not problems, "\n".join(problems)


async def one_loop(
    loop: int,
    fault: str,
    daemon: Dialerd,
    pbx: AsteriskInstance,
    watch: CallWatch,
    rng: random.Random,
) -> tuple[str, list[str]]:
    """Queue a backlog, break Asterisk during live calls, wait for it all to settle."""
    problems: list[str] = []
    numbers = shuffled(phones(200 + loop, MIX), rng)
    ids = ",".join(map(str, await daemon.add_leads(numbers)))
    never_dialed = f"SELECT COUNT(*) FROM leads WHERE attempts = 0 AND id IN ({ids})"
    await watch.wait_for(
        lambda: sum(c.answered for c in watch.live()) >= 2, 20, "two customers talking"
    )
    await asyncio.sleep(rng.uniform(0.0, 1.0))
    backlog = daemon.scalar(never_dialed)
    mark, faulted_at = daemon.log_size(), time.time()
    if fault == "core restart now":
        back_at = await restart_now(pbx, watch)
    else:
        back_at = await stop_then_start(pbx, down_s=rng.uniform(1.0, 2.5))
    await watch.wait_for(lambda: watch.booted_after(faulted_at) is not None, 10, "FullyBooted")
    booted_at = watch.booted_after(faulted_at) or back_at
    going_away = daemon.rows(
        "SELECT call_id, outcome FROM attempts WHERE created_at BETWEEN ? AND ?",
        (faulted_at, booted_at),
    )
    resume_s: float | None = None
    with contextlib.suppress(AssertionError):
        await watch.wait_for(
            lambda: bool(watch.created_after(booted_at)), 15, "the next customer call"
        )
        resume_s = watch.created_after(booted_at)[0].created_at - booted_at
    if resume_s is None or resume_s > RESUME_WITHIN_S:
        problems.append(
            f"loop {loop} ({fault}): no customer dialed within {RESUME_WITHIN_S} s of"
            f" Asterisk being back (resume_s={resume_s}); backlog before the fault"
            f" {backlog} leads, never dialed after it {daemon.scalar(never_dialed)};"
            f" attempts made while Asterisk was going away: {len(going_away)}"
            f" {sorted({str(r['outcome']) for r in going_away})}\n"
            + "\n".join(daemon.log_lines(mark)[:12])
        )
    unsettled = await settle(daemon, lambda: len(watch.live()), within_s=40)
    if unsettled:
        problems.append(f"loop {loop} ({fault}): {unsettled}")
    if daemon.check_exited() is not None:
        problems.append(f"loop {loop}: dialerd exited by itself:\n{daemon.tail()}")
        await daemon.start()
    ledger = compare(
        daemon.store_path, watch, log=pbx.log_path, only={n.lstrip("+") for n in numbers}
    )
    if ledger.disagreements:
        problems.append(
            f"loop {loop} ({fault}): {ledger.report()}\n--- the daemon while Asterisk went"
            " away:\n"
            + daemon.excerpt(
                "originate_refused", "attempt_finished", limit=6, since=faulted_at, until=booted_at
            )
        )
    line = (
        f"faults: asterisk-{loop} ({fault}) attempts={ledger.attempts} faults=1"
        f" disagreements={len(ledger.disagreements)} resume_s="
        + (f"{resume_s:.2f}" if resume_s is not None else "none")
        + f" backlog={backlog} attempts_while_going_away={len(going_away)}"
        + f" unwitnessed={ledger.unwitnessed}"
        + (f" {ledger.by_reason()}" if ledger.disagreements else "")
    )
    return line, problems
