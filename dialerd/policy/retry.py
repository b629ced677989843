"""What happens to a lead after an attempt (R4): close it, or when to try again."""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.domain import CloseReason, LeadState, Outcome
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.priority import rank_for


@dataclass(frozen=True)
class LeadUpdate:
    state: LeadState
    rank: int
    due_at: float
    close_reason: CloseReason | None = None


def after_attempt(
    outcome: Outcome, attempts: int, campaign: CampaignRules, now: float, extra: int = 0
) -> LeadUpdate:
    """The lead's next state once an attempt ended; ``attempts`` counts that attempt.

    An answered call closes the lead as reached unless the campaign sets a delay for
    "answered without the operator's result"; then it is redialed after that delay
    (an operator's result arriving first settles it). The cap closes the rest; ``extra``:
    attempts a supervisor granted the lead beyond the campaign's cap (a requeue).
    """
    rank = rank_for(campaign.scheme, attempts, callback_pending=False, cap=campaign.max_attempts)
    delay = campaign.retry_delays[outcome]
    if delay is None:  # only an answered call has no delay: results live in the CRM
        return LeadUpdate(LeadState.CLOSED, rank, now, CloseReason.REACHED)
    if attempts >= campaign.max_attempts + extra:
        reason = CloseReason.REACHED if outcome is Outcome.ANSWERED else CloseReason.EXHAUSTED
        return LeadUpdate(LeadState.CLOSED, rank, now, reason)
    return LeadUpdate(LeadState.WAITING, rank, now + delay)
