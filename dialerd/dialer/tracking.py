"""Following one call from Originate to its end: a pure state machine, no I/O.

Asterisk sends the ``OriginateResponse`` and the ``Hangup`` events of a call in
no fixed order (DESIGN.md §3), and a Local channel's detailed cause is on its
``;2`` half while the ``;1`` half says 0. So a call is finished only when the
facts needed for its record have all arrived, or a short grace has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dialerd.domain import FinishedCall, LeadAtClaim, Outcome
from dialerd.pbx.events import CallEvidence
from dialerd.pbx.outcomes import (
    BUSY_CAUSES,
    CONGESTION_CAUSES,
    INVALID_NUMBER_CAUSES,
    NO_ANSWER_CAUSES,
    classify,
)
from dialerd.policy.amd import clean_status, is_machine

CAUSE_GRACE_S = 0.5  # after a failed Originate, how long to wait for a detailed cause
# After a failed Originate with no channel event at all, how long before concluding that
# Asterisk created none (unknown channel technology): nothing was dialed, not an attempt.
NO_CHANNEL_GRACE_S = 2.0
# Causes that say why an unanswered call ended; any other (0, 16 normal clearing before an
# answer, ...) on a call that rang out unobserved is taken as "not answered".
TELLING_CAUSES = BUSY_CAUSES | NO_ANSWER_CAUSES | CONGESTION_CAUSES | INVALID_NUMBER_CAUSES


class AsksAsterisk:
    """A track followed since a reconcile: at its Hangup, Asterisk's record of the call's end
    (the hangup handler's AstDB entry) is read once, since its OriginateResponse went unseen.

    Shared by both kinds of track; the fields are each dataclass's own.
    """

    following: bool
    result_at: float | None
    main_hangup_at: float | None
    evidence: CallEvidence | None
    evidence_asked: bool

    def wants_evidence(self) -> bool:
        """A followed call ended and its answer (or not) went unseen: ask Asterisk's record."""
        return (
            self.following
            and self.result_at is None
            and self.main_hangup_at is not None
            and not self.evidence_asked
        )

    def take_evidence(self, evidence: CallEvidence | None) -> None:
        self.evidence, self.evidence_asked = evidence, True


@dataclass
class CallTrack(AsksAsterisk):
    attempt_id: int
    lead_id: int
    call_id: str
    sent_at: float | None  # None: in flight from before a restart, not sent by this process
    success: bool | None = None
    reason: int | None = None
    result_at: float | None = None
    main_hangup_at: float | None = None
    main_cause: int | None = None
    detail_causes: list[int] = field(default_factory=list)
    awaiting_reconcile: bool = False
    seen_live_up: bool = False
    following: bool = False  # response lost, channel found live: follow it to its Hangup
    lost_why: str | None = None
    # customer_first into a queue (issue 4): abandoned = answered, never given an operator
    mode: str = "customer_first"
    group: str | None = None
    queue_tracked: bool = False
    operator: str | None = None
    operator_at: float | None = None
    recording_path: str | None = None  # what the dialplan was asked to record to
    recording_started: bool = False
    blind: bool = False  # events may have been missed (AMI drop, daemon restart)
    # a call followed after a reconcile whose answer went unseen: Asterisk's record of its end
    evidence: CallEvidence | None = None
    evidence_asked: bool = False
    amd_status: str | None = None  # answering-machine detection's verdict, when it ran
    amd_cause: str | None = None
    lead_at_claim: LeadAtClaim | None = None  # None: adopted after a restart

    # --- facts in -------------------------------------------------------------------------
    def on_result(self, success: bool, reason: int, at: float) -> None:
        self.success, self.reason, self.result_at = success, reason, at

    def on_hangup(self, uniqueid: str, cause: int, at: float) -> None:
        if uniqueid == self.call_id:
            self.main_hangup_at, self.main_cause = at, cause
        elif cause:
            self.detail_causes.append(cause)

    def on_lost(self, why: str) -> None:
        """The PBX link dropped (or the daemon restarted): events may have been missed.

        Whatever is still unknown must be asked of the PBX (its channel list) once it is back.
        """
        if self.main_hangup_at is None or self.result_at is None:
            self.awaiting_reconcile = True
            self.blind = True
            self.lost_why = why

    def on_operator(self, operator: str, at: float) -> None:
        """The queue connected the answered customer to an operator (AgentConnect)."""
        if self.operator_at is None:
            self.operator, self.operator_at = operator, at

    def on_recording(self) -> None:
        self.recording_started = True

    def on_amd(self, status: str, cause: str) -> None:
        """AMD() decided on the answered customer (the dialplan drops only a MACHINE)."""
        self.amd_status, self.amd_cause = clean_status(status), cause or None

    def on_answer_known(self, at: float) -> None:
        """The store says the customer answered at ``at`` (written while the call was live)."""
        if self.result_at is None:
            self.success, self.reason, self.result_at = True, 4, at

    def refused(self, why: str, at: float) -> FinishedCall:
        """Asterisk refused the Originate: no call was placed, so no attempt."""
        return replace(
            self._finish(Outcome.FAILED, at, note=why), customer_dialed=False, refused=True
        )

    def not_sent(self, why: str, at: float) -> FinishedCall:
        """The Originate was never written (a value AMI cannot carry): a failed attempt."""
        return self._finish(Outcome.FAILED, at, note=why)

    def on_reconcile(
        self,
        live_state: str | None,
        now: float,
        *,
        bridged: bool = False,
        evidence: CallEvidence | None = None,
    ) -> FinishedCall | None:
        """Apply the PBX's channel list: a live call is followed to its end, a gone one is
        settled, from Asterisk's own record of its end (``evidence``) when there is one."""
        if not self.awaiting_reconcile:
            return None
        self.awaiting_reconcile = False
        if live_state is not None and self.main_hangup_at is None:
            self.following = True
            self.seen_live_up = self.seen_live_up or live_state == "Up"
            if bridged and self.queue_tracked and self.operator is None:
                self.operator = "(connected while unobserved)"
            return None
        note = f"ended while unobserved: {self.lost_why}"
        if evidence is not None and self.main_hangup_at is None:
            return self._from_evidence(evidence, now, note)
        ended_at = self.main_hangup_at or now
        if self.result_at is None:
            return self._finish(Outcome.UNKNOWN, ended_at, note=note)
        if self.success:
            return self._finish(Outcome.ANSWERED, ended_at, note=note)
        return self._finish(classify(self.reason or 0, self.best_cause()), ended_at, note=note)

    def _from_evidence(self, evidence: CallEvidence, now: float, note: str) -> FinishedCall:
        """Settle from what the hangup handler wrote: answered with Asterisk's talk time, or
        not reached (its cause; none known on a Local channel's first half: no answer)."""
        ended_at = self.main_hangup_at or evidence.ended_by(now)
        self.main_hangup_at = ended_at
        note = f"{note}; settled from Asterisk's record"
        if evidence.answered or self.success:
            answered_at = evidence.answered_at or self.result_at
            if evidence.billsec is not None:
                answered_at = ended_at - evidence.billsec
            self.success, self.result_at = True, answered_at or self.result_at
            call = self._finish(Outcome.ANSWERED, ended_at, note=note)
            if evidence.billsec is not None:
                call = replace(call, answered_at=answered_at, talk_s=evidence.billsec)
            return call
        cause = evidence.cause or self.best_cause()
        if self.result_at is not None:
            return self._finish(classify(self.reason or 0, cause), ended_at, note=note)
        outcome = classify(0, cause) if cause in TELLING_CAUSES else Outcome.NO_ANSWER
        return self._finish(outcome, ended_at, note=note)

    # --- decision -------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When ``check`` must be called even if no event arrives."""
        if self.result_at is not None and self.success is False and not self.awaiting_reconcile:
            if self._no_channel():
                return self.result_at + NO_CHANNEL_GRACE_S
            return max(self.result_at, self.main_hangup_at or 0.0) + CAUSE_GRACE_S
        return None  # a missing response is the PBX adapter's to time out (OriginateLost)

    def check(self, now: float) -> FinishedCall | None:
        """The finished record once everything needed is known, else None."""
        if self.awaiting_reconcile:
            return None
        if self.result_at is None:
            if self.main_hangup_at is not None and self.following:
                # its response went to a dead connection; the channel list said "live"
                return self._followed_end(now)
            return None
        if self.success:
            if self.main_hangup_at is None:
                return None
            return self._finish(self._answered_outcome(), self.main_hangup_at)
        cause = self.best_cause()
        deadline = self.deadline()
        detailed = cause not in (None, 0) and self.main_hangup_at is not None
        if detailed or (deadline is not None and now >= deadline):
            if self._no_channel():
                if now < self.result_at + NO_CHANNEL_GRACE_S:
                    return None
                return self.refused("Asterisk created no channel for it", self.result_at)
            return self._finish(
                classify(self.reason or 0, cause), self.main_hangup_at or self.result_at
            )
        return None

    def _no_channel(self) -> bool:
        """A failed Originate of which Asterisk never reported a channel (unknown technology)."""
        return (
            self.success is False
            and not self.reason
            and self.main_hangup_at is None
            and not self.detail_causes
            and not self.blind
        )

    def _followed_end(self, now: float) -> FinishedCall | None:
        """The end of a call followed since a reconcile, its OriginateResponse never seen."""
        note = "followed after reconcile"
        if not self.evidence_asked:
            return None  # the engine asks Asterisk first (wants_evidence)
        if self.evidence is not None:
            return self._from_evidence(self.evidence, now, note)
        if self.seen_live_up:
            return self._finish(Outcome.ANSWERED, self.main_hangup_at or now, note=note)
        if self.main_cause in TELLING_CAUSES:  # it rang out, or was busy: not reached
            outcome = classify(0, self.main_cause)
            return self._finish(outcome, self.main_hangup_at or now, note=note)
        return self._finish(Outcome.UNKNOWN, self.main_hangup_at or now, note=note)

    def best_cause(self) -> int | None:
        nonzero = [cause for cause in self.detail_causes if cause]
        if nonzero:
            return nonzero[-1]
        return self.main_cause

    def _answered_outcome(self) -> Outcome:
        """Into a queue, an answered customer who never got an operator was abandoned.

        Only when every event was seen: after a blind spot the AgentConnect may be the
        one that was missed, and the customer must not be called again for nothing.
        """
        if is_machine(self.amd_status) and self.operator is None:
            return Outcome.MACHINE  # the dialplan hung up on it (or left the message)
        if self.queue_tracked and self.operator is None and not self.blind:
            return Outcome.ABANDONED
        return Outcome.ANSWERED

    def _finish(self, outcome: Outcome, ended_at: float, note: str | None = None) -> FinishedCall:
        reached = outcome in (Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MACHINE)
        answered_at = self.result_at if reached and self.success else None
        if answered_at is not None and self.operator_at is not None:
            # Asterisk may tell of the operator's arrival (AgentConnect) before the
            # OriginateResponse that says the customer answered; the answer came first
            answered_at = min(answered_at, self.operator_at)
        ring_s = None
        if self.sent_at is not None and self.result_at is not None:
            ring_s = max(0.0, self.result_at - self.sent_at)
        talk_s = max(0.0, ended_at - answered_at) if answered_at is not None else None
        return FinishedCall(
            attempt_id=self.attempt_id,
            lead_id=self.lead_id,
            call_id=self.call_id,
            outcome=outcome,
            reason_code=self.reason,
            hangup_cause=self.best_cause(),
            answered_at=answered_at,
            ended_at=ended_at,
            ring_s=ring_s,
            talk_s=talk_s,
            note=note,
            operator=self.operator,
            operator_at=self.operator_at,
            recording_path=self.recording_path if self._recorded(answered_at) else None,
            amd_status=self.amd_status,
            amd_cause=self.amd_cause,
            originated_at=self.sent_at,
            lead_at_claim=self.lead_at_claim,
        )

    def _recorded(self, answered_at: float | None) -> bool:
        """Asterisk said it started the recording, or it may have while the daemon was blind."""
        return self.recording_started or (answered_at is not None and self.blind)
