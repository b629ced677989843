"""The operators' time (issue 6): each change of an operator's effective state becomes a row.

The board calls ``observe`` on every change it hears (Asterisk's word, the dialer's
reservations); this module keeps the last state recorded per operator and queues a
``StateChange`` only when the effective state (``Operator.effective``) differs, or, while
paused, its reason (issue 12: lunch, then training, are two rows the reports tell apart). Two
changes have no event: the end of a wrap-up (``wrapup_until``) and of a rest after a
missed dialer call (``missed_until``); a timer observes the operator at that exact moment.
A heartbeat (``heartbeat_s``) advances ``seen_until`` of the open rows; a clean stop closes
them; the next start closes rows a killed process left open at their ``seen_until``.

On a PostgreSQL store several daemons hear the same operators: only the one holding the
recorder's lock (``SoleRecorder``) writes, or each operator's time would be counted once
per daemon. The others look for the lock every ``take_s``; the one that gets it (its holder
stopped or died) closes the rows left open at their ``seen_until`` and opens a row for each
operator's state as it is now.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from dialerd.clock import WALL_CLOCK, Clock
from dialerd.dialer.board import Operator, OperatorBoard, OperatorState
from dialerd.store import operator_time
from dialerd.store.batching import Batcher
from dialerd.store.operator_time import StateChange
from dialerd.store.sole_recorder import SoleRecorder
from dialerd.store.sql import STORE_ERRORS, Conn, Store

log = structlog.get_logger(__name__)


class OperatorLog:
    def __init__(
        self,
        db: Store,
        board_of: Callable[[], OperatorBoard],
        *,
        clock: Clock = WALL_CLOCK,
        batch_s: float = 1.0,
        heartbeat_s: float = 60.0,
        take_s: float = 5.0,
    ) -> None:
        """``board_of``: the engine's current board (a reload may replace it)."""
        self._db = db
        self._board_of = board_of
        self._clock = clock
        self._heartbeat_s = heartbeat_s
        self._take_s = take_s
        self._recorder = SoleRecorder(db, "operator_time")
        self._recording = False
        self._batcher: Batcher[StateChange] = Batcher(
            db, self._write, name="operator-log", batch_s=batch_s
        )
        # name → (state, its pause reason, since)
        self._open: dict[str, tuple[OperatorState, str | None, float]] = {}
        self._checked = 0.0  # wrap-up and rest ends up to here have been observed
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def observe(self, operator: Operator, at: float | None) -> None:
        """The board's ``on_change``: record the operator's effective state if it changed."""
        at = self._clock() if at is None else at
        state = operator.effective(at)
        reason = operator.pause_reason if state is OperatorState.PAUSED else None
        previous = self._open.get(operator.name)
        if previous is not None and previous[:2] == (state, reason):
            return
        if previous is not None:
            at = max(at, previous[2])  # never an interval that ends before it starts
        self._open[operator.name] = (state, reason, at)
        if not self._recording:
            return  # another daemon records it
        self._batcher.put(StateChange(operator.name, state.value, at, reason))
        self._poke.set()

    async def __aenter__(self) -> OperatorLog:
        self._checked = self._clock()
        await self._become_recorder()
        await self._batcher.__aenter__()
        self._task = asyncio.create_task(self._tick(), name="operator-log-tick")
        return self

    async def _become_recorder(self) -> None:
        """Start recording if this daemon is (or just became) the recorder: rows a killed
        recorder left open end where it last saw them, and every operator's state as it is
        now opens a row."""
        if self._recording or not await self._recorder.take():
            return
        async with self._db.transaction() as conn:
            closed = await operator_time.close_abandoned(conn)
        if closed:
            log.info("operator_states_closed_after_crash", rows=closed)
        self._recording = True
        self._open.clear()
        now = self._clock()
        for operator in self._board_of().operators.values():
            self.observe(operator, now)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        now = self._clock()
        self._cross(now)
        await self._batcher.__aexit__(*exc)
        if self._recording:  # never another recorder's rows
            async with self._db.transaction() as conn:
                await operator_time.close_open(conn, now)
        await self._recorder.close()
        self._recording = False
        self._open.clear()

    async def _write(self, conn: Conn, changes: list[StateChange]) -> None:
        await operator_time.record(conn, changes, self._clock())

    async def _tick(self) -> None:
        """Wrap-up and rest ends, operators gone from the board, and the heartbeat."""
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._heartbeat_s
        next_take = loop.time() + self._take_s
        while True:
            wait_s = min(next_beat, next_take) - loop.time()
            boundary = self._next_boundary()
            if boundary is not None:
                wait_s = min(wait_s, self._clock.real_seconds(boundary - self._clock()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait_s)):
                    await self._poke.wait()
            self._poke.clear()
            self._cross(self._clock())
            self._forget_removed()
            if loop.time() >= next_take:
                if self._recording and not await self._recorder.take():
                    self._recording = False  # the lock's session ended: another may take it
                try:
                    await self._become_recorder()
                except STORE_ERRORS as exc:  # the store is away: look again next time
                    log.warning("operator_log_take_failed", error=str(exc) or type(exc).__name__)
                next_take = loop.time() + self._take_s
            if loop.time() >= next_beat:
                self._batcher.flush_soon()
                next_beat = loop.time() + self._heartbeat_s

    def _next_boundary(self) -> float | None:
        ends = [
            end
            for op in self._board_of().operators.values()
            for end in (op.wrapup_until, op.missed_until)
            if end > self._checked
        ]
        return min(ends, default=None)

    def _cross(self, now: float) -> None:
        """Observe each operator at every wrap-up or rest end passed since the last look."""
        for op in self._board_of().operators.values():
            for end in sorted(e for e in (op.wrapup_until, op.missed_until) if self._checked < e):
                if end <= now:
                    self.observe(op, end)
        self._checked = max(self._checked, now)

    def _forget_removed(self) -> None:
        """An operator a reload removed: their open row ends now (no state to record)."""
        board = self._board_of().operators
        for name in [name for name in self._open if name not in board]:
            del self._open[name]
            if self._recording:
                self._batcher.put(StateChange(name, None, self._clock()))
