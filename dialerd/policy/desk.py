"""What a supervisor may do to a lead from the lead desk (R16), decided without I/O.

Each action follows the rule the CLI and the API already apply to the same change:
a callback is in the future and inside the calling window (the operator's callback
picker, ``POST .../disposition``), a lead on the do-not-call list stays closed, a lead
being dialed is not touched until its attempt ends (``lead_dialing``), and the attempt
cap is absolute (R4) — except that a supervisor may *requeue* an exhausted lead with a
few extra attempts, never past the config's own upper bound for any cap.

The store (``store/desk.py``) reads the lead inside its write transaction, asks these
functions, and writes what they decided together with the audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dialerd.domain import CloseReason, LeadState
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.priority import MAX_ATTEMPTS_CAP, rank_for
from dialerd.policy.window import CallingWindow

MAX_EXTRA_PER_REQUEUE = 10


class DeskRefused(Exception):
    """The action cannot be done; ``code`` names why (the console's catalog says it)."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(code)
        self.code, self.values = code, values


@dataclass(frozen=True)
class LeadFacts:
    """A lead as the store found it inside the write transaction."""

    state: LeadState
    close_reason: str | None
    attempts: int
    extra_attempts: int
    on_dnc: bool


@dataclass(frozen=True)
class Reschedule:
    """Waiting again, due at ``at`` in the callback tier (like an operator's callback)."""

    at: float
    rank: int


@dataclass(frozen=True)
class Requeue:
    """Waiting again, due now, with ``extra_attempts`` granted beyond the campaign's cap."""

    extra_attempts: int
    rank: int


def callback_time(raw: str | None, now: float, window: CallingWindow, tz: ZoneInfo) -> float:
    """``YYYY-MM-DDTHH:MM`` in the centre's zone (a picker's value): in the future, in the window.

    The same rule as the operator's callback picker and the API's callback ``at``.
    """
    if not raw:
        raise DeskRefused("at_required")
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise DeskRefused("at_required") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    at = local.timestamp()
    if at <= now:
        raise DeskRefused("at_past")
    if not window.is_open(datetime.fromtimestamp(at, UTC)):
        raise DeskRefused("at_outside")
    return at


def _not_dialing(lead: LeadFacts) -> None:
    if lead.state is LeadState.DIALING:
        raise DeskRefused("lead_dialing")


def _not_dnc(lead: LeadFacts) -> None:
    if lead.on_dnc or lead.close_reason == CloseReason.DNC:
        raise DeskRefused("on_dnc")


def reschedule(lead: LeadFacts, campaign: CampaignRules, at: float) -> Reschedule:
    """Call the lead back at ``at`` (already checked by ``callback_time``).

    A closed lead is reopened (a refusal that turns out to be "call me next week"); one on
    the do-not-call list never is; one at its cap needs a requeue first, since the engine
    would close it as exhausted instead of dialing it.
    """
    _not_dialing(lead)
    _not_dnc(lead)
    cap = campaign.max_attempts + lead.extra_attempts
    if lead.attempts >= cap:
        raise DeskRefused("attempt_cap_reached", attempts=lead.attempts, cap=cap)
    rank = rank_for(campaign.scheme, lead.attempts, True, cap=campaign.max_attempts)
    return Reschedule(at, rank)


def close(lead: LeadFacts) -> CloseReason:
    """Close a waiting lead: it is never dialed again, and the CRM hears it was cancelled."""
    _not_dialing(lead)
    if lead.state is LeadState.CLOSED:
        raise DeskRefused("already_closed")
    return CloseReason.CANCELLED


def requeue(lead: LeadFacts, campaign: CampaignRules, extra: int) -> Requeue:
    """Give an exhausted lead ``extra`` more attempts, due now."""
    if not 1 <= extra <= MAX_EXTRA_PER_REQUEUE:
        raise DeskRefused("extra_range", most=MAX_EXTRA_PER_REQUEUE)
    _not_dialing(lead)
    _not_dnc(lead)
    if lead.state is not LeadState.CLOSED or lead.close_reason != CloseReason.EXHAUSTED:
        raise DeskRefused("not_exhausted")
    # the cap starts from the attempts made: a lowered campaign cap does not eat the extra
    total = max(lead.attempts - campaign.max_attempts, 0) + extra
    if campaign.max_attempts + total > MAX_ATTEMPTS_CAP:
        raise DeskRefused("cap_limit", most=MAX_ATTEMPTS_CAP)
    rank = rank_for(campaign.scheme, lead.attempts, False, cap=campaign.max_attempts)
    return Requeue(total, rank)
