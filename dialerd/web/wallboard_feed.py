"""Pushes the ``wallboard`` message to supervisors: when something changed, at most once a
second, and only while a supervisor is watching.

The hub pokes the feed at every engine fact and operator change (``poke``); the feed
builds the message (``web/wallboard.py``) at once if it has been quiet for a second,
otherwise at the end of that second, so a burst of a hundred events makes one message.
A message equal to the last one but for the clock is not sent. Time alone changes a few
numbers (leads becoming due, a lead's age): the feed looks again every ``HEARTBEAT_S``.
Today's report is rebuilt when a call ended or a result was recorded, at most every
``TODAY_MIN_S``, and every ``TODAY_MAX_S`` regardless (results recorded through the API,
leads arriving).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from dialerd.web.hub import Hub, Payload
from dialerd.web.wallboard import Wallboard, without_clock

log = structlog.get_logger(__name__)

INTERVAL_S = 1.0
HEARTBEAT_S = 5.0
TODAY_MIN_S = 3.0
TODAY_MAX_S = 60.0


class WallboardFeed:
    def __init__(
        self,
        wallboard: Wallboard,
        hub: Hub,
        monotonic: Callable[[], float] = time.monotonic,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._wallboard = wallboard
        self._hub = hub
        self._mono = monotonic
        self._interval_s = interval_s
        self._changed = asyncio.Event()
        self._today_dirty = True
        self._today_at = -1e9  # monotonic time of the last report
        self._built_at = -1e9
        self._last: Payload | None = None
        self._sent_key: Payload | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.sent = 0  # messages pushed (the bench reads it)

    # --- wiring ---------------------------------------------------------------------------
    def poke(self, today_changed: bool = False) -> None:
        if today_changed:
            self._today_dirty = True
        self._changed.set()

    def start(self) -> None:
        self._hub.attach_wallboard(self.poke, self.now)
        self._task = asyncio.create_task(self._run(), name="console-wallboard")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def now(self) -> Payload:
        """The current message for a supervisor's hello (built now unless just built)."""
        if self._last is None or self._mono() - self._built_at >= self._interval_s:
            await self._build()
        self._changed.set()  # the loop follows this supervisor from now on
        assert self._last is not None
        return self._last

    # --- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            # nobody watches: sleep until poked (a hello pokes); nothing is read meanwhile
            timeout = self._wait_s() if self._hub.supervisors else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            self._changed.clear()
            if not self._hub.supervisors:
                continue
            try:
                payload = await self._build()
            except Exception:  # a store hiccup must not end the wallboard
                log.exception("wallboard_failed")
                await asyncio.sleep(self._interval_s)
                continue
            key = without_clock(payload)
            if key != self._sent_key:
                self._sent_key = key
                self._hub.to_supervisors(payload)
                self.sent += 1
            await asyncio.sleep(self._interval_s)  # what comes meanwhile goes in the next one

    def _wait_s(self) -> float:
        wait = HEARTBEAT_S
        since = self._mono() - self._today_at
        if self._today_dirty:
            wait = min(wait, max(0.0, TODAY_MIN_S - since))
        return max(0.0, min(wait, TODAY_MAX_S - since))

    async def _build(self) -> Payload:
        async with self._lock:
            since = self._mono() - self._today_at
            if (self._today_dirty and since >= TODAY_MIN_S) or since >= TODAY_MAX_S:
                self._today_dirty = False
                self._today_at = self._mono()
                await self._wallboard.refresh_today()
            payload = await self._wallboard.build()
            self._last, self._built_at = payload, self._mono()
            return payload
