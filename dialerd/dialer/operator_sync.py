"""Keeping the operator board true to Asterisk (issue 4): member and device events, a
full read after each connect, a new board on reload, the board published for the CLI.

Nothing is free until Asterisk says so: a connect invalidates the board until the first
full read (QueueStatus, DEVICE_STATE) lands, tried again every ``RESYNC_RETRY_S`` while
it fails. The board only ever hears operator state from Asterisk; the engine's own calls
reserve, hold and release operators on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import structlog

from dialerd.clock import Clock
from dialerd.config import Settings
from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.board import CurrentCall, OnChange, OperatorBoard, publish, state_file
from dialerd.dialer.calls import Pbx
from dialerd.dialer.originate import Track
from dialerd.pbx.ami import PbxUnavailable
from dialerd.pbx.events import DeviceState, MemberState, PbxConnected, PbxDisconnected, PbxEvent

log = structlog.get_logger(__name__)

RESYNC_RETRY_S = 1.0


class OperatorSync:
    def __init__(
        self,
        settings: Settings,
        pbx: Pbx,
        *,
        clock: Clock,
        on_change: OnChange | None,
        wake: Callable[[], None],
        on_synced: Callable[[], None] = lambda: None,
        pbx_name: str | None = None,
    ) -> None:
        """``on_change``: the board's hook, on every board (after reloads too);
        ``on_synced``: called after each full read has landed on the board;
        ``pbx_name``: only the operators on that PBX (several PBXs; None: all)."""
        self._pbx = pbx
        self._pbx_name = pbx_name
        self._on_synced = on_synced
        self._clock = clock
        self._on_change = on_change
        self._wake = wake
        self.board = OperatorBoard.from_settings(settings, on_change, pbx=pbx_name)
        self._config = (settings.operators, settings.groups)
        self._resync_needed = False
        self._retry_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def apply(self, event: PbxEvent) -> None:
        """Operator state from Asterisk; a change that may free an operator wakes the dialer."""
        match event:
            case MemberState():
                if self.board.apply_member(event):
                    self._wake()
            case DeviceState():
                if self.board.apply_device(event):
                    self._wake()
            case PbxConnected() if self.board:  # nothing is free until Asterisk says so
                self.board.invalidate("waiting for QueueStatus after connecting", event.at)
                self._resync_needed, self._retry_at = True, None
            case PbxDisconnected() if self.board:
                self.board.invalidate(f"AMI connection lost ({event.why})", event.at)

    @property
    def retry_at(self) -> float | None:
        """When a failed full read is due again (None: none is waiting for a retry)."""
        return self._retry_at if self._resync_needed else None

    def resync_due(self, now: float) -> bool:
        return self._resync_needed and (self._retry_at is None or now >= self._retry_at)

    async def resync(self) -> None:
        """Read every operator's state from Asterisk (QueueStatus, DEVICE_STATE) after a connect."""
        try:
            members = await self._pbx.queue_members() if self.board.queues else []
            devices = self.board.devices
            states = await self._pbx.device_states(devices) if devices else []
        except (PbxUnavailable, TimeoutError) as exc:
            self._retry_at = self._clock() + RESYNC_RETRY_S
            log.warning("operators_resync_failed", error=str(exc) or type(exc).__name__)
            return
        self._resync_needed, self._retry_at = False, None
        self.board.apply_snapshot(members, states, self._clock())
        free = sum(op.is_free(self._clock()) for op in self.board.operators.values())
        log.info("operators_synced", operators=len(self.board.operators), free=free)
        self._on_synced()
        self._wake()

    def reload(self, settings: Settings, tracks: Iterable[Track]) -> None:
        """New operators or groups: a new board, our calls' holds carried over."""
        if (settings.operators, settings.groups) == self._config:
            return
        board = OperatorBoard.from_settings(settings, self._on_change, pbx=self._pbx_name)
        for name, was in self.board.operators.items():
            kept = board.operators.get(name)
            if was.held_pause is not None and kept is not None and kept.queue is None:
                # the dialer's own pause (no queue): nothing in Asterisk would restore it
                board.hold_pause(name, was.held_pause, was.held_since or self._clock())
            if was.after_call is not None and kept is not None:  # the dialer's wrap-up goes on
                board.begin_after_call(name, was.after_call, self._clock())
        for track in tracks:
            if track.operator in board.operators:
                call = CurrentCall(track.lead_id, track.call_id, track.mode, self._clock())
                if isinstance(track, AgentCallTrack):
                    board.reserve(track.operator, call)
                else:
                    board.hold(track.operator, call)
        old, self.board = self.board, board
        old.changed.set()  # the publisher moves on to the new board
        board.changed.set()
        self._config = (settings.operators, settings.groups)
        self._resync_needed, self._retry_at = bool(board), None
        if board and self._pbx.connected.is_set():  # ask Asterisk now, not at the next event
            task = asyncio.get_running_loop().create_task(
                self.resync(), name="engine-operators-resync"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def publish(self, settings: Settings) -> None:
        """Keep ``<store>.operators.json`` current for `dialerd operators`."""
        await publish(lambda: self.board, state_file(settings), self._pbx.connected, self._clock)

    async def close(self) -> None:
        """Cancel a full read still running (started by a reload)."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
