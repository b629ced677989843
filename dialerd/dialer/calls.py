"""Our calls from the claim to the record: start, adopt, follow, reconcile, record.

Every call has one track (``originate.new_track``) from its claim until its
``FinishedCall`` is in the store, whether this process originated it or a previous run
left it 'dialing'. Asterisk's facts go to the track, and the track says when the call
is finished. A call whose customer was never dialed (an operator who did not answer,
an Originate Asterisk refused) is taken back, not recorded as an attempt.

What a call came to is written by ``ledger.py``; until it lands the track stays (its
line taken, its lead 'dialing'). A call that ended unobserved (an AMI drop, a restart)
is settled from Asterisk's own record (AstDB, written by the hangup handler), which is
deleted once the record is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import structlog

from dialerd.clock import Clock
from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.board import CurrentCall, Operator
from dialerd.dialer.events import AttemptStarted, CallAnswered, Emit
from dialerd.dialer.faults import STORE_RETRY_S, DialingHold
from dialerd.dialer.ledger import Ledger, Setup
from dialerd.dialer.originate import (
    Track,
    agent_first_request,
    customer_first_request,
    new_track,
    survey_request,
)
from dialerd.dialer.tracking import CallTrack
from dialerd.domain import FinishedCall
from dialerd.pbx.actions import OriginateRequest, QueuePauseRequest
from dialerd.pbx.ami import PbxUnavailable
from dialerd.pbx.events import (
    AgentConnected,
    CallEvidence,
    ChannelHangup,
    DeviceState,
    DialEnded,
    LiveChannel,
    MachineVerdict,
    MemberState,
    OriginateLost,
    OriginateRefused,
    OriginateResult,
    PbxEvent,
    RecordingStarted,
)
from dialerd.policy.caller_id import CallerId, in_turn
from dialerd.policy.modes import DialMode
from dialerd.store import attempts, calls, survey_calls
from dialerd.store.attempts import Claim
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)


class Pbx(Protocol):
    """The PBX as the dial path uses it: the AMI adapter and the simulator both fit."""

    events: asyncio.Queue[PbxEvent]
    connected: asyncio.Event

    def originate(self, request: OriginateRequest) -> float: ...

    async def live_channels(self) -> list[LiveChannel]: ...

    async def queue_members(self) -> list[MemberState]: ...

    async def device_states(self, devices: list[str]) -> list[DeviceState]: ...

    async def queue_pause(self, request: QueuePauseRequest) -> None: ...

    async def call_evidence(self, call_id: str) -> CallEvidence | None: ...

    def forget_evidence(self, call_id: str) -> None: ...


class Calls:
    def __init__(
        self,
        setup: Setup,
        db: Store,
        pbx: Pbx,
        *,
        clock: Clock,
        hold: DialingHold,
        ledger: Ledger,
        emit: Emit,
        wake: Callable[[], None],
        lead_due: Callable[[float | None], None] = lambda _at: None,
        adopts: Callable[[str], bool] | None = None,
    ) -> None:
        """``adopts``: whether an attempt left 'dialing' on the PBX of that name is ours to
        reconcile (None: every one; several PBXs: only our PBX's, see ``Engine``).
        ``lead_due``: told (None) when a claim is given back, its lead due again at once."""
        self._setup = setup
        self._lead_due = lead_due
        self._adopts = adopts
        self._db = db
        self._pbx = pbx
        self._clock = clock
        self._hold = hold
        self._ledger = ledger
        self._emit = emit
        self._wake = wake
        self.tracks: dict[str, Track] = {}
        # Which tracks to look at, so a burst of events costs a look at the calls it concerns,
        # not at every call in flight: those changed since the last ``finish_ready``, and
        # those with a deadline (a grace for a cause), by when.
        self._touched: set[str] = set()
        self._timed: dict[str, float] = {}
        self._turns: dict[str, int] = {}  # each campaign's next turn in its caller ID pool
        self.reconcile_needed = False
        self._forget_at_hangup: set[str] = set()  # AstDB evidence still to be written, then gone

    # --- starting -------------------------------------------------------------------------
    async def start(self, claim: Claim) -> None:
        """Originate a claimed lead and follow it; a claim that cannot go out is given back."""
        bound = log.bind(lead_id=claim.lead_id, call_id=claim.call_id, attempt=claim.attempt_number)
        settings = self._setup.settings
        campaign = self._setup.policy.campaign(claim.campaign)
        now = self._clock()
        operator: Operator | None = None
        if campaign.mode is DialMode.AGENT_FIRST:
            assert campaign.group is not None  # checked at config load
            free = self._setup.operators.free(campaign.group, now)
            if not free:  # taken while the claim was being written: try again later
                await attempts.take_back(self._db, claim.attempt_id, claim.lead_id, now)
                self._lead_due(None)
                return
            operator = free[0]
            call = CurrentCall(claim.lead_id, claim.call_id, "agent_first", now)
            self._setup.operators.reserve(operator.name, call)
            await attempts.set_operator(self._db, claim.attempt_id, operator.name)
            bound = bound.bind(operator=operator.name)
        track = new_track(
            settings,
            attempt_id=claim.attempt_id,
            lead_id=claim.lead_id,
            call_id=claim.call_id,
            number=claim.attempt_number,
            campaign=claim.campaign,
            group=campaign.group,
            mode=campaign.mode.value,
            operator=operator.name if operator is not None else None,
            at=now,
        )
        track.lead_at_claim = claim.lead
        caller = self._caller(claim.campaign)
        sale = None
        if campaign.mode is DialMode.SURVEY:  # the conversation the survey asks about
            sale = await survey_calls.sale_of(self._db, claim.lead_id)
        try:
            if operator is not None:
                request = agent_first_request(
                    claim, settings, operator.settings, track.recording_path, caller
                )
            elif campaign.mode is DialMode.SURVEY:
                request = survey_request(claim, settings, sale, track.recording_path, caller)
            else:
                request = customer_first_request(
                    claim, settings, campaign.mode, campaign.group, track.recording_path, caller
                )
            self._follow(track)
            sent_at = self._pbx.originate(request)
        except PbxUnavailable:
            self.tracks.pop(claim.call_id, None)
            self._setup.operators.release(claim.call_id)
            await attempts.unclaim(self._db, claim, self._clock())
            self._lead_due(None)
            bound.info("originate_deferred", why="pbx not connected")
            return
        except ValueError as exc:  # UnsafeAmiValue: a bad template or campaign name; nothing sent
            self.tracks.pop(claim.call_id, None)
            await self.record(track.not_sent(f"not sent: {exc}", self._clock()))
            bound.error("originate_refused_locally", error=str(exc))
            return
        # The send time is stored with the answer, or with the end for a call never
        # answered: not on its own while the call rings (one statement less per attempt).
        # Only the time is at stake, the attempt row is committed before the Originate.
        track.sent_at = sent_at
        if caller is not None:  # the next call of the campaign takes the next number
            self._turns[claim.campaign] = self._turns.get(claim.campaign, 0) + 1
        bound.info("originate_sent", channel=request.channel, mode=campaign.mode.value)
        self._emit(AttemptStarted(claim, sent_at))

    def caller_number(self, campaign: str) -> str | None:
        """The caller ID number the campaign's next call shows (stored with its claim)."""
        caller = self._caller(campaign)
        return caller.number if caller is not None else None

    def _caller(self, campaign: str) -> CallerId | None:
        """The campaign's caller ID in turn: the claim and its Originate ask in a row, with no
        Originate between, so both get the same one."""
        pool = self._setup.policy.campaign(campaign).caller_ids
        return in_turn(pool, self._turns.get(campaign, 0))

    @property
    def adopts(self) -> Callable[[str], bool] | None:
        return self._adopts

    async def adopt(self, daemon_id: str | None = None, only: set[int] | None = None) -> None:
        """Attempts left 'dialing' by a previous run are reconciled, never re-dialed
        (``daemon_id``, on a shared store: those whose lease this daemon holds; ``only``:
        these attempts, just taken over from a daemon that stopped)."""
        for row in await calls.in_flight_calls(self._db, daemon_id):
            if row.call_id in self.tracks or (only is not None and row.attempt_id not in only):
                continue
            if self._adopts is not None and not self._adopts(row.pbx):
                continue  # another PBX carries it: asking ours would settle it as unknown
            track = new_track(
                self._setup.settings,
                attempt_id=row.attempt_id,
                lead_id=row.lead_id,
                call_id=row.call_id,
                number=row.number,
                campaign=row.campaign,
                group=self._setup.policy.campaign(row.campaign).group,
                mode=row.mode,
                operator=row.operator,
                at=row.created_at,
            )
            board = self._setup.operators
            rung = row.operator if isinstance(track, AgentCallTrack) else None
            if rung is not None and rung in board.operators:
                board.reserve(rung, CurrentCall(row.lead_id, row.call_id, row.mode, row.created_at))
            if row.answered_at is not None:  # written while the call was live
                track.on_answer_known(row.answered_at)
            track.on_lost("daemon restarted while the call was in flight")
            self._follow(track)
            self.reconcile_needed = True
            log.info("in_flight_adopted", lead_id=row.lead_id, call_id=row.call_id, mode=row.mode)

    # --- facts in -------------------------------------------------------------------------
    def apply(self, event: PbxEvent) -> bool:
        """A fact about our calls' channels; False: not such an event (others' are ignored)."""
        match event:
            case OriginateResult() | ChannelHangup() | OriginateLost():
                self._apply_to_call(event)
            case AgentConnected():
                self._on_agent_connected(event)
            case DialEnded():
                track = self.tracks.get(event.uniqueid)
                if isinstance(track, AgentCallTrack):
                    self._touched.add(track.call_id)
                    track.on_dial_end(event.status, event.at)
                    if event.status == "ANSWER":  # agent_first: the customer answered now
                        self._answered(track, event.at)
            case RecordingStarted():
                track = self._track_of(event.uniqueid, event.linkedid)
                if track is not None:
                    self._touched.add(track.call_id)
                    track.on_recording()
            case MachineVerdict():
                track = self.tracks.get(event.uniqueid)
                if isinstance(track, CallTrack):
                    self._touched.add(track.call_id)
                    track.on_amd(event.status, event.cause)
                    log.info(
                        "machine_detection",
                        lead_id=track.lead_id,
                        call_id=track.call_id,
                        status=event.status,
                        cause=event.cause,
                    )
            case _:
                return False
        return True

    def _apply_to_call(self, event: OriginateResult | ChannelHangup | OriginateLost) -> None:
        if isinstance(event, ChannelHangup):
            if event.uniqueid in self._forget_at_hangup:  # its hangup handler has run now
                self._forget_at_hangup.discard(event.uniqueid)
                self._pbx.forget_evidence(event.uniqueid)
            track = self._track_of(event.uniqueid, event.linkedid)
        else:
            track = self.tracks.get(event.call_id)
        if track is None:
            return
        self._touched.add(track.call_id)
        match event:
            case OriginateResult():
                track.on_result(event.success, event.reason, event.at)
                if event.success and not isinstance(track, AgentCallTrack):  # (the operator's)
                    self._answered(track, event.at)
                if not (event.success is False and event.reason == 0):
                    self._hold.placing()  # Asterisk is placing calls
            case ChannelHangup():
                track.on_hangup(event.uniqueid, event.cause, event.at)
            case OriginateLost():
                track.on_lost(event.why)
                self.reconcile_needed = True

    def _answered(self, track: Track, at: float) -> None:
        self._ledger.answered(attempts.Answer(track.attempt_id, at, track.sent_at))
        self._emit(CallAnswered(track.lead_id, track.call_id, at))

    def _track_of(self, uniqueid: str, linkedid: str) -> Track | None:
        return self.tracks.get(uniqueid.split(";")[0]) or self.tracks.get(linkedid)

    def _on_agent_connected(self, event: AgentConnected) -> None:
        """A queue gave one of our answered customers an operator: that operator is engaged."""
        track = self.tracks.get(event.uniqueid)
        if track is None or not track.queue_tracked:
            return  # an inbound caller: Asterisk's member state covers that operator
        self._touched.add(track.call_id)
        call = CurrentCall(track.lead_id, track.call_id, track.mode, event.at)
        name = self._setup.operators.engage(event.queue, event.interface, call)
        track.on_operator(name or event.member_name or event.interface, event.at)
        log.info(
            "operator_connected",
            lead_id=track.lead_id,
            call_id=track.call_id,
            operator=name or event.interface,
            hold_s=event.hold_s,
        )
        self._wake()  # one customer fewer waiting

    def connected(self) -> None:
        """The AMI link is (back) up: ask about the calls it may have missed."""
        self.reconcile_needed = any(t.awaiting_reconcile for t in self.tracks.values())

    def lost(self, why: str) -> None:
        """The AMI link dropped: every call's end must be asked of Asterisk once it is back."""
        for track in self.tracks.values():
            track.on_lost(f"AMI connection lost ({why})")
        self._touched.update(self.tracks)
        self.reconcile_needed = bool(self.tracks)

    async def refused(self, event: OriginateRefused) -> None:
        """Asterisk refused the Originate: nobody was dialed, so it is not an attempt."""
        track = self.tracks.get(event.call_id)
        if track is not None:
            await self.record(track.refused(f"Asterisk refused: {event.message}", event.at))

    # --- settling -------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When a track must be checked, or an unrecorded call written, even if no event comes."""
        if self._touched:
            return self._clock()  # changed since the last look: look now
        deadline = min(self._timed.values(), default=None)
        if self._ledger.unrecorded:
            retry_at = self._clock() + STORE_RETRY_S
            deadline = min(deadline or retry_at, retry_at)
        return deadline

    async def write_pending(self) -> None:
        """Answers to write, and finished calls the store could not take before."""
        await self._ledger.write_answers()
        for call in list(self._ledger.unrecorded.values()):
            await self.record(call)
            if call.call_id in self._ledger.unrecorded:
                return  # still failing: the next try comes after STORE_RETRY_S

    async def reconcile(self) -> None:
        """Ask Asterisk which of our calls still exist (CoreShowChannels), by ChannelId."""
        try:
            live = await self._pbx.live_channels()
        except (PbxUnavailable, TimeoutError) as exc:
            log.warning("reconcile_failed", error=str(exc))
            return
        self.reconcile_needed = False
        state_of = {channel.uniqueid: channel for channel in live}
        self._touched.update(self.tracks)
        for track in list(self.tracks.values()):
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
                await self.record(finished)
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

    async def finish_ready(self) -> None:
        """Record every call whose track has all it needs (or whose grace has passed).

        Only a track changed since the last look, or whose deadline has come, can have
        become ready: the others are not looked at (hundreds of calls in flight made this a
        pass over all of them per burst of events). In claim order, as the tracks came.
        """
        now = self._clock()
        looks = self._touched.union(c for c, at in self._timed.items() if at <= now)
        self._touched = set()
        ready: list[FinishedCall] = []
        for call_id in sorted(looks, key=self._claim_order):
            track = self.tracks.get(call_id)
            if track is None:
                self._timed.pop(call_id, None)
                continue
            if track.wants_evidence():  # a followed call ended, its answer unseen
                track.take_evidence(await self._evidence(track.call_id))
            finished = track.check(now)
            if finished is not None:
                ready.append(finished)
        # the ends of one look are written together (``Ledger.write_all``), then followed up
        for call, landed in zip(ready, await self._ledger.write_all(ready), strict=True):
            if landed:
                self._recorded(call)
        for call_id in looks:
            self._time(call_id)

    def _follow(self, track: Track) -> None:
        self.tracks[track.call_id] = track
        self._touched.add(track.call_id)

    def _claim_order(self, call_id: str) -> int:
        track = self.tracks.get(call_id)
        return track.attempt_id if track is not None else 0

    def _time(self, call_id: str) -> None:
        """Note when the track must be looked at again even if no event comes (if ever)."""
        track = self.tracks.get(call_id)
        deadline = track.deadline() if track is not None else None
        if deadline is None:
            self._timed.pop(call_id, None)
        else:
            self._timed[call_id] = deadline

    async def record(self, call: FinishedCall) -> None:
        """Write the finished attempt; if the store cannot take it, keep it and try again.

        The track stays (its line stays taken, its lead 'dialing') until the write lands,
        so a full disk never turns into a lost result or a redial.
        """
        if await self._ledger.write(call):
            self._recorded(call)

    def _recorded(self, call: FinishedCall) -> None:
        """The finished attempt is in the store: its line and its evidence are let go."""
        track = self.tracks.pop(call.call_id, None)
        self._timed.pop(call.call_id, None)
        if track is None or track.main_hangup_at is not None or track.blind:
            self._pbx.forget_evidence(call.call_id)
        else:  # the hangup handler has not run yet: delete its entry once it has
            self._forget_at_hangup.add(call.call_id)
        if call.customer_dialed:
            self._emit(call)
        self._wake()
