"""Sign-in attempts: at most N failures per name and M per address in any window."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.policy.login_limit import MAX_KEY_CHARS, LoginLimiter, Verdict

WINDOW = 900.0
T0 = 1_800_000_000.0


def fail_times(limiter, name, address, times):
    for at in times:
        assert limiter.check(name, address, at).allowed
        limiter.failed(name, address, at)


def test_a_name_is_refused_after_five_failures_until_the_first_leaves_the_window():
    limiter = LoginLimiter()
    fail_times(limiter, "anna", "10.0.0.1", [T0 + n * 10 for n in range(5)])
    # from another address too: the name is what is being guessed
    assert limiter.check("anna", "10.0.0.2", T0 + 100) == Verdict(False, WINDOW - 100)
    assert limiter.check("boris", "10.0.0.2", T0 + 100).allowed
    assert not limiter.check("anna", "10.0.0.2", T0 + WINDOW - 0.5).allowed
    assert limiter.check("anna", "10.0.0.2", T0 + WINDOW).allowed
    limiter.failed("anna", "10.0.0.2", T0 + WINDOW)
    # five failures in (T0+WINDOW+10 - WINDOW, ...] again: wait for the second one's turn
    assert limiter.check("anna", "10.0.0.2", T0 + WINDOW + 1) == Verdict(False, 9.0)


def test_an_address_is_refused_after_twenty_failures_over_many_names():
    limiter = LoginLimiter()
    for n in range(20):
        fail_times(limiter, f"name{n}", "10.0.0.9", [T0 + n])
    verdict = limiter.check("anna", "10.0.0.9", T0 + 30)
    assert verdict == Verdict(False, WINDOW - 30)
    assert limiter.check("anna", "10.0.0.1", T0 + 30).allowed


def test_success_clears_the_names_failures_but_not_the_addresses():
    limiter = LoginLimiter(per_name=3, per_address=5)
    fail_times(limiter, "anna", "10.0.0.1", [T0, T0 + 1])
    limiter.succeeded("anna", "10.0.0.1", T0 + 2)
    fail_times(limiter, "anna", "10.0.0.1", [T0 + 3, T0 + 4])
    assert limiter.check("anna", "10.0.0.1", T0 + 5).allowed  # 2 since the success, not 4
    limiter.failed("anna", "10.0.0.1", T0 + 5)
    verdict = limiter.check("anna", "10.0.0.1", T0 + 6)
    assert verdict == Verdict(False, WINDOW - 3)  # the name: 3 since the success, at T0 + 3..5
    assert limiter.check("boris", "10.0.0.1", T0 + 6) == Verdict(False, WINDOW - 6)  # 5 here


def test_a_flood_of_invented_names_keeps_memory_bounded():
    limiter = LoginLimiter(per_address=10**9, max_keys=100)
    for n in range(10_000):
        limiter.failed(f"random-{n}", f"10.0.0.{n % 40}", T0 + n / 100)
    assert limiter.tracked() == (100, 40)  # 40 addresses, all inside the window
    later = T0 + 100 + WINDOW
    limiter.failed("anna", "10.0.0.1", later)
    assert limiter.tracked() == (1, 1)  # everything else left the window


def test_a_long_name_is_held_cut_short():
    limiter = LoginLimiter(per_name=1)
    limiter.failed("x" * 100_000, "10.0.0.1", T0)
    assert not limiter.check("x" * MAX_KEY_CHARS + "y", "10.0.0.2", T0).allowed


@pytest.mark.parametrize(
    "kwargs", [{"per_name": 0}, {"per_address": 0}, {"window_s": 0}, {"max_keys": 0}]
)
def test_limits_that_allow_nothing_are_refused(kwargs):
    with pytest.raises(ValueError, match="invalid login limits"):
        LoginLimiter(**kwargs)


attempts = st.lists(
    st.tuples(
        st.one_of(  # seconds since the previous attempt: often none, now and then a window
            st.sampled_from([0.0, 1.0, 60.0, 450.0, WINDOW]), st.floats(0, WINDOW / 10)
        ),
        st.sampled_from(["anna", "boris", "vera"]),
        st.sampled_from(["10.0.0.1", "10.0.0.2"]),
        st.booleans(),  # the password was right
    ),
    max_size=300,
)


@settings(max_examples=500, deadline=None)
@given(attempts=attempts, per_name=st.integers(1, 6), per_address=st.integers(1, 12))
def test_never_more_failures_than_the_limit_in_any_window(attempts, per_name, per_address):
    """Used as the console uses it (check, then failed or succeeded when allowed): in any
    window, an address had at most per_address failed attempts verified, and a name at most
    per_name since its last success."""
    limiter = LoginLimiter(per_name=per_name, per_address=per_address, window_s=WINDOW)
    now = T0
    verified: list[tuple[float, str, str, bool]] = []
    for gap, name, address, right in attempts:
        now += gap
        verdict = limiter.check(name, address, now)
        assert verdict.retry_after_s >= 0 and verdict.allowed == (verdict.retry_after_s == 0)
        if not verdict.allowed:
            continue
        verified.append((now, name, address, right))
        if right:
            limiter.succeeded(name, address, now)
        else:
            limiter.failed(name, address, now)

    for i, (at, name, address, right) in enumerate(verified):
        if right:
            continue
        earlier = [v for v in verified[: i + 1] if v[0] > at - WINDOW and not v[3]]
        assert sum(v[2] == address for v in earlier) <= per_address
        since_success = max(
            (j for j, v in enumerate(verified[:i]) if v[1] == name and v[3]), default=-1
        )
        by_name = [
            v
            for v in verified[since_success + 1 : i + 1]
            if v[1] == name and not v[3] and v[0] > at - WINDOW
        ]
        assert len(by_name) <= per_name


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0, 120, allow_nan=False), min_size=1, max_size=50))
def test_the_refusal_says_when_the_next_attempt_is_allowed(gaps):
    limiter = LoginLimiter(per_name=3, per_address=100)
    now = T0
    for gap in gaps:
        now += gap
        verdict = limiter.check("anna", "10.0.0.1", now)
        if verdict.allowed:
            limiter.failed("anna", "10.0.0.1", now)
            continue
        if verdict.retry_after_s > 1e-3:
            assert not limiter.check("anna", "10.0.0.1", now + verdict.retry_after_s - 1e-3).allowed
        assert limiter.check("anna", "10.0.0.1", now + verdict.retry_after_s + 1e-6).allowed
