"""Pacing (R7): never more waiting customers than free operators × ratio, abandons within the cap."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.modes import DialMode
from dialerd.policy.pacing import (
    AbandonStats,
    AnswerStats,
    GroupLoad,
    PacingRules,
    abandon_budget,
    pace,
    predictive_ratio,
)

NONE_ABANDONED = AbandonStats(0, 0)
NO_ANSWERS = AnswerStats(0, 0)
PROGRESSIVE = PacingRules(DialMode.CUSTOMER_FIRST, gated=True)
AGENT_FIRST = PacingRules(DialMode.AGENT_FIRST, gated=True)
PREDICTIVE = PacingRules(DialMode.PREDICTIVE, gated=True, max_ratio=3.0, min_samples=30)


def test_progressive_dials_one_customer_per_free_operator():
    assert pace(PROGRESSIVE, GroupLoad(3, 0), 10, NONE_ABANDONED, NO_ANSWERS).calls == 3
    assert pace(PROGRESSIVE, GroupLoad(3, 2), 10, NONE_ABANDONED, NO_ANSWERS).calls == 1
    assert pace(PROGRESSIVE, GroupLoad(3, 3), 10, NONE_ABANDONED, NO_ANSWERS).calls == 0
    assert pace(PROGRESSIVE, GroupLoad(0, 0), 10, NONE_ABANDONED, NO_ANSWERS).calls == 0


def test_lines_are_a_hard_cap_in_every_mode():
    for rules in (PROGRESSIVE, AGENT_FIRST, PREDICTIVE):
        assert pace(rules, GroupLoad(50, 0), 4, NONE_ABANDONED, NO_ANSWERS).calls == 4
        assert pace(rules, GroupLoad(50, 0), 0, NONE_ABANDONED, NO_ANSWERS).calls == 0


def test_without_an_operator_group_only_the_lines_count():
    ungated = PacingRules(DialMode.CUSTOMER_FIRST, gated=False)
    assert pace(ungated, GroupLoad(0, 0), 7, NONE_ABANDONED, NO_ANSWERS).calls == 7


def test_agent_first_leaves_operators_to_customers_already_waiting():
    assert pace(AGENT_FIRST, GroupLoad(3, 1), 10, NONE_ABANDONED, NO_ANSWERS).calls == 2


def test_a_ratio_above_one_needs_an_abandon_budget():
    rules = PacingRules(DialMode.CUSTOMER_FIRST, gated=True, dial_ratio=2.0)
    fresh = pace(rules, GroupLoad(4, 0), 20, NONE_ABANDONED, NO_ANSWERS)
    assert (fresh.calls, fresh.ratio) == (4, 1.0)  # nothing answered yet: nothing to spend
    assert "budget spent" in fresh.reason
    rich = pace(rules, GroupLoad(4, 0), 20, AbandonStats(1000, 0), NO_ANSWERS)
    assert (rich.calls, rich.ratio) == (8, 2.0)
    tight = pace(rules, GroupLoad(4, 0), 20, AbandonStats(100, 1), NO_ANSWERS)
    assert tight.calls == 4 + abandon_budget(AbandonStats(100, 1), 0.03) == 6


def test_predictive_ratio_follows_the_answer_rate_once_measured():
    assert predictive_ratio(AnswerStats(29, 5), PREDICTIVE)[0] == 1.0  # too few to measure
    assert predictive_ratio(AnswerStats(100, 50), PREDICTIVE)[0] == pytest.approx(2.0)
    assert predictive_ratio(AnswerStats(100, 10), PREDICTIVE)[0] == 3.0  # capped at max_ratio
    assert predictive_ratio(AnswerStats(100, 100), PREDICTIVE)[0] == 1.0
    result = pace(PREDICTIVE, GroupLoad(2, 0), 20, AbandonStats(10_000, 0), AnswerStats(100, 40))
    assert (result.calls, result.ratio) == (5, 2.5)


def test_predictive_drops_to_one_when_the_budget_is_spent():
    spent = AbandonStats(answered=1000, abandoned=30)  # exactly 3 %
    result = pace(PREDICTIVE, GroupLoad(5, 0), 50, spent, AnswerStats(100, 25))
    assert (result.calls, result.ratio) == (5, 1.0)
    assert "abandon budget spent" in result.reason


@pytest.mark.parametrize(
    ("answered", "abandoned", "budget"),
    [(0, 0, 0), (33, 0, 1), (100, 0, 3), (100, 3, 0), (1000, 0, 30), (1000, 29, 1), (10, 5, 0)],
)
def test_abandon_budget(answered, abandoned, budget):
    assert abandon_budget(AbandonStats(answered, abandoned), 0.03) == budget


@given(
    answered=st.integers(0, 100_000),
    abandoned=st.integers(0, 5_000),
    cap=st.floats(0.001, 0.5),
)
def test_the_budget_is_the_most_abandons_that_keep_the_rate_under_the_cap(answered, abandoned, cap):
    abandoned = min(abandoned, answered)
    k = abandon_budget(AbandonStats(answered, abandoned), cap)
    if k:
        assert (abandoned + k) / (answered + k) <= cap + 1e-9
    if abandoned <= cap * answered:
        assert (abandoned + k + 1) / (answered + k + 1) > cap - 1e-9


modes = st.sampled_from(list(DialMode))


@given(
    mode=modes,
    free=st.integers(0, 60),
    waiting=st.integers(0, 60),
    lines=st.integers(-5, 200),
    ratio=st.floats(1.0, 10.0),
    answered=st.integers(0, 20_000),
    abandoned=st.integers(0, 1_000),
    attempts=st.integers(0, 500),
    recent_answered=st.integers(0, 500),
)
def test_pacing_never_overloads_operators_and_never_overspends_the_budget(
    mode, free, waiting, lines, ratio, answered, abandoned, attempts, recent_answered
):
    rules = PacingRules(mode, gated=True, dial_ratio=ratio, max_ratio=3.0, min_samples=30)
    abandons = AbandonStats(answered, min(abandoned, answered))
    answers = AnswerStats(attempts, min(recent_answered, attempts))
    result = pace(rules, GroupLoad(free, waiting), lines, abandons, answers)
    assert 0 <= result.calls <= max(0, lines)
    after = waiting + result.calls
    if result.calls:
        if mode is DialMode.AGENT_FIRST:
            assert after <= free  # one operator for every call
        else:
            assert after <= math.floor(free * result.ratio + 1e-9)
            # every customer dialed beyond the free operators may abandon: the budget covers them
            assert after - free <= abandon_budget(abandons, rules.abandon_cap)
            assert result.ratio <= (ratio if mode is DialMode.CUSTOMER_FIRST else 3.0)


@given(
    free=st.integers(1, 40),
    history=st.integers(0, 5_000),
    rate=st.floats(0.05, 1.0),
    rounds=st.integers(1, 30),
)
def test_even_if_every_extra_call_abandons_the_rate_stays_under_the_cap(
    free, history, rate, rounds
):
    """Worst case, round after round: every customer beyond the free operators abandons."""
    answered, abandoned = history, 0
    for _ in range(rounds):
        answers = AnswerStats(1000, round(1000 * rate))
        result = pace(
            PREDICTIVE, GroupLoad(free, 0), 500, AbandonStats(answered, abandoned), answers
        )
        extra = max(0, result.calls - free)
        answered += result.calls
        abandoned += extra
        assert abandoned <= 0.03 * answered + 1e-9
