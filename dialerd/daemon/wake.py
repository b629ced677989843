"""What tells a running daemon "new work is in the store".

SQLite: leads added by another process (the CLI) are committed first, then a one-byte
datagram on a local socket wakes the engine: no poll interval between a lead and its call.
PostgreSQL: intake's transaction sends a NOTIFY, which the server delivers to every daemon
LISTENing once it commits (``LeadsListener``), on whichever host they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import structlog

from dialerd.config import ConfigError
from dialerd.domain import InUse
from dialerd.store.leads import notify_new_leads
from dialerd.store.pg import LEADS_CHANNEL, PgDatabase
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)
# a LISTEN connection that dropped is made again after this long, then twice as long, ...
RELISTEN_INITIAL_S = 0.5
RELISTEN_MAX_S = 10.0
LISTEN_ERRORS: tuple[type[BaseException], ...] = (*STORE_ERRORS, OSError)


def poke(path: Path) -> bool:
    """Wake the daemon listening on ``path``; False if none is listening."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"w", str(path))
        except OSError:
            return False
    return True


async def wake_daemons(db: Store, socket_path: Path) -> bool:
    """Wake the running daemons after a command changed the store outside an intake (a
    closed lead's result or a retried message waits in the CRM outbox). SQLite: ``poke``,
    False if no daemon listens. PostgreSQL: a NOTIFY to every daemon LISTENing, wherever it
    runs; True, as who listens is not known here."""
    if isinstance(db, PgDatabase):
        await notify_new_leads(db.conn)
        return True
    return poke(socket_path)


class _WakeProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_wake: Callable[[], None]) -> None:
        self._on_wake = on_wake

    def datagram_received(self, data: bytes, addr: object) -> None:
        self._on_wake()


class WakeListener:
    """Binds the wake socket for this daemon's life; removes it only if it is still its own.

    The path may hold a socket left by a daemon that was killed (nobody listens: replaced),
    another live daemon's socket (refused with InUse, never unlinked: that daemon would stop
    hearing pokes and its new leads would wait for the safety recheck), or something that is
    not a socket at all (a config error; left alone).
    """

    def __init__(self, path: Path, on_wake: Callable[[], None]) -> None:
        self.path = path
        self._on_wake = on_wake
        self._transport: asyncio.DatagramTransport | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket we bound

    async def __aenter__(self) -> WakeListener:
        self._clear_stale()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(self.path))
            bound = self.path.lstat()
            self._bound = (bound.st_dev, bound.st_ino)
            self.path.chmod(0o660)
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _WakeProtocol(self._on_wake), sock=sock
            )
        except BaseException:
            sock.close()
            self._remove_own()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()
        self._remove_own()

    def _clear_stale(self) -> None:
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ConfigError(
                [f"store.wake_socket: {self.path} exists and is not a socket; not touching it"]
            )
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(str(self.path))
            except ConnectionRefusedError:  # bound by nobody: left by a killed process
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                return
            except FileNotFoundError:
                return
            except OSError:
                pass  # a socket of another kind, or not ours to probe: someone holds it
        raise InUse(f"wake socket {self.path}: another process listens on it")

    def _remove_own(self) -> None:
        """Unlink the path only while it is still the socket this listener bound."""
        if self._bound is None:
            return
        with contextlib.suppress(FileNotFoundError):
            now = self.path.lstat()
            if (now.st_dev, now.st_ino) == self._bound:
                self.path.unlink()
        self._bound = None


class LeadsListener:
    """LISTENs for new leads on a PostgreSQL store for the daemon's life, and listens again
    when the connection drops (a server restart, a failover, a cut network).

    NOTIFYs sent while nobody listened are lost, so each (re)connection also wakes at once:
    the engine looks at the store and finds whatever came meanwhile. Until the connection is
    back the engine's safety recheck still finds new leads, only later.
    """

    def __init__(self, db: PgDatabase, on_wake: Callable[[], None]) -> None:
        self._db = db
        self._on_wake = on_wake
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while a LISTEN connection is up

    async def __aenter__(self) -> LeadsListener:
        self._task = asyncio.create_task(self._run(), name="leads-listen")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = RELISTEN_INITIAL_S
        while True:
            lost = asyncio.Event()
            try:
                async with self._db.listen(LEADS_CHANNEL, self._on_wake, lost.set):
                    self.listening.set()
                    log.info("leads_listening", store=str(self._db.target))
                    delay = RELISTEN_INITIAL_S
                    self._on_wake()  # what came while nobody listened
                    await lost.wait()
            except LISTEN_ERRORS as exc:
                log.warning("leads_listen_failed", error=str(exc) or type(exc).__name__)
            if self.listening.is_set():
                log.warning("leads_listen_lost", retry_in_s=delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RELISTEN_MAX_S)
