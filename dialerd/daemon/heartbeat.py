"""This daemon among others on a PostgreSQL store: its row, and the heartbeat that keeps its
claims.

At start the daemon registers under ``daemon.id`` (refused while another live daemon has
that id). Every third of ``daemon.lease_s`` it says it is alive, which renews the leases of
the calls it dials; a daemon that stops (killed, cut off) stops renewing them, and once they
run out the others' engines take its calls over (``Engine``). A daemon that could not renew
its leases for a whole lease must assume another took them over: it stops dialing at once,
rather than follow calls another daemon now follows, and exits for systemd to restart it.
A clean stop with no calls left removes the row.

With each beat it also reads which of its PBXs another live daemon drives too
(``shared_pbxs``): there both see the same free operators, so pacing publishes and counts
each other's calls waiting for them (``dialer/risk_ledger.py``). Read here, a few rows every
third of a lease, so a daemon alone on its PBX pays nothing per call for it.

SQLite has none of this: one daemon per file, held by the file lock (``store/lock.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable

import structlog

from dialerd.clock import Clock
from dialerd.store import daemons
from dialerd.store.pg import PgDatabase
from dialerd.store.sql import STORE_ERRORS

log = structlog.get_logger(__name__)
LEAVE_ERRORS: tuple[type[BaseException], ...] = (*STORE_ERRORS, LookupError)


class HeartbeatLost(Exception):
    """The daemon could not renew its leases for a whole lease, or its row was removed: its
    calls may be another daemon's now."""


class Heartbeat:
    """Registered for the block's life; ``lost`` is called (once) when the leases cannot be
    vouched for any more."""

    def __init__(
        self,
        db: PgDatabase,
        daemon_id: str,
        lease_s: float,
        *,
        pbx: str,
        clock: Clock,
        lost: Callable[[HeartbeatLost], None],
    ) -> None:
        self._db = db
        self.daemon_id = daemon_id
        self.lease_s = lease_s
        self._pbx = pbx
        self._clock = clock
        self._lost = lost
        self._task: asyncio.Task[None] | None = None
        self.failure: HeartbeatLost | None = None
        self.shared_pbxs: frozenset[str] = frozenset()  # names of ours another daemon drives

    async def __aenter__(self) -> Heartbeat:
        await daemons.register(
            self._db,
            self.daemon_id,
            self._clock(),
            pbx=self._pbx,
            lease_s=self.lease_s,
            alive=_process_alive,
        )
        log.info("daemon_registered", daemon_id=self.daemon_id, lease_s=self.lease_s)
        await self._read_peers(self._clock())
        self._task = asyncio.create_task(self._beat(), name="heartbeat")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.failure is not None:
            return  # the row and the leases may be another daemon's business now
        try:
            if await daemons.leave(self._db, self.daemon_id):
                log.info("daemon_left", daemon_id=self.daemon_id)
            else:  # calls left in flight: the row stays, so do their leases
                await daemons.heartbeat(self._db, self.daemon_id, self._clock(), self.lease_s)
        except LEAVE_ERRORS as exc:
            log.warning("daemon_leave_failed", error=str(exc) or type(exc).__name__)

    async def _beat(self) -> None:
        last_ok = self._clock()
        while True:
            await asyncio.sleep(self._clock.real_seconds(self.lease_s / 3))
            now = self._clock()
            if now - last_ok >= self.lease_s:
                # slept through a whole lease (the process was stopped, the host froze): the
                # leases ran out and may be another daemon's already; renewing the row now
                # would pass this daemon for alive while it follows calls no longer its own
                self._fail(
                    HeartbeatLost(f"no heartbeat for {now - last_ok:.0f} s: the leases ran out")
                )
                return
            try:
                await daemons.heartbeat(self._db, self.daemon_id, now, self.lease_s)
            except LookupError as exc:
                self._fail(HeartbeatLost(str(exc)))
                return
            except STORE_ERRORS as exc:
                log.warning("heartbeat_failed", error=str(exc) or type(exc).__name__)
                if now - last_ok >= self.lease_s:
                    self._fail(
                        HeartbeatLost(f"no heartbeat for {now - last_ok:.0f} s: the leases ran out")
                    )
                    return
                continue
            last_ok = now
            await self._read_peers(now)

    async def _read_peers(self, now: float) -> None:
        """Which of our PBXs another live daemon drives (kept as it was if unreadable)."""
        try:
            found = await daemons.others_pbxs(self._db, self.daemon_id, now - self.lease_s)
        except STORE_ERRORS as exc:
            log.warning("pbx_peers_unread", error=str(exc) or type(exc).__name__)
            return
        theirs = {address for text in found for address in daemons.pbx_addresses(text).values()}
        ours = daemons.pbx_addresses(self._pbx)
        shared = frozenset(name for name, address in ours.items() if address in theirs)
        if shared != self.shared_pbxs:
            log.info("pbx_shared_with_other_daemons", pbxs=sorted(shared))
        self.shared_pbxs = shared

    def _fail(self, failure: HeartbeatLost) -> None:
        self.failure = failure
        log.error("heartbeat_lost", daemon_id=self.daemon_id, error=str(failure))
        self._lost(failure)


def _process_alive(host: str, pid: int) -> bool:
    """Whether the daemon that last registered under our id may still run: on another host
    it may (only its heartbeat tells); on this one, only if its process exists."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
