"""Who is called first (R3): the two priority schemes, as the rank a waiting lead gets.

The store picks the lowest rank first (oldest due within a rank: tests/policy/
test_scheduling_properties.py checks that on a real file); here only the ranks.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.priority import Scheme, Tier, describe_rank, rank_for, ranks_in_use

attempts_so_far = st.integers(0, 20)


def rank(scheme: Scheme, attempts: int, callback: bool = False) -> int:
    """The rank of a waiting lead dialed ``attempts`` times, with a callback agreed or not."""
    return rank_for(scheme, attempts, callback_pending=callback)


def in_pick_order(scheme: Scheme, leads: dict[str, tuple[int, bool]]) -> list[str]:
    """Lead names sorted the way the store picks them (lowest rank first)."""
    return sorted(leads, key=lambda name: rank(scheme, *leads[name]))


def test_variant_1_new_then_one_attempt_then_callbacks_then_redials():
    leads = {
        "redial": (3, False),
        "callback": (1, True),
        "second attempt": (1, False),
        "new": (0, False),
    }
    assert in_pick_order(Scheme.TIERS, leads) == ["new", "second attempt", "callback", "redial"]


def test_variant_1_names_its_four_tiers():
    kinds = [(0, False), (1, False), (1, True), (2, False)]
    names = [describe_rank(Scheme.TIERS, rank(Scheme.TIERS, a, cb)) for a, cb in kinds]
    assert names == ["new", "second_attempt", "callback", "redial"]


@given(attempts=attempts_so_far)
def test_variant_1_a_callback_is_a_callback_however_often_dialed(attempts):
    assert rank(Scheme.TIERS, attempts, callback=True) == Tier.CALLBACK


@given(attempts=st.integers(2, 20))
def test_variant_1_every_lead_dialed_twice_or_more_is_a_redial(attempts):
    assert rank(Scheme.TIERS, attempts) == Tier.REDIAL


def test_variant_2_new_then_fewest_attempts_first_callbacks_or_not():
    leads = {
        "three": (3, False),
        "one, callback agreed": (1, True),
        "new": (0, False),
        "two": (2, True),
        "one": (1, False),
    }
    order = in_pick_order(Scheme.FEWEST_ATTEMPTS, leads)
    assert order[0] == "new"
    assert [leads[name][0] for name in order] == [0, 1, 1, 2, 3]


def test_variant_2_names_new_and_the_attempt_count():
    scheme = Scheme.FEWEST_ATTEMPTS
    names = [describe_rank(scheme, rank(scheme, attempts)) for attempts in range(4)]
    assert names == ["new", "attempts=1", "attempts=2", "attempts=3"]


@given(
    scheme=st.sampled_from(list(Scheme)),
    attempts=st.integers(1, 20),
    callback=st.booleans(),
)
def test_under_either_scheme_a_new_lead_comes_before_any_dialed_one(scheme, attempts, callback):
    assert rank(scheme, 0) < rank(scheme, attempts, callback)


@given(
    fewer=attempts_so_far, more=attempts_so_far, callbacks=st.tuples(st.booleans(), st.booleans())
)
def test_variant_2_fewer_attempts_never_come_later(fewer, more, callbacks):
    if fewer < more:
        assert rank(Scheme.FEWEST_ATTEMPTS, fewer, callbacks[0]) < rank(
            Scheme.FEWEST_ATTEMPTS, more, callbacks[1]
        )


@given(
    scheme=st.sampled_from(list(Scheme)),
    cap=st.integers(1, 20),
    data=st.data(),
)
def test_every_callable_lead_has_a_rank_the_pick_looks_at(scheme, cap, data):
    """A lead below its campaign's cap gets a rank among those the store probes."""
    attempts = data.draw(st.integers(0, cap - 1), label="attempts")
    callback = data.draw(st.booleans(), label="callback")
    assert rank(scheme, attempts, callback) in ranks_in_use([(scheme, cap)])


def test_the_ranks_probed_for_several_campaigns_are_theirs_together_in_order():
    assert ranks_in_use([(Scheme.TIERS, 7)]) == (1, 2, 3, 4)
    assert ranks_in_use([(Scheme.FEWEST_ATTEMPTS, 3)]) == (1, 2, 3)
    assert ranks_in_use([(Scheme.FEWEST_ATTEMPTS, 6), (Scheme.TIERS, 7)]) == (1, 2, 3, 4, 5, 6)
