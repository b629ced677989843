"""The daemon's AMI connection broken through a TCP proxy the test owns
(``support.tcp_proxy``), during live calls: cut (both sides closed at once), then
every reconnect closed at once (close-at-once), then black-holed (accepted, never answered),
then healed. The witness talks to Asterisk directly and sees every call.

Beyond the ledger: every line the daemon logs is JSON (a library's traceback is not), and a
login on a connection that is closed at once fails at once -- the retries are spaced by the
reconnect backoff (``reconnect_max_s`` 1 s), not by ``login_timeout_s`` (3 s), which only a
silent server (black hole) should cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

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
from support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.asterisk]

MIX = {ANSWERS_2S: 4, TALK_6S: 3, RING_3S_TALK_4S: 2, RING_2S_TALK_12S: 1, BUSY: 1, NO_ANSWER: 1}
LOGIN_TIMEOUT_S, RECONNECT_MAX_S = 3.0, 1.0
HOLD_S = 3.5  # each of close-at-once and black hole
FAST_GAP_S = RECONNECT_MAX_S + 0.75  # the most a close-at-once retry may take, connect included


async def test_ami_connection_cut_black_holed_and_closed_at_once(
    tmp_path, pbx, watch, fault_report
):
    rng = rng_for("ami-link")
    problems: list[str] = []
    windows: list[tuple[float, float]] = []  # close-at-once periods
    async with TcpProxy(pbx.host, pbx.port) as proxy:
        daemon = Dialerd(
            tmp_path,
            pbx,
            tmp_path / "dialerd.sqlite3",
            proxy.port,
            extra={
                "ami": {
                    "login_timeout_s": LOGIN_TIMEOUT_S,
                    "reconnect_initial_s": 0.1,
                    "reconnect_max_s": RECONNECT_MAX_S,
                    "ping_interval_s": 1,
                }
            },
        )
        await daemon.migrate()
        try:
            await daemon.start()
            for loop in range(1, loops() + 1):
                numbers = shuffled(phones(300 + loop, MIX), rng)
                await daemon.add_leads(numbers)

                async def talking(n: int = 2) -> None:
                    with contextlib.suppress(AssertionError):
                        await watch.wait_for(
                            lambda: sum(c.answered for c in watch.live()) >= n, 10, "calls up"
                        )
                    await asyncio.sleep(rng.uniform(0.0, 0.8))

                await talking()
                proxy.cut()  # 1: the live session dies; reconnecting works at once
                await asyncio.sleep(rng.uniform(1.0, 2.0))
                await talking(1)
                proxy.set_mode("close")  # 2: every reconnect is closed at once
                proxy.cut()
                start = time.time()
                await asyncio.sleep(HOLD_S)
                windows.append((start, time.time()))
                proxy.set_mode("blackhole")  # 3: every reconnect is accepted and left silent
                await asyncio.sleep(HOLD_S)
                proxy.set_mode("pass")
                unsettled = await settle(daemon, lambda: len(watch.live()), within_s=40)
                if unsettled:
                    problems.append(f"loop {loop}: {unsettled}")
                if daemon.check_exited() is not None:
                    problems.append(f"loop {loop}: dialerd exited by itself:\n{daemon.tail()}")
                    await daemon.start()
                ledger = compare(
                    daemon.store_path,
                    watch,
                    log=pbx.log_path,
                    only={n.lstrip("+") for n in numbers},
                )
                tries = proxy.accepted_in("close", start)
                fault_report(
                    f"faults: ami-link-{loop} attempts={ledger.attempts} faults=3"
                    f" disagreements={len(ledger.disagreements)}"
                    f" close_at_once_logins={len([t for t in tries if t <= windows[-1][1]])}"
                    + (f" {ledger.by_reason()}" if ledger.disagreements else "")
                )
                if ledger.disagreements:
                    problems.append(f"loop {loop}: {ledger.report()}")
        finally:
            await daemon.stop()
    for number, (start, end) in enumerate(windows, start=1):
        tries = [t for t in proxy.accepted_in("close", start) if t <= end]
        gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
        if len(tries) < 3 or max(gaps, default=HOLD_S) > FAST_GAP_S:
            problems.append(
                f"close-at-once {number}: {len(tries)} logins in {end - start:.1f} s, gaps"
                f" {[round(g, 2) for g in gaps]} s: a login on a closed connection must fail"
                f" at once and retry after the backoff (<= {RECONNECT_MAX_S} s), not wait"
                f" login_timeout_s ({LOGIN_TIMEOUT_S} s); the daemon logged:\n"
                + daemon.excerpt(
                    "ami_connect_failed", limit=4, since=start, until=end + LOGIN_TIMEOUT_S + 0.5
                )
            )
    not_json = daemon.non_json_lines()
    if not_json:
        problems.append(
            f"{len(not_json)} log lines are not JSON, e.g.:\n" + "\n".join(not_json[:15])
        )
    assert not problems, "\n".join(problems)
