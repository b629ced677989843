"""The dial loop: wait for capacity, pick, record the attempt, originate, track, record.

Two tasks share one store connection: the dial loop (woken by new leads, by a
freed line and by the next due time, never polling fast) and the event consumer,
which follows every call to its end. An attempt is committed before its
Originate is written, and a lead stays 'dialing' until its attempt is finished,
so a crash or an AMI drop can leave an attempt unknown but never dial twice.

This module is the two loops and what they decide; a call's own path (start, adopt,
follow, reconcile, record) is ``calls.py``, the operator board's upkeep
``operator_sync.py``, the pauses a failing PBX or store impose ``faults.py``, the
operators' own pauses and "ready" ``pauses.py``, and the wrap-up after a call ``wrapup.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import partial

import structlog

from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import Settings
from dialerd.dialer.board import OnChange, OperatorBoard
from dialerd.dialer.calls import Calls, Pbx
from dialerd.dialer.events import EngineEvent
from dialerd.dialer.faults import DialingHold
from dialerd.dialer.floor import CampaignHold
from dialerd.dialer.ledger import Ledger
from dialerd.dialer.operator_sync import OperatorSync
from dialerd.dialer.pacer import Pacer
from dialerd.dialer.pauses import Pauses
from dialerd.dialer.risk_ledger import RiskLedger
from dialerd.dialer.wrapup import Wrapups
from dialerd.domain import OperatorsAway
from dialerd.intake.missed import NewMissedLead, missed_call
from dialerd.pbx.events import (
    MissedInbound,
    OriginateRefused,
    PbxConnected,
    PbxDisconnected,
    PbxEvent,
    PbxRefusing,
)
from dialerd.policy.missed import DialerCall, IgnoredCaller
from dialerd.policy.pacing import Pace
from dialerd.policy.pick import Policy, judge
from dialerd.policy.window import CallingWindow
from dialerd.store import attempts, daemons, due
from dialerd.store.attempts import Claim, Lease
from dialerd.store.due import CampaignFilter
from dialerd.store.sql import STORE_ERRORS, Store, is_conflict, is_unwritable

log = structlog.get_logger(__name__)

WRAPUP_STOP_S = 5.0  # at a stop, how long Asterisk may take to unpause members in wrap-up
EVENT_BATCH = 256  # most PBX events taken before their follow-up (bounds the delay of a write)
# a claim the shared store refused (the PBX's lines all taken by the daemons' calls): try again
REFUSED_RECHECK_S = 1.0


class NoRoom(Enum):
    """No campaign may dial now: every gated campaign's operators are taken."""

    NOW = "no campaign may dial now"


class Lines:
    """How many more calls one engine may place: the daemon-wide ``max_concurrent_calls``
    over the calls of every engine, and this PBX's own cap (``ami[].max_concurrent_calls``)."""

    def __init__(self, daemon_in_flight: Callable[[], int], pbx_cap: int | None = None) -> None:
        self._daemon_in_flight = daemon_in_flight
        self._pbx_cap = pbx_cap

    @property
    def pbx_cap(self) -> int | None:
        """This PBX's own cap: on a shared store the claim holds it across daemons too."""
        return self._pbx_cap

    def free(self, daemon_cap: int, own_in_flight: int) -> int:
        free = daemon_cap - self._daemon_in_flight()
        if self._pbx_cap is not None:
            free = min(free, self._pbx_cap - own_in_flight)
        return free


WINDOW_RECHECK_S = 3600.0  # a window open round the clock is worked out again this often


class _Step(Enum):
    AGAIN = "look again at once"  # a call started, or the store holds dialing


@dataclass(frozen=True)
class _Looked:
    """What the dial loop's last look at the store found: when the next lead is due
    (None: none waits), among the campaigns it looked at; ``stirred``: ``Engine._stirred``
    when the look began; ``until``: when it stops standing for a look (the safety recheck:
    a change nobody told the engine of is found that late at most, also under load)."""

    at: float | None
    only: CampaignFilter | None
    stirred: int
    until: float


