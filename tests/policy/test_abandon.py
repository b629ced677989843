"""The abandon rules: which calls a window counts, when a number may be redialed."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dialerd.policy.abandon import (
    AbandonRule,
    default_target,
    locked_out,
    lockout_until,
    window_since,
    window_start,
)

MOSCOW = ZoneInfo("Europe/Moscow")
LONDON = ZoneInfo("Europe/London")
HOUR = 3600.0


def test_per_day_starts_at_the_centres_midnight_and_rolling_counts_back_whole_days():
    now = datetime(2026, 12, 6, 15, 30, tzinfo=MOSCOW)
    assert window_start(AbandonRule.PER_DAY, now, 30) == datetime(2026, 12, 6, tzinfo=MOSCOW)
    assert window_start(AbandonRule.ROLLING_30_DAYS, now, 30) == now - timedelta(days=30)
    assert window_start(AbandonRule.ROLLING_30_DAYS, now, 7) == now - timedelta(days=7)


def test_per_day_on_a_clock_change_day_still_starts_at_local_midnight():
    # London leaves summer time on 2026-10-25 at 02:00: that day is 25 hours long
    now = datetime(2026, 10, 25, 23, 0, tzinfo=LONDON)
    since = window_since(AbandonRule.PER_DAY, now.timestamp(), LONDON, 30)
    assert datetime.fromtimestamp(since, LONDON) == datetime(2026, 10, 25, tzinfo=LONDON)
    assert now.timestamp() - since == 24 * HOUR  # 23 local hours after midnight + the extra one


@given(
    now=st.floats(1.6e9, 2.2e9),
    zone=st.sampled_from(["Europe/Moscow", "Europe/London", "America/New_York", "Asia/Tokyo"]),
)
def test_the_day_window_never_reaches_into_yesterday_and_never_starts_after_now(now, zone):
    tz = ZoneInfo(zone)
    since = window_since(AbandonRule.PER_DAY, now, tz, 30)
    assert since <= now
    assert datetime.fromtimestamp(since, tz).date() == datetime.fromtimestamp(now, tz).date()
    assert datetime.fromtimestamp(since, tz).time().hour == 0


def test_an_abandoned_number_rests_lockout_h_unless_an_operator_is_reserved():
    abandoned_at = 1_800_000_000.0
    assert lockout_until(abandoned_at, 72) == abandoned_at + 72 * HOUR
    assert lockout_until(None, 72) is None
    inside, after = abandoned_at + 71 * HOUR, abandoned_at + 72 * HOUR
    assert locked_out(abandoned_at, inside, 72, operator_reserved=False)
    assert not locked_out(abandoned_at, after, 72, operator_reserved=False)
    assert not locked_out(abandoned_at, inside, 72, operator_reserved=True)  # agent_first
    assert not locked_out(None, inside, 72, operator_reserved=False)
    assert not locked_out(abandoned_at, inside, 0, operator_reserved=False)


@given(cap=st.floats(0.001, 0.5))
def test_the_default_target_sits_below_the_cap(cap):
    assert 0 < default_target(cap) < cap
    assert abs(default_target(0.03) - 0.025) < 1e-12
