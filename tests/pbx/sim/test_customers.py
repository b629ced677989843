"""Seeded customers: each number one person with their own ring and talk times."""

from statistics import median

from dialerd.pbx.sim.customers import CustomerMix, seeded_customers

NUMBERS = [f"7916123{n:04d}" for n in range(1000, 1400)]  # 4th digit from the end: 1, answers


def test_the_same_seed_gives_the_same_customers_and_another_seed_others():
    first, again, other = seeded_customers(1), seeded_customers(1), seeded_customers(2)
    assert [first(n) for n in NUMBERS[:50]] == [again(n) for n in NUMBERS[:50]]
    assert [first(n) for n in NUMBERS[:50]] != [other(n) for n in NUMBERS[:50]]


def test_customers_differ_and_each_stays_themselves_from_call_to_call():
    customers = seeded_customers(7, CustomerMix(ring_s=(3, 20), talk_median_s=120))
    first_calls = [customers(n) for n in NUMBERS]
    talks = [o.talk_s for o in first_calls]
    assert 90 < median(talks) < 160  # around the median asked for
    assert min(talks) < 60 and max(talks) > 240  # short and long talkers
    assert all(2 <= o.ring_s <= 26 for o in first_calls)
    # a person called again talks about as long as the first time, not like anyone else
    number = NUMBERS[0]
    again = [customers(number).talk_s for _ in range(20)]
    assert len(set(again)) > 1
    assert all(0.4 < t / first_calls[0].talk_s < 2.0 for t in again)


def test_what_the_customer_does_stays_the_rules():
    customers = seeded_customers(3)
    assert customers("79161232001").kind == "busy"
    assert customers("79161233001").kind == "no_answer"
    assert customers("79161239001").kind == "unallocated"
