"""What happens to a lead after an attempt (R4): close it, or when to try again."""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.config import RetryDelays
from dialerd.domain import CloseReason, LeadState, Outcome
from dialerd.policy.priority import rank_after_attempt


@dataclass(frozen=True)
class LeadUpdate:
    state: LeadState
    rank: int
    due_at: float
    close_reason: CloseReason | None = None


def after_attempt(
    outcome: Outcome, attempts: int, max_attempts: int, delays: RetryDelays, now: float
) -> LeadUpdate:
    """Reached leads close (the operator's result decides what follows); the cap closes the rest.

    ``attempts`` counts the attempt that just ended.
    """
    if outcome is Outcome.ANSWERED:
        return LeadUpdate(LeadState.CLOSED, rank_after_attempt(attempts), now, CloseReason.REACHED)
    if attempts >= max_attempts:
        return LeadUpdate(
            LeadState.CLOSED, rank_after_attempt(attempts), now, CloseReason.EXHAUSTED
        )
    delay = float(getattr(delays, outcome.value))
    return LeadUpdate(LeadState.WAITING, rank_after_attempt(attempts), now + delay)
