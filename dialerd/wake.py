"""A local datagram socket that tells a running daemon "new work is in the store".

Leads added by another process (the CLI) are committed to SQLite first, then a
one-byte datagram wakes the engine: no poll interval between a lead and its call.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path


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
    def __init__(self, path: Path, on_wake: Callable[[], None]) -> None:
        self.path = path
        self._on_wake = on_wake
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> WakeListener:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self.path))
        self.path.chmod(0o660)
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _WakeProtocol(self._on_wake), sock=sock
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
