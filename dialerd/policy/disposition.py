"""What the operator's result of a conversation does to the lead (R8), decided without I/O.

A final result (confirmed, refused, fake, duplicate, wrong number, complaint) closes
the lead with that reason; a callback reopens it for the agreed time in the callback
tier; "no decision" leaves it where the engine's rule for answered calls put it
(``retry_delays.answered``: closed as reached, or a redial after that delay). The
latest disposition decides; a lead closed as dnc stays closed; a callback is refused
for a lead at its attempt cap (the cap is absolute, so it would never be dialed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialerd.domain import CloseReason, LeadState, Outcome, Result
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.priority import rank_for

MAX_CALLBACK_AHEAD_S = 366 * 86400.0
MAX_FLAGS = 10
_FLAG = re.compile(r"^[a-z0-9_-]{1,32}$")

FINAL: dict[Result, CloseReason] = {
    Result.CONFIRMED: CloseReason.CONFIRMED,
    Result.REFUSED: CloseReason.REFUSED,
    Result.FAKE: CloseReason.FAKE,
    Result.DUPLICATE: CloseReason.DUPLICATE,
    Result.WRONG_NUMBER: CloseReason.WRONG_NUMBER,
    Result.COMPLAINT: CloseReason.COMPLAINT,
}


class DispositionInvalid(ValueError):
    """The result itself is wrong (a missing amount, a callback in the past): HTTP 422."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DispositionConflict(Exception):
    """The call cannot take a result now (not answered, still live, already has one): HTTP 409."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Disposition:
    result: Result
    amount_minor: int | None = None
    callback_at: float | None = None
    note: str | None = None
    flags: tuple[str, ...] = ()
    operator: str | None = None


@dataclass(frozen=True)
class CallFacts:
    """The attempt and its lead as the store found them inside the write transaction."""

    status: str  # attempts.status: dialing | done
    outcome: str | None
    ended_at: float | None
    lead_state: LeadState
    close_reason: str | None
    attempts: int
    extra_attempts: int = 0  # granted by a supervisor beyond the campaign's cap (issue 13)


@dataclass(frozen=True)
class Reopen:
    """Waiting again, due at the agreed callback time, in the callback tier."""

    callback_at: float
    rank: int


@dataclass(frozen=True)
class CloseLead:
    reason: CloseReason


@dataclass(frozen=True)
class KeepLead:
    why: str


LeadChange = Reopen | CloseLead | KeepLead


@dataclass(frozen=True)
class Decision:
    change: LeadChange
    wrapup_s: float  # hangup → disposition


def check(disposition: Disposition, now: float) -> None:
    """The fields each result needs, and nothing it must not carry; DispositionInvalid if not."""
    _check_amount_and_time(disposition, now)
    _check_flags(disposition.flags)


def _check_amount_and_time(disposition: Disposition, now: float) -> None:
    result = disposition.result
    if result is Result.CONFIRMED and disposition.amount_minor is None:
        raise DispositionInvalid("amount", "is required for a confirmed order")
    if result is not Result.CONFIRMED and disposition.amount_minor is not None:
        raise DispositionInvalid("amount", "only a confirmed result carries an amount")
    if result is Result.CALLBACK:
        if disposition.callback_at is None:
            raise DispositionInvalid("at", "is required for a callback")
        if disposition.callback_at <= now:
            raise DispositionInvalid("at", "is in the past")
        if disposition.callback_at > now + MAX_CALLBACK_AHEAD_S:
            raise DispositionInvalid("at", "is more than a year ahead")
    elif disposition.callback_at is not None:
        raise DispositionInvalid("at", "only a callback carries a time")


def _check_flags(flags: tuple[str, ...]) -> None:
    if len(flags) > MAX_FLAGS:
        raise DispositionInvalid("flags", f"at most {MAX_FLAGS} flags")
    for flag in flags:
        if not _FLAG.match(flag):
            raise DispositionInvalid(
                "flags", f"{flag[:40]!r}: use 1-32 lowercase letters, digits, '_' or '-'"
            )
    if len(set(flags)) != len(flags):
        raise DispositionInvalid("flags", "a flag is repeated")


def decide(
    disposition: Disposition, call: CallFacts, campaign: CampaignRules, now: float
) -> Decision:
    """What recording ``disposition`` for this call does to its lead, or DispositionConflict."""
    if call.status != "done" or call.ended_at is None:
        raise DispositionConflict("call_in_progress", "the call has not ended yet")
    if call.outcome != Outcome.ANSWERED:
        raise DispositionConflict(
            "not_answered", f"only an answered call takes a result (this one: {call.outcome})"
        )
    if call.lead_state is LeadState.DIALING:
        raise DispositionConflict(
            "lead_dialing", "another call to this lead is in progress; retry when it ends"
        )
    return Decision(_change(disposition, call, campaign), max(0.0, now - call.ended_at))


def _change(disposition: Disposition, call: CallFacts, campaign: CampaignRules) -> LeadChange:
    if call.close_reason == CloseReason.DNC:
        return KeepLead("the lead is closed as dnc (do-not-call list)")
    if disposition.result is Result.NO_DECISION:
        return KeepLead("no decision: the rule for answered calls stands (retry_delays.answered)")
    if disposition.result is Result.CALLBACK:
        assert disposition.callback_at is not None  # check() ran first
        cap = campaign.max_attempts + call.extra_attempts
        if call.attempts >= cap:
            # the cap is absolute (R4): a callback past it would be closed as exhausted unseen
            raise DispositionConflict(
                "attempt_cap_reached",
                f"the lead has had {call.attempts} of {cap} attempts; "
                "a callback would never be dialed (raise the campaign's max_attempts)",
            )
        rank = rank_for(
            campaign.scheme, call.attempts, callback_pending=True, cap=campaign.max_attempts
        )
        return Reopen(disposition.callback_at, rank)
    return CloseLead(FINAL[disposition.result])