class Engine:
    """The dial loop and the event consumer over one store and one PBX.

    The engine is the ``Setup`` its calls and ledger read: its settings, policy and board
    as they are now, after any reload. A daemon with several PBXs runs one engine per PBX
    on the one store: each claim takes the most urgent lead, whichever engine has a free
    line asks first, so the order holds across PBXs and the PBX with more room places more
    calls.
    """

    def __init__(
        self,
        settings: Settings,
        db: Store,
        pbx: Pbx,
        *,
        clock: Clock = WALL_CLOCK,
        listeners: list[Callable[[EngineEvent], None]] | None = None,
        on_operator_change: OnChange | None = None,
        pbx_listeners: list[Callable[[PbxEvent], None]] | None = None,
        pbx_name: str = "",
        adopts: Callable[[str], bool] | None = None,
        lines: Lines | None = None,
        campaigns: CampaignHold | None = None,
        publish_operators: bool = True,
        lease: Lease | None = None,
        risk: RiskLedger | None = None,
    ) -> None:
        """``on_operator_change``: the board's hook (every board, after reloads too);
        ``pbx_listeners``: see every PBX event after the engine has (recorders, issue 6).

        Several PBXs (one engine each): ``pbx_name`` is written with every attempt this
        engine claims, ``adopts`` says which PBX names' attempts left 'dialing' are this
        engine's to reconcile after a restart (None: all), ``lines`` the daemon-wide cap,
        ``campaigns`` the supervisors' campaign pauses all engines share, and
        ``publish_operators`` False leaves ``dialerd operators``' file to the fleet.

        ``lease`` (a PostgreSQL store several daemons share): this daemon's id and lease
        time, written with each claim; the engine follows only the calls it holds the
        lease of, and takes over those of a daemon whose leases ran out."""
        self.settings = settings
        self.pbx_name = pbx_name
        self._lines = lines or Lines(lambda: self.in_flight)
        self.policy: Policy = settings.policy
        self._db = db
        self._pbx = pbx
        self._clock = clock
        self._listeners = listeners or []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()  # set once the attempts left in flight are adopted
        self._stop_now = asyncio.Event()
        self._rerank_needed = True
        self._window_was_open = True
        self._open_while: tuple[CallingWindow, float, float] | None = None  # see _closed_until
        self._away = False  # dialing held as nobody is signed in, as told (``OperatorsAway``)
        self._pbx_listeners = pbx_listeners or []
        self._lease = lease
        self._takeover_at = 0.0  # when to look for other daemons' expired leases next
        self._refused_at: float | None = None  # when the store last refused a claim
        # A freed line makes no lead due: the look after a call's end is skipped while the
        # last look's next due time holds (``_nothing_due``). Anything else that may make a
        # lead due (a new lead, a reload, a lead given back, a timer) bumps ``_stirred``;
        # our own calls' retries are told with their due time (``_due_told``).
        self._looked: _Looked | None = None
        self._stirred = 0
        self._due_told: float | None = None
        self._wrapups = Wrapups(
            lambda: self.operators, lambda: self.settings, pbx, clock=clock, wake=self._wake.set
        )
        self._operator_sync = OperatorSync(
            settings,
            pbx,
            clock=clock,
            on_change=on_operator_change,
            wake=self._wake.set,
            on_synced=self._wrapups.synced,
            pbx_name=pbx_name or None,
        )
        self._publish_operators = publish_operators
        # the context ``run`` runs in (with several PBXs, its log lines name the PBX): what
        # a reload starts runs in it too, not in the signal handler's or the caller's
        self._run_context: contextvars.Context | None = None
        self._pacer = Pacer(db, risk, pbx_name)
        self._pauses = Pauses(
            lambda: self.operators,
            lambda: self.settings,
            pbx,
            self._wrapups,
            clock=clock,
            wake=self._wake.set,
        )
        self._hold = DialingHold(clock, self._emit, lambda: self.in_flight)
        # campaigns a supervisor paused (issue 13): left out of every pick until resumed
        self.campaigns = campaigns or CampaignHold(db, clock, self._wake.set)
        ledger = Ledger(
            self,
            db,
            clock=clock,
            hold=self._hold,
            pacer=self._pacer,
            emit=self._emit,
            after_call=self._wrapups.begin,
            lead_due=self._lead_due,
        )
        self.calls = Calls(
            self,
            db,
            pbx,
            clock=clock,
            hold=self._hold,
            ledger=ledger,
            emit=self._emit,
            wake=self._wake.set,
            lead_due=self._lead_due,
            adopts=adopts,
        )

    # --- control --------------------------------------------------------------------------
    def wake(self) -> None:
        """Something changed (a new lead, a freed line): look for work now."""
        self._stirred += 1
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
        self._stirred += 1  # new windows, limits and schemes: the last look no longer holds
        self._operator_sync.reload(settings, self.calls.tracks.values(), self._run_context)
        self._wake.set()

    async def pause_operator(self, name: str, reason: str) -> None:
        """Pause an operator with a reason of ``pauses.reasons`` (issue 12).

        A queue member is paused in Asterisk (QueuePause with Reason in its group's queue,
        visible in QueueStatus); an operator outside any queue only on the dialer's board,
        since Asterisk cannot pause a device. No dialer call is offered from the moment this
        is called. Raises UnknownOperator, UnknownReason, PauseRefused, PbxUnavailable
        (``dialerd.dialer.pauses``).
        """
        await self._pauses.pause(name, reason)

    async def resume_operator(self, name: str) -> None:
        """End an operator's pause (in Asterisk, or on the board), or their wrap-up; raises as
        ``pause_operator``."""
        await self._pauses.resume(name)

    def operator_ready(self, name: str) -> None:
        """The operator ends their wrap-up early (the console also says this once a call's
        result is saved) and may take the next call. The dialer's wrap-up (``wrapup.py``)
        ends in every mode, a queue member is unpaused in Asterisk; raises UnknownOperator,
        or WrapupHeld while Asterisk's own queue ``wrapuptime`` keeps the operator."""
        self._pauses.ready(name)

    @property
    def operators(self) -> OperatorBoard:
        """The operator board (a reload with new operators or groups replaces it)."""
        return self._operator_sync.board

    @property
    def in_flight(self) -> int:
        return len(self.calls.tracks)

    @property
    def paces(self) -> dict[str, Pace]:
        """Each campaign's pace at the last pick (the ratio in force, and why)."""
        return dict(self._pacer.paces)

    async def run(self, *, until_idle: bool = False, drain_timeout_s: float = 60.0) -> None:
        """Dial until stopped (or, with ``until_idle``, until nothing is due or in flight)."""
        self._run_context = contextvars.copy_context()
        await self.calls.adopt(self._lease.daemon_id if self._lease else None)
        await self.campaigns.load()
        self.started.set()
        consumer = asyncio.create_task(self._consume_events(), name="engine-events")
        dialer = asyncio.create_task(
            self._dial_then_drain(until_idle, drain_timeout_s), name="engine-dial"
        )
        helpers = [asyncio.create_task(self._wrapups.run(), name="engine-wrapups")]
        if self._publish_operators:
            helpers.append(
                asyncio.create_task(
                    self._operator_sync.publish(self.settings), name="engine-operators"
                )
            )
        try:
            # whichever ends first: the dialer when stopped, the consumer only by crashing
            done, _ = await asyncio.wait({consumer, dialer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except BaseException:
            log.exception("engine_crashed", left_in_flight=self.in_flight)
            raise
        finally:
            for task in (consumer, dialer, *helpers):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._wrapups.stop(WRAPUP_STOP_S)
            await self._operator_sync.close()
        log.info("engine_stopped", left_in_flight=self.in_flight)

    async def _dial_then_drain(self, until_idle: bool, drain_timeout_s: float) -> None:
        await self._dial_loop(until_idle)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout_s):
                while self.calls.tracks and not self._stop_now.is_set():
                    await self._changed()
        if self.calls.tracks and not self._stop_now.is_set():
            log.warning("drain_timeout", left_in_flight=self.in_flight)

    # --- dialing --------------------------------------------------------------------------
    async def _dial_loop(self, until_idle: bool) -> None:
        while not self._stopping.is_set():
            await self._rerank()
            dialing = self.settings.dialing
            lines_free = self._lines.free(dialing.max_concurrent_calls, self.in_flight)
            now = self._clock()
            held_s = self._hold.held_s(now)  # the PBX refused, or the store is full
            if not self._pbx.connected.is_set() or lines_free <= 0 or held_s > 0:
                await self._changed(held_s if held_s > 0 else None)
                continue
            opens = self._closed_until(now)
            if opens is None:
                step = await self._dial_next(lines_free, now)
                if step is _Step.AGAIN:
                    continue
                if step is NoRoom.NOW:
                    if until_idle and await self._idle():
                        return
                    await self._changed(self._until_room(now))
                    continue
                opens = step
            if until_idle and not self.calls.tracks:
                return
            wait_s = dialing.safety_recheck_s
            if opens is not None:
                wait_s = min(wait_s, max(0.0, opens - self._clock()))
            await self._changed(wait_s)

    async def _dial_next(self, lines_free: int, now: float) -> float | None | NoRoom | _Step:
        """Start the next call if a campaign has room. Otherwise: ``NoRoom``, or when the next
        lead is due (None: none waits that this loop could dial)."""
        only = await self._campaigns_with_room(lines_free, now)
        if only is not NoRoom.NOW and (known := self._nothing_due(only, now)) is not None:
            await self._pacer.settle(  # no claim: pacing's reservation is released
                self.operators, self.calls.tracks.values(), now, release=True
            )
            return known.at
        told: list[float | None] = []  # the next due time, read with the claim
        stirred, self._due_told = self._stirred, None
        claim = None if only is NoRoom.NOW else await self._claim(now, only, told.append)
        if only is not NoRoom.NOW:
            self._note_look(only, told, stirred, now)
        if claim is not None:
            await self._start(claim)
        # the call is in flight, or none starts: pacing's reservation for it is released
        await self._pacer.settle(
            self.operators, self.calls.tracks.values(), self._clock(), release=True
        )
        if only is NoRoom.NOW:
            return only
        if claim is not None:
            # The claim read the next due time: while it says no other lead is due yet, the
            # look again would find nothing (whichever campaigns have room by then), so the
            # loop waits for that time, or a wake, at once.
            known = self._nothing_due(only, self._clock())
            return _Step.AGAIN if known is None else known.at
        if self._hold.store_error is not None:
            return _Step.AGAIN  # held until STORE_RETRY_S has passed
        if self._refused_at == now:  # another daemon's call may end any moment: look soon
            return now + REFUSED_RECHECK_S
        opens = told[0] if told else await due.next_due_at(self._db)
        if only is not None and opens is not None and opens <= self._clock():
            return None  # due leads of campaigns held back are not ours to wait for
        return opens

    def _note_look(
        self, only: CampaignFilter | None, told: list[float | None], stirred: int, now: float
    ) -> None:
        """Keep what a look found, if it can stand for the next one: it read the next due
        time, and this daemon alone picks from the store (with a lease, other daemons' calls
        make leads due that this one never hears of)."""
        fine = told and self._lease is None and self._hold.store_error is None
        until = now + self.settings.dialing.safety_recheck_s
        self._looked = _Looked(told[0], only, stirred, until) if fine else None

    def _nothing_due(self, only: CampaignFilter | None, now: float) -> _Looked | None:
        """The last look, if it still says no lead is due now for these campaigns: nothing
        stirred since it began, and no call of ours has made its lead due by now."""
        looked = self._looked
        if looked is None or looked.stirred != self._stirred or looked.only != only:
            return None
        at = looked.at
        if self._due_told is not None:
            at = self._due_told if at is None else min(at, self._due_told)
        if (at is not None and at <= now) or now >= looked.until:
            return None
        return _Looked(at, only, looked.stirred, looked.until)

    def _lead_due(self, at: float | None) -> None:
        """One of our calls left its lead waiting, due at ``at`` (None: due at once, e.g. a
        claim given back): the next look must not be skipped past that time."""
        if at is None:
            self._stirred += 1
        elif self._due_told is None or at < self._due_told:
            self._due_told = at

    async def _idle(self) -> bool:
        """Nothing in flight and no lead waiting at all (``run(until_idle=True)``)."""
        return not self.calls.tracks and await due.next_due_at(self._db) is None

    async def _start(self, claim: Claim) -> None:
        if self.campaigns.is_paused(claim.campaign):
            # paused while the claim was being written (issue 13): nothing was sent yet
            await attempts.unclaim(self._db, claim, self._clock())
            self._lead_due(None)
            return
        await self.calls.start(claim)

    def _closed_until(self, now: float) -> float | None:
        """When the calling window opens next, or None while it is open (logged on change).

        Asked on every turn of the dial loop: an open window is worked out once, with when
        it next closes, and taken as open until then (a reload's new window is worked out
        afresh)."""
        window = self.policy.window
        known = self._open_while
        if known is not None and known[0] is window and known[1] <= now < known[2]:
            return None  # the window found open stays open until its next close
        at = datetime.fromtimestamp(now, UTC)
        if window.is_open(at):
            if not self._window_was_open:
                log.info("window_open")
            self._window_was_open = True
            closes = window.next_close(at)  # None: open for its whole horizon (days)
            until = now + WINDOW_RECHECK_S if closes is None else closes.timestamp()
            self._open_while = (window, now, until)
            return None
        self._open_while = None
        opens = window.next_open(at).timestamp()
        self._held_for_nobody(False, now)  # the window is what holds dialing now
        if self._window_was_open:
            log.info("window_closed", opens_at=self.policy.local_time(opens))
        self._window_was_open = False
        return opens

    async def _claim(
        self,
        now: float,
        only: CampaignFilter | None,
        next_due: Callable[[float | None], None] | None = None,
    ) -> Claim | None:
        """The next lead to dial, its attempt committed; None if none (or the store is full).
        ``next_due``: as ``claim_next`` takes it."""
        try:
            claim = await attempts.claim_next(
                self._db,
                now,
                self.policy.ranks,
                partial(judge, now=now, policy=self.policy),
                only=only,
                mode_of=lambda name: self.policy.campaign(name).mode.value,
                caller_of=self.calls.caller_number,
                pbx=self.pbx_name,
                lease=self._lease,
                pbx_lines=self._lines.pbx_cap,
                next_due=next_due,
            )
        except attempts.ClaimRefused as exc:  # a shared PBX full, or this daemon unvouched
            log.debug("claim_refused", why=str(exc))
            self._refused_at = now
            return None
        except STORE_ERRORS as exc:
            if is_conflict(exc):  # another daemon's or intake's transaction: pick again
                log.info("claim_conflict_retried", error=str(exc))
                return None
            if not is_unwritable(exc):
                raise
            self._hold.store_failed(exc)
            return None
        self._hold.store_ok()
        return claim

    async def _rerank(self) -> None:
        """Waiting leads take the rank of their campaign's (possibly new) scheme and cap."""
        if not self._rerank_needed:
            return
        self._rerank_needed = False
        policy = self.policy
        default = policy.campaign(policy.default_campaign)
        schemes = {name: campaign.scheme for name, campaign in policy.campaigns.items()}
        caps = {name: campaign.max_attempts for name, campaign in policy.campaigns.items()}
        changed = await due.rerank(self._db, schemes, default.scheme, caps, default.max_attempts)
        exhausted = await due.close_over_cap(self._db, caps, default.max_attempts, self._clock())
        if changed or exhausted:
            log.info("leads_reranked", changed=changed, closed_exhausted=exhausted)

    async def _campaigns_with_room(
        self, lines_free: int, now: float
    ) -> CampaignFilter | NoRoom | None:
        """Which campaigns may dial now (policy/pacing.py), paused ones never; None: all.

        With operators configured and none of them signed in, nobody is dialed in any mode:
        an answered customer would have nobody to talk to (a campaign without a group too).
        Survey campaigns are the exception: their customers talk to the survey IVR only.
        A PBX with no operators of its own, while other PBXs have theirs, is held the same
        way for good: a customer answered on it could reach no operator of another PBX.
        """
        campaigns = dict(self.policy.campaigns)
        paused = self.campaigns.paused
        if self._operators_elsewhere() or (self.operators and not self._anyone_signed_in(now)):
            surveys = tuple(
                name
                for name, campaign in campaigns.items()
                if not campaign.mode.needs_operator and name not in paused
            )
            return CampaignFilter(surveys, include=True) if surveys else NoRoom.NOW
        if not self.operators and all(c.group is None for c in campaigns.values()):
            if not paused:
                return None  # no operator gating: only max_concurrent_calls applies
            allowed = tuple(name for name in campaigns if name not in paused)
        else:
            paces = await self._pacer.compute(
                campaigns,
                self.operators,
                self.calls.tracks.values(),
                lines_free,
                now,
                self.policy.tz,
            )
            allowed = tuple(n for n, p in paces.items() if p.calls > 0 and n not in paused)
        if not allowed:
            return NoRoom.NOW
        blocked = tuple(name for name in campaigns if name not in allowed)
        if not blocked:
            return None
        if self.policy.default_campaign in allowed:  # leads of unknown campaigns follow it
            return CampaignFilter(blocked, include=False)
        return CampaignFilter(allowed, include=True)

    def _operators_elsewhere(self) -> bool:
        """Operators are configured, but none on this engine's PBX (``operators[].pbx``)."""
        return not self.operators and bool(self.settings.operators)

    def _anyone_signed_in(self, now: float) -> bool:
        """Whether some operator is at work. Nobody is only told once Asterisk has reported
        every operator: before that the board knows nothing (an AMI outage has its own
        alert)."""
        board = self.operators
        signed_in = board.anyone_signed_in(now)
        if board.synced:
            self._held_for_nobody(not signed_in, now)
        return signed_in

    def _held_for_nobody(self, away: bool, now: float) -> None:
        """Tell listeners when dialing starts or stops being held for want of operators."""
        if away is self._away:
            return
        self._away = away
        if away:
            log.warning("no_operators_signed_in")
        self._emit(OperatorsAway(away, now))

    def _until_room(self, now: float) -> float:
        """No campaign may dial: sleep until woken, a rest or wrap-up ends, or the safety net."""
        wait_s = self.settings.dialing.safety_recheck_s
        released = self.operators.next_release(now)
        if released is not None:  # an operator ends a rest or a wrap-up then
            wait_s = min(wait_s, released - now)
        if (again := self._pacer.recheck_at) is not None:  # predictive: by the second
            wait_s = min(wait_s, max(0.0, again - now))
        return wait_s

    # --- following calls ------------------------------------------------------------------
    def _next_deadline(self) -> float | None:
        """When the consumer must look again even if no event comes."""
        ends = (
            self.calls.deadline(),
            self._operator_sync.retry_at,
            self._wrapups.deadline(),
            self._takeover_at if self._lease is not None else None,
        )
        return min((end for end in ends if end is not None), default=None)

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
                await self._take_queued(event)
            await self._follow_up()

    async def _take_queued(self, first: PbxEvent) -> None:
        """The events already waiting, taken before the one follow-up that serves them all.

        Under load each event used to cost a follow-up (a pass over every call in flight and
        a transaction for its answer); a burst now costs one. A change of the AMI link ends
        the batch: a reconnect's reconcile still runs before the events that follow it.
        """
        events = self._pbx.events
        taken = 1
        event = first
        while (
            taken < EVENT_BATCH
            and not events.empty()
            and not isinstance(event, (PbxConnected, PbxDisconnected, PbxRefusing))
        ):
            event = events.get_nowait()
            await self._take_event(event)
            taken += 1

    async def _take_event(self, event: PbxEvent) -> None:
        self._operator_sync.apply(event)
        if not self.calls.apply(event):
            self._apply_link(event)
        for listener in self._pbx_listeners:
            listener(event)
        if isinstance(event, MissedInbound):
            await self._missed_call(event)
        elif isinstance(event, OriginateRefused):
            await self.calls.refused(event)

    async def _follow_up(self) -> None:
        """What an event (or a deadline) may have made due: writes, reconciles, records."""
        await self.calls.write_pending()
        await self._take_over()
        if self.calls.reconcile_needed and self._pbx.connected.is_set():
            await self.calls.reconcile()
        if self._operator_sync.resync_due(self._clock()) and self._pbx.connected.is_set():
            await self._operator_sync.resync()
        await self.calls.finish_ready()
        self._wrapups.expire(self._clock())
        await self._pacer.settle(self.operators, self.calls.tracks.values(), self._clock())

    async def _take_over(self) -> None:
        """Calls of daemons that stopped renewing their leases (killed, cut off) become this
        daemon's: adopted as a restart adopts its own, then asked of the PBX (reconcile),
        never dialed again. Looked for every third of a lease, while the PBX is up (the
        calls must be checked with it)."""
        lease = self._lease
        now = self._clock()
        if lease is None or now < self._takeover_at:
            return
        self._takeover_at = now + lease.seconds / 3
        if not self._pbx.connected.is_set():
            return
        try:
            taken = await daemons.adopt_expired(
                self._db, lease.daemon_id, now, lease.seconds, carries=self.calls.adopts
            )
        except STORE_ERRORS as exc:
            log.warning("takeover_failed", error=str(exc) or type(exc).__name__)
            return
        if not taken:
            return
        for adopted in taken:
            log.warning(
                "call_taken_over",
                lead_id=adopted.lead_id,
                call_id=adopted.call_id,
                from_daemon=adopted.previous_daemon,
            )
        await self.calls.adopt(lease.daemon_id, only={adopted.attempt_id for adopted in taken})

    def _apply_link(self, event: PbxEvent) -> None:
        """The AMI link itself: up, refusing calls, or down. Each is news for the published
        operators file (``dialerd operators`` says which PBX is not connected)."""
        if isinstance(event, (PbxConnected, PbxRefusing, PbxDisconnected)):
            self.operators.changed.set()
        match event:
            case PbxConnected():
                self.calls.connected()
                self._hold.reconnected()
                self._wake.set()
                self._emit(event)
            case PbxRefusing():
                log.warning("pbx_refusing", why=event.why, in_flight=self.in_flight)
            case PbxDisconnected():
                self._held_for_nobody(False, event.at)  # the link is what holds dialing now
                self.calls.lost(event.why)
                log.warning("pbx_down", in_flight=self.in_flight)
                self._emit(event)

    async def _missed_call(self, event: MissedInbound) -> None:
        """A missed inbound call becomes a callback lead (or raises the phone's open lead)."""
        bound = log.bind(caller=event.caller, queue=event.queue, reason=event.reason)
        try:
            several = len(self.settings.pbxs) > 1
            result = await missed_call(
                self._db,
                event,
                self.settings,
                self._clock(),
                pbx=self.pbx_name if several else None,
            )
        except DialerCall:
            return  # our customer hung up in the queue: the attempt records it as abandoned
        except IgnoredCaller as exc:
            bound.info("missed_call_ignored", why=str(exc))
            return
        except STORE_ERRORS:  # a store hiccup must not end call tracking
            bound.exception("missed_call_not_recorded")
            return
        if isinstance(result, NewMissedLead):
            bound.info("missed_call_lead", lead_id=result.lead_id, closed_as=result.closed_as)
        else:
            bound.info(
                "missed_call_raised_lead", lead_id=result.lead_id, being_dialed=result.being_dialed
            )
        self.wake()

    # --- helpers --------------------------------------------------------------------------
    async def _changed(self, wait_s: float | None = None) -> None:
        """Sleep until woken (new lead, freed line, connect) or ``wait_s`` has passed."""
        real_s = None if wait_s is None else self._clock.real_seconds(wait_s)
        try:
            async with asyncio.timeout(real_s):
                await self._wake.wait()
        except TimeoutError:
            self._stirred += 1  # a due time, or the safety net: the store is looked at afresh
        self._wake.clear()

    def _emit(self, event: EngineEvent) -> None:
        for listener in self._listeners:
            listener(event)
