"""Several PBXs in one daemon: one engine per PBX, run, stopped and reloaded together.

Each engine claims from the one store for its own PBX (``Engine``), so no planner sits
between them: the most urgent lead goes to whichever PBX has a free line first. The fleet
is what the daemon's lifecycle drives; one engine that crashes stops the others (their
calls are left 'dialing' for the next start, as a crash of one engine always did).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from dialerd.config import Settings
from dialerd.dialer.engine import Engine


class Fleet:
    def __init__(self, engines: Sequence[Engine]) -> None:
        if not engines:
            raise ValueError("a fleet needs at least one engine")
        self.engines = tuple(engines)
        self.started = asyncio.Event()  # every engine has adopted its attempts in flight

    @property
    def in_flight(self) -> int:
        return sum(engine.in_flight for engine in self.engines)

    def wake(self) -> None:
        for engine in self.engines:
            engine.wake()

    def stop(self) -> None:
        for engine in self.engines:
            engine.stop()

    def stop_now(self) -> None:
        for engine in self.engines:
            engine.stop_now()

    def reload(self, settings: Settings) -> None:
        for engine in self.engines:
            engine.reload(settings)

    async def run(self, *, until_idle: bool = False, drain_timeout_s: float = 60.0) -> None:
        """Run every engine until all have ended; the first failure stops the rest."""
        runs = [
            asyncio.create_task(
                engine.run(until_idle=until_idle, drain_timeout_s=drain_timeout_s),
                name=f"engine-{engine.pbx_name or 'pbx'}",
            )
            for engine in self.engines
        ]
        ready = asyncio.create_task(self._all_started(), name="engines-started")
        try:
            pending: set[asyncio.Task[None]] = set(runs)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if task.exception() is not None:
                        self.stop_now()
                        await asyncio.gather(*pending, return_exceptions=True)
                        task.result()
        finally:
            for task in (*runs, ready):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _all_started(self) -> None:
        for engine in self.engines:
            await engine.started.wait()
        self.started.set()
