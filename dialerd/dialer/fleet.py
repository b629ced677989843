"""Several PBXs in one daemon: one engine per PBX, run, stopped and reloaded together, and
seen from outside (console, API, recorders, ``dialerd operators``) as one floor.

Each engine claims from the one store for its own PBX (``Engine``), so no planner sits
between them: the most urgent lead goes to whichever PBX has a free line first. The fleet
is what the daemon's lifecycle drives; one engine that crashes stops the others (their
calls are left 'dialing' for the next start, as a crash of one engine always did).

Each PBX's operators (``operators[].pbx``) are on its engine's board, where its calls are
offered; the fleet's ``operators`` is every board in one view, and an operator's pause,
resume or "ready" goes to the engine whose board has that operator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence

import structlog

from dialerd.clock import Clock
from dialerd.config import Settings
from dialerd.dialer.board import OperatorBoard, publish, state_file
from dialerd.dialer.engine import Engine
from dialerd.dialer.events import EngineEvent
from dialerd.dialer.originate import Track
from dialerd.domain import OperatorsAway
from dialerd.pbx.actions import SpyRequest
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.events import OriginateRefused, OriginateResult
from dialerd.policy.pacing import Pace


class FloorAway:
    """ "Nobody signed in" for the whole floor, from each PBX's engine's word.

    Each engine holds its own dialing while none of its PBX's operators is signed in; the
    owner is told (``OperatorsAway``) only when that is true of every PBX that has
    operators, not when one PBX's shift has ended while another's is at work."""

    def __init__(
        self, listeners: Sequence[Callable[[EngineEvent], None]], engines: Sequence[Engine]
    ) -> None:
        self._listeners = listeners
        self._engines = engines  # filled by the caller as the engines are made
        self._away: dict[int, bool] = {}
        self._told = False

    def listener(self, index: int) -> Callable[[EngineEvent], None]:
        """What engine ``index`` tells its listeners through."""

        def forward(event: EngineEvent) -> None:
            if not isinstance(event, OperatorsAway):
                for listener in self._listeners:
                    listener(event)
                return
            self._away[index] = event.away
            staffed = [i for i, engine in enumerate(self._engines) if engine.operators]
            away = bool(staffed) and all(self._away.get(i, False) for i in staffed)
            if away is not self._told:
                self._told = away
                for listener in self._listeners:
                    listener(OperatorsAway(away, event.at))

        return forward


class Fleet:
    def __init__(self, engines: Sequence[Engine], pbxs: Sequence[AmiPbx], clock: Clock) -> None:
        """``engines[i]`` dials through ``pbxs[i]``; the first is the first PBX listed."""
        if not engines or len(engines) != len(pbxs):
            raise ValueError("a fleet needs one engine per PBX, at least one")
        self.engines = tuple(engines)
        self._pbxs = tuple(pbxs)
        self._clock = clock
        self.started = asyncio.Event()  # every engine has adopted its attempts in flight
        self._view: OperatorBoard | None = None
        self._view_of: tuple[int, ...] = ()

    # --- one floor ----------------------------------------------------------------------------
    @property
    def operators(self) -> OperatorBoard:
        """Every PBX's operators in one live view (rebuilt when a reload replaced a board)."""
        if len(self.engines) == 1:
            return self.engines[0].operators
        boards = [engine.operators for engine in self.engines]
        if self._view is None or tuple(map(id, boards)) != self._view_of:
            self._view = OperatorBoard.merged(boards)
            self._view_of = tuple(map(id, boards))
        # a PBX without operators has nothing to read from Asterisk: never "not yet synced"
        self._view.synced = all(board.synced for board in boards if board)
        return self._view

    @property
    def settings(self) -> Settings:
        return self.engines[0].settings

    @property
    def in_flight(self) -> int:
        return sum(engine.in_flight for engine in self.engines)

    def tracks(self) -> Iterable[Track]:
        """Every call in flight, on every PBX."""
        return [track for engine in self.engines for track in engine.calls.tracks.values()]

    @property
    def paces(self) -> dict[str, Pace]:
        """Each campaign's pace as the first PBX that dials it sees it (pacing is per PBX,
        on that PBX's operators)."""
        paces: dict[str, Pace] = {}
        for engine in self.engines:
            for name, pace in engine.paces.items():
                paces.setdefault(name, pace)
        return paces

    async def logins_attempted(self) -> None:
        """Every PBX's first AMI login has been tried, whether it logged in or not."""
        for pbx in self._pbxs:
            await pbx.attempted.wait()

    def connected(self) -> bool:
        """Every PBX's AMI is logged in."""
        return all(pbx.connected.is_set() for pbx in self._pbxs)

    # --- an operator's engine -------------------------------------------------------------
    def _engine_of(self, operator: str) -> Engine:
        """The engine whose board has the operator (the first: it says the name is unknown)."""
        for engine in self.engines:
            if operator in engine.operators.operators:
                return engine
        return self.engines[0]

    async def pause_operator(self, name: str, reason: str) -> None:
        await self._engine_of(name).pause_operator(name, reason)

    async def resume_operator(self, name: str) -> None:
        await self._engine_of(name).resume_operator(name)

    def operator_ready(self, name: str) -> None:
        self._engine_of(name).operator_ready(name)

    async def survey(self, call_id: str, context: str) -> None:
        """Send a customer to the post-call survey on the PBX that carries the call."""
        await self._pbx_of_call(call_id).redirect(call_id, context, "s")

    async def spy(self, request: SpyRequest) -> OriginateResult | OriginateRefused:
        """Listen in through the PBX of the operator whose channels are spied on."""
        device = request.spied.removesuffix("-")
        for engine, pbx in zip(self.engines, self._pbxs, strict=True):
            for operator in engine.operators.operators.values():
                if device in (operator.settings.dial_device, operator.settings.member_interface):
                    return await pbx.spy(request)
        return await self._pbxs[0].spy(request)

    def _pbx_of_call(self, call_id: str) -> AmiPbx:
        for engine, pbx in zip(self.engines, self._pbxs, strict=True):
            if call_id in engine.calls.tracks:
                return pbx
        return self._pbxs[0]

    # --- running ----------------------------------------------------------------------------
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
        """New settings for every engine; new operators are in ``dialerd operators``' file at
        once, not at the next change of an operator's state (which may be long in coming)."""
        for engine in self.engines:
            engine.reload(settings)
        self.operators.changed.set()

    async def run(self, *, until_idle: bool = False, drain_timeout_s: float = 60.0) -> None:
        """Run every engine until all have ended; the first failure stops the rest."""
        runs = [
            asyncio.create_task(
                self._run_engine(engine, until_idle, drain_timeout_s),
                name=f"engine-{engine.pbx_name or 'pbx'}",
            )
            for engine in self.engines
        ]
        helpers = [asyncio.create_task(self._all_started(), name="engines-started")]
        if len(self.engines) > 1:  # one file for `dialerd operators`, every PBX's operators
            helpers.append(
                asyncio.create_task(
                    publish(
                        lambda: self.operators,
                        state_file(self.settings),
                        self._pbxs[0].connected,
                        self._clock,
                    ),
                    name="fleet-operators",
                )
            )
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
            for task in (*runs, *helpers):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run_engine(self, engine: Engine, until_idle: bool, drain_timeout_s: float) -> None:
        """One engine in its own task. With several PBXs every line logged in it (and in the
        tasks it starts: a call's start, adoption, reconcile, its operators) names the PBX,
        bound to the task's context so the other engines' lines are not touched."""
        if len(self.engines) > 1:
            structlog.contextvars.bind_contextvars(pbx=engine.pbx_name)
        await engine.run(until_idle=until_idle, drain_timeout_s=drain_timeout_s)

    async def _all_started(self) -> None:
        for engine in self.engines:
            await engine.started.wait()
        self.started.set()
