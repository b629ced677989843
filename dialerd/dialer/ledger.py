"""What our calls came to, written to the store: a finished attempt with the retry
decision (one transaction), a call that never reached the customer taken back, and the
customer's answer while the call is still live (so a crash cannot unsay it).

A finished call the store cannot take is kept (``unrecorded``) and written again later;
meanwhile ``faults.DialingHold`` holds new dialing. An answer that cannot be written
is not kept: the hangup handler's AstDB entry still holds it for a reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from dialerd.clock import Clock
from dialerd.config import Settings
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.events import Emit, OfferMissed
from dialerd.dialer.faults import DialingHold
from dialerd.dialer.pacer import Pacer
from dialerd.domain import CloseReason, FinishedCall, LeadState
from dialerd.policy.pick import Policy
from dialerd.policy.retry import LeadUpdate, after_attempt
from dialerd.store import attempts
from dialerd.store.sql import STORE_ERRORS, Store, is_conflict, is_unwritable

log = structlog.get_logger(__name__)


class Setup(Protocol):
    """What the engine runs with now: a reload replaces the settings, policy and board."""

    @property
    def settings(self) -> Settings: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def operators(self) -> OperatorBoard: ...


class Ledger:
    def __init__(
        self,
        setup: Setup,
        db: Store,
        *,
        clock: Clock,
        hold: DialingHold,
        pacer: Pacer,
        emit: Emit,
        after_call: Callable[[FinishedCall], None],
        lead_due: Callable[[float | None], None] = lambda _at: None,
    ) -> None:
        """``after_call``: told of each finished call before its operator is released (the
        dialer's wrap-up, ``wrapup.py``, starts there). ``lead_due``: told when a call's lead
        is waiting again, with its due time (None: at once), so the dial loop knows without
        looking at the store."""
        self._setup = setup
        self._lead_due = lead_due
        self._after_call = after_call
        self._db = db
        self._clock = clock
        self._hold = hold
        self._pacer = pacer
        self._emit = emit
        self.unrecorded: dict[str, FinishedCall] = {}  # finished, the store could not take it
        self._answers: list[attempts.Answer] = []  # to write

    def answered(self, answer: attempts.Answer) -> None:
        """The customer answered a live call: written at the next ``write_answers``."""
        self._answers.append(answer)

    async def write_answers(self) -> None:
        """The answer goes into the store while the call is live: a crash cannot unsay it."""
        if not self._answers:
            return
        answers, self._answers = self._answers, []
        try:
            await attempts.mark_answered(self._db, answers)
        except STORE_ERRORS as exc:
            if is_conflict(exc):  # rolled back against another daemon's transaction
                self._answers = answers + self._answers  # written with the next ones
                return
            if not is_unwritable(exc):
                raise
            self._hold.store_failed(exc)  # the hangup handler's AstDB entry still holds it

    async def write(self, call: FinishedCall) -> bool:
        """Write the finished attempt; False: the store cannot take it now (kept, for later)."""
        try:
            if not call.customer_dialed:
                await self._take_back(call)
            else:
                await self._finish(call)
        except attempts.AlreadyFinished:
            # taken over and recorded by another daemon while this one could not renew its
            # lease: that record stands; this daemon only lets its operator go
            log.warning("attempt_recorded_elsewhere", lead_id=call.lead_id, call_id=call.call_id)
            self._setup.operators.release(call.call_id)
        except STORE_ERRORS as exc:
            if is_conflict(exc):  # rolled back against another transaction: tried again
                log.info("finish_conflict_retried", call_id=call.call_id)
                self.unrecorded[call.call_id] = call
                return False
            if not is_unwritable(exc):
                raise
            self.unrecorded[call.call_id] = call
            self._hold.store_failed(exc)
            return False
        self.unrecorded.pop(call.call_id, None)
        self._hold.store_ok()
        return True

    async def write_all(self, calls: Sequence[FinishedCall]) -> list[bool]:
        """``write`` for several finished calls, in order: those whose leads are decided as
        their claims left them go in one transaction (one fsync: under load calls end in
        bursts), each of the others on its own, as every one does when the group cannot be
        written so (``attempts.finish_as_claimed``). Each True once its own write landed."""
        together: list[tuple[FinishedCall, LeadUpdate]] = []
        campaigns: list[str] = []
        now = self._clock()
        if len(calls) > 1:
            policy = self._setup.policy
            for call in calls:
                claimed = call.lead_at_claim
                if not call.customer_dialed or claimed is None:
                    continue
                rules = policy.campaign(claimed.campaign)
                update = after_attempt(
                    call.outcome, claimed.attempts, rules, now, claimed.extra_attempts
                )
                if update.close_reason is not CloseReason.EXHAUSTED:  # the CRM hears of it
                    together.append((call, update))
                    campaigns.append(claimed.campaign)
        landed: set[str] = set()
        if len(together) > 1:
            try:
                grouped = await attempts.finish_as_claimed(self._db, together, now)
            except STORE_ERRORS:
                grouped = False  # each is written on its own below, and fails as it would
            if grouped:
                self._hold.store_ok()
                for (call, update), campaign in zip(together, campaigns, strict=True):
                    self.unrecorded.pop(call.call_id, None)
                    self._finished(call, campaign, update)
                    landed.add(call.call_id)
        return [call.call_id in landed or await self.write(call) for call in calls]

    async def _finish(self, call: FinishedCall) -> None:
        policy, now = self._setup.policy, self._clock()

        def decide(attempts_so_far: int, campaign: str, extra: int) -> LeadUpdate:
            rules = policy.campaign(campaign)
            return after_attempt(call.outcome, attempts_so_far, rules, now, extra)

        campaign, update = await attempts.finish_attempt(self._db, call, decide, now)
        self._finished(call, campaign, update)

    def _finished(self, call: FinishedCall, campaign: str, update: LeadUpdate) -> None:
        """What follows a finished attempt's write: the dial loop told of its lead's next
        due time, the operator into wrap-up, pacing told, one log line."""
        if update.state is LeadState.WAITING:
            self._lead_due(update.due_at)
        self._after_call(call)  # first: the operator goes from the call into wrap-up, never free
        self._setup.operators.release(call.call_id)
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
        await attempts.take_back(self._db, call.attempt_id, call.lead_id, now)
        self._lead_due(None)
        board = self._setup.operators
        board.release(call.call_id)
        if not call.refused:
            if call.operator is not None:
                pause_s = self._setup.settings.dialing.operator_missed_pause_s
                board.missed(call.operator, now + pause_s)
            log.warning(
                "operator_missed", lead_id=call.lead_id, operator=call.operator, why=call.note
            )
            self._emit(OfferMissed(call.lead_id, call.call_id, call.operator, call.note or "", now))
            return
        pause = self._hold.refused(now)
        log.warning(
            "originate_not_an_attempt",
            lead_id=call.lead_id,
            call_id=call.call_id,
            why=call.note,
            refused_in_a_row=self._hold.refusals,
            dialing_paused_s=pause,
        )
