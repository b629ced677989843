"""The dial loop: wait for capacity, pick, record the attempt, originate, track, record.

Two tasks share one store connection: the dial loop (woken by new leads, by a
freed line and by the next due time, never polling fast) and the event consumer,
which follows every call to its end. An attempt is committed before its
Originate is written, and a lead stays 'dialing' until its attempt is finished,
so a crash or an AMI drop can leave an attempt unknown but never dial twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

import aiosqlite
import structlog

from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import Settings
from dialerd.dialer import originate as dialing
from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.board import CurrentCall, OnChange, OperatorBoard, publish, state_file
from dialerd.dialer.pacer import Pacer
from dialerd.dialer.tracking import CallTrack, FinishedCall
from dialerd.domain import Outcome
from dialerd.intake.missed import NewMissedLead, missed_call
from dialerd.pbx.actions import OriginateRequest
from dialerd.pbx.ami import PbxUnavailable
from dialerd.pbx.events import (
    AgentConnected,
    CallEvidence,
    ChannelHangup,
    DeviceState,
    DialEnded,
    LiveChannel,
    MemberState,
    MissedInbound,
    OriginateLost,
    OriginateRefused,
    OriginateResult,
    PbxConnected,
    PbxDisconnected,
    PbxEvent,
    PbxRefusing,
    RecordingStarted,
)
from dialerd.policy.missed import DialerCall, IgnoredCaller
from dialerd.policy.modes import DialMode
from dialerd.policy.pick import Policy, judge
from dialerd.policy.retry import after_attempt
from dialerd.store import calls
from dialerd.store import leads as store
from dialerd.store.db import Database, StoreTrouble, is_unwritable

log = structlog.get_logger(__name__)


class Pbx(Protocol):
    events: asyncio.Queue[PbxEvent]
    connected: asyncio.Event

    def originate(self, request: OriginateRequest) -> float: ...

    async def live_channels(self) -> list[LiveChannel]: ...

    async def queue_members(self) -> list[MemberState]: ...

    async def device_states(self, devices: list[str]) -> list[DeviceState]: ...

    async def call_evidence(self, call_id: str) -> CallEvidence | None: ...

    def forget_evidence(self, call_id: str) -> None: ...


@dataclass(frozen=True)
class AttemptStarted:
    claim: store.Claim
    sent_at: float


@dataclass(frozen=True)
class CallAnswered:
    """The customer answered: the conversation starts (for live views and the demo)."""

    lead_id: int
    call_id: str
    at: float


@dataclass(frozen=True)
class OfferMissed:
    """agent_first: the operator did not answer, so the customer was never dialed.

    Not an attempt (no FinishedCall): the attempt row is taken back and the lead is due again.
    """

    lead_id: int
    call_id: str
    operator: str | None
    why: str
    at: float


EngineEvent = (
    AttemptStarted
    | CallAnswered
    | FinishedCall
    | OfferMissed
    | PbxConnected
    | PbxDisconnected
    | StoreTrouble
)

REFUSED_BACKOFF_S = (0.5, 30.0)  # after a refused Originate: first pause, longest pause
STORE_RETRY_S = 2.0  # while the store cannot be written: how often to try again
_NONE = object()  # no campaign may dial now


class Engine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        pbx: Pbx,
        *,
        clock: Clock = WALL_CLOCK,
        listeners: list[Callable[[EngineEvent], None]] | None = None,
        on_operator_change: OnChange | None = None,
        pbx_listeners: list[Callable[[PbxEvent], None]] | None = None,
    ) -> None:
        """``on_operator_change``: the board's hook (every board, after reloads too);
        ``pbx_listeners``: see every PBX event after the engine has (recorders, issue 6)."""
        self.settings = settings
        self.policy: Policy = settings.policy
        self._db = db
        self._pbx = pbx
        self._clock = clock
        self._listeners = listeners or []
        self._tracks: dict[str, dialing.Track] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()  # set once the attempts left in flight are adopted
        self._stop_now = asyncio.Event()
        self._reconcile_needed = False
        self._rerank_needed = True
        # operators and pacing (issue 4)
        self._on_operator_change = on_operator_change
        self._pbx_listeners = pbx_listeners or []
        self.operators = OperatorBoard.from_settings(settings, on_operator_change)
        self._operator_config = (settings.operators, settings.groups)
        self._pacer = Pacer(db)
        self._resync_needed = False
        self._resync_retry_at: float | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._window_was_open = True
        # faults (issue 11)
        self._refusals = 0  # Originates refused in a row: the dial loop backs off
        self._hold_dialing_until = 0.0
        self._answers: list[tuple[int, float]] = []  # (attempt id, answered at) to write
        self._unrecorded: dict[str, FinishedCall] = {}  # finished, the store could not take it
        self._store_error: str | None = None  # set while the store cannot be written
        self._forget_at_hangup: set[str] = set()  # AstDB evidence still to be written, then gone

    # --- control --------------------------------------------------------------------------
    def wake(self) -> None:
        """Something changed (a new lead, a freed line): look for work now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop originating; calls in flight are still followed to their end."""
        self._stopping.set()
        self._wake.set()

    def stop_now(self) -> None:
        """Stop without draining: calls in flight stay 'dialing' for the next start to adopt."""
        self._stop_now.set()
        self.stop()

    def reload(self, settings: Settings) -> None:
        """New limits, windows, schemes and delays take effect from the next pick."""
        self.settings = settings
        self.policy = settings.policy
        self._rerank_needed = True
        if (settings.operators, settings.groups) != self._operator_config:
            self._rebuild_board()
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tracks)

    async def run(self, *, until_idle: bool = False, drain_timeout_s: float = 60.0) -> None:
        """Dial until stopped (or, with ``until_idle``, until nothing is due or in flight)."""
        await self._adopt_in_flight()
        self.started.set()
        consumer = asyncio.create_task(self._consume_events(), name="engine-events")
        dialer = asyncio.create_task(
            self._dial_then_drain(until_idle, drain_timeout_s), name="engine-dial"
        )
        publisher = asyncio.create_task(self._publish_operators(), name="engine-operators")
        try:
            # whichever ends first: the dialer when stopped, the consumer only by crashing
            done, _ = await asyncio.wait({consumer, dialer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except BaseException:
            log.exception("engine_crashed", left_in_flight=len(self._tracks))
            raise
        finally:
            for task in (consumer, dialer, publisher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        log.info("engine_stopped", left_in_flight=len(self._tracks))

    async def _dial_then_drain(self, until_idle: bool, drain_timeout_s: float) -> None:
        await self._dial_loop(until_idle)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout_s):
                while self._tracks and not self._stop_now.is_set():
                    await self._changed()
        if self._tracks and not self._stop_now.is_set():
            log.warning("drain_timeout", left_in_flight=len(self._tracks))

    # --- dialing --------------------------------------------------------------------------
    async def _dial_loop(self, until_idle: bool) -> None:
        while not self._stopping.is_set():
            await self._rerank()
            dialing = self.settings.dialing
            lines_free = dialing.max_concurrent_calls - len(self._tracks)
            now = self._clock()
            held_s = self._hold_dialing_until - now  # the PBX refused, or the store is full
            if not self._pbx.connected.is_set() or lines_free <= 0 or held_s > 0:
                await self._changed(held_s if held_s > 0 else None)
                continue
            opens = self._closed_until(now)
            if opens is None:
                only = await self._campaigns_with_room(lines_free, now)
                if only is _NONE:
                    await self._changed(self._until_room(now))
                    continue
                claim = await self._claim(now, only)
                if claim is not None:
                    await self._originate(claim)
                    continue
                if self._store_error is not None:
                    continue  # held until STORE_RETRY_S has passed
                opens = await store.next_due_at(self._db)
                if only is not None and opens is not None and opens <= self._clock():
                    opens = None  # due leads of campaigns held back are not ours to wait for
            if until_idle and not self._tracks:
                return
            wait_s = dialing.safety_recheck_s
            if opens is not None:
                wait_s = min(wait_s, max(0.0, opens - self._clock()))
            await self._changed(wait_s)

    def _closed_until(self, now: float) -> float | None:
        """When the calling window opens next, or None while it is open (logged on change)."""
        at = datetime.fromtimestamp(now, UTC)
        window = self.policy.window
        if window.is_open(at):
            if not self._window_was_open:
                log.info("window_open")
            self._window_was_open = True
            return None
        opens = window.next_open(at).timestamp()
        if self._window_was_open:
            log.info("window_closed", opens_at=self.policy.local_time(opens))
        self._window_was_open = False
        return opens

    async def _claim(self, now: float, only: store.CampaignFilter | None) -> store.Claim | None:
        """The next lead to dial, its attempt committed; None if none (or the store is full)."""
        try:
            claim = await store.claim_next(
                self._db,
                now,
                self.policy.ranks,
                partial(judge, now=now, policy=self.policy),
                only=only,
                mode_of=lambda name: self.policy.campaign(name).mode.value,
            )
        except aiosqlite.Error as exc:
            if not is_unwritable(exc):
                raise
            self._store_failed(exc)
            return None
        self._store_ok()
        return claim

    def _store_failed(self, exc: aiosqlite.Error) -> None:
        """The store cannot take a write: no new call until it can (a call must be recorded)."""
        self._hold_dialing_until = self._clock() + STORE_RETRY_S
        if self._store_error is None:
            self._store_error = str(exc)
            log.error("store_full", error=str(exc), in_flight=len(self._tracks))
            self._emit(StoreTrouble(False, str(exc), self._clock()))

    def _store_ok(self) -> None:
        if self._store_error is not None:
            self._store_error = None
            log.warning("store_writable", in_flight=len(self._tracks))
            self._emit(StoreTrouble(True, "", self._clock()))

    async def _rerank(self) -> None:
        """Waiting leads take the rank of their campaign's (possibly new) scheme and cap."""
        if not self._rerank_needed:
            return
        self._rerank_needed = False
        policy = self.policy
        default = policy.campaign(policy.default_campaign)
        schemes = {name: campaign.scheme for name, campaign in policy.campaigns.items()}
        changed = await store.rerank(self._db, schemes, default.scheme)
        caps = {name: campaign.max_attempts for name, campaign in policy.campaigns.items()}
        exhausted = await store.close_over_cap(self._db, caps, default.max_attempts, self._clock())
        if changed or exhausted:
            log.info("leads_reranked", changed=changed, closed_exhausted=exhausted)

    async def _campaigns_with_room(
        self, lines_free: int, now: float
    ) -> store.CampaignFilter | None | object:
        """Which campaigns may dial now (policy/pacing.py); None: all of them, _NONE: none."""
        campaigns = dict(self.policy.campaigns)
        if not self.operators and all(c.group is None for c in campaigns.values()):
            return None  # no operator gating: only max_concurrent_calls applies
        paces = await self._pacer.compute(
            campaigns, self.operators, self._tracks.values(), lines_free, now
        )
        allowed = tuple(name for name, p in paces.items() if p.calls > 0)
        if not allowed:
            return _NONE
        blocked = tuple(name for name in paces if name not in allowed)
        if not blocked:
            return None
        if self.policy.default_campaign in allowed:  # leads of unknown campaigns follow it
            return store.CampaignFilter(blocked, include=False)
        return store.CampaignFilter(allowed, include=True)

    def _until_room(self, now: float) -> float:
        """No campaign may dial: sleep until woken, a rest or wrap-up ends, or the safety net."""
        wait_s = self.settings.dialing.safety_recheck_s
        released = self.operators.next_release(now)
        if released is not None:  # an operator ends a rest or a wrap-up then
            wait_s = min(wait_s, released - now)
        return wait_s

    async def _originate(self, claim: store.Claim) -> None:
        bound = log.bind(lead_id=claim.lead_id, call_id=claim.call_id, attempt=claim.attempt_number)
        campaign = self.policy.campaign(claim.campaign)
        now = self._clock()
        recording = dialing.recording_path(
            self.settings,
            call_id=claim.call_id,
            lead_id=claim.lead_id,
            attempt=claim.attempt_number,
            campaign=claim.campaign,
            at=now,
        )
        track: dialing.Track
        try:
            if campaign.mode is DialMode.AGENT_FIRST:
                assert campaign.group is not None  # checked at config load
                free = self.operators.free(campaign.group, now)
                if not free:  # taken while the claim was being written: try again later
                    await store.take_back(self._db, claim.attempt_id, claim.lead_id, now)
                    return
                operator = free[0]
                self.operators.reserve(
                    operator.name, CurrentCall(claim.lead_id, claim.call_id, "agent_first", now)
                )
                await calls.set_operator(self._db, claim.attempt_id, operator.name)
                bound = bound.bind(operator=operator.name)
                request = dialing.agent_first_request(
                    claim, self.settings, operator.settings, recording
                )
                track = AgentCallTrack(
                    attempt_id=claim.attempt_id,
                    lead_id=claim.lead_id,
                    call_id=claim.call_id,
                    sent_at=None,
                    operator=operator.name,
                    recording_path=recording,
                    group=campaign.group,
                )
            else:
                request = dialing.customer_first_request(
                    claim, self.settings, campaign.mode, campaign.group, recording
                )
                track = CallTrack(
                    attempt_id=claim.attempt_id,
                    lead_id=claim.lead_id,
                    call_id=claim.call_id,
                    sent_at=None,
                    mode=campaign.mode.value,
                    group=campaign.group,
                    queue_tracked=self._into_queue(campaign.group),
                    recording_path=recording,
                )
            self._tracks[claim.call_id] = track
            sent_at = self._pbx.originate(request)
        except PbxUnavailable:
            self._tracks.pop(claim.call_id, None)
            self.operators.release(claim.call_id)
            await store.unclaim(self._db, claim, self._clock())
            bound.info("originate_deferred", why="pbx not connected")
            return
        except ValueError as exc:  # UnsafeAmiValue: a bad template or campaign name; nothing sent
            self._tracks.pop(claim.call_id, None)
            now = self._clock()
            await self._record(
                FinishedCall(
                    attempt_id=claim.attempt_id,
                    lead_id=claim.lead_id,
                    call_id=claim.call_id,
                    outcome=Outcome.FAILED,
                    reason_code=None,
                    hangup_cause=None,
                    answered_at=None,
                    ended_at=now,
                    ring_s=None,
                    talk_s=None,
                    note=f"not sent: {exc}",
                )
            )
            bound.error("originate_refused_locally", error=str(exc))
            return
        track.sent_at = sent_at
        bound.info("originate_sent", channel=request.channel, mode=campaign.mode.value)
        try:
            await store.mark_originated(self._db, claim.attempt_id, sent_at)
        except aiosqlite.Error as exc:  # the attempt row exists: only its send time is lost
            if not is_unwritable(exc):
                raise
            self._store_failed(exc)
        self._emit(AttemptStarted(claim, sent_at))

    def _into_queue(self, group: str | None) -> bool:
        """Answered customers of this group wait in a queue: abandons are detectable."""
        settings = self.settings.groups.get(group) if group is not None else None
        return settings is not None and settings.queue is not None

    # --- following calls ------------------------------------------------------------------
    def _next_deadline(self) -> float | None:
        """When the consumer must look again even if no event comes."""
        deadline = min(
            (d for t in self._tracks.values() if (d := t.deadline()) is not None), default=None
        )
        if self._resync_needed and self._resync_retry_at is not None:
            deadline = min(deadline or self._resync_retry_at, self._resync_retry_at)
        if self._unrecorded:
            retry_at = self._clock() + STORE_RETRY_S
            deadline = min(deadline or retry_at, retry_at)
        return deadline

    async def _consume_events(self) -> None:
        while True:
            deadline = self._next_deadline()
            timeout = None
            if deadline is not None:
                timeout = self._clock.real_seconds(max(0.0, deadline - self._clock()))
            try:
                async with asyncio.timeout(timeout):
                    event = await self._pbx.events.get()
            except TimeoutError:
                event = None
            if event is not None:
                await self._take_event(event)
            await self._follow_up()

    async def _take_event(self, event: PbxEvent) -> None:
        self._dispatch(event)
        for listener in self._pbx_listeners:
            listener(event)
        if isinstance(event, MissedInbound):
            await self._missed_call(event)
        elif isinstance(event, OriginateRefused):
            await self._refused(event)

    async def _follow_up(self) -> None:
        """What an event (or a deadline) may have made due: writes, reconciles, records."""
        if self._answers:
            await self._write_answers()
        if self._unrecorded:
            await self._retry_unrecorded()
        if self._reconcile_needed and self._pbx.connected.is_set():
            await self._reconcile()
        if (
            self._resync_needed
            and self._pbx.connected.is_set()
            and (self._resync_retry_at is None or self._clock() >= self._resync_retry_at)
        ):
            await self._resync_operators()
        await self._finish_ready()

    def _dispatch(self, event: PbxEvent) -> None:
        self._apply_board_event(event)
        if not self._apply_leg_event(event):
            self._apply(event)

    def _apply_board_event(self, event: PbxEvent) -> None:
        """Operator state (issue 4); the board only ever hears it from Asterisk."""
        match event:
            case MemberState():
                if self.operators.apply_member(event):
                    self._wake.set()
            case DeviceState():
                if self.operators.apply_device(event):
                    self._wake.set()
            case PbxConnected() if self.operators:  # nothing is free until Asterisk says so
                self.operators.invalidate("waiting for QueueStatus after connecting", event.at)
                self._resync_needed, self._resync_retry_at = True, None
            case PbxDisconnected() if self.operators:
                self.operators.invalidate(f"AMI connection lost ({event.why})", event.at)

    def _apply_leg_event(self, event: PbxEvent) -> bool:
        """Operators joining our calls and the calls' other legs; False: not such an event."""
        match event:
            case AgentConnected():
                self._on_agent_connected(event)
            case DialEnded():
                track = self._tracks.get(event.uniqueid)
                if isinstance(track, AgentCallTrack):
                    track.on_dial_end(event.status, event.at)
                    if event.status == "ANSWER":  # agent_first: the customer answered now
                        self._answers.append((track.attempt_id, event.at))
                        self._emit(CallAnswered(track.lead_id, track.call_id, event.at))
            case RecordingStarted():
                track = self._track_of(event.uniqueid, event.linkedid)
                if track is not None:
                    track.on_recording()
            case _:
                return False
        return True

    def _apply(self, event: PbxEvent) -> None:
        match event:
            case OriginateResult() | ChannelHangup() | OriginateLost():
                self._apply_to_call(event)
            case PbxConnected():
                self._reconcile_needed = any(t.awaiting_reconcile for t in self._tracks.values())
                self._refusals, self._hold_dialing_until = 0, 0.0  # a fresh start: dial now
                self._wake.set()
                self._emit(event)
            case PbxRefusing():
                log.warning("pbx_refusing", why=event.why, in_flight=len(self._tracks))
            case PbxDisconnected():
                for track in self._tracks.values():
                    track.on_lost(f"AMI connection lost ({event.why})")
                self._reconcile_needed = bool(self._tracks)
                log.warning("pbx_down", in_flight=len(self._tracks))
                self._emit(event)

    def _apply_to_call(self, event: OriginateResult | ChannelHangup | OriginateLost) -> None:
        """A fact about one of our calls (events of other calls are ignored)."""
        if isinstance(event, ChannelHangup):
            if event.uniqueid in self._forget_at_hangup:  # its hangup handler has run now
                self._forget_at_hangup.discard(event.uniqueid)
                self._pbx.forget_evidence(event.uniqueid)
            track = self._track_of(event.uniqueid, event.linkedid)
        else:
            track = self._tracks.get(event.call_id)
        if track is None:
            return
        match event:
            case OriginateResult():
                track.on_result(event.success, event.reason, event.at)
                if event.success and not isinstance(track, AgentCallTrack):  # (the operator's)
                    self._answers.append((track.attempt_id, event.at))
                    self._emit(CallAnswered(track.lead_id, track.call_id, event.at))
                if not (event.success is False and event.reason == 0):
                    self._refusals = 0  # Asterisk is placing calls
            case ChannelHangup():
                track.on_hangup(event.uniqueid, event.cause, event.at)
            case OriginateLost():
                track.on_lost(event.why)
                self._reconcile_needed = True

    def _track_of(self, uniqueid: str, linkedid: str) -> dialing.Track | None:
        return self._tracks.get(uniqueid.split(";")[0]) or self._tracks.get(linkedid)

    def _on_agent_connected(self, event: AgentConnected) -> None:
        """A queue gave one of our answered customers an operator: that operator is engaged."""
        track = self._tracks.get(event.uniqueid)
        if track is None or not track.queue_tracked:
            return  # an inbound caller: Asterisk's member state covers that operator
        call = CurrentCall(track.lead_id, track.call_id, track.mode, event.at)
        name = self.operators.engage(event.queue, event.interface, call)
        track.on_operator(name or event.member_name or event.interface, event.at)
        log.info(
            "operator_connected",
            lead_id=track.lead_id,
            call_id=track.call_id,
            operator=name or event.interface,
            hold_s=event.hold_s,
        )
        self._wake.set()  # one customer fewer waiting

    async def _resync_operators(self) -> None:
        """Read every operator's state from Asterisk (QueueStatus, DEVICE_STATE) after a connect."""
        try:
            members = await self._pbx.queue_members() if self.operators.queues else []
            devices = self.operators.devices
            states = await self._pbx.device_states(devices) if devices else []
        except (PbxUnavailable, TimeoutError) as exc:
            self._resync_retry_at = self._clock() + 1.0
            log.warning("operators_resync_failed", error=str(exc) or type(exc).__name__)
            return
        self._resync_needed, self._resync_retry_at = False, None
        self.operators.apply_snapshot(members, states, self._clock())
        free = sum(op.is_free(self._clock()) for op in self.operators.operators.values())
        log.info("operators_synced", operators=len(self.operators.operators), free=free)
        self._wake.set()

    async def _publish_operators(self) -> None:
        """Keep ``<store>.operators.json`` current for `dialerd operators`."""
        path = state_file(self.settings)
        await publish(lambda: self.operators, path, self._pbx.connected, self._clock)

    def _rebuild_board(self) -> None:
        """New operators or groups (reload): a new board, our calls' holds carried over."""
        board = OperatorBoard.from_settings(self.settings, self._on_operator_change)
        for track in self._tracks.values():
            if track.operator in board.operators:
                call = CurrentCall(track.lead_id, track.call_id, track.mode, self._clock())
                if isinstance(track, AgentCallTrack):
                    board.reserve(track.operator, call)
                else:
                    board.hold(track.operator, call)
        old, self.operators = self.operators, board
        old.changed.set()  # the publisher moves on to the new board
        board.changed.set()
        self._operator_config = (self.settings.operators, self.settings.groups)
        self._resync_needed, self._resync_retry_at = bool(board), None
        if board and self._pbx.connected.is_set():  # ask Asterisk now, not at the next event
            self._resync_task = asyncio.get_running_loop().create_task(
                self._resync_operators(), name="engine-operators-resync"
            )

    async def _reconcile(self) -> None:
        """Ask Asterisk which of our calls still exist (CoreShowChannels), by ChannelId."""
        try:
            live = await self._pbx.live_channels()
        except (PbxUnavailable, TimeoutError) as exc:
            log.warning("reconcile_failed", error=str(exc))
            return
        self._reconcile_needed = False
        state_of = {channel.uniqueid: channel for channel in live}
        for track in list(self._tracks.values()):
            channel = state_of.get(track.call_id)
            evidence = None
            if channel is None and track.awaiting_reconcile and track.main_hangup_at is None:
                evidence = await self._evidence(track.call_id)
            finished = track.on_reconcile(
                channel.state if channel else None,
                self._clock(),
                bridged=bool(channel and channel.bridged),
                evidence=evidence,
            )
            if finished is not None:
                await self._record(finished)
            elif track.following:
                log.info("call_still_live", lead_id=track.lead_id, call_id=track.call_id)

    async def _evidence(self, call_id: str) -> CallEvidence | None:
        """Asterisk's own record of a call that ended unobserved (the hangup handler's)."""
        try:
            evidence = await self._pbx.call_evidence(call_id)
        except (PbxUnavailable, TimeoutError) as exc:
            log.warning("evidence_unavailable", call_id=call_id, error=str(exc) or "timeout")
            return None
        log.info(
            "evidence_read",
            call_id=call_id,
            found=evidence is not None,
            answered=evidence.answered if evidence else None,
        )
        return evidence

    async def _finish_ready(self) -> None:
        now = self._clock()
        for track in list(self._tracks.values()):
            if track.wants_evidence():
                track.take_evidence(await self._evidence(track.call_id))
            finished = track.check(now)
            if finished is not None:
                await self._record(finished)

    async def _record(self, call: FinishedCall) -> None:
        """Write the finished attempt; if the store cannot take it, keep it and try again.

        The track stays (its line stays taken, its lead 'dialing') until the write lands,
        so a full disk never turns into a lost result or a redial.
        """
        try:
            if not call.customer_dialed:
                await self._take_back(call)
            else:
                await self._finish(call)
        except aiosqlite.Error as exc:
            if not is_unwritable(exc):
                raise
            self._unrecorded[call.call_id] = call
            self._store_failed(exc)
            return
        self._unrecorded.pop(call.call_id, None)
        self._store_ok()
        track = self._tracks.get(call.call_id)
        self._tracks.pop(call.call_id, None)
        if track is None or track.main_hangup_at is not None or track.blind:
            self._pbx.forget_evidence(call.call_id)
        else:  # the hangup handler has not run yet: delete its entry once it has
            self._forget_at_hangup.add(call.call_id)
        if call.customer_dialed:
            self._emit(call)
        self._wake.set()

    async def _retry_unrecorded(self) -> None:
        for call in list(self._unrecorded.values()):
            await self._record(call)
            if call.call_id in self._unrecorded:
                return  # still failing: the next try comes after STORE_RETRY_S

    async def _write_answers(self) -> None:
        """The answer goes into the store while the call is live: a crash cannot unsay it."""
        answers, self._answers = self._answers, []
        try:
            await calls.mark_answered(self._db, answers)
        except aiosqlite.Error as exc:
            if not is_unwritable(exc):
                raise
            self._store_failed(exc)  # the hangup handler's AstDB entry still holds it

    async def _refused(self, event: OriginateRefused) -> None:
        """Asterisk refused the Originate: nobody was dialed, so it is not an attempt."""
        track = self._tracks.get(event.call_id)
        if track is not None:
            await self._record(track.refused(f"Asterisk refused: {event.message}", event.at))

    async def _finish(self, call: FinishedCall) -> None:
        attempts, campaign = await store.lead_attempts(self._db, call.lead_id)
        update = after_attempt(
            call.outcome, attempts, self.policy.campaign(campaign), self._clock()
        )
        await store.finish_attempt(self._db, call, update, self._clock())
        self.operators.release(call.call_id)
        self._pacer.call_ended(campaign)
        log.info(
            "attempt_finished",
            lead_id=call.lead_id,
            call_id=call.call_id,
            outcome=call.outcome.value,
            cause=call.hangup_cause,
            talk_s=call.talk_s,
            operator=call.operator,
            next_state=update.state.value,
        )

    async def _take_back(self, call: FinishedCall) -> None:
        """The customer was never dialed: an agent_first operator did not answer, or
        Asterisk created no channel at all (an Originate it could not place)."""
        now = self._clock()
        await store.take_back(self._db, call.attempt_id, call.lead_id, now)
        self.operators.release(call.call_id)
        if not call.refused:
            if call.operator is not None:
                self.operators.missed(
                    call.operator, now + self.settings.dialing.operator_missed_pause_s
                )
            log.warning(
                "operator_missed", lead_id=call.lead_id, operator=call.operator, why=call.note
            )
            self._emit(OfferMissed(call.lead_id, call.call_id, call.operator, call.note or "", now))
            return
        # Asterisk placed no call: pause dialing, longer each time in a row, until it does
        self._refusals += 1
        low, high = REFUSED_BACKOFF_S
        pause = min(high, low * 2 ** (self._refusals - 1))
        self._hold_dialing_until = max(self._hold_dialing_until, now + pause)
        log.warning(
            "originate_not_an_attempt",
            lead_id=call.lead_id,
            call_id=call.call_id,
            why=call.note,
            refused_in_a_row=self._refusals,
            dialing_paused_s=pause,
        )

    async def _missed_call(self, event: MissedInbound) -> None:
        """A missed inbound call becomes a callback lead (or raises the phone's open lead)."""
        bound = log.bind(caller=event.caller, queue=event.queue, reason=event.reason)
        try:
            result = await missed_call(self._db, event, self.settings, self._clock())
        except DialerCall:
            return  # our customer hung up in the queue: the attempt records it as abandoned
        except IgnoredCaller as exc:
            bound.info("missed_call_ignored", why=str(exc))
            return
        except aiosqlite.Error:  # a store hiccup must not end call tracking
            bound.exception("missed_call_not_recorded")
            return
        if isinstance(result, NewMissedLead):
            bound.info("missed_call_lead", lead_id=result.lead_id, closed_as=result.closed_as)
        else:
            bound.info(
                "missed_call_raised_lead", lead_id=result.lead_id, being_dialed=result.being_dialed
            )
        self._wake.set()

    async def _adopt_in_flight(self) -> None:
        """Attempts left 'dialing' by a previous run are reconciled, never re-dialed."""
        for row in await calls.in_flight_calls(self._db):
            if row.call_id in self._tracks:
                continue
            campaign = self.policy.campaign(row.campaign)
            recording = dialing.recording_path(
                self.settings,
                call_id=row.call_id,
                lead_id=row.lead_id,
                attempt=row.number,
                campaign=row.campaign,
                at=row.created_at,
            )
            track: dialing.Track
            if row.mode == DialMode.AGENT_FIRST.value:
                track = AgentCallTrack(
                    attempt_id=row.attempt_id,
                    lead_id=row.lead_id,
                    call_id=row.call_id,
                    sent_at=None,
                    operator=row.operator,
                    recording_path=recording,
                    group=campaign.group,
                )
                if row.operator in self.operators.operators:
                    call = CurrentCall(row.lead_id, row.call_id, row.mode, row.created_at)
                    self.operators.reserve(row.operator, call)
            else:
                track = CallTrack(
                    attempt_id=row.attempt_id,
                    lead_id=row.lead_id,
                    call_id=row.call_id,
                    sent_at=None,
                    mode=row.mode,
                    group=campaign.group,
                    queue_tracked=self._into_queue(campaign.group),
                    recording_path=recording,
                )
            if row.answered_at is not None:  # written while the call was live
                track.on_answer_known(row.answered_at)
            track.on_lost("daemon restarted while the call was in flight")
            self._tracks[row.call_id] = track
            self._reconcile_needed = True
            log.info("in_flight_adopted", lead_id=row.lead_id, call_id=row.call_id, mode=row.mode)

    # --- helpers --------------------------------------------------------------------------
    async def _changed(self, wait_s: float | None = None) -> None:
        """Sleep until woken (new lead, freed line, connect) or ``wait_s`` has passed."""
        real_s = None if wait_s is None else self._clock.real_seconds(wait_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(real_s):
                await self._wake.wait()
        self._wake.clear()

    def _emit(self, event: EngineEvent) -> None:
        for listener in self._listeners:
            listener(event)
