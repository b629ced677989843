"""Duplicate leads at intake (R2): shoppers double-submit, a repeat order is not a duplicate.

``find_duplicate`` sees the earlier leads of the same phone in the same campaign (the
store finds those) and names the one a new lead duplicates, or None for a new lead.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.dedup import DuplicateRule, KnownLead, find_duplicate

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR
A, B = DuplicateRule.PHONE_AND_ORDER, DuplicateRule.PHONE_WINDOW


def duplicate_of(
    rule: DuplicateRule,
    order_id: str | None,
    earlier: list[tuple[str | None, float]],
    window_s: float = DAY,
) -> int | None:
    """The id of the earlier lead this one (arriving at NOW) duplicates; earlier leads are
    ``(order_id, seconds_ago)``, numbered 1, 2, ... in the order given."""
    known = [
        KnownLead(lead_id, order, NOW - ago) for lead_id, (order, ago) in enumerate(earlier, 1)
    ]
    found = find_duplicate(rule, window_s, order_id, NOW, known)
    return None if found is None else found.lead_id


def test_variant_a_the_same_order_again_is_a_duplicate_of_it():
    assert duplicate_of(A, "A-1", [("A-1", 60)]) == 1


def test_variant_a_another_order_from_the_same_phone_is_a_new_lead():
    assert duplicate_of(A, "A-2", [("A-1", 60)]) is None


def test_variant_a_two_leads_without_an_order_id_are_one_request():
    assert duplicate_of(A, None, [(None, 60)]) == 1
    assert duplicate_of(A, None, [("A-1", 60)]) is None
    assert duplicate_of(A, "A-1", [(None, 60)]) is None


def test_variant_a_knows_no_window_the_same_order_a_year_on_is_still_a_duplicate():
    assert duplicate_of(A, "A-1", [("A-1", 365 * DAY)], window_s=HOUR) == 1


def test_variant_b_any_lead_from_the_phone_inside_the_window_is_a_duplicate():
    assert duplicate_of(B, "A-2", [("A-1", 23 * HOUR)]) == 1
    assert duplicate_of(B, None, [("A-1", 60)]) == 1


def test_variant_b_the_edge_of_the_window_is_outside_it():
    assert duplicate_of(B, None, [(None, DAY - 1)]) == 1
    assert duplicate_of(B, None, [(None, DAY)]) is None
    assert duplicate_of(B, None, [(None, DAY + 1)]) is None


def test_a_phone_never_seen_is_a_new_lead_under_either_variant():
    assert duplicate_of(A, "A-1", []) is None
    assert duplicate_of(B, "A-1", []) is None


def test_the_duplicate_named_is_the_latest_matching_lead():
    earlier = [("A-1", 3 * HOUR), ("A-1", HOUR), ("A-2", 60), ("A-1", 2 * HOUR)]
    assert duplicate_of(A, "A-1", earlier) == 2
    assert duplicate_of(B, "A-1", earlier) == 3


orders = st.none() | st.sampled_from(["A-1", "A-2", "B-7"])
# whole seconds: the arithmetic is exact, so the window's edge is tested, not float rounding
histories = st.lists(st.tuples(orders, st.integers(0, 3 * 86400)), max_size=8)


@given(order_id=orders, earlier=histories)
def test_variant_a_is_a_duplicate_exactly_when_that_order_was_seen(order_id, earlier):
    found = duplicate_of(A, order_id, earlier)
    same = [(ago, n) for n, (order, ago) in enumerate(earlier, 1) if order == order_id]
    assert (found is None) == (not same)
    if found is not None:
        assert earlier[found - 1][1] == min(same)[0]


@given(order_id=orders, earlier=histories, window_s=st.integers(1800, 48 * 3600))
def test_variant_b_is_a_duplicate_exactly_when_a_lead_is_inside_the_window(
    order_id, earlier, window_s
):
    found = duplicate_of(B, order_id, earlier, window_s=window_s)
    inside = [ago for _, ago in earlier if ago < window_s]
    assert (found is None) == (not inside)
    if found is not None:
        assert earlier[found - 1][1] == min(inside)
