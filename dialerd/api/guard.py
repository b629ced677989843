"""The ASGI layer in front of every route: bearer tokens, the body size limit, the access log.

Every ``/api/`` request is authenticated here, before routing, so no route can forget
it; the body is read here, at most ``max_body_bytes`` of it, so an oversized request is
answered 413 before any parsing; each request is logged with the *name* of the token
that made it, never the token.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialerd.api.context import ApiContext
from dialerd.api.errors import ApiError, error_body

log = structlog.get_logger("dialerd.api")


PROTECTED = "/api/"
IMPORT_PATH = "/api/v1/leads/import"  # streams its own body, under api.max_import_bytes
METRICS_PATH = "/metrics"  # Prometheus scrapes with `authorization: {credentials: <token>}`


class Guard:
    def __init__(self, app: ASGIApp, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx
        self.max_body_bytes = ctx.settings().api.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["path"].startswith(PROTECTED) or scope["path"] == METRICS_PATH:
                try:
                    state["caller"] = self.ctx.caller(_header(scope, b"authorization"))
                except ApiError as exc:
                    await exc.response()(scope, receive, sending)
                    return
            if scope["path"] == IMPORT_PATH:
                await self.app(scope, receive, sending)
                return
            body = await self._read_body(scope, receive)
            if body is None:
                await _too_large(self.max_body_bytes)(scope, receive, sending)
                return
            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, sending)
        finally:
            log.info(
                "api_request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                caller=state.get("caller"),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to exceed the limit."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the client went away: the route sees what arrived
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        error_body(
            "body_too_large", f"the request body exceeds {limit} bytes (api.max_body_bytes)"
        ),
        status_code=413,
    )
