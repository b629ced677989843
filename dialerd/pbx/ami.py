"""The Asterisk Manager Interface adapter: the only module that knows panoramisk.

Frames become typed events in ``dialerd.pbx.parse``; the Originate and the event filter
are composed in ``dialerd.pbx.actions``. This module owns the socket and what panoramisk
gets wrong for a dialer (STYLE.md, lesson 5):
- reconnects with exponential backoff, one fresh panoramisk Manager per connection,
  so no action of a dead connection is ever re-sent (panoramisk re-sends pending
  actions after a reconnect, which for Originate dials a customer twice);
- correlation: an Originate's response lands in its action future; a waiter task
  turns it into a typed ``OriginateResult``, or an ``OriginateLost`` when the
  connection drops first, and the engine reconciles by ChannelId;
- events go into one queue the engine owns; callbacks never start tasks;
- every value is checked for control characters before anything is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import structlog
from panoramisk import Manager
from panoramisk.message import Message

from dialerd.config import AmiSettings
from dialerd.pbx import parse
from dialerd.pbx.actions import (
    OriginateRequest,
    QueuePauseRequest,
    RedirectRequest,
    SpyRequest,
    event_filters,
)
from dialerd.pbx.events import (
    CallEvidence,
    DeviceState,
    LiveChannel,
    MemberState,
    OriginateLost,
    OriginateRefused,
    OriginateResult,
    PbxConnected,
    PbxDisconnected,
    PbxEvent,
    PbxRefusing,
)
from dialerd.policy.ami_safety import check_ami_value

log = structlog.get_logger(__name__)

_NEVER = 10**9  # panoramisk's own pinger is replaced by ours, which checks the answer
EVIDENCE_FAMILY = "dialerd"  # AstDB family the [dialer-hangup] handler writes to


class PbxUnavailable(Exception):
    """Not connected and logged in: nothing was sent."""


class ActionRefused(Exception):
    """Asterisk answered an action with ``Response: Error``; the text is its ``Message``
    (for a QueuePause of an interface in no such queue: "Interface not found")."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action} refused by Asterisk: {message}")
        self.action = action
        self.message = message


