"""The store's disk full (SQLite ``SQLITE_FULL``) while the daemon dials, then space back.

The store lives on a small tmpfs the test mounts; a filler file takes every free byte
while calls are up and a backlog waits, and is deleted a few seconds later.

The contract the daemon follows (issue 11):
- while writes fail it originates nothing new (calls already in flight go on);
- it logs an error event ``store_full`` and sends an alert of kind ``store_full`` straight
  to the alert webhook (the alert outbox is in the full store);
- it does not crash;
- when space returns it logs ``store_writable``, alerts ``store_restored`` and dials again;
- nothing is half-written: ``PRAGMA integrity_check`` is ok, and the ledger agrees.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import (
    ANSWERS_2S,
    BUSY,
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
from support.webhook import WebhookServer

pytestmark = [pytest.mark.faults, pytest.mark.asterisk]

MIX = {ANSWERS_2S: 5, TALK_6S: 2, RING_3S_TALK_4S: 1, BUSY: 2}
LINES = 3
FULL_S = 4.0
GRACE_S = 0.5  # an Originate whose attempt was committed just before the disk filled
BACK_WITHIN_S = 8.0


@contextlib.contextmanager
def small_disk(path: Path, size: str = "16m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the block (we are root, like the sandbox)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs at {path}: {mounted.stderr.strip()}", pytrace=False)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def truncate_wal(db: Path) -> None:
    """Checkpoint the WAL into the database and cut it to 0 bytes.

    SQLite reuses a WAL's blocks after a checkpoint: on a full disk a store with a big WAL
    could go on committing for a while. From an empty WAL every commit needs new blocks,
    so the first write after the disk fills fails with SQLITE_FULL.
    """
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        for _ in range(50):
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.02)
    raise AssertionError("could not truncate the store's WAL (always busy)")


def fill(directory: Path) -> Path:
    """Take every free byte of the file system with one file; its path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    if handle.write(block) == 0:
                        break
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    free = os.statvfs(directory)
    assert free.f_bavail == 0, f"{free.f_bavail} blocks still free"
    return filler


def alert_kinds(server: WebhookServer, since: float = 0.0) -> list[str]:
    return [str(r.json().get("kind")) for r in server.received if r.at >= since]


async def test_store_disk_full_stops_dialing_and_resumes(tmp_path, pbx, watch, fault_report):
    rng = rng_for("store-full")
    problems: list[str] = []
    async with WebhookServer() as alerts:
        with small_disk(tmp_path / "disk") as disk:
            daemon = Dialerd(
                tmp_path,
                pbx,
                disk / "dialerd.sqlite3",
                pbx.port,
                extra={
                    "dialing": {"max_concurrent_calls": LINES},
                    "alerts": {
                        "webhook": {"url": alerts.url, "timeout_s": 5},
                        "backoff_initial_s": 0.5,
                        "backoff_max_s": 2,
                    },
                },
            )
            await daemon.migrate()
            try:
                await daemon.start()
                for loop in range(1, loops() + 1):
                    numbers = shuffled(phones(400 + loop, MIX), rng)
                    await daemon.add_leads(numbers)
                    # fill while a 2 s customer talks: a call ends, and must be written, while full
                    await watch.wait_for(
                        lambda: any(
                            c.answered and c.number[-4] == ANSWERS_2S for c in watch.live()
                        ),
                        20,
                        "a 2 s customer talking",
                    )
                    await asyncio.sleep(rng.uniform(0.0, 0.5))
                    mark = daemon.log_size()
                    truncate_wal(daemon.store_path)
                    filler = fill(disk)
                    full_at = time.time()
                    await asyncio.sleep(FULL_S)
                    crashed = daemon.check_exited()
                    if crashed is not None:
                        problems.append(
                            f"loop {loop}: dialerd exited ({crashed}) when the disk filled:\n"
                            + "\n".join(daemon.log_lines(mark)[-12:])
                        )
                    new = [c for c in watch.created_after(full_at + GRACE_S)]
                    if new:
                        problems.append(
                            f"loop {loop}: {len(new)} customers dialed while the store was full"
                            f" (first {new[0].created_at - full_at:.1f} s after it filled)"
                        )
                    if not daemon.events("store_full", mark):
                        problems.append(f"loop {loop}: no 'store_full' event logged while full")
                    if "store_full" not in alert_kinds(alerts, full_at):
                        problems.append(
                            f"loop {loop}: no 'store_full' alert at the webhook while full"
                            f" (got {alert_kinds(alerts, full_at)})"
                        )
                    filler.unlink()
                    freed_at = time.time()
                    if crashed is not None:  # carry on, to see what the store kept
                        await daemon.start()
                    else:
                        await recovered(daemon, alerts, watch, mark, freed_at, loop, problems)
                    unsettled = await settle(daemon, lambda: len(watch.live()), within_s=40)
                    if unsettled:
                        problems.append(f"loop {loop}: {unsettled}")
                    integrity = daemon.scalar("PRAGMA integrity_check")
                    if integrity != "ok":
                        problems.append(f"loop {loop}: integrity_check: {integrity}")
                    ledger = compare(
                        daemon.store_path,
                        watch,
                        log=pbx.log_path,
                        only={n.lstrip("+") for n in numbers},
                    )
                    fault_report(
                        f"faults: store-full-{loop} attempts={ledger.attempts} faults=1"
                        f" disagreements={len(ledger.disagreements)} crashed={crashed is not None}"
                        f" alerts={alert_kinds(alerts, full_at)}"
                        + (f" {ledger.by_reason()}" if ledger.disagreements else "")
                    )
                    if ledger.disagreements:
                        problems.append(f"loop {loop}: {ledger.report()}")
            finally:
                await daemon.stop()
    assert not problems, "\n".join(problems)


async def recovered(
    daemon: Dialerd,
    alerts: WebhookServer,
    watch,
    mark: int,
    freed_at: float,
    loop: int,
    problems: list[str],
) -> None:
    """Space is back: store_writable, store_restored and a new call, within BACK_WITHIN_S."""
    waiting = daemon.scalar(
        "SELECT COUNT(*) FROM leads WHERE state = 'waiting' AND due_at <= ?", (time.time(),)
    )
    deadline = time.monotonic() + BACK_WITHIN_S
    while time.monotonic() < deadline:
        done = (
            daemon.events("store_writable", mark)
            and "store_restored" in alert_kinds(alerts, freed_at)
            and (not waiting or watch.created_after(freed_at))
        )
        if done or not daemon.alive:
            break
        await asyncio.sleep(0.2)
    if not daemon.events("store_writable", mark):
        problems.append(f"loop {loop}: no 'store_writable' event after space returned")
    if "store_restored" not in alert_kinds(alerts, freed_at):
        problems.append(f"loop {loop}: no 'store_restored' alert after space returned")
    if waiting and not watch.created_after(freed_at):
        problems.append(
            f"loop {loop}: nobody dialed within {BACK_WITHIN_S} s of space returning"
            f" ({waiting} leads due)"
        )
    if daemon.check_exited() is not None:
        problems.append(f"loop {loop}: dialerd exited after space returned:\n{daemon.tail()}")
        await daemon.start()
