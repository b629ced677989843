"""Retry or park: the rules for delivering to someone else's endpoint."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.delivery import Answer, RetryRules, after_try, backoff_s, classify

RULES = RetryRules(max_tries=5, backoff_initial_s=2.0, backoff_max_s=60.0)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.DELIVERED),
        (204, Answer.DELIVERED),
        (None, Answer.RETRY),
        (500, Answer.RETRY),
        (503, Answer.RETRY),
        (408, Answer.RETRY),
        (429, Answer.RETRY),
        (400, Answer.REFUSED),
        (401, Answer.REFUSED),
        (404, Answer.REFUSED),
        (422, Answer.REFUSED),
        (301, Answer.REFUSED),
    ],
)
def test_classify(status, answer):
    assert classify(status) is answer


def test_backoff_doubles_up_to_the_cap_with_jitter_below_it():
    assert [backoff_s(n, RULES, 0.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_s(3, RULES, 0.999) == pytest.approx(8 * 0.9995)


@given(tries=st.integers(1, 10_000), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_is_bounded(tries, jitter):
    assert RULES.backoff_initial_s / 2 <= backoff_s(tries, RULES, jitter) <= RULES.backoff_max_s


def test_retry_until_max_tries_then_park():
    steps = [after_try(500, n, RULES, 100.0, 0.0) for n in range(1, 6)]
    assert [s.state for s in steps] == ["pending"] * 4 + ["parked"]
    assert steps[0].next_try_at == 101.0 and steps[-1].next_try_at is None
    assert "gave up after 5 tries" in steps[-1].why


def test_a_refusal_is_parked_at_once_and_a_2xx_delivered():
    assert after_try(400, 1, RULES, 0.0, 0.5).state == "parked"
    assert after_try(201, 3, RULES, 0.0, 0.5).state == "delivered"


def test_retry_after_is_honoured_up_to_the_cap():
    assert after_try(429, 1, RULES, 0.0, 0.0, retry_after_s=20).next_try_at == 20
    assert after_try(503, 1, RULES, 0.0, 0.0, retry_after_s=3600).next_try_at == 60
