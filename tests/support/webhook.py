"""A real HTTP/1.1 server on 127.0.0.1 standing in for the shop's CRM (or an alert receiver).

Tests script what it answers (``answer``: a status, or a function of the request), take it
down and bring it back on the same port (``stop``/``start``: the CRM is "down", connections
are refused), and read what arrived, with each signature checked against ``secret``.
Small on purpose: request line, headers, ``Content-Length`` body, keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dialerd.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 500: "Server Error"}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float
    status: int  # what the server answered
    signature_ok: bool | None  # None when the server has no secret

    @property
    def key(self) -> str | None:
        return self.headers.get(IDEMPOTENCY_HEADER.lower())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    secret: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    answer: int | Callable[[Received], int] = 200
    delay_s: float = 0.0  # before answering (a slow receiver: the client may time out)
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every open connection: the next request is refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> WebhookServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        return [r for r in self.received if 200 <= r.status < 300]

    async def wait_for(self, check: Callable[[WebhookServer], bool], timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not check(self):
                self._arrived.clear()
                await self._arrived.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        ok = None
        if self.secret is not None:
            # checked as a receiver would, not with dialerd's own signing code
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER.lower(), ""))
        request = Received(method, path, headers, body, time.time(), 0, ok)
        status = self.answer(request) if callable(self.answer) else self.answer
        self.received.append(Received(method, path, headers, body, request.at, status, ok))
        self._arrived.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        reason = _REASONS.get(status, "Status")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        await writer.drain()
        return True
