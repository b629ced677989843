"""What happens to a lead after an attempt (R4): the delay its outcome earns, or its close.

``after_attempt(outcome, attempts, campaign, now)``: ``attempts`` counts the attempt that
just ended; the campaign gives the scheme, the attempt cap and a delay per outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.config import CampaignSettings, RetryDelays
from dialerd.config.rules import campaign_rules
from dialerd.domain import CloseReason, LeadState, Outcome
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.priority import Scheme, Tier
from dialerd.policy.retry import LeadUpdate, after_attempt

NOW = 1_800_000_000.0
NOT_REACHED = [o for o in Outcome if o is not Outcome.ANSWERED]


def campaign(
    scheme: Scheme = Scheme.TIERS, max_attempts: int | None = None, **delays: float | None
) -> CampaignRules:
    """A campaign's retry rules, built in this one place; unset parts keep the defaults (cap 7)."""
    more: dict[str, Any] = {} if max_attempts is None else {"max_attempts": max_attempts}
    return campaign_rules(
        CampaignSettings(scheme=scheme, retry_delays=RetryDelays(**delays), **more)
    )


def after(outcome: Outcome, attempts: int, rules: CampaignRules, now: float = NOW) -> LeadUpdate:
    return after_attempt(outcome, attempts, rules, now)


@pytest.mark.parametrize("outcome", NOT_REACHED)
def test_each_outcome_waits_its_own_delay(outcome):
    delays = {o.value: 60.0 * (n + 1) for n, o in enumerate(NOT_REACHED)}
    update = after(outcome, 1, campaign(**delays))
    assert update.state is LeadState.WAITING and update.close_reason is None
    assert update.due_at == NOW + delays[outcome.value]


@given(
    outcome=st.sampled_from(NOT_REACHED),
    delay=st.integers(0, 7 * 86400),
    cap=st.integers(2, 20),
    data=st.data(),
)
def test_below_the_cap_the_lead_waits_exactly_the_delay_set_for_its_outcome(
    outcome, delay, cap, data
):
    attempts = data.draw(st.integers(1, cap - 1), label="attempts")
    update = after(outcome, attempts, campaign(max_attempts=cap, **{outcome.value: delay}))
    assert (update.state, update.due_at) == (LeadState.WAITING, NOW + delay)


def test_the_seventh_unanswered_attempt_closes_the_lead_as_exhausted_by_default():
    rules = campaign()
    assert after(Outcome.NO_ANSWER, 6, rules).state is LeadState.WAITING
    closed = after(Outcome.NO_ANSWER, 7, rules)
    assert (closed.state, closed.close_reason, closed.due_at) == (
        LeadState.CLOSED,
        CloseReason.EXHAUSTED,
        NOW,
    )


@given(outcome=st.sampled_from(NOT_REACHED), cap=st.integers(1, 20), over=st.integers(0, 5))
def test_at_or_past_the_cap_every_unreached_lead_is_closed_as_exhausted(outcome, cap, over):
    update = after(outcome, cap + over, campaign(max_attempts=cap))
    assert (update.state, update.close_reason) == (LeadState.CLOSED, CloseReason.EXHAUSTED)


@given(attempts=st.integers(1, 20))
def test_an_answered_call_closes_the_lead_as_reached_when_no_redial_is_set(attempts):
    update = after(Outcome.ANSWERED, attempts, campaign(max_attempts=20, answered=None))
    assert (update.state, update.close_reason) == (LeadState.CLOSED, CloseReason.REACHED)


def test_an_answered_call_without_a_result_is_redialed_when_a_delay_is_set():
    rules = campaign(max_attempts=3, answered=900)
    waiting = after(Outcome.ANSWERED, 2, rules)
    assert (waiting.state, waiting.due_at) == (LeadState.WAITING, NOW + 900)
    at_cap = after(Outcome.ANSWERED, 3, rules)
    assert (at_cap.state, at_cap.close_reason) == (LeadState.CLOSED, CloseReason.REACHED)


def test_the_rank_after_an_attempt_follows_the_scheme():
    tiers, fewest = campaign(Scheme.TIERS), campaign(Scheme.FEWEST_ATTEMPTS)
    assert after(Outcome.BUSY, 1, tiers).rank == Tier.SECOND_ATTEMPT
    assert after(Outcome.BUSY, 2, tiers).rank == Tier.REDIAL
    assert [after(Outcome.BUSY, n, fewest).rank for n in (1, 2, 3)] == [2, 3, 4]


@given(
    outcome=st.sampled_from(list(Outcome)),
    attempts=st.integers(1, 25),
    cap=st.integers(1, 20),
    answered=st.none() | st.integers(0, 86400),
)
def test_a_lead_is_never_left_waiting_at_its_cap_nor_due_before_now(
    outcome, attempts, cap, answered
):
    update = after(outcome, attempts, campaign(max_attempts=cap, answered=answered))
    assert update.due_at >= NOW
    if attempts >= cap:
        assert update.state is LeadState.CLOSED
    if update.state is LeadState.CLOSED:
        assert update.close_reason in {CloseReason.REACHED, CloseReason.EXHAUSTED}
        assert (update.close_reason is CloseReason.REACHED) == (outcome is Outcome.ANSWERED)
