"""A local datagram socket that tells a running daemon "new work is in the store".

Leads added by another process (the CLI) are committed to SQLite first, then a
one-byte datagram wakes the engine: no poll interval between a lead and its call.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
from collections.abc import Callable
from pathlib import Path

from dialerd.config import ConfigError
from dialerd.domain import InUse


def poke(path: Path) -> bool:
    """Wake the daemon listening on ``path``; False if none is listening."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"w", str(path))
        except OSError:
            return False
    return True


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
