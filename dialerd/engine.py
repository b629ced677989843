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
from dialerd.domain import Outcome
from dialerd.missed_calls import NewMissedLead, missed_call
from dialerd.pbx.ami import OriginateRequest, PbxUnavailable
from dialerd.pbx.events import (
    ChannelHangup,
    LiveChannel,
    MissedInbound,
    OriginateLost,
    OriginateResult,
    PbxConnected,
    PbxDisconnected,
    PbxEvent,
)
from dialerd.pbx.tracking import CallTrack, FinishedCall
from dialerd.policy.missed import IgnoredCaller
from dialerd.policy.pick import Policy, judge
from dialerd.policy.retry import after_attempt
from dialerd.store import leads as store
from dialerd.store.db import Database

log = structlog.get_logger(__name__)


class Pbx(Protocol):
    events: asyncio.Queue[PbxEvent]
    connected: asyncio.Event

    def originate(self, request: OriginateRequest) -> float: ...

    async def live_channels(self) -> list[LiveChannel]: ...


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


EngineEvent = AttemptStarted | CallAnswered | FinishedCall | PbxConnected | PbxDisconnected


class Engine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        pbx: Pbx,
        *,
        clock: Clock = WALL_CLOCK,
        listeners: list[Callable[[EngineEvent], None]] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = Policy.from_settings(settings)
        self._db = db
        self._pbx = pbx
        self._clock = clock
        self._listeners = listeners or []
        self._tracks: dict[str, CallTrack] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()  # set once the attempts left in flight are adopted
        self._stop_now = asyncio.Event()
        self._reconcile_needed = False
        self._rerank_needed = True
        self._window_was_open = True

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
        self.policy = Policy.from_settings(settings)
        self._rerank_needed = True
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
        try:
            # whichever ends first: the dialer when stopped, the consumer only by crashing
            done, _ = await asyncio.wait({consumer, dialer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except BaseException:
            log.exception("engine_crashed", left_in_flight=len(self._tracks))
            raise
        finally:
            for task in (consumer, dialer):
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
            if self._rerank_needed:
                self._rerank_needed = False
                await self._rerank()
            dialing = self.settings.dialing
            if (
                not self._pbx.connected.is_set()
                or len(self._tracks) >= dialing.max_concurrent_calls
            ):
                await self._changed()
                continue
            now = self._clock()
            opens = self._closed_until(now)
            if opens is None:
                claim = await store.claim_next(
                    self._db, now, self.policy.ranks, partial(judge, now=now, policy=self.policy)
                )
                if claim is not None:
                    await self._originate(claim)
                    continue
                opens = await store.next_due_at(self._db)
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

    async def _rerank(self) -> None:
        """Waiting leads take the rank of their campaign's (possibly new) scheme and cap."""
        policy = self.policy
        default = policy.campaign(policy.default_campaign)
        schemes = {name: campaign.scheme for name, campaign in policy.campaigns.items()}
        changed = await store.rerank(self._db, schemes, default.scheme)
        caps = {name: campaign.max_attempts for name, campaign in policy.campaigns.items()}
        exhausted = await store.close_over_cap(self._db, caps, default.max_attempts, self._clock())
        if changed or exhausted:
            log.info("leads_reranked", changed=changed, closed_exhausted=exhausted)

    async def _originate(self, claim: store.Claim) -> None:
        dialing = self.settings.dialing
        bound = log.bind(lead_id=claim.lead_id, call_id=claim.call_id, attempt=claim.attempt_number)
        request = OriginateRequest(
            call_id=claim.call_id,
            action_id=claim.action_id,
            channel=dialing.channel_template.format(
                number=claim.phone.digits, e164=claim.phone.e164
            ),
            context=dialing.context,
            exten=dialing.exten,
            priority=dialing.priority,
            timeout_s=dialing.originate_timeout_s,
            caller_id=dialing.caller_id,
            variables={
                "DIALER_LEAD": str(claim.lead_id),
                "DIALER_ATTEMPT": str(claim.attempt_id),
                "DIALER_CAMPAIGN": claim.campaign,
            },
        )
        track = CallTrack(
            attempt_id=claim.attempt_id,
            lead_id=claim.lead_id,
            call_id=claim.call_id,
            sent_at=None,
        )
        self._tracks[claim.call_id] = track
        try:
            sent_at = self._pbx.originate(request)
        except PbxUnavailable:
            del self._tracks[claim.call_id]
            await store.unclaim(self._db, claim, self._clock())
            bound.info("originate_deferred", why="pbx not connected")
            return
        except ValueError as exc:  # UnsafeAmiValue: a bad template or campaign name; nothing sent
            del self._tracks[claim.call_id]
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
        bound.info("originate_sent", channel=request.channel)
        await store.mark_originated(self._db, claim.attempt_id, sent_at)
        self._emit(AttemptStarted(claim, sent_at))

    # --- following calls ------------------------------------------------------------------
    async def _consume_events(self) -> None:
        while True:
            deadline = min(
                (d for t in self._tracks.values() if (d := t.deadline()) is not None), default=None
            )
            timeout = None
            if deadline is not None:
                timeout = self._clock.real_seconds(max(0.0, deadline - self._clock()))
            try:
                async with asyncio.timeout(timeout):
                    event = await self._pbx.events.get()
            except TimeoutError:
                event = None
            if event is not None:
                self._apply(event)
                if isinstance(event, MissedInbound):
                    await self._missed_call(event)
            if self._reconcile_needed and self._pbx.connected.is_set():
                await self._reconcile()
            await self._finish_ready()

    def _apply(self, event: PbxEvent) -> None:
        match event:
            case OriginateResult() | ChannelHangup() | OriginateLost():
                self._apply_to_call(event)
            case PbxConnected():
                self._reconcile_needed = any(t.awaiting_reconcile for t in self._tracks.values())
                self._wake.set()
                self._emit(event)
            case PbxDisconnected():
                for track in self._tracks.values():
                    track.on_lost(f"AMI connection lost ({event.why})")
                self._reconcile_needed = bool(self._tracks)
                log.warning("pbx_down", in_flight=len(self._tracks))
                self._emit(event)

    def _apply_to_call(self, event: OriginateResult | ChannelHangup | OriginateLost) -> None:
        """A fact about one of our calls (events of other calls are ignored)."""
        if isinstance(event, ChannelHangup):
            track = self._tracks.get(event.uniqueid.split(";")[0]) or self._tracks.get(
                event.linkedid
            )
        else:
            track = self._tracks.get(event.call_id)
        if track is None:
            return
        match event:
            case OriginateResult():
                track.on_result(event.success, event.reason, event.at)
                if event.success:
                    self._emit(CallAnswered(track.lead_id, track.call_id, event.at))
            case ChannelHangup():
                track.on_hangup(event.uniqueid, event.cause, event.at)
            case OriginateLost():
                track.on_lost(event.why)
                self._reconcile_needed = True

    async def _reconcile(self) -> None:
        """Ask Asterisk which of our calls still exist (CoreShowChannels), by ChannelId."""
        try:
            live = await self._pbx.live_channels()
        except (PbxUnavailable, TimeoutError) as exc:
            log.warning("reconcile_failed", error=str(exc))
            return
        self._reconcile_needed = False
        state_of = {channel.uniqueid: channel.state for channel in live}
        now = self._clock()
        for track in list(self._tracks.values()):
            finished = track.on_reconcile(state_of.get(track.call_id), now)
            if finished is not None:
                await self._record(finished)
            elif track.following:
                log.info("call_still_live", lead_id=track.lead_id, call_id=track.call_id)

    async def _finish_ready(self) -> None:
        now = self._clock()
        for track in list(self._tracks.values()):
            finished = track.check(now)
            if finished is not None:
                await self._record(finished)

    async def _record(self, call: FinishedCall) -> None:
        attempts, campaign = await store.lead_attempts(self._db, call.lead_id)
        update = after_attempt(
            call.outcome, attempts, self.policy.campaign(campaign), self._clock()
        )
        await store.finish_attempt(self._db, call, update, self._clock())
        self._tracks.pop(call.call_id, None)
        log.info(
            "attempt_finished",
            lead_id=call.lead_id,
            call_id=call.call_id,
            outcome=call.outcome.value,
            cause=call.hangup_cause,
            talk_s=call.talk_s,
            next_state=update.state.value,
        )
        self._emit(call)
        self._wake.set()

    async def _missed_call(self, event: MissedInbound) -> None:
        """A missed inbound call becomes a callback lead (or raises the phone's open lead)."""
        bound = log.bind(caller=event.caller, queue=event.queue, reason=event.reason)
        try:
            result = await missed_call(self._db, event, self.settings, self._clock())
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
        for row in await store.in_flight(self._db):
            if row.call_id in self._tracks:
                continue
            track = CallTrack(
                attempt_id=row.attempt_id,
                lead_id=row.lead_id,
                call_id=row.call_id,
                sent_at=None,
            )
            track.on_lost("daemon restarted while the call was in flight")
            self._tracks[row.call_id] = track
            self._reconcile_needed = True
            log.info("in_flight_adopted", lead_id=row.lead_id, call_id=row.call_id)

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
