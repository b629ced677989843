"""Asterisk's own account of every customer call, kept across Asterisk restarts: the fault suite's witness.

A plain asyncio AMI client, like ``observer.AmiObserver`` and independent of the daemon
(not panoramisk, not the daemon's adapter), that follows each customer call the dialer
originates -- ``Local/<digits>@customers``, whose ``;1`` half has ``Uniqueid`` = the
Originate's ``ChannelId`` = the attempt's ``call_id`` -- from ``Newchannel`` to ``Hangup``:
number, creation, answer (the first ``Newstate Up`` of either half: the ``;1`` half only
comes up when the customer's ``;2`` half answers), end and cause (the ``;2`` half's, which
carries the detail: 17 busy, 19 no answer, 34 congestion; DESIGN.md section 3).

When the connection drops (Asterisk restarting or stopped) it reconnects every
``retry_s`` and keeps counting. Events of the blind window are lost: right after each
login it lists the channels (``CoreShowChannels``); a call it was following that is no
longer there ended unseen, somewhere inside the window (``CustomerCall.end_seen`` False,
``ended_at`` = the window's start, ``ended_by`` = the window's end). Nothing is dialed
while Asterisk is down, so no call can start and end unseen.

Times are wall-clock ``time.time()``, the daemon's clock, so they compare with the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Frame = dict[str, str]

_CUSTOMER = re.compile(r"^Local/(?P<number>[^@]+)@customers-[0-9a-f]+;(?P<half>[12])$")
_LOGGED = re.compile(
    r"customer (?P<number>\d+): outcome \S+ -- lead=\S* call=(?P<call_id>[^;\s\")]+);2"
)


@dataclass
class CustomerCall:
    """One customer channel (the Local channel pair) as Asterisk reported it."""

    call_id: str  # Uniqueid of the ;1 half = attempts.call_id
    number: str  # digits, as dialed (E.164 without '+')
    created_at: float
    answered_at: float | None = None
    ended_at: float | None = None  # first Hangup of either half (or the blind window's start)
    ended_by: float | None = None  # an unseen end happened at the latest then
    cause: int | None = None  # the ;2 half's Hangup cause (the ;1 half's if that is all there is)
    end_seen: bool = False  # False with ended_at set: it vanished while the watch was blind
    answer_seen: bool = False  # answered_at from a Newstate event, not guessed from a listing
    states: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def talk_s(self) -> float | None:
        """Answer to hangup, when both were seen as they happened."""
        if self.answered_at is None or self.ended_at is None:
            return None
        if not (self.answer_seen and self.end_seen):
            return None
        return max(0.0, self.ended_at - self.answered_at)


@dataclass
class CallWatch:
    host: str
    port: int
    username: str
    secret: str
    retry_s: float = 0.1
    calls: dict[str, CustomerCall] = field(default_factory=dict)
    blind: list[tuple[float, float | None]] = field(default_factory=list)  # (from, until)
    connects: int = 0
    logins: list[float] = field(default_factory=list)
    booted: list[float] = field(default_factory=list)  # FullyBooted: after a login, or at boot
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _writer: asyncio.StreamWriter | None = None
    _pending: dict[str, tuple[asyncio.Future[list[Frame]], list[Frame], bool]] = field(
        default_factory=dict
    )
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _closing: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, instance: Any, **kwargs: Any) -> CallWatch:
        """For an ``AsteriskInstance`` (support.asterisk): its observers' AMI user, which
        gets every event (Newchannel, Newstate) whatever the daemon's user filters out."""
        from support.asterisk import OBSERVER_USER

        return cls(instance.host, instance.port, OBSERVER_USER, instance.secret, **kwargs)

    async def __aenter__(self) -> CallWatch:
        self._task = asyncio.create_task(self._run(), name="callwatch")
        try:
            async with asyncio.timeout(15):
                await self._connected.wait()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close_writer()

    # --- what was seen --------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def live(self) -> list[CustomerCall]:
        return [call for call in self.calls.values() if not call.ended]

    def by_number(self) -> dict[str, list[CustomerCall]]:
        found: dict[str, list[CustomerCall]] = {}
        for call in sorted(self.calls.values(), key=lambda c: c.created_at):
            found.setdefault(call.number, []).append(call)
        return found

    def created_after(self, at: float) -> list[CustomerCall]:
        return sorted(
            (c for c in self.calls.values() if c.created_at > at), key=lambda c: c.created_at
        )

    def booted_after(self, at: float) -> float | None:
        """When Asterisk first said FullyBooted after ``at`` (a login to a booted Asterisk
        hears it at once, so this is at most ``retry_s`` late)."""
        return next((b for b in self.booted if b > at), None)

    def was_blind(self, start: float, end: float) -> bool:
        """Did the watch miss events somewhere in [start, end]?"""
        now = time.time()
        return any(b0 <= end and (b1 or now) >= start for b0, b1 in self.blind)

    async def wait_for(self, predicate: Callable[[], bool], within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {within_s} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.25)):
                    await self._changed.wait()

    async def wait_connected(self, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            await self._connected.wait()

    # --- the connection -------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._session()
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                pass
            if self._connected.is_set():
                self._connected.clear()
                self.blind.append((time.time(), None))
            self._close_writer()
            for future, _, _ in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("AMI connection lost"))
            self._pending.clear()
            await asyncio.sleep(self.retry_s)

    async def _session(self) -> None:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self._writer = writer
            await reader.readline()  # banner
        reading = asyncio.create_task(self._read(reader), name="callwatch-read")
        try:
            async with asyncio.timeout(5):
                reply = await self._action(
                    {"Action": "Login", "Username": self.username, "Secret": self.secret}
                )
            if reply[0].get("Response") != "Success":
                raise ConnectionError(f"login refused: {reply[0].get('Message')}")
            async with asyncio.timeout(10):
                listed = await self._action({"Action": "CoreShowChannels"}, as_list=True)
            self._resync(listed)
            self.connects += 1
            self.logins.append(time.time())
            self._connected.set()
            self._changed.set()
            await reading  # until the connection ends
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    def _resync(self, listed: list[Frame]) -> None:
        """After a (re)login: calls gone while blind ended unseen; live ones are known."""
        now = time.time()
        alive: set[str] = set()
        for frame in listed:
            if frame.get("Event") != "CoreShowChannel":
                continue
            match = _CUSTOMER.match(frame.get("Channel", ""))
            if match is None:
                continue
            call_id = frame.get("Uniqueid", "").split(";")[0]
            alive.add(call_id)
            if call_id not in self.calls:  # created while blind: its age from the listing
                created = now - _seconds(frame.get("Duration", ""))
                self.calls[call_id] = CustomerCall(call_id, match["number"], created)
            if frame.get("ChannelStateDesc") == "Up" and not self.calls[call_id].answered:
                self.calls[call_id].answered_at = now  # at the latest; answer_seen stays False
        window_start = self.blind[-1][0] if self.blind else now
        for call in self.calls.values():
            if not call.ended and call.call_id not in alive:
                call.ended_at, call.ended_by, call.end_seen = window_start, now, False
        if self.blind and self.blind[-1][1] is None:
            self.blind[-1] = (self.blind[-1][0], now)

    async def _action(self, fields: Frame, *, as_list: bool = False) -> list[Frame]:
        assert self._writer is not None
        action_id = f"watch-{next(self._ids)}"
        future: asyncio.Future[list[Frame]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = (future, [], as_list)
        lines = [f"ActionID: {action_id}"] + [f"{k}: {v}" for k, v in fields.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await future

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frame: Frame = {}
        while True:
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                frame.setdefault(key.strip(), value.strip())
                continue
            if frame:
                self._deliver(frame)
            frame = {}

    def _deliver(self, frame: Frame) -> None:
        action_id = frame.get("ActionID", "")
        pending = self._pending.get(action_id)
        if pending is not None:
            future, collected, as_list = pending
            collected.append(frame)
            if (
                not as_list
                or frame.get("EventList") == "Complete"
                or frame.get("Response") == "Error"
            ):
                self._pending.pop(action_id, None)
                if not future.done():
                    future.set_result(collected)
            return
        name = frame.get("Event")
        if name in ("Newchannel", "Newstate", "Hangup"):
            self._on_channel_event(name, frame)
        elif name == "FullyBooted":
            self.booted.append(time.time())
            self._changed.set()

    def _on_channel_event(self, name: str, frame: Frame) -> None:
        match = _CUSTOMER.match(frame.get("Channel", ""))
        if match is None:
            return
        now = time.time()
        call_id = frame.get("Uniqueid", "").split(";")[0]
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = CustomerCall(call_id, match["number"], now)
        state = frame.get("ChannelStateDesc", "")
        if name == "Newstate":
            call.states.append(f"{match['half']}:{state}")
            if state == "Up" and not call.answer_seen:
                call.answered_at, call.answer_seen = now, True
        elif name == "Hangup":
            if call.ended_at is None or not call.end_seen:
                call.ended_at, call.ended_by, call.end_seen = now, now, True
            cause = _int(frame.get("Cause"))
            if match["half"] == "2" or call.cause is None:
                call.cause = cause
        self._changed.set()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def calls_in_log(path: Path) -> dict[str, str]:
    """Asterisk's durable record: call_id -> number of every customer channel its full log
    shows entering ``[customers]`` (the sandbox dialplan NoOps ``call=${UNIQUEID}``).

    It survives what AMI loses: a call that started and ended while the watch was
    reconnecting is still here. A refused Originate created no channel and is not.
    """
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    return {m["call_id"]: m["number"] for m in _LOGGED.finditer(text)}


def _seconds(duration: str) -> float:
    """``CoreShowChannel`` ``Duration`` (``HH:MM:SS``) in seconds; 0 if unreadable."""
    try:
        hours, minutes, seconds = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
