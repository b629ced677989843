"""One phone, whatever lead or campaign: at most per_day dials a local day, never two within
min_gap, and no redial inside an abandon's lockout unless an operator is reserved first."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.policy.phone_limits import (
    HoldKind,
    PhoneLimits,
    dials_today,
    local_midnight,
    phone_hold,
)

MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")  # has DST: days of 23 and 25 hours
LIMITS = PhoneLimits(per_day=3, min_gap_s=600)


def at(text: str, tz: ZoneInfo = MOSCOW) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def hold(dials, now, *, abandoned=None, limits=LIMITS, tz=MOSCOW, reserved=False, lockout_h=72):
    return phone_hold(
        dials, abandoned, now, limits, tz, lockout_h=lockout_h, operator_reserved=reserved
    )


def test_a_fresh_phone_is_not_held():
    assert hold((), at("2026-12-07 10:00")) is None


def test_two_dials_never_closer_than_the_gap():
    found = hold((at("2026-12-07 10:00"),), at("2026-12-07 10:05"))
    assert found is not None
    assert (found.kind, found.until) == (HoldKind.MIN_GAP, at("2026-12-07 10:10"))
    assert hold((at("2026-12-07 10:00"),), at("2026-12-07 10:10")) is None


def test_the_day_is_used_up_until_local_midnight():
    dials = (at("2026-12-07 10:00"), at("2026-12-07 12:00"), at("2026-12-07 14:00"))
    found = hold(dials, at("2026-12-07 18:00"))
    assert found is not None
    assert (found.kind, found.until, found.dials_today) == (
        HoldKind.PER_DAY,
        at("2026-12-08 00:00"),
        3,
    )
    assert hold(dials, at("2026-12-08 00:00")) is None  # a new day
    # yesterday's dials do not count today
    assert dials_today(dials, at("2026-12-08 09:00"), MOSCOW) == 0


def test_no_daily_limit_when_it_is_off():
    dials = tuple(at(f"2026-12-07 {h:02d}:00") for h in range(10, 16))
    assert hold(dials, at("2026-12-07 18:00"), limits=PhoneLimits(None, 600)) is None


def test_an_abandoned_number_rests_its_lockout_unless_an_operator_is_reserved():
    abandoned = at("2026-12-07 10:00")
    found = hold((abandoned,), at("2026-12-09 10:00"), abandoned=abandoned)
    assert found is not None
    assert (found.kind, found.until, found.since) == (
        HoldKind.LOCKOUT,
        at("2026-12-10 10:00"),
        abandoned,
    )
    assert hold((abandoned,), at("2026-12-10 10:00"), abandoned=abandoned) is None
    # agent_first: an operator is on the line first, nobody can be abandoned again
    assert hold((abandoned,), at("2026-12-07 11:00"), abandoned=abandoned, reserved=True) is None


def test_agent_first_is_exempt_from_the_lockout_but_not_from_the_limits():
    abandoned = at("2026-12-07 10:00")
    found = hold((abandoned,), at("2026-12-07 10:03"), abandoned=abandoned, reserved=True)
    assert found is not None and found.kind is HoldKind.MIN_GAP


def test_the_latest_of_several_holds_wins():
    dials = (at("2026-12-07 10:00"), at("2026-12-07 12:00"), at("2026-12-07 23:55"))
    found = hold(dials, at("2026-12-07 23:56"), limits=PhoneLimits(3, 3600))
    assert found is not None
    assert (found.kind, found.until) == (HoldKind.MIN_GAP, at("2026-12-08 00:55"))


def test_local_midnight_across_a_dst_change():
    # 2026-11-01 in New York is 25 hours long
    now = at("2026-11-01 12:00", NEW_YORK)
    assert local_midnight(now, NEW_YORK, days=1) - local_midnight(now, NEW_YORK) == 25 * 3600


@settings(max_examples=150, deadline=None)
@given(
    per_day=st.one_of(st.none(), st.integers(1, 6)),
    gap_min=st.integers(0, 240),
    lockout_h=st.integers(0, 96),
    abandon_at=st.one_of(st.none(), st.integers(0, 40)),
    asks=st.lists(st.integers(0, 12 * 3600), min_size=1, max_size=30),
    tz=st.sampled_from([MOSCOW, NEW_YORK]),
)
def test_a_dialer_that_obeys_the_holds_never_breaks_the_limits(
    per_day, gap_min, lockout_h, abandon_at, asks, tz
):
    """Dial whenever asked, or when the hold ends: every limit holds over the whole history."""
    limits = PhoneLimits(per_day, gap_min * 60.0)
    now = at("2026-10-31 08:00", tz)
    dials: list[float] = []
    abandoned: float | None = None
    for step, wait_s in enumerate(asks):
        now += wait_s
        found = hold(
            tuple(dials[-20:]), now, abandoned=abandoned, limits=limits, tz=tz, lockout_h=lockout_h
        )
        if found is not None:
            assert found.until > now
            now = found.until
            assert (
                hold(
                    tuple(dials[-20:]),
                    now,
                    abandoned=abandoned,
                    limits=limits,
                    tz=tz,
                    lockout_h=lockout_h,
                )
                is None
            )
        dials.append(now)
        if step == abandon_at:
            abandoned = now
    for earlier, later in zip(dials, dials[1:], strict=False):
        assert later - earlier >= limits.min_gap_s - 1e-6
    if per_day is not None:
        days: dict[object, int] = {}
        for dial in dials:
            day = datetime.fromtimestamp(dial, tz).date()
            days[day] = days.get(day, 0) + 1
        assert max(days.values()) <= per_day
    if abandoned is not None:
        after = [d for d in dials if d > abandoned]
        assert all(d >= abandoned + lockout_h * 3600 for d in after)


def test_an_agreed_callback_is_not_held_by_the_gap_but_by_the_day():
    last = at("2026-12-07 10:00")
    assert (
        phone_hold(
            (last,),
            None,
            last + 120,
            LIMITS,
            MOSCOW,
            lockout_h=72,
            operator_reserved=False,
            agreed_time=True,
        )
        is None
    )
    dials = (at("2026-12-07 08:00"), at("2026-12-07 09:00"), last)
    found = phone_hold(
        dials,
        None,
        last + 120,
        LIMITS,
        MOSCOW,
        lockout_h=72,
        operator_reserved=False,
        agreed_time=True,
    )
    assert found is not None and found.kind is HoldKind.PER_DAY
