"""The dialer's wrap-up after an answered call (issue 12): the operator's time to finish the
call (the result, a note) before the next one. It ends at the first of: the call's result
(the console says "ready" once it is saved), "ready", or the group's ``after_call_work_s``.

Asterisk's queue ``wrapuptime`` cannot do this: AMI cannot end it early, and agent_first
calls never pass through a queue. So the dialer keeps the wrap-up itself, where the
operator's state lives:

- on the board (``Operator.after_call``), from the moment the finished call is recorded,
  before its operator is released: the dialer offers them nothing, reports count it busy;
- for a queue member, in Asterisk too: ``QueuePause`` with the reason ``wrap-up`` (reserved
  in ``pauses.reasons``), so the queue gives them neither the next waiting customer nor an
  inbound call; taken back when the wrap-up ends.

The operator's own pause always wins: someone paused when the call ends gets no wrap-up, a
pause or a resume during it ends it (their pause has replaced ``wrap-up`` in Asterisk), and
the end of a wrap-up never unpauses a member whose pause is not the dialer's ``wrap-up``.

What Asterisk is told is reconciled by one task (``run``): for each queue member it compares
the wrap-up the board holds with the ``wrap-up`` pause Asterisk has (as last told, or as
QueueStatus said after a (re)connect) and sends the QueuePause that makes them agree, one at
a time, in order. A restart that left members paused with ``wrap-up``, an unpause that
failed while the link was down, and a stop in the middle of a wrap-up all end with the
member unpaused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from dialerd.clock import Clock
from dialerd.config import Settings
from dialerd.config.pauses import WRAPUP_REASON
from dialerd.dialer.board import AfterCall, Operator, OperatorBoard, OperatorState
from dialerd.dialer.calls import Pbx
from dialerd.domain import FinishedCall, Outcome
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import ActionRefused, PbxUnavailable

log = structlog.get_logger(__name__)


class Wrapups:
    """The dialer's wrap-ups on the engine's current board, and their pauses in Asterisk."""

    def __init__(
        self,
        board_of: Callable[[], OperatorBoard],
        settings_of: Callable[[], Settings],
        pbx: Pbx,
        *,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self._board_of = board_of
        self._settings_of = settings_of
        self._pbx = pbx
        self._clock = clock
        self._wake = wake
        # operator -> what Asterisk was last told (True: paused with wrap-up); none: believe
        # the board (Asterisk's own word since the last QueueStatus)
        self._told: dict[str, bool] = {}
        self._ours: set[str] = set()  # paused with wrap-up by this process, not yet taken back
        self._poke = asyncio.Event()

    # --- the board ------------------------------------------------------------------------
    def begin(self, call: FinishedCall) -> None:
        """The ledger's hook for a recorded call, before its operator is released: the
        operator of an answered call goes from the call straight into wrap-up."""
        if call.outcome is not Outcome.ANSWERED or call.operator is None:
            return
        board = self._board_of()
        operator = board.operators.get(call.operator)
        if operator is None:  # a queue member the config does not name
            return
        group = self._settings_of().groups.get(operator.group)
        length_s = group.after_call_work_s if group is not None else 0.0
        now = self._clock()
        until = call.ended_at + length_s
        if until <= now:  # off, or recorded late (settled after a restart): nothing left
            return
        bound = log.bind(operator=operator.name, call_id=call.call_id)
        if _own_pause(operator):
            bound.info("wrapup_skipped", why="paused", reason=operator.pause_reason)
            return
        board.begin_after_call(operator.name, AfterCall(call.call_id, call.ended_at, until), now)
        kept_by = "asterisk" if operator.queue is not None else "dialer"
        bound.info("wrapup_started", left_s=round(until - now, 1), kept_by=kept_by)
        self._poke.set()

    def end(self, name: str, why: str) -> bool:
        """``name``'s wrap-up ends now (``why``: ready, timeout, paused, resumed, stopping);
        False if they had none."""
        board = self._board_of()
        operator = board.operators.get(name)
        if operator is None or operator.after_call is None:
            return False
        after = operator.after_call
        now = self._clock()
        board.end_after_call(name, now)
        log.info(
            "wrapup_ended",
            operator=name,
            call_id=after.call_id,
            why=why,
            wrapup_s=round(now - after.since, 1),
        )
        self._poke.set()
        self._wake()
        return True

    def taken_over(self, name: str, why: str) -> None:
        """The operator's own pause or resume has just been done (in Asterisk too): it
        replaced any ``wrap-up`` pause there, and it ends the wrap-up."""
        self._told[name] = False
        self._ours.discard(name)
        self.end(name, why)

    def deadline(self) -> float | None:
        """When the next wrap-up runs out (None: nobody is in one)."""
        ends = [op.after_call.until for op in self._operators() if op.after_call is not None]
        return min(ends, default=None)

    def expire(self, now: float) -> None:
        """End the wrap-ups whose time is up: the engine calls this at ``deadline``."""
        for operator in self._operators():
            if operator.after_call is not None and operator.after_call.until <= now:
                self.end(operator.name, "timeout")

    def synced(self) -> None:
        """A full read (QueueStatus) has landed: Asterisk's word now, not what it was told."""
        self._told.clear()
        self._poke.set()

    def _operators(self) -> list[Operator]:
        return list(self._board_of().operators.values())

    # --- Asterisk -------------------------------------------------------------------------
    async def run(self) -> None:
        """Keep Asterisk's ``wrap-up`` pauses in step with the board (see the docstring)."""
        while True:
            await self._poke.wait()
            self._poke.clear()
            try:
                await self._reconcile()
            except Exception:  # a bug here must not end the wrap-ups' pauses for good
                log.exception("wrapup_reconcile_failed")

    async def stop(self, timeout_s: float) -> None:
        """The engine stops: every wrap-up ends now and Asterisk is told, so that no member
        stays paused with ``wrap-up`` while no dialer is there to take it back."""
        for operator in self._operators():
            if operator.after_call is not None:
                self.end(operator.name, "stopping")
        try:
            async with asyncio.timeout(timeout_s):  # Asterisk's answers: real seconds
                await self._reconcile()
        except TimeoutError:
            log.warning("wrapup_unpause_unfinished", why="Asterisk did not answer in time")

    async def _reconcile(self) -> None:
        board = self._board_of()
        if not board.synced or not self._pbx.connected.is_set():
            return  # the QueueStatus after the next connect pokes again
        for operator in list(board.operators.values()):
            name = operator.name
            if operator.queue is None or operator.state is OperatorState.UNKNOWN:
                continue
            if operator.state is OperatorState.PAUSED and not operator.wrapup_paused:
                # their own pause (or a supervisor's) replaced any of ours: never undo it
                self._told[name] = False
                self._ours.discard(name)
                continue
            if operator.held_pause is not None:
                continue  # their own pause is on its way to Asterisk
            after = operator.after_call
            want = after is not None and after.until > self._clock()
            told = self._told.get(name)
            if want != (operator.wrapup_paused if told is None else told):
                await self._send(operator, operator.queue, paused=want)

    async def _send(self, operator: Operator, queue: str, *, paused: bool) -> None:
        name = operator.name
        stale = not paused and name not in self._ours  # left by a previous run
        if paused:
            self._ours.add(name)
        else:
            self._ours.discard(name)
        reason = WRAPUP_REASON if paused else None
        request = QueuePauseRequest(operator.settings.member_interface, paused, reason, queue)
        self._told[name] = paused  # before the send: an own pause sent meanwhile comes after
        bound = log.bind(operator=name, queue=queue, paused=paused)
        try:
            await self._pbx.queue_pause(request)
        except (ActionRefused, PbxUnavailable, TimeoutError) as exc:
            if self._told.get(name) is paused:
                del self._told[name]  # not known: Asterisk's next word (or QueueStatus) tells
            bound.warning("wrapup_queue_pause_failed", error=str(exc) or type(exc).__name__)
            return
        if stale:
            bound.warning(
                "stale_wrapup_pause_cleared",
                why="paused with 'wrap-up' in Asterisk, in no wrap-up here (a restart?)",
            )
        else:
            bound.info("wrapup_queue_pause")


def _own_pause(operator: Operator) -> bool:
    """Paused by the operator (or a supervisor), not for the dialer's wrap-up."""
    if operator.held_pause is not None:
        return True
    return operator.state is OperatorState.PAUSED and not operator.wrapup_paused
