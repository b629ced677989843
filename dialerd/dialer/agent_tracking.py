"""Following an agent_first call: the operator's leg first, then the customer's (pure, no I/O).

The Originate rings the operator's device with ``ChannelId`` = the call id; its
``OriginateResponse`` says whether the *operator* answered. Only then does the
dialplan (``[dialer-agent-first]``) Dial() the customer, and that leg's fate
comes as a ``DialEnd`` whose calling channel is the operator's (Uniqueid = call
id): ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL or CANCEL (the operator hung
up first). The customer legs' hangups share the call's Linkedid and carry the
detailed cause. Seen on Asterisk 22 with Local and PJSIP operators; event order
around the OriginateResponse varies, so nothing here depends on it.

An operator who does not answer means the customer was never dialed: the track
ends with ``customer_dialed=False`` and the engine gives the lead back untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dialerd.dialer.tracking import CAUSE_GRACE_S, AsksAsterisk
from dialerd.domain import FinishedCall, LeadAtClaim, Outcome
from dialerd.pbx.events import CallEvidence
from dialerd.pbx.outcomes import INVALID_NUMBER_CAUSES, classify

_BY_DIAL_STATUS = {
    "ANSWER": Outcome.ANSWERED,
    "BUSY": Outcome.BUSY,
    "NOANSWER": Outcome.NO_ANSWER,
    "CONGESTION": Outcome.CONGESTION,
    "CANCEL": Outcome.NO_ANSWER,  # the operator hung up while the customer's phone rang
}


@dataclass
class AgentCallTrack(AsksAsterisk):
    attempt_id: int
    lead_id: int
    call_id: str
    sent_at: float | None
    operator: str | None
    recording_path: str | None = None
    group: str | None = None
    mode: str = "agent_first"
    # the operator's leg (the Originate)
    success: bool | None = None
    reason: int | None = None
    result_at: float | None = None
    # the customer's leg (Dial() from the operator's channel)
    dial_status: str | None = None
    dial_end_at: float | None = None
    main_hangup_at: float | None = None  # the operator's channel: the end of the call
    customer_causes: list[int] = field(default_factory=list)
    awaiting_reconcile: bool = False
    following: bool = False
    blind: bool = False
    bridged_seen: bool = False
    lost_why: str | None = None
    recording_started: bool = False
    evidence: CallEvidence | None = None  # see CallTrack: a followed call's unseen end
    evidence_asked: bool = False
    queue_tracked: bool = False  # never: the operator is on the line before the customer
    lead_at_claim: LeadAtClaim | None = None  # None: adopted after a restart

    # --- facts in -------------------------------------------------------------------------
    def on_result(self, success: bool, reason: int, at: float) -> None:
        self.success, self.reason, self.result_at = success, reason, at

    def on_hangup(self, uniqueid: str, cause: int, at: float) -> None:
        if uniqueid == self.call_id:
            self.main_hangup_at = at
        elif not uniqueid.startswith(self.call_id + ";") and cause:
            self.customer_causes.append(cause)  # the operator's own ;2 half says nothing useful

    def on_dial_end(self, status: str, at: float) -> None:
        if self.dial_status is None:
            self.dial_status, self.dial_end_at = status, at

    def on_operator(self, operator: str, at: float) -> None:
        """Queue connections do not apply: the operator was rung directly."""

    def on_recording(self) -> None:
        self.recording_started = True

    def on_lost(self, why: str) -> None:
        if self.main_hangup_at is None or self.result_at is None:
            self.awaiting_reconcile = True
            self.blind = True
            self.lost_why = why

    def on_answer_known(self, at: float) -> None:
        """The store says the customer answered at ``at`` (the DialEnd ANSWER, written live)."""
        if self.dial_status is None:
            self.dial_status, self.dial_end_at = "ANSWER", at
        if self.result_at is None:  # the operator had answered before the customer was dialed
            self.success, self.reason, self.result_at = True, 4, at

    def refused(self, why: str, at: float) -> FinishedCall:
        """Asterisk refused the Originate: not even the operator was rung, so no attempt."""
        return replace(self._not_dialed(why), ended_at=at, refused=True)

    def not_sent(self, why: str, at: float) -> FinishedCall:
        """The Originate was never written (a value AMI cannot carry): a failed attempt,
        offered to no operator (the one reserved was never rung)."""
        return replace(self._finish(Outcome.FAILED, at, note=why), operator=None)

    def on_reconcile(
        self,
        live_state: str | None,
        now: float,
        *,
        bridged: bool = False,
        evidence: CallEvidence | None = None,
    ) -> FinishedCall | None:
        if not self.awaiting_reconcile:
            return None
        self.awaiting_reconcile = False
        if live_state is not None and self.main_hangup_at is None:
            self.following = True
            self.bridged_seen = self.bridged_seen or bridged
            return None
        note = f"ended while unobserved: {self.lost_why}"
        if evidence is not None and self.main_hangup_at is None:
            return self._from_evidence(evidence, now, note)
        ended_at = self.main_hangup_at or now
        if self.result_at is None:
            return self._finish(Outcome.UNKNOWN, ended_at, note=note)
        if not self.success:
            return self._missed()
        return self._finish(self._customer_outcome(), ended_at, note=note)

    def _from_evidence(self, evidence: CallEvidence, now: float, note: str) -> FinishedCall:
        """Settle from the operator channel's hangup handler: its Dial() to the customer says
        whether the customer answered (DIALSTATUS) and for how long (ANSWEREDTIME)."""
        ended_at = self.main_hangup_at or evidence.ended_by(now)
        self.main_hangup_at = ended_at
        note = f"{note}; settled from Asterisk's record"
        if not evidence.answered and self.result_at is None:
            self.reason = 0
            return replace(self._missed(), ended_at=ended_at, note=note)
        self.success = True
        if self.dial_status is None and evidence.dial_status:
            self.dial_status = evidence.dial_status
        if self.dial_status is None:
            return replace(
                self._not_dialed("the operator answered but the customer was never dialed"),
                note=note,
            )
        if evidence.cause and not self.customer_causes and self.dial_status != "ANSWER":
            self.customer_causes.append(evidence.cause)
        talk_s = evidence.dial_answered_s
        if self.dial_status == "ANSWER" and talk_s is not None:
            self.dial_end_at = self.dial_end_at or ended_at - talk_s
            call = self._finish(Outcome.ANSWERED, ended_at, note=note)
            return replace(call, answered_at=ended_at - talk_s, talk_s=talk_s)
        return self._finish(self._customer_outcome(), ended_at, note=note)

    # --- decision -------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """After the operator's hangup, a short wait for a DialEnd or the customer's cause."""
        if self.success and self.main_hangup_at is not None and not self.awaiting_reconcile:
            if self.dial_status is None or (
                self.dial_status != "ANSWER" and not self.customer_causes
            ):
                return max(self.main_hangup_at, self.result_at or 0.0) + CAUSE_GRACE_S
        return None

    def check(self, now: float) -> FinishedCall | None:
        if self.awaiting_reconcile:
            return None
        if self.result_at is None:
            if self.following and self.main_hangup_at is not None:
                return self._followed_end(now)
            return None
        if not self.success:
            return self._missed()
        if self.main_hangup_at is None:
            return None
        deadline = self.deadline()
        if deadline is not None and now < deadline:
            return None  # a DialEnd or the customer's hangup cause may still be on its way
        if self.dial_status is None:
            if self.blind:
                return self._finish(
                    Outcome.UNKNOWN, self.main_hangup_at, note="customer leg unseen"
                )
            return self._not_dialed(
                "the operator answered but the dialplan never dialed the customer"
            )
        return self._finish(self._customer_outcome(), self.main_hangup_at)

    def _followed_end(self, now: float) -> FinishedCall | None:
        """The end of a call followed since a reconcile, its OriginateResponse never seen."""
        if not self.evidence_asked:
            return None  # the engine asks Asterisk first (wants_evidence)
        note = "followed after reconcile"
        if self.evidence is not None:
            return self._from_evidence(self.evidence, now, note)
        return self._finish(self._customer_outcome(), self.main_hangup_at or now, note=note)

    def _customer_outcome(self) -> Outcome:
        if self.dial_status is None:
            return Outcome.ANSWERED if self.bridged_seen else Outcome.UNKNOWN
        if self.dial_status == "NOANSWER" and self.best_cause() in INVALID_NUMBER_CAUSES:
            # Dial() says NOANSWER for a number that does not exist (cause 1, unallocated):
            # the cause knows better, and a dead number must not be retried as unanswered
            return Outcome.FAILED
        if self.dial_status in _BY_DIAL_STATUS:
            return _BY_DIAL_STATUS[self.dial_status]
        return classify(0, self.best_cause())  # CHANUNAVAIL & co: the cause tells busy from failed

    def best_cause(self) -> int | None:
        return self.customer_causes[-1] if self.customer_causes else None

    def _missed(self) -> FinishedCall:
        return self._not_dialed(
            f"operator {self.operator} did not answer (OriginateResponse Reason {self.reason})"
        )

    def _not_dialed(self, note: str) -> FinishedCall:
        call = self._finish(Outcome.FAILED, self.main_hangup_at or self.result_at or 0.0, note=note)
        return replace(call, customer_dialed=False)

    def _finish(self, outcome: Outcome, ended_at: float, note: str | None = None) -> FinishedCall:
        answered_at = None
        if outcome is Outcome.ANSWERED:
            answered_at = self.dial_end_at if self.dial_status == "ANSWER" else self.result_at
        ring_s = None
        if self.result_at is not None and self.dial_end_at is not None:
            ring_s = max(0.0, self.dial_end_at - self.result_at)
        talk_s = max(0.0, ended_at - answered_at) if answered_at is not None else None
        recorded = self.recording_started or (answered_at is not None and self.blind)
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
            operator_at=answered_at,  # the operator was on the line before the customer
            recording_path=self.recording_path if recorded and answered_at is not None else None,
            originated_at=self.sent_at,
            lead_at_claim=self.lead_at_claim,
        )
