"""``GET /events``: the hub's messages as Server-Sent Events, for any signed-in person.

The first message is ``hello`` (the whole state); then each change as it happens, and a
comment every ``KEEPALIVE_S`` so proxies keep the connection and the page notices a
dead daemon. ``retry: 1000`` makes the browser's EventSource reconnect after a second
when the daemon restarts; it then gets a fresh ``hello``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from dialerd.web.auth import Person, person
from dialerd.web.context import console
from dialerd.web.messages import encode

router = APIRouter()
KEEPALIVE_S = 15.0


@router.get("/events", include_in_schema=False)
async def events(request: Request, who: Annotated[Person, Depends(person)]) -> StreamingResponse:
    ctx = console(request)
    sub = ctx.hub.subscribe(who.user, who.role)
    hello = await ctx.hub.hello(who.user, who.role)

    async def frames() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n\n" + encode(hello)
            while True:
                try:
                    payload = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if payload is None:
                    return  # the daemon is stopping, or this page fell too far behind
                yield encode(payload)
        finally:
            ctx.hub.unsubscribe(sub)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
