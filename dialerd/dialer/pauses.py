"""Operators pausing with a reason, resuming, and ending their wrap-up early (issue 12).

The operator's console asks; this module checks the request against the YAML
(``pauses.reasons``) and the board, then does it where the operator's state lives:

- a queue member is paused in Asterisk (``QueuePause`` with ``Reason`` in its group's
  queue), so the pause shows in Asterisk's own ``QueueStatus`` and ``queue show``, the
  queue itself stops ringing the member for inbound calls too, and the board learns it
  from the ``QueueMemberPause`` that follows; the board holds the pause from the moment
  it is asked for, so no dialer call is offered while Asterisk's word is on its way;
- an operator outside any queue (an agent_first group without one) has no pause in
  Asterisk (a device cannot be paused), so the pause is kept on the dialer's board only:
  the dialer offers them nothing until they resume, but inbound calls dialled straight to
  their device still ring.

"Ready" ends the dialer's wrap-up after a call (``wrapup.py``) in every mode; a pause or a
resume ends it too (the operator's own pause replaces the ``wrap-up`` one in Asterisk).

Every failure is a typed error the web layer turns into a message: ``UnknownOperator``,
``UnknownReason``, ``PauseRefused`` (Asterisk said no), ``WrapupHeld`` (Asterisk's queue
``wrapuptime`` cannot be cut short), and ``PbxUnavailable`` (not logged in to AMI, or no answer
in time).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from dialerd.clock import Clock
from dialerd.config import Settings
from dialerd.dialer.board import Operator, OperatorBoard
from dialerd.dialer.calls import Pbx
from dialerd.dialer.wrapup import Wrapups
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import ActionRefused, PbxUnavailable

__all__ = [
    "Pauses",
    "PauseError",
    "PauseRefused",
    "PbxUnavailable",
    "UnknownOperator",
    "UnknownReason",
    "WrapupHeld",
]

log = structlog.get_logger(__name__)


class PauseError(Exception):
    """A pause, resume or "ready" that did not happen; ``str()`` says why, for a person."""


class UnknownOperator(PauseError):
    """No operator of that name in the config (the board's operators)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no operator named {name!r}")
        self.name = name


class UnknownReason(PauseError):
    """A reason not in ``pauses.reasons``: Asterisk and the reports only see listed ones."""

    def __init__(self, reason: str, allowed: list[str]) -> None:
        super().__init__(f"unknown pause reason {reason!r} (one of: {', '.join(allowed)})")
        self.reason = reason
        self.allowed = allowed


class PauseRefused(PauseError):
    """Asterisk answered the QueuePause with an error (the member is not in the queue:
    logged out, or the queue was changed in queues.conf)."""

    def __init__(self, name: str, queue: str, message: str) -> None:
        super().__init__(f"Asterisk refused to change {name}'s pause in queue {queue}: {message}")
        self.message = message


class WrapupHeld(PauseError):
    """The wrap-up is the queue's (queues.conf ``wrapuptime``, or the member's own): Asterisk
    would not ring the operator before it ends, and AMI has no way to end it early, so the
    dialer does not pretend the operator is free for calls sent through that queue. (The
    dialer's own wrap-up, ``wrapup.py``, has ended all the same.)"""

    def __init__(self, name: str, queue: str, left_s: float) -> None:
        super().__init__(
            f"{name}'s wrap-up is kept by Asterisk's queue {queue} for {left_s:.0f} s more"
        )
        self.left_s = left_s


class Pauses:
    """Pause, resume and "ready", against the engine's current board, settings and PBX."""

    def __init__(
        self,
        board_of: Callable[[], OperatorBoard],
        settings_of: Callable[[], Settings],
        pbx: Pbx,
        wrapups: Wrapups,
        *,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self._board_of = board_of
        self._wrapups = wrapups
        self._settings_of = settings_of
        self._pbx = pbx
        self._clock = clock
        self._wake = wake

    async def pause(self, name: str, reason: str) -> None:
        """Pause ``name`` with ``reason`` (one of ``pauses.reasons``); see the module's
        docstring for where the pause is kept. Pausing again changes the reason."""
        allowed = list(self._settings_of().pauses.reasons)
        if reason not in allowed:
            raise UnknownReason(reason, allowed)
        board = self._board_of()
        operator = _operator(board, name)
        bound = log.bind(operator=name, reason=reason)
        if operator.queue is None:
            board.hold_pause(name, reason, self._clock())
            self._wrapups.taken_over(name, "paused")
            bound.info("operator_paused", kept_by="dialer")
            return
        if not self._pbx.connected.is_set():
            raise PbxUnavailable("not connected to Asterisk: the pause was not sent")
        board.hold_pause(name, reason, self._clock())
        try:
            await self._send(operator, operator.queue, paused=True, reason=reason)
        except BaseException:
            if board.drop_pause(name, self._clock()):
                self._wake()
            raise
        self._wrapups.taken_over(name, "paused")
        bound.info("operator_paused", kept_by="asterisk", queue=operator.queue)

    async def resume(self, name: str) -> None:
        """End ``name``'s pause (a no-op for an operator who is not paused, as in Asterisk),
        or their wrap-up: either way they are ready for calls.

        A queue member is free again once Asterisk's QueueMemberPause says so; one outside
        any queue at once.
        """
        board = self._board_of()
        operator = _operator(board, name)
        if board.drop_pause(name, self._clock()):
            self._wake()
        if operator.queue is not None:
            await self._send(operator, operator.queue, paused=False, reason=None)
        self._wrapups.taken_over(name, "resumed")
        log.info("operator_resumed", operator=name)

    def ready(self, name: str) -> None:
        """``name`` ends the wrap-up after a call now, and may be offered the next call.

        The dialer's own wrap-up ends in every mode (a queue member is unpaused in Asterisk).
        Asterisk's queue ``wrapuptime`` too, except where the queue enforces it for calls the
        dialer would send through it (a group with a queue that a customer_first or
        predictive campaign dials for): ``WrapupHeld``, since the dialer would count the
        operator free and dial a customer the queue does not connect, an abandoned call.
        """
        board = self._board_of()
        operator = _operator(board, name)
        now = self._clock()
        self._wrapups.end(name, "ready")
        left_s = operator.queue_wrapup_until - now
        if left_s > 0 and operator.queue is not None and self._queue_calls(operator.group):
            raise WrapupHeld(name, operator.queue, left_s)
        if board.ready(name, now):
            self._wake()
        log.info("operator_ready", operator=name, wrapup_cut_s=max(0.0, left_s))

    def _queue_calls(self, group: str) -> bool:
        """Does any campaign send calls for this group through its queue?"""
        campaigns = self._settings_of().policy.campaigns.values()
        return any(c.group == group and c.mode.customer_first for c in campaigns)

    async def _send(
        self, operator: Operator, queue: str, *, paused: bool, reason: str | None
    ) -> None:
        request = QueuePauseRequest(operator.settings.member_interface, paused, reason, queue)
        try:
            await self._pbx.queue_pause(request)
        except ActionRefused as exc:
            log.warning("queue_pause_refused", operator=operator.name, message=exc.message)
            raise PauseRefused(operator.name, queue, exc.message) from None
        except TimeoutError:
            raise PbxUnavailable(
                "Asterisk did not answer the QueuePause in time; its QueueStatus will tell"
            ) from None


def _operator(board: OperatorBoard, name: str) -> Operator:
    operator = board.operators.get(name)
    if operator is None:
        raise UnknownOperator(name)
    return operator
