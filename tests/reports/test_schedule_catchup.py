"""Missed runs at start and the period a fire time covers: pure, fixed datetimes, DST days."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dialerd.reports.catchup import MissedAction, MissedRun, latest_fire, missed_run
from dialerd.reports.period import relative
from dialerd.reports.schedule import crontab_trigger, next_fire

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def cron(expression, zone=MSK):
    return next_fire(crontab_trigger(expression, zone))


def at(*args, zone=MSK, fold=0):
    return dt.datetime(*args, tzinfo=zone, fold=fold)


DAILY_7 = cron("0 7 * * *")


def test_a_schedule_never_run_has_nothing_to_catch_up():
    assert missed_run("run_once", None, at(2026, 11, 23, 10), DAILY_7) is None


def test_no_fire_time_since_the_last_run_is_no_miss():
    last = at(2026, 11, 22, 7)
    assert missed_run("run_once", last, at(2026, 11, 23, 6, 59, 59), DAILY_7) is None
    # The last run's own fire time is not missed again.
    assert missed_run("skip", last, last, DAILY_7) is None


@pytest.mark.parametrize("policy", ["skip", "run_once"])
def test_a_fire_time_passed_while_down_is_missed_with_the_schedule_policy(policy):
    missed = missed_run(policy, at(2026, 11, 22, 7), at(2026, 11, 23, 7), DAILY_7)
    assert missed == MissedRun(at(2026, 11, 23, 7).astimezone(dt.UTC), MissedAction(policy))


def test_several_missed_occurrences_give_one_run_for_the_latest():
    missed = missed_run("run_once", at(2026, 11, 12, 7), at(2026, 11, 23, 10, 30), DAILY_7)
    assert missed is not None and missed.fire_time == at(2026, 11, 23, 7)
    # ... covering the day before the latest fire time, not the first missed one.
    period = relative("yesterday", missed.fire_time.timestamp(), "Europe/Moscow")
    assert (period.first_day, period.last_day) == ("2026-11-22", "2026-11-22")


def test_a_long_downtime_with_a_dense_cron_is_cheap():
    calls = 0
    every_minute = cron("* * * * *")

    def counting(moment):
        nonlocal calls
        calls += 1
        return every_minute(moment)

    latest = latest_fire(at(2025, 11, 1), at(2026, 11, 23, 10, 30, 42), counting)
    assert latest == at(2026, 11, 23, 10, 30)
    assert calls < 200


def test_weekly_and_monthly_crons():
    monday_8 = cron("0 8 * * 1")  # crontab's 1 is Monday (APScheduler 3.x's is Tuesday)
    assert latest_fire(at(2026, 11, 2, 8), at(2026, 11, 23, 7), monday_8) == at(2026, 11, 16, 8)
    first_of_month = cron("0 6 1 * *")
    assert latest_fire(at(2026, 1, 1, 6), at(2026, 11, 23), first_of_month) == at(2026, 11, 1, 6)


def test_spring_forward_day():
    """Berlin 2026-03-29 has 23 hours; the 07:00 run the day after covers exactly it."""
    daily = cron("0 7 * * *", BERLIN)
    last = at(2026, 3, 28, 7, zone=BERLIN)  # CET, UTC+1
    missed = missed_run("run_once", last, at(2026, 3, 30, 8, zone=BERLIN), daily)
    assert missed is not None
    assert missed.fire_time == dt.datetime(2026, 3, 30, 5, tzinfo=dt.UTC)  # 07:00 CEST
    period = relative("yesterday", missed.fire_time.timestamp(), "Europe/Berlin")
    assert (period.first_day, period.end - period.start) == ("2026-03-29", 23 * 3600)
    # A fire time inside the skipped hour (02:30 does not exist that day) still counts once.
    night = cron("30 2 * * *", BERLIN)
    fire = latest_fire(at(2026, 3, 28, 2, 30, zone=BERLIN), at(2026, 3, 29, 12, zone=BERLIN), night)
    assert fire is not None and fire.astimezone(BERLIN).date() == dt.date(2026, 3, 29)


def test_fall_back_night_does_not_loop_and_sees_the_repeated_hour():
    """2026-10-25 02:00-03:00 happens twice in Berlin; APScheduler 3.x fires a 02:30 cron in
    both. A run at the first 02:30 (CEST) and a start at 03:00 CET: the second 02:30 was missed."""
    night = cron("30 2 * * *", BERLIN)
    first = at(2026, 10, 25, 2, 30, zone=BERLIN)  # CEST, 00:30 UTC
    now = at(2026, 10, 25, 3, zone=BERLIN)  # CET, 02:00 UTC
    missed = missed_run("skip", first, now, night)
    assert missed is not None
    assert missed.fire_time == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    # After the second one, nothing until the next night.
    assert missed_run("skip", missed.fire_time, now, night) is None


@pytest.mark.parametrize(
    ("period", "fire", "first", "last"),
    [
        # Midnight in Moscow is still the day before in UTC: the centre's zone decides.
        ("yesterday", at(2026, 11, 23, 0, 0), "2026-11-22", "2026-11-22"),
        ("today", at(2026, 11, 23, 23, 59), "2026-11-23", "2026-11-23"),
        ("last_7_days", at(2026, 11, 23, 7), "2026-11-16", "2026-11-22"),
        ("last_week", at(2026, 11, 23, 7), "2026-11-16", "2026-11-22"),
        ("last_week", at(2026, 11, 29, 23), "2026-11-16", "2026-11-22"),  # Sunday
        ("month_to_date", at(2026, 11, 1, 7), "2026-11-01", "2026-11-01"),
        ("last_month", at(2026, 3, 1, 0, 5), "2026-02-01", "2026-02-28"),
    ],
)
def test_the_period_of_a_fire_time(period, fire, first, last):
    covered = relative(period, fire.timestamp(), "Europe/Moscow")
    assert (covered.first_day, covered.last_day) == (first, last)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1", {0}),
        ("0", {6}),
        ("7", {6}),
        ("1-5", {0, 1, 2, 3, 4}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("5-7", {4, 5, 6}),
        ("0,6", {5, 6}),
        ("*/2", {6, 1, 3, 5}),  # Sunday, Tuesday, Thursday, Saturday
        ("*", set(range(7))),
    ],
)
def test_weekdays_are_read_as_crontab_reads_them(field, days):
    """Python's weekday(): Monday 0 … Sunday 6; 2026-11-23 is a Monday."""
    fire = cron(f"0 8 * * {field}")
    moment, seen = at(2026, 11, 22, 9), set()
    for _ in range(7):
        moment = fire(moment)
        if moment > at(2026, 11, 29, 9):
            break
        seen.add(moment.weekday())
    assert seen == days


@pytest.mark.parametrize("field", ["8", "fri-mon", "mo", "1-"])
def test_unreadable_weekdays_are_refused(field):
    with pytest.raises(ValueError, match="weekday field"):
        crontab_trigger(f"0 8 * * {field}", MSK)
