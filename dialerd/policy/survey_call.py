"""Calling a confirmed customer back for the survey (a ``survey`` campaign), decided without I/O.

A sale confirmed by an operator in a campaign with ``survey.campaign`` set becomes one survey
lead in that campaign, due ``survey.call_after_h`` hours after the result was saved: the
customer has had time to live with the order, and the call is a separate, short, operator-free
call into the survey IVR. Only a confirmed result asks for one (a refusal or a fake order
has nothing to score), and only once per lead however often it is confirmed again: a customer
is asked once about an order. The answers are the original conversation's, so they count
for the operator and campaign that made the sale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dialerd.domain import Result
from dialerd.policy.window import CallingWindow


@dataclass(frozen=True)
class SurveyCall:
    """A source campaign's survey call: into ``campaign`` (mode survey), ``after_s`` later."""

    campaign: str
    after_s: float

    def __post_init__(self) -> None:
        if self.after_s < 0:
            raise ValueError(f"after_s: {self.after_s} is negative")


def asks_survey(result: Result, survey_call: SurveyCall | None) -> bool:
    """Whether this operator's result schedules a survey call: a confirmed sale only."""
    return survey_call is not None and result is Result.CONFIRMED


def survey_due(confirmed_at: float, survey_call: SurveyCall, window: CallingWindow) -> float:
    """When the survey call may be placed: ``after_s`` after the confirmation, moved to the
    next opening of the calling window when that falls outside it (a survey is never due at
    night, so ``explain`` and the report's waiting leads say when it really will go)."""
    at = datetime.fromtimestamp(confirmed_at + survey_call.after_s, UTC)
    return window.next_open(at).timestamp()