class AmiLoginFailed(Exception):
    """Asterisk refused the login, or never finished booting after it."""


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager minus its own reconnect loop: the adapter owns reconnects."""

    pinger: asyncio.TimerHandle | None
    _names_checked = -1  # how many patterns were registered when ``_plain_names`` was set
    _plain_names = False

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        """panoramisk's login callback, minus its traceback when the login never completed
        (the connection closed first, or the adapter gave up waiting)."""
        if future.cancelled() or future.exception() is not None:
            self.authenticated_future = None
            self.authenticated = False
            return False
        return bool(super().login(future))

    def dispatch(self, event: Message) -> list[str]:
        """panoramisk's dispatch by name: it matches every event against every registered
        pattern's regex (16 here, for each event); ours are plain names, so one dict lookup
        does. A pattern with wildcards still goes the regex way."""
        if len(self.callbacks) != self._names_checked:  # registered since: look again
            self._names_checked = len(self.callbacks)
            self._plain_names = not any(c in p for p in self.callbacks for c in "*?[")
        if not self._plain_names:
            return list(super().dispatch(event))
        name = event.get("Event", "")
        callbacks = self.callbacks.get(name)
        if not callbacks:
            return []
        event.manager = self
        for callback in callbacks:
            result = callback(self, event)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                asyncio.ensure_future(result)  # panoramisk's own FullyBooted handler is async
        return [name]

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self.on_disconnect(self, exc)


# how long after its ring timeout an Originate's answer may still come before the call is
# told lost (and asked of Asterisk by a reconcile)
ORIGINATE_MARGIN_S = 15.0


class AmiPbx:
    """A logged-in AMI session that stays up: connect, log in, reconnect with backoff."""

    def __init__(
        self,
        settings: AmiSettings,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        on_originate_sent: Callable[[str, float], None] | None = None,
        named: bool = False,
    ) -> None:
        """``named``: one of several PBXs, so every line this session logs names it (its
        ``name``, ``host`` and ``port``), whichever task it is logged from; one PBX logs as
        it always did."""
        self._settings = settings
        self._log = (
            log.bind(pbx=settings.name, host=settings.host, port=settings.port) if named else log
        )
        self._secret = secret
        self._clock = clock
        self._on_originate_sent = on_originate_sent
        self.events: asyncio.Queue[PbxEvent] = asyncio.Queue()
        self.connected = asyncio.Event()
        # Set once the first connect-and-login has finished, either way: readiness (sd_notify)
        # must not wait forever for an Asterisk that is down, the retry loop keeps trying.
        self.attempted = asyncio.Event()
        self._manager: _Manager | None = None
        self._lost = asyncio.Event()
        self._waiters: dict[str, _OriginateWait] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._shutting_down = False
        self.connects = 0

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        waiters, self._waiters = list(self._waiters.values()), {}
        for waiter in waiters:
            waiter.cancel()
        self._drop_manager()

    async def __aenter__(self) -> AmiPbx:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- actions ------------------------------------------------------------------------
    def originate(self, request: OriginateRequest) -> float:
        """Write the Originate and return when it was written; the result comes as an event.

        Raises PbxUnavailable (nothing sent) when not logged in, UnsafeAmiValue for bad input.
        """
        action = request.to_action()
        future = self._session().send_action(action)
        sent_at = self._clock()
        if self._on_originate_sent is not None:
            self._on_originate_sent(request.call_id, sent_at)
        limit = request.timeout_s + ORIGINATE_MARGIN_S
        call_id = request.call_id
        timer = asyncio.get_running_loop().call_later(limit, self._originate_timed_out, call_id)
        self._waiters[call_id] = _OriginateWait(future, timer)
        future.add_done_callback(lambda done: self._originate_answered(call_id, done))
        return sent_at

    async def queue_pause(self, request: QueuePauseRequest) -> None:
        """Pause or resume a queue member and wait for Asterisk's answer.

        Raises PbxUnavailable (nothing sent) when not logged in, UnsafeAmiValue for bad
        input, ActionRefused when Asterisk says no, TimeoutError when it does not answer
        within ``login_timeout_s`` (the pause may or may not be set: the member's next
        QueueMemberPause, or the QueueStatus after a reconnect, tells). The member's new
        state arrives as a ``QueueMemberPause`` event like any other.
        """
        await self._expect_success("QueuePause", request.to_action())

    async def spy(self, request: SpyRequest) -> OriginateResult | OriginateRefused:
        """Ring the supervisor's phone into ChanSpy and wait until it answers (or does not).

        Not the engine's business: the OriginateResponse goes to this action's future, never
        to the event queue. Raises PbxUnavailable, UnsafeAmiValue, TimeoutError.
        """
        action = request.to_action()
        manager = self._session()
        async with asyncio.timeout(request.timeout_s + self._settings.login_timeout_s):
            reply = await manager.send_action(action)
        return parse.originate_answer(request.call_id, reply, self._clock())

    async def redirect(self, uniqueid: str, context: str, exten: str) -> None:
        """Send the live channel ``uniqueid`` (a call id) to ``context``/``exten``.

        Raises ActionRefused when no such channel is up (the call has ended) or Asterisk
        says no, PbxUnavailable, UnsafeAmiValue, TimeoutError.
        """
        found = [c for c in await self.live_channels() if c.uniqueid == uniqueid and c.channel]
        if not found:
            raise ActionRefused("Redirect", "the call has ended")
        action = RedirectRequest(found[0].channel, context, exten).to_action()
        await self._expect_success("Redirect", action)

    async def _expect_success(self, name: str, action: dict[str, str]) -> None:
        """Send ``action`` and wait for its reply; ActionRefused unless Asterisk says Success."""
        manager = self._session()
        async with asyncio.timeout(self._settings.login_timeout_s):
            reply = await manager.send_action(action)
        first = reply[0] if isinstance(reply, list) and reply else reply
        if not isinstance(first, Message) or first.get("Response") != "Success":
            message = first.get("Message") if isinstance(first, Message) else None
            raise ActionRefused(name, str(message or "no answer"))

    async def live_channels(self) -> list[LiveChannel]:
        """Every channel Asterisk has now (CoreShowChannels)."""
        return parse.live_channels(await self._listing("CoreShowChannels"))

    async def queue_members(self) -> list[MemberState]:
        """Every member of every queue now (QueueStatus): the operators' state after a (re)connect."""
        replies = await self._listing("QueueStatus")
        return parse.queue_members(replies, self._clock())

    async def device_states(self, devices: list[str]) -> list[DeviceState]:
        """The current state of each device (``DEVICE_STATE()``), for operators outside queues."""
        manager = self._session()

        async def one(device: str) -> DeviceState:
            check_ami_value(device)
            reply = await manager.send_action(
                {"Action": "Getvar", "Variable": f"DEVICE_STATE({device})"}
            )
            value = str(reply.get("Value", "") or "") if reply.success else ""
            return DeviceState(device, value or "UNKNOWN", self._clock())

        async with asyncio.timeout(self._settings.login_timeout_s):
            return list(await asyncio.gather(*(one(device) for device in devices)))

    # --- internals ----------------------------------------------------------------------
    def _session(self) -> _Manager:
        """The logged-in session, or PbxUnavailable: nothing is sent on any other."""
        manager = self._manager
        if manager is None or not self.connected.is_set():
            raise PbxUnavailable("AMI not connected")
        return manager

    async def _listing(self, action: str) -> list[Message]:
        """An action answered by a list of events (CoreShowChannels, QueueStatus)."""
        manager = self._session()
        async with asyncio.timeout(self._settings.login_timeout_s):
            replies = await manager.send_action({"Action": action}, as_list=True)
        if isinstance(replies, Message):
            replies = [replies]
        if replies and replies[0].get("Response") == "Error":
            raise PbxUnavailable(f"{action} refused: {replies[0].get('Message')}")
        return list(replies)

    def _originate_answered(self, call_id: str, future: asyncio.Future[Any]) -> None:
        """The Originate's answer came (its future is done): told to the engine as an event.

        A callback and a timer per call, not a task (a task, its timeout and its steps were a
        noticeable share of the daemon's CPU per call). A future cancelled or failed (the
        connection went) tells nothing here: the link's loss tells every call in flight."""
        waiter = self._waiters.pop(call_id, None)
        if waiter is None:
            return  # timed out, or the connection was lost: already told
        waiter.timer.cancel()
        if future.cancelled() or future.exception() is not None:
            return
        answer = parse.originate_answer(call_id, future.result(), self._clock())
        if isinstance(answer, OriginateRefused):  # the action itself was refused
            self._log.warning("originate_refused", call_id=call_id, message=answer.message)
            if "shutting down" in answer.message.lower():
                self._refusing(answer.message)
        self.events.put_nowait(answer)

    def _originate_timed_out(self, call_id: str) -> None:
        waiter = self._waiters.pop(call_id, None)
        if waiter is None:
            return
        waiter.cancel()
        self.events.put_nowait(
            OriginateLost(call_id, "no OriginateResponse in time", self._clock())
        )

    def _refusing(self, why: str) -> None:
        """Asterisk is going down: no Originate until it is back (or the shutdown is off)."""
        if not self.connected.is_set():
            return
        self.connected.clear()
        self._shutting_down = True
        self._log.warning("ami_pbx_refusing", why=why)
        self.events.put_nowait(PbxRefusing(why, self._clock()))

    # --- evidence of calls that ended unobserved ----------------------------------------
    async def call_evidence(self, call_id: str) -> CallEvidence | None:
        """What the ``dialer-hangup`` handler wrote for this call (AstDB), or None."""
        manager = self._session()
        check_ami_value(call_id)
        async with asyncio.timeout(self._settings.login_timeout_s):
            # as_list decided by panoramisk: a list when found ("Result will follow"), the one
            # error message when not (as_list=True would wait for a Complete that never comes)
            replies = await manager.send_action(
                {"Action": "DBGet", "Family": EVIDENCE_FAMILY, "Key": call_id}
            )
        return parse.evidence(call_id, [replies] if isinstance(replies, Message) else replies)

    def forget_evidence(self, call_id: str) -> None:
        """Delete the call's AstDB entry once its attempt is recorded (no answer awaited).

        One per call, and nobody waits for its answer: written as it goes on the wire, the
        answer read and dropped (no action of ours has its ActionID). Through panoramisk it
        kept an action, a future and a callback per call for nothing."""
        manager = self._manager
        if manager is None or not self.connected.is_set():
            return
        check_ami_value(call_id)
        manager.protocol.transport.write(
            f"Action: DBDel\r\nActionID: forget-{call_id}\r\nFamily: {EVIDENCE_FAMILY}\r\n"
            f"Key: {call_id}\r\n\r\n".encode("ascii")
        )

    async def _supervise(self) -> None:
        delay = self._settings.reconnect_initial_s
        while not self._closing:
            try:
                manager = await self._connect()
            except (OSError, TimeoutError, AmiLoginFailed) as exc:
                self._log.warning(
                    "ami_connect_failed", error=str(exc) or type(exc).__name__, retry_in_s=delay
                )
                self._drop_manager()
                self.attempted.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.reconnect_max_s)
                continue
            delay = self._settings.reconnect_initial_s
            self.connects += 1
            self._log.info("ami_connected", host=self._settings.host, port=self._settings.port)
            self.connected.set()
            self.attempted.set()
            self.events.put_nowait(PbxConnected(self._clock()))
            why = await self._watch(manager)
            self.connected.clear()
            self._drop_manager()
            waiters, self._waiters = self._waiters, {}
            for call_id, waiter in waiters.items():
                waiter.cancel()
                self.events.put_nowait(
                    OriginateLost(call_id, f"AMI connection lost ({why})", self._clock())
                )
            self._log.warning("ami_disconnected", why=why)
            self.events.put_nowait(PbxDisconnected(why, self._clock()))

    async def _connect(self) -> _Manager:
        self._lost = asyncio.Event()
        lost = self._lost
        manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=self._settings.host,
            port=self._settings.port,
            username=self._settings.username,
            secret=self._secret,
            events="on",
            ping_delay=_NEVER,
            ping_interval=_NEVER,
            forgetable_actions=(),
            log=logging.getLogger("dialerd.pbx.panoramisk"),
            on_disconnect=lambda _manager, _exc: lost.set(),
        )
        manager.forgetable_actions = _AllActions()
        for name in parse.LISTENED:  # calls, operators and the legs around them, missed calls
            manager.register_event(name, self._on_event)
        booted = asyncio.Event()
        manager.register_event("FullyBooted", lambda _manager, _message: booted.set())
        manager.register_event("Shutdown", self._on_shutdown)
        self._manager = manager
        self._shutting_down = False
        async with asyncio.timeout(self._settings.login_timeout_s):
            await manager.connect()
            # panoramisk sends Login from the connect task's done callback, which has run by now
            if manager.authenticated_future is None:
                raise AmiLoginFailed("AMI login was not sent")
            reply = await _unless_lost(manager.authenticated_future, lost)
        if not reply.success:
            raise AmiLoginFailed(f"AMI login refused: {reply.get('Message', 'no message')}")
        if self._settings.event_filter:
            await self._filter_events(manager)
        # An Asterisk still booting takes a login before its dialplan and channel drivers are
        # loaded, and every Originate then fails (Reason 0) and costs the lead an attempt.
        # Asterisk says FullyBooted right after the login, or when the boot completes.
        try:
            async with asyncio.timeout(self._settings.login_timeout_s):
                await _unless_lost(asyncio.ensure_future(booted.wait()), lost)
        except TimeoutError:
            raise AmiLoginFailed("Asterisk has not finished booting (no FullyBooted)") from None
        return manager

    async def _filter_events(self, manager: _Manager) -> None:
        """Ask Asterisk for the events something here listens to, not all ~40 a call makes.

        Built from the registered callbacks (plus OriginateResponse, which goes to its
        action's future), so a newly registered event is never filtered out. Answers to
        actions (CoreShowChannels, QueueStatus lists, DBGet) are not filtered by Asterisk.
        The shipped manager.conf filters the same names; this covers a PBX whose
        manager.conf does not, and what is not asked for is dropped by ``dispatch`` anyway.
        """
        async with asyncio.timeout(self._settings.login_timeout_s):
            for action in event_filters(manager.callbacks):
                reply = await manager.send_action(action)
                if not reply.success:  # an old Asterisk or no permission: receive everything
                    self._log.warning("ami_event_filter_refused", message=reply.get("Message"))
                    return

    async def _watch(self, manager: _Manager) -> str:
        """Wait until the connection dies; a Ping without answer counts as dead."""
        lost_wait = asyncio.create_task(self._lost.wait())
        try:
            while True:
                interval = self._settings.ping_interval_s
                if self._shutting_down:  # look often: the shutdown may be called off
                    interval = min(interval, 1.0)
                done, _ = await asyncio.wait({lost_wait}, timeout=interval)
                if done:
                    return "connection closed"
                try:
                    async with asyncio.timeout(self._settings.login_timeout_s):
                        pong = await manager.send_action({"Action": "Ping"})
                except TimeoutError:
                    return "ping unanswered"
                if self._shutting_down and isinstance(pong, Message) and pong.success:
                    # Asterisk answers every action with an error while it shuts down
                    self._shutting_down = False
                    self._log.info("ami_pbx_accepting", why="shutdown called off")
                    self.connected.set()
                    self.events.put_nowait(PbxConnected(self._clock()))
        finally:
            lost_wait.cancel()

    def _drop_manager(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    def _on_shutdown(self, _manager: Manager, message: Message) -> None:
        restart = str(message.get("Restart", "")).lower() == "true"
        self._refusing("Asterisk is restarting" if restart else "Asterisk is shutting down")

    def _on_event(self, _manager: Manager, message: Message) -> None:
        event = parse.parse(message, self._clock())
        if event is not None:
            self.events.put_nowait(event)


async def _unless_lost(future: asyncio.Future[Any], lost: asyncio.Event) -> Any:
    """Await ``future``, failing at once if the connection closes first (no login timeout)."""
    lost_wait = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({future, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
        if future.done():
            return future.result()
        raise ConnectionResetError("AMI connection closed before the login completed")
    finally:
        lost_wait.cancel()
        if not future.done():
            future.cancel()


class _OriginateWait(NamedTuple):
    """An Originate waiting for its OriginateResponse: panoramisk's future, and the timer
    that tells the call lost if none comes."""

    future: asyncio.Future[Any]
    timer: asyncio.TimerHandle

    def cancel(self) -> None:
        self.timer.cancel()
        self.future.cancel()


class _AllActions(tuple[str, ...]):
    """``in`` is always true: panoramisk must never queue any action for re-sending."""

    def __contains__(self, _item: object) -> bool:
        return True
