"""NPS and CSAT arithmetic, as the survey's answers come in."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.score import ScoreInvalid, csat, csat_answer, nps, nps_answer

nps_answers = st.lists(st.integers(0, 10), max_size=200)
csat_answers = st.lists(st.integers(1, 5), max_size=200)


def test_nps_is_percent_promoters_minus_percent_detractors():
    # 3 promoters (9, 10, 10), 2 passives (7, 8), 5 detractors (0..6): 30 % - 50 % = -20
    answers = Counter([9, 10, 10, 7, 8, 0, 3, 5, 6, 6])
    assert nps(answers) == pytest.approx(-20.0)
    assert nps(Counter([10])) == 100.0
    assert nps(Counter([6])) == -100.0
    assert nps(Counter([7, 8])) == 0.0


def test_csat_is_the_share_of_four_and_five():
    assert csat(Counter([5, 4, 3, 1])) == 0.5
    assert csat(Counter([3])) == 0.0


def test_no_answers_no_score():
    assert nps(Counter()) is None
    assert csat(Counter()) is None


@given(nps_answers)
def test_nps_stays_between_minus_and_plus_100(values):
    score = nps(Counter(values))
    if values:
        assert -100.0 <= score <= 100.0
    else:
        assert score is None


@given(nps_answers, nps_answers)
def test_nps_of_two_groups_is_their_answer_weighted_mean(a, b):
    """Per operator or per day, then the total: the total is never a mean of means."""
    whole = nps(Counter(a + b))
    if a and b:
        weighted = (nps(Counter(a)) * len(a) + nps(Counter(b)) * len(b)) / (len(a) + len(b))
        assert whole == pytest.approx(weighted)


@given(nps_answers, st.integers(7, 8))
def test_a_passive_pulls_nps_toward_zero_and_never_past_it(values, passive):
    before, after = nps(Counter(values)), nps(Counter([*values, passive]))
    if before is None:
        assert after == 0.0
    else:
        assert abs(after) <= abs(before) and after * before >= 0


@given(csat_answers)
def test_csat_is_a_share_and_more_fives_never_lower_it(values):
    score = csat(Counter(values))
    if values:
        assert 0.0 <= score <= 1.0
        assert csat(Counter([*values, 5])) >= score
        assert csat(Counter([*values, 1])) <= score


@pytest.mark.parametrize("digits", ["0", "10", " 7", "09"])
def test_keyed_nps_answers_on_the_scale(digits):
    assert nps_answer(digits) == int(digits)


@pytest.mark.parametrize("digits", ["11", "99", "-1", "1*", "#", "5.5", "٣", "100"])
def test_keyed_answers_off_the_scale_are_refused(digits):
    with pytest.raises(ScoreInvalid):
        nps_answer(digits)


def test_csat_is_one_to_five_and_nothing_keyed_is_no_answer():
    assert csat_answer("5") == 5
    assert csat_answer("") is None and nps_answer("  ") is None
    for bad in ("0", "6"):
        with pytest.raises(ScoreInvalid):
            csat_answer(bad)
