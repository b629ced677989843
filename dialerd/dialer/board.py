"""Live operator state (R8), fed only by Asterisk's own events: never a guess.

An operator whose group has a queue is followed by that queue's member state
(QueueStatus after every (re)connect, then QueueMemberStatus/Pause/Added/Removed);
one outside any queue by its device state (DEVICE_STATE() after a (re)connect,
then DeviceStateChange). Until Asterisk has said something since the last
connect, an operator is ``unknown`` and not free. Inbound calls reach the same
operators, and Asterisk reports them busy like any other call.

On top of Asterisk's word the board keeps what the dialer itself started, because
Asterisk's state lags by a few milliseconds: an operator rung by an agent_first
call is *reserved* from the Originate on, one an answered customer was connected
to (AgentConnect) is *engaged*, until that call ends. Both only ever make an
operator less free, never more.

Pauses (issue 12) follow the same rule. A queue member's pause is Asterisk's (QueuePause,
then its QueueMemberPause); from the moment the dialer asks for it until Asterisk's word
arrives the board *holds* the pause itself, so no call is offered in between. Asterisk has
no pause for a device, so an operator outside any queue is paused on the board alone, until
resumed (a reload keeps it; a restart of the daemon does not).

The dialer's wrap-up after an answered call (issue 12, ``dialer.wrapup``) is kept here too
(``Operator.after_call``): while it lasts the operator is not free and counts as busy, and a
queue member is paused in Asterisk with the reason ``wrap-up`` (what Asterisk then reports is
wrap-up, not a pause). Asterisk's own queue ``wrapuptime`` is mirrored apart
(``queue_wrapup_until``): only the dialer's can be cut short.

Every change goes to the board's ``on_change`` (the operator log, issue 6), which records
the operator's *effective* state (``Operator.effective``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from dialerd.config import Settings
from dialerd.config.ami import carrier
from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.config.pauses import WRAPUP_REASON
from dialerd.pbx.events import DeviceState, MemberState
from dialerd.policy.pacing import BusyOperator

log = structlog.get_logger(__name__)


class OperatorState(StrEnum):
    FREE = "free"
    RINGING = "ringing"
    BUSY = "busy"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


# Asterisk's device states as queue members report them (enum ast_device_state).
_MEMBER_STATUS: dict[int, tuple[OperatorState, str]] = {
    0: (OperatorState.UNKNOWN, "device state unknown"),
    1: (OperatorState.FREE, "not in use"),
    2: (OperatorState.BUSY, "in use"),
    3: (OperatorState.BUSY, "busy"),
    4: (OperatorState.UNAVAILABLE, "invalid device"),
    5: (OperatorState.UNAVAILABLE, "unavailable"),
    6: (OperatorState.RINGING, "ringing"),
    7: (OperatorState.BUSY, "ringing while in use"),
    8: (OperatorState.BUSY, "on hold"),
}
_DEVICE_STATE: dict[str, tuple[OperatorState, str]] = {
    "NOT_INUSE": (OperatorState.FREE, "not in use"),
    "INUSE": (OperatorState.BUSY, "in use"),
    "BUSY": (OperatorState.BUSY, "busy"),
    "ONHOLD": (OperatorState.BUSY, "on hold"),
    "RINGINUSE": (OperatorState.BUSY, "ringing while in use"),
    "RINGING": (OperatorState.RINGING, "ringing"),
    "UNAVAILABLE": (OperatorState.UNAVAILABLE, "unavailable (not registered?)"),
    "INVALID": (OperatorState.UNAVAILABLE, "invalid device"),
}


# Not logged in (or not known to be), or already paused in Asterisk's word: a pause the
# dialer holds does not change what these show.
_NOT_HELD = (OperatorState.UNAVAILABLE, OperatorState.UNKNOWN, OperatorState.PAUSED)


@dataclass(frozen=True)
class CurrentCall:
    lead_id: int
    call_id: str
    mode: str
    since: float


@dataclass(frozen=True)
class AfterCall:
    """The dialer's wrap-up after an answered call: until the call's result, "ready", or
    ``until`` (``dialer.wrapup``)."""

    call_id: str
    since: float  # when the call ended
    until: float


@dataclass
class Operator:
    settings: OperatorSettings
    queue: str | None  # followed through this queue's member state; None: device state
    state: OperatorState = OperatorState.UNKNOWN
    detail: str = "not yet reported by Asterisk"
    since: float | None = None
    free_since: float | None = None
    reserved_by: str | None = None  # call_id of our agent_first call ringing/holding them
    engaged_by: str | None = None  # call_id of our customer_first call connected to them
    current: CurrentCall | None = None
    missed_until: float = 0.0  # did not answer an agent_first call: not offered until then
    # Asterisk's queue wrapuptime after a queue call: LastCall + wrap-up (Asterisk sends none)
    queue_wrapup_until: float = 0.0
    group_wrapup_s: float = 0.0
    after_call_work_s: float = 0.0  # the dialer's wrap-up after its calls (the group's)
    ready_at: float = 0.0  # said "ready": wrap-ups of queue calls that ended before are over
    after_call: AfterCall | None = None  # the dialer's own wrap-up, while it lasts
    # the dialer's own pause (see the module's docstring): the reason, or None
    held_pause: str | None = None
    held_since: float | None = None
    asterisk_reason: str = ""  # PausedReason of the member's last event, while paused

    @property
    def pause_reason(self) -> str | None:
        """Why the operator is paused: the dialer's own pause, else Asterisk's PausedReason
        (None: not paused, paused without a reason, e.g. resting after a missed call, or
        paused for the dialer's wrap-up, which is work, not a pause)."""
        if self.held_pause is not None:
            return self.held_pause
        if self.state is OperatorState.PAUSED and self.asterisk_reason and not self.wrapup_paused:
            return self.asterisk_reason
        return None

    @property
    def wrapup_until(self) -> float:
        """When the wrap-up ends: Asterisk's queue wrapuptime, or the dialer's, the later."""
        after = self.after_call.until if self.after_call is not None else 0.0
        return max(self.queue_wrapup_until, after)

    @property
    def wrapup_paused(self) -> bool:
        """Asterisk holds this member paused for the dialer's wrap-up (reason ``wrap-up``)."""
        return self.state is OperatorState.PAUSED and self.asterisk_reason == WRAPUP_REASON

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def group(self) -> str:
        return self.settings.group

    def is_free(self, now: float) -> bool:
        return (
            self.state is OperatorState.FREE
            and self.held_pause is None
            and self.reserved_by is None
            and self.engaged_by is None
            and self.missed_until <= now
            and self.wrapup_until <= now
        )

    def outlook(self, now: float) -> BusyOperator | None:
        """When this operator will be free again, for predictive pacing: in a call since
        when (then the wrap-up that follows it), or in wrap-up (or resting) until when.
        None: free now, or not coming back on their own (paused, rung by an agent_first
        call, logged out, not known)."""
        if self.is_free(now) or self.held_pause is not None or self.reserved_by is not None:
            return None
        if self.engaged_by is not None and self.current is not None:
            then = max(self.after_call_work_s, self.group_wrapup_s)
            return BusyOperator(max(0.0, now - self.current.since), then)
        if self.state is OperatorState.BUSY and self.since is not None:  # a call not ours
            return BusyOperator(max(0.0, now - self.since), self.group_wrapup_s)
        if self.state is OperatorState.FREE or self.wrapup_paused:
            until = max(self.wrapup_until, self.missed_until)
            return BusyOperator(None, until - now) if until > now else None
        return None

    def effective(self, now: float) -> OperatorState:
        """The state reports count (issue 6): ``free`` exactly when ``is_free``.

        Paused by the dialer (issue 12): paused, as a member who paused during a call is in
        Asterisk's word. Rung or connected by a dialer call: busy. In wrap-up, Asterisk's or
        the dialer's (until ``wrapup_until``, or while Asterisk keeps the member paused with
        the reason ``wrap-up``): busy (wrap-up is work). Resting after missing a dialer call:
        paused. Otherwise Asterisk's word.
        """
        if self.held_pause is not None and (self.state not in _NOT_HELD or self.wrapup_paused):
            return OperatorState.PAUSED
        dialer = self.reserved_by is not None or self.engaged_by is not None
        if dialer and self.state in (OperatorState.FREE, OperatorState.RINGING):
            return OperatorState.BUSY
        if self.wrapup_paused:
            return OperatorState.BUSY
        if self.state is OperatorState.FREE and self.wrapup_until > now:
            return OperatorState.BUSY
        if self.state is OperatorState.FREE and self.missed_until > now:
            return OperatorState.PAUSED
        return self.state

    def signed_in(self, now: float) -> bool:
        """At work: logged in (Asterisk knows the member or the device is registered) and
        not paused. Busy, ringing and wrap-up count (they are working); a pause, a rest after
        a missed offer, logged out or not yet reported by Asterisk do not."""
        return self.effective(now) in (
            OperatorState.FREE,
            OperatorState.RINGING,
            OperatorState.BUSY,
        )

    def _set(self, state: OperatorState, detail: str, at: float) -> bool:
        """Record Asterisk's word; True if the operator may have just become free."""
        if state is self.state and detail == self.detail:
            return False
        became_free = state is OperatorState.FREE and self.state is not OperatorState.FREE
        if state is not self.state:
            self.since = at
        if became_free:
            self.free_since = at
        self.state, self.detail = state, detail
        return True


OnChange = Callable[[Operator, float | None], None]  # (operator, when; None: now)


class OperatorBoard:
    """Every configured operator with its live state; the engine's only source of "who is free"."""

    def __init__(
        self,
        operators: Iterable[OperatorSettings],
        groups: dict[str, GroupSettings],
        on_change: OnChange | None = None,
    ) -> None:
        self.on_change = on_change
        self.operators: dict[str, Operator] = {}
        # held by another daemon driving this PBX too (``operator_holds.py``): not free here
        self.elsewhere: frozenset[str] = frozenset()
        self._by_member: dict[tuple[str, str], Operator] = {}
        self._by_device: dict[str, list[Operator]] = {}
        for settings in operators:
            group = groups.get(settings.group)
            queue = group.queue if group is not None else None
            operator = Operator(settings, queue)
            operator.group_wrapup_s = group.wrapup_s if group is not None else 0.0
            operator.after_call_work_s = group.after_call_work_s if group is not None else 0.0
            self.operators[settings.name] = operator
            if queue is not None:
                self._by_member[(queue, settings.member_interface)] = operator
            else:
                self._by_device.setdefault(settings.dial_device, []).append(operator)
        self.synced = False
        self.changed = asyncio.Event()  # something worth publishing (the state file)

    @classmethod
    def from_settings(
        cls, settings: Settings, on_change: OnChange | None = None, *, pbx: str | None = None
    ) -> OperatorBoard:
        """``pbx``: only the operators on that PBX (``operators[].pbx``); None: all."""
        operators = settings.operators
        if pbx is not None:
            names = tuple(ami.name for ami in settings.pbxs)
            operators = [op for op in operators if carrier(names, op.pbx or "") == pbx]
        return cls(operators, settings.groups, on_change)

    @classmethod
    def merged(cls, boards: Iterable[OperatorBoard]) -> OperatorBoard:
        """Every PBX's operators on one board, for those who look at all of them (the
        console, the API, the recorders, ``dialerd operators``). The operators are the
        PBX boards' own objects, so the view is live; the boards share its ``changed``, so
        one publisher follows them all. Each engine keeps dialing on its own board."""
        view = cls((), {})
        for board in boards:
            view.operators.update(board.operators)
            view._by_member.update(board._by_member)
            for device, operators in board._by_device.items():
                view._by_device.setdefault(device, []).extend(operators)
            if board.changed.is_set():  # not yet published: the view publishes it
                view.changed.set()
            board.changed = view.changed
        return view

    def _touched(self, operator: Operator, at: float | None) -> None:
        if self.on_change is not None:
            self.on_change(operator, at)

    def __bool__(self) -> bool:
        return bool(self.operators)

    # --- what Asterisk says ---------------------------------------------------------------
    @property
    def queues(self) -> set[str]:
        return {queue for queue, _ in self._by_member}

    @property
    def devices(self) -> list[str]:
        """Devices followed by device state (operators whose group has no queue)."""
        return list(self._by_device)

    def invalidate(self, why: str, at: float) -> None:
        """The link to Asterisk dropped (or was just made): nothing is known until it says so."""
        self.synced = False
        for operator in self.operators.values():
            if operator.queue is not None:  # QueueStatus will say whether the pause took
                operator.held_pause = None
            operator._set(OperatorState.UNKNOWN, why, at)
            self._touched(operator, at)
        self.changed.set()

    def apply_member(self, event: MemberState) -> bool:
        """A queue member's state; True if an operator may have become free."""
        operator = self._by_member.get((event.queue, event.interface))
        if operator is None:
            return False
        state, detail = _member_state(event)
        if event.last_call > operator.ready_at:
            operator.queue_wrapup_until = event.last_call + max(
                event.wrapup_s, operator.group_wrapup_s
            )
        operator.asterisk_reason = event.paused_reason if event.paused else ""
        if event.paused and not event.removed:
            operator.held_pause = None  # Asterisk's word has arrived: it holds the pause now
        woke = operator._set(state, detail, event.at)
        self._touched(operator, event.at)
        self.changed.set()
        return woke and operator.state is OperatorState.FREE

    def apply_device(self, event: DeviceState) -> bool:
        operators = self._by_device.get(event.device, [])
        state, detail = _DEVICE_STATE.get(
            event.state, (OperatorState.UNKNOWN, f"device state {event.state}")
        )
        woke = [operator._set(state, detail, event.at) for operator in operators]
        for operator in operators:
            self._touched(operator, event.at)
        if operators:
            self.changed.set()
        return any(woke) and state is OperatorState.FREE

    def apply_snapshot(
        self, members: list[MemberState], devices: list[DeviceState], at: float
    ) -> None:
        """The full picture after a (re)connect: QueueStatus members and device states.

        A configured operator missing from its queue's member list is not logged in.
        """
        listed = set()
        for member in members:
            self.apply_member(member)
            listed.add((member.queue, member.interface))
        for key, operator in self._by_member.items():
            if key not in listed:
                operator._set(
                    OperatorState.UNAVAILABLE, f"not a member of queue {key[0]} (logged out)", at
                )
                self._touched(operator, at)
        for device in devices:
            self.apply_device(device)
        self.synced = True
        self.changed.set()

    # --- what the dialer does -------------------------------------------------------------
    def name_of(self, queue: str, interface: str) -> str | None:
        """The operator who is this queue member, if configured."""
        operator = self._by_member.get((queue, interface))
        return None if operator is None else operator.name

    def free(self, group: str, now: float) -> list[Operator]:
        """Free operators of a group, the longest idle first (fair, and the likeliest at their desk)."""
        found = [
            op
            for op in self.operators.values()
            if op.group == group and op.is_free(now) and op.name not in self.elsewhere
        ]
        return sorted(found, key=lambda op: op.free_since or 0.0)

    def outlook(self, group: str, now: float) -> tuple[BusyOperator, ...]:
        """The group's operators in talk or wrap-up, with when each may be free
        (``Operator.outlook``)."""
        found = (op.outlook(now) for op in self.operators.values() if op.group == group)
        return tuple(busy for busy in found if busy is not None)

    def anyone_signed_in(self, now: float) -> bool:
        """Some operator is at work (``Operator.signed_in``): without one nobody is dialed."""
        return any(op.signed_in(now) for op in self.operators.values())

    def free_count(self, now: float) -> int:
        return sum(op.is_free(now) for op in self.operators.values())

    def reserve(self, name: str, call: CurrentCall) -> None:
        operator = self.operators[name]
        operator.reserved_by, operator.current = call.call_id, call
        self._touched(operator, call.since)
        self.changed.set()

    def engage(self, queue: str, interface: str, call: CurrentCall) -> str | None:
        """An answered customer of ours was connected to this member; its operator's name."""
        operator = self._by_member.get((queue, interface))
        if operator is None:
            return None
        operator.engaged_by, operator.current = call.call_id, call
        self._touched(operator, call.since)
        self.changed.set()
        return operator.name

    def hold(self, name: str, call: CurrentCall) -> None:
        """Engaged by one of our calls, by name (a reload carrying a connected call over)."""
        operator = self.operators[name]
        operator.engaged_by, operator.current = call.call_id, call
        self._touched(operator, call.since)
        self.changed.set()

    def release(self, call_id: str) -> bool:
        """Our call ended: the operators it held are Asterisk's word again."""
        released = False
        for operator in self.operators.values():
            if call_id in (operator.reserved_by, operator.engaged_by):
                operator.reserved_by = operator.engaged_by = None
                operator.current = None
                released = True
                self._touched(operator, None)
        if released:
            self.changed.set()
        return released

    def next_release(self, now: float) -> float | None:
        """When the next operator resting or in wrap-up may take a call (None: nobody is)."""
        ends = [
            end
            for op in self.operators.values()
            for end in (op.missed_until, op.wrapup_until)
            if end > now and op.state is OperatorState.FREE
        ]
        return min(ends, default=None)

    def hold_pause(self, name: str, reason: str, at: float) -> None:
        """The dialer pauses this operator: at once, ahead of Asterisk's word (see above)."""
        operator = self.operators[name]
        if operator.held_pause is None:
            operator.held_since = at
        operator.held_pause = reason
        self._touched(operator, at)
        self.changed.set()

    def drop_pause(self, name: str, at: float) -> bool:
        """The dialer's own pause ends (a resume, or a QueuePause that failed); True if the
        operator may have become free."""
        operator = self.operators[name]
        if operator.held_pause is None:
            return False
        operator.held_pause = None
        self._touched(operator, at)
        self.changed.set()
        return operator.is_free(at)

    def ready(self, name: str, now: float) -> bool:
        """The operator ends Asterisk's queue wrap-up now (where the dialer may count them
        free before Asterisk does); True if they may have become free."""
        operator = self.operators[name]
        operator.ready_at = now
        if operator.queue_wrapup_until <= now:
            return False
        operator.queue_wrapup_until = now
        self._touched(operator, now)
        self.changed.set()
        return operator.is_free(now)

    def begin_after_call(self, name: str, after: AfterCall, at: float) -> None:
        """The dialer's wrap-up after ``after.call_id`` starts (``dialer.wrapup``)."""
        operator = self.operators[name]
        operator.after_call = after
        self._touched(operator, at)
        self.changed.set()

    def end_after_call(self, name: str, at: float) -> bool:
        """The dialer's wrap-up ends; True if the operator may have become free."""
        operator = self.operators[name]
        if operator.after_call is None:
            return False
        operator.after_call = None
        self._touched(operator, at)
        self.changed.set()
        return operator.is_free(at)

    def missed(self, name: str, until: float) -> None:
        if (operator := self.operators.get(name)) is not None:
            operator.missed_until = until
            self._touched(operator, None)
            self.changed.set()

    # --- for people -----------------------------------------------------------------------
    def snapshot(self, now: float, *, connected: Mapping[str, bool]) -> dict[str, Any]:
        """``connected``: each PBX's AMI login by the PBX's name. ``ami_connected`` means
        every PBX, ``pbx_connected`` says which one is not (``dialerd operators``)."""
        return {
            "written_at": now,
            "pid": os.getpid(),
            "ami_connected": all(connected.values()),
            "pbx_connected": dict(connected),
            "synced": self.synced,
            "operators": [_describe(op, now) for op in self.operators.values()],
        }


def _member_state(event: MemberState) -> tuple[OperatorState, str]:
    if event.removed:
        return OperatorState.UNAVAILABLE, f"logged out of queue {event.queue}"
    if event.paused:
        reason = f": {event.paused_reason}" if event.paused_reason else ""
        return OperatorState.PAUSED, f"paused in queue {event.queue}{reason}"
    state, detail = _MEMBER_STATUS.get(
        event.status, (OperatorState.UNKNOWN, f"status {event.status}")
    )
    if state is OperatorState.FREE and event.in_call:
        return OperatorState.BUSY, "on a queue call"
    return state, detail


def _describe(op: Operator, now: float) -> dict[str, Any]:
    shown = op.state.value
    detail = op.detail
    since = op.since
    after = op.after_call
    if op.held_pause is not None and (op.state not in _NOT_HELD or op.wrapup_paused):
        where = "waiting for Asterisk's QueuePause" if op.queue else "no queue: kept by the dialer"
        shown, detail = OperatorState.PAUSED.value, f"paused ({where}): {op.held_pause}"
        since = op.held_since
    elif op.state is OperatorState.FREE and op.reserved_by is not None:
        shown, detail = OperatorState.RINGING.value, "rung by the dialer (agent_first)"
    elif op.state is OperatorState.FREE and op.engaged_by is not None:
        shown, detail = OperatorState.BUSY.value, "connected to a dialer call"
    elif (op.state is OperatorState.FREE or op.wrapup_paused) and after and after.until > now:
        where = f" ({op.detail})" if op.wrapup_paused else ""
        shown, detail = "wrap-up", f"after a dialer call, {after.until - now:.0f} s left{where}"
    elif op.wrapup_paused:
        shown, detail = "wrap-up", f"{op.detail} (ended: the dialer is taking it back)"
    elif op.state is OperatorState.FREE and op.missed_until > now:
        shown, detail = "resting", "missed a dialer call; not offered another one yet"
    elif op.state is OperatorState.FREE and op.queue_wrapup_until > now:
        left_s = op.queue_wrapup_until - now
        shown, detail = "wrap-up", f"after a queue call, {left_s:.0f} s left"
    current = op.current
    return {
        "name": op.name,
        "group": op.group,
        "queue": op.queue,
        "device": op.settings.dial_device,
        "interface": op.settings.member_interface,
        "state": shown,
        "detail": detail,
        "pause_reason": op.pause_reason,
        "since": since,
        "current_call": None
        if current is None
        else {
            "lead_id": current.lead_id,
            "call_id": current.call_id,
            "mode": current.mode,
            "since": current.since,
        },
    }


def state_file(settings: Settings) -> Path:
    """Where the daemon publishes the board for ``dialerd operators``: next to the database."""
    path = settings.store.path
    return path.with_name(path.name + ".operators.json")


async def publish(
    board_of: Callable[[], OperatorBoard],
    path: Path,
    connected: Callable[[], Mapping[str, bool]],
    clock: Any,
) -> None:
    """Write the board to ``path`` (atomically) whenever it changed, at most twice a second.

    A PBX's AMI login or loss changes no operator on a PBX without operators, so the engine
    marks the board changed for it (``connected`` gives each PBX's link, by name): the loop
    sleeps until something changed, and an idle daemon spends nothing here.

    ``board_of`` gives the current board: a reload may replace it (and sets the old one's
    ``changed`` so this loop moves on to the new one).
    """
    while True:
        board = board_of()
        await board.changed.wait()
        board.changed.clear()
        if board is not board_of() or not board:
            continue
        data = board.snapshot(clock(), connected=dict(connected()))
        try:
            _write_atomically(path, json.dumps(data, indent=1))
        except OSError as exc:
            log.warning("operators_state_not_written", path=str(path), error=str(exc))
        await asyncio.sleep(0.5)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_state_file(path: Path) -> dict[str, Any] | None:
    """The last snapshot a daemon wrote, or None if there is none (or it is unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    return None
