"""Pacing: never more calls than lines or operators can take, abandons within the cap; the
predictive mode dials ahead for operators about to finish and steers toward its target."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.modes import DialMode
from dialerd.policy.pacing import (
    NO_HISTORY,
    START_RISK_CALLS,
    AbandonStats,
    BusyOperator,
    CallProfile,
    GroupLoad,
    PacingRules,
    abandon_budget,
    answer_probability,
    hard_budget,
    pace,
    ready_probability,
    steered_rate,
    uncovered,
)

NONE_ABANDONED = AbandonStats(0, 0)
NO_ANSWERS = NO_HISTORY
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


# --- predictive ----------------------------------------------------------------------------
# A campaign with a day of history: 30 % answer, ring 4-25 s, talk 2-6 min (uniform grids).
RING = tuple(4.0 + 21.0 * k / 99 for k in range(100))
TALK = tuple(120.0 + 240.0 * k / 99 for k in range(100))
HISTORY = CallProfile.of(1000, 300, RING, TALK, "test")
RICH = AbandonStats(10_000, 100)  # 1 % over the window: far under the 3 % cap
WRAPPING_UP = BusyOperator(None, 5.0)  # 5 s of wrap-up left
ENDING = BusyOperator(355.0, 0.0)  # 355 s into a call that lasts at most 360 s
JUST_STARTED = BusyOperator(1.0, 30.0)


def predictive_pace(load, *, lines=100, abandons=RICH, profile=HISTORY, rules=PREDICTIVE):
    return pace(rules, load, lines, abandons, profile)


def test_predictive_dials_ahead_for_operators_about_to_be_free():
    """Nobody is free, but two operators will be by the time a customer answers: the old
    free × ratio dialed nothing here."""
    result = predictive_pace(GroupLoad(0, 0, busy=(WRAPPING_UP, ENDING, JUST_STARTED)))
    assert result.calls >= 2
    assert result.expected_free == pytest.approx(2.0, abs=0.05)
    # an operator who just started a 2-6 minute call is not counted on
    assert predictive_pace(GroupLoad(0, 0, busy=(JUST_STARTED,))).calls == 0


def test_predictive_over_dials_free_operators_by_the_answer_rate():
    """Four free operators, 30 % answer: well over four calls, short of 4 / 0.3."""
    result = predictive_pace(GroupLoad(4, 0))
    assert 6 <= result.calls <= 13
    assert result.ratio == pytest.approx(result.calls / 4)


def test_customers_already_ringing_or_queued_count_against_the_operators():
    free = predictive_pace(GroupLoad(2, 0)).calls
    assert predictive_pace(GroupLoad(2, 2, ringing_s=(3.0, 3.0))).calls < free
    assert predictive_pace(GroupLoad(2, 2, queued=2)).calls == 0  # both operators are taken


def test_a_call_that_rang_long_is_less_likely_to_answer():
    fresh = predictive_pace(GroupLoad(3, 3, ringing_s=(0.0, 0.0, 0.0))).calls
    stale = predictive_pace(GroupLoad(3, 3, ringing_s=(24.0, 24.0, 24.0))).calls
    assert stale > fresh


def test_a_window_over_target_makes_pacing_more_careful():
    load = GroupLoad(6, 0, busy=(WRAPPING_UP, ENDING))
    under = predictive_pace(load, abandons=AbandonStats(2000, 20))  # 1 %
    over = predictive_pace(load, abandons=AbandonStats(2000, 56))  # 2.8 %: under the cap
    assert under.calls > over.calls >= 6  # never below one call per free operator


def test_the_steered_rate_aims_at_the_target():
    rules = PREDICTIVE
    assert steered_rate(AbandonStats(0, 0), rules) == pytest.approx(0.025)  # new: the target
    assert steered_rate(AbandonStats(1000, 25), rules) == pytest.approx(0.025)  # on target
    assert steered_rate(AbandonStats(1000, 40), rules) == pytest.approx(0.01)
    assert steered_rate(AbandonStats(1000, 60), rules) == 0.0
    assert steered_rate(AbandonStats(1000, 0), rules) == 0.03  # never above the cap


def test_a_new_campaign_starts_cautious_but_dials_ahead():
    """No history, no answers in the window: one customer beyond the free operators."""
    result = predictive_pace(GroupLoad(8, 0), abandons=NONE_ABANDONED, profile=NO_HISTORY)
    assert result.calls == 8 + START_RISK_CALLS
    assert answer_probability(NO_HISTORY) == 0.5
    # once spent (one abandon), progressive until the window can take another
    spent = predictive_pace(GroupLoad(3, 0), abandons=AbandonStats(10, 1))
    assert spent.calls == 3
    assert "hard stop" in spent.reason


def test_predictive_stops_over_dialing_at_the_cap():
    at_cap = AbandonStats(answered=1000, abandoned=30)
    result = predictive_pace(GroupLoad(5, 0, busy=(BusyOperator(None, 9.0),)), abandons=at_cap)
    assert result.calls == 5  # 9 s of wrap-up left: likely in time, but not sure


def test_the_answer_probability_blends_a_prior_with_what_was_measured():
    assert answer_probability(CallProfile(10, 0)) == pytest.approx(0.25)
    assert answer_probability(CallProfile(10_000, 3000)) == pytest.approx(0.3, abs=0.001)


def test_an_operator_is_ready_by_their_talk_and_wrap_up():
    ring, after = (10.0,), 2.0
    assert ready_probability(BusyOperator(None, 11.0), ring, TALK, after) == 1.0
    assert ready_probability(BusyOperator(None, 13.0), ring, TALK, after) == 0.0
    # 240 s into a 120-360 s call: 12 s of the 120 s left ends in time
    assert ready_probability(BusyOperator(240.0, 0.0), ring, TALK, after) == pytest.approx(
        0.1, abs=0.02
    )
    assert ready_probability(BusyOperator(240.0, 30.0), ring, TALK, after) == 0.0
    assert ready_probability(BusyOperator(240.0, 0.0), ring, (), after) == 0.0  # no talk times
    assert ready_probability(BusyOperator(400.0, 0.0), ring, TALK, after) == 0.0  # past them all


@pytest.mark.parametrize(
    ("answered", "abandoned", "budget"),
    [(0, 0, START_RISK_CALLS), (10, 1, 0), (33, 0, 1), (34, 0, 1), (100, 3, 0), (1000, 0, 30)],
)
def test_hard_budget(answered, abandoned, budget):
    assert hard_budget(AbandonStats(answered, abandoned), 0.03) == budget


GRACE = PREDICTIVE.abandon_after_s / 2


def test_a_wrap_up_ending_before_the_fastest_answer_is_as_good_as_a_free_operator():
    """The fastest answer seen is 4 s, and an operator may come 1 s after it (half of the
    2 s after which a customer counts as abandoned): a wrap-up with 4.5 s left ends in time
    for any customer dialed now, so pacing may dial for it even with no budget left."""
    at_cap = AbandonStats(1000, 30)
    busy = (BusyOperator(None, 4.5), BusyOperator(None, 5.5))
    assert uncovered(GroupLoad(0, 0, busy=busy), HISTORY, 2, GRACE) == 1
    assert predictive_pace(GroupLoad(0, 0, busy=(BusyOperator(None, 4.5),)), abandons=at_cap).calls
    assert not predictive_pace(
        GroupLoad(0, 0, busy=(BusyOperator(None, 5.5),)), abandons=at_cap
    ).calls
    # nothing seen yet: a customer may answer at once, so only a free operator is sure
    assert uncovered(GroupLoad(0, 0, busy=(BusyOperator(None, 0.5),)), NO_HISTORY, 1, GRACE) == 0
    assert uncovered(GroupLoad(0, 0, busy=(BusyOperator(None, 1.5),)), NO_HISTORY, 1, GRACE) == 1


def test_a_customer_ringing_a_while_may_answer_before_a_wrap_up_ends():
    """Rung 10 s, a customer may answer this second: an operator with 3 s of wrap-up left
    would come too late for them, so with no budget left nobody more is dialed, while a
    customer dialed 1 s ago cannot answer for 3 s more and that operator is in time."""
    at_cap = AbandonStats(1000, 30)
    wrapping = (BusyOperator(None, 3.0),)
    long_ringing = GroupLoad(0, 1, ringing_s=(10.0,), busy=wrapping)
    assert uncovered(long_ringing, HISTORY, 0, GRACE) == 1
    assert predictive_pace(long_ringing, abandons=at_cap).calls == 0
    just_dialed = GroupLoad(0, 1, ringing_s=(1.0,), busy=wrapping)
    assert uncovered(just_dialed, HISTORY, 0, GRACE) == 0
    assert predictive_pace(just_dialed, abandons=at_cap).calls == 0  # that operator is taken
    queued = GroupLoad(1, 1, queued=1)  # the free operator is the queued customer's
    assert uncovered(queued, HISTORY, 1, GRACE) == 1


modes = st.sampled_from(list(DialMode))
busy_operators = st.lists(
    st.builds(
        BusyOperator,
        st.one_of(st.none(), st.floats(0, 1000)),
        st.floats(0, 120),
    ),
    max_size=12,
)
profiles = st.one_of(
    st.just(NO_HISTORY),
    st.just(HISTORY),
    st.builds(
        lambda attempts, share, ring, talk: CallProfile.of(
            attempts, round(attempts * share), ring, talk, "drawn"
        ),
        st.integers(0, 5000),
        st.floats(0, 1),
        st.lists(st.floats(0, 60), max_size=40),
        st.lists(st.floats(0, 900), max_size=40),
    ),
)


ANY_FREE = st.integers(0, 30)


@st.composite
def loads(draw, free=ANY_FREE):
    waiting = draw(st.integers(0, 30))
    return GroupLoad(
        draw(free),
        waiting,
        queued=draw(st.integers(0, waiting)),
        ringing_s=tuple(draw(st.lists(st.floats(0, 40), max_size=waiting))),
        busy=tuple(draw(busy_operators)),
    )


@given(
    mode=modes,
    load=loads(),
    lines=st.integers(-5, 120),
    ratio=st.floats(1.0, 10.0),
    answered=st.integers(0, 20_000),
    abandoned=st.integers(0, 1_000),
    profile=profiles,
)
def test_pacing_never_overloads_lines_or_operators_nor_overspends_the_budget(
    mode, load, lines, ratio, answered, abandoned, profile
):
    rules = PacingRules(mode, gated=True, dial_ratio=ratio, max_ratio=3.0, min_samples=30)
    abandons = AbandonStats(answered, min(abandoned, answered))
    result = pace(rules, load, lines, abandons, profile)
    assert 0 <= result.calls <= max(0, lines)  # never more calls in flight than lines
    after = load.waiting_calls + result.calls
    if result.calls:
        if mode is DialMode.AGENT_FIRST:
            assert after <= load.free_operators  # one operator for every call
        elif mode is DialMode.CUSTOMER_FIRST:
            assert after <= math.floor(load.free_operators * result.ratio + 1e-9)
            assert after - load.free_operators <= abandon_budget(abandons, rules.abandon_cap)
        else:
            # every customer in flight with no operator sure to be free when they answer
            # may abandon: new calls never take that worst case past the hard budget (the
            # cap, or the start allowance of a window too small for one), and a call that
            # adds to it is only ever dialed within the budget
            grace = rules.abandon_after_s / 2
            before = uncovered(load, profile, 0, grace)
            worst = uncovered(load, profile, result.calls, grace)
            assert worst <= max(before, hard_budget(abandons, rules.abandon_cap))


@given(load=loads(free=st.just(0)), more=st.integers(0, 20), data=st.data())
def test_predictive_is_monotone_in_free_operators(load, more, data):
    lines = data.draw(st.integers(0, 120))
    abandons = data.draw(st.sampled_from([NONE_ABANDONED, RICH, AbandonStats(1000, 29)]))
    profile = data.draw(profiles)
    previous = -1
    for free in range(more + 1):
        calls = pace(
            PREDICTIVE,
            GroupLoad(free, load.waiting_calls, load.queued, load.ringing_s, load.busy),
            lines,
            abandons,
            profile,
        ).calls
        assert calls >= previous
        previous = calls


@given(
    free=st.integers(1, 40),
    busy=busy_operators,
    history=st.integers(0, 5_000),
    rounds=st.integers(1, 30),
    profile=profiles,
)
def test_even_if_every_extra_call_abandons_the_rate_stays_under_the_cap(
    free, busy, history, rounds, profile
):
    """Worst case, round after round: every customer without an operator sure to be free
    when they answer abandons; abandons never pass max(START_RISK_CALLS, cap × answered)."""
    answered, abandoned = history, 0
    load = GroupLoad(free, 0, busy=tuple(busy))
    for _ in range(rounds):
        result = pace(PREDICTIVE, load, 500, AbandonStats(answered, abandoned), profile)
        extra = uncovered(load, profile, result.calls, PREDICTIVE.abandon_after_s / 2)
        answered += result.calls
        abandoned += extra
        assert abandoned <= max(START_RISK_CALLS, 0.03 * answered + 1e-9)
