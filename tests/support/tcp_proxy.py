"""A small TCP proxy a test owns, to break a connection the ways networks and servers do.

Between a client (the daemon's AMI adapter) and a server (Asterisk's AMI port), on
127.0.0.1. Modes for new connections:

- ``pass``: forward both ways, byte for byte;
- ``blackhole``: accept and never answer nor forward anything (a hung server, a dropped
  SYN-ACK path): the client sees a connection that stays silent;
- ``close``: accept and close at once (a server that refuses sessions: the client reads EOF
  before any banner).

``cut()`` closes both sides of every live connection now (a restarted middlebox, a
killed session). Every accepted connection is recorded with its time and mode, so a test
can see how a client retried (``accepted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["pass", "blackhole", "close"]


@dataclass(frozen=True)
class Accepted:
    at: float  # time.time()
    mode: Mode


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    port: int = 0
    mode: Mode = "pass"
    accepted: list[Accepted] = field(default_factory=list)
    cuts: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def set_mode(self, mode: Mode) -> None:
        """How connections accepted from now on are treated (live ones are not touched)."""
        self.mode = mode

    def cut(self) -> int:
        """Close both sides of every live connection now; how many sockets were closed."""
        writers, self._writers = self._writers, set()
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.transport.abort()
        if writers:
            self.cuts += 1
        return len(writers)

    @property
    def live(self) -> int:
        return len(self._writers)

    def accepted_in(self, mode: Mode, since: float = 0.0) -> list[float]:
        return [a.at for a in self.accepted if a.mode == mode and a.at >= since]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        mode = self.mode
        self.accepted.append(Accepted(time.time(), mode))
        try:
            if mode == "close":
                writer.transport.abort()
                return
            self._writers.add(writer)
            if mode == "blackhole":
                while await reader.read(65536):  # swallow everything, say nothing
                    pass
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                writer.transport.abort()
                return
            self._writers.add(up_writer)
            await asyncio.gather(
                _pump(reader, up_writer), _pump(up_reader, writer), return_exceptions=True
            )
            up_writer.transport.abort()
            self._writers.discard(up_writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or error, then close the other side too."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()
