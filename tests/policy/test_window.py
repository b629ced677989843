"""Calling window (R6) and speed-to-lead clock (R5): fixed-date cases and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.policy.window import (
    HORIZON,
    CallingWindow,
    Hours,
    Weekday,
    clock_start,
    deadline,
    is_callable,
    lead_zones,
    next_callable,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
US = timedelta(microseconds=1)
MIN = timedelta(minutes=1)


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=MOSCOW)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# --- the night pause, days off, holidays (Moscow: no DST) ---------------------------------


def test_default_window_is_ten_to_ten_with_a_night_pause() -> None:
    w = CallingWindow(MOSCOW)
    assert not w.is_open(msk(2025, 1, 15, 9, 59, 59))
    assert w.is_open(msk(2025, 1, 15, 10, 0))
    assert w.is_open(msk(2025, 1, 15, 21, 59, 59))
    assert not w.is_open(msk(2025, 1, 15, 22, 0))
    assert not w.is_open(msk(2025, 1, 16, 3, 0))


def test_next_open_is_the_morning_after_the_night_pause_in_utc() -> None:
    w = CallingWindow(MOSCOW)
    opened = w.next_open(msk(2025, 1, 15, 23, 30))
    assert opened == msk(2025, 1, 16, 10, 0)
    assert opened.tzinfo is UTC


def test_next_open_while_open_is_now_and_next_close_is_tonight() -> None:
    w = CallingWindow(MOSCOW)
    now = msk(2025, 1, 15, 14, 7, 3)
    assert w.next_open(now) == now
    assert w.next_close(now) == msk(2025, 1, 15, 22, 0)
    assert w.next_close(msk(2025, 1, 15, 23, 0)) == msk(2025, 1, 15, 23, 0)
    assert w.next_interval(msk(2025, 1, 15, 23, 0)) == (msk(2025, 1, 16, 10), msk(2025, 1, 16, 22))


def test_naive_datetimes_are_rejected() -> None:
    w = CallingWindow(MOSCOW)
    with pytest.raises(ValueError, match="now: naive"):
        w.is_open(datetime(2025, 1, 15, 12, 0))
    with pytest.raises(ValueError, match="now: naive"):
        clock_start(datetime(2025, 1, 15, 12, 0), w)


def test_sunday_off_skips_to_monday_morning() -> None:
    w = CallingWindow(MOSCOW, days_off=frozenset({Weekday.SUN}))
    assert not w.is_open(msk(2025, 1, 19, 12, 0))  # a Sunday
    assert w.next_open(msk(2025, 1, 18, 22, 30)) == msk(2025, 1, 20, 10, 0)


def test_holidays_close_whole_days() -> None:
    new_year = frozenset(date(2025, 1, d) for d in range(1, 9))
    w = CallingWindow(MOSCOW, holidays=new_year)
    assert not w.is_open(msk(2025, 1, 3, 12, 0))
    assert w.next_open(msk(2024, 12, 31, 22, 0)) == msk(2025, 1, 9, 10, 0)


def test_weekday_override_gives_a_short_saturday_and_a_closed_monday() -> None:
    w = CallingWindow(MOSCOW, overrides={Weekday.SAT: Hours(time(10), time(16)), Weekday.MON: None})
    assert w.is_open(msk(2025, 1, 17, 21, 0))  # Friday keeps the default hours
    assert w.next_close(msk(2025, 1, 18, 12, 0)) == msk(2025, 1, 18, 16, 0)
    assert w.next_open(msk(2025, 1, 18, 16, 0)) == msk(2025, 1, 19, 10, 0)
    assert w.next_open(msk(2025, 1, 19, 22, 0)) == msk(2025, 1, 21, 10, 0)


# --- windows crossing midnight -------------------------------------------------------------


def test_night_shift_runs_past_midnight_until_close() -> None:
    w = CallingWindow(MOSCOW, open=time(20), close=time(2))
    assert w.is_open(msk(2025, 1, 15, 1, 30))
    assert not w.is_open(msk(2025, 1, 15, 2, 0))
    assert not w.is_open(msk(2025, 1, 15, 19, 59))
    assert w.next_close(msk(2025, 1, 15, 23, 0)) == msk(2025, 1, 16, 2, 0)


def test_a_day_off_cancels_the_shift_that_starts_that_day_not_the_one_ending_on_it() -> None:
    w = CallingWindow(MOSCOW, open=time(20), close=time(2), days_off=frozenset({Weekday.SUN}))
    assert w.is_open(msk(2025, 1, 19, 1, 0))  # Saturday's shift, Sunday morning
    assert not w.is_open(msk(2025, 1, 19, 21, 0))  # Sunday evening: no shift
    assert not w.is_open(msk(2025, 1, 20, 1, 0))  # so Monday 01:00 is closed too
    assert w.next_open(msk(2025, 1, 19, 2, 0)) == msk(2025, 1, 20, 20, 0)


def test_open_equal_to_close_is_a_24_hour_shift() -> None:
    w = CallingWindow(MOSCOW, open=time(10), close=time(10), days_off=frozenset({Weekday.SUN}))
    assert w.is_open(msk(2025, 1, 19, 9, 59))  # Saturday's 24 h shift
    assert w.next_close(msk(2025, 1, 18, 3, 0)) == msk(2025, 1, 19, 10, 0)
    assert w.next_open(msk(2025, 1, 19, 10, 0)) == msk(2025, 1, 20, 10, 0)
    always = CallingWindow(MOSCOW, open=time(0), close=time(0))
    assert always.next_close(msk(2025, 1, 19, 3, 0)) is None


# --- DST: Berlin and New York, both directions ------------------------------------------


def test_berlin_spring_forward_open_time_in_the_gap_opens_at_the_jump() -> None:
    w = CallingWindow(BERLIN, open=time(2, 30), close=time(22))
    assert not w.is_open(utc(2024, 3, 31, 0, 59, 59))
    assert w.next_open(utc(2024, 3, 31, 0, 0)) == utc(2024, 3, 31, 1, 0)  # 03:00 CEST


def test_berlin_default_window_follows_wall_clock_across_dst() -> None:
    w = CallingWindow(BERLIN)
    assert w.next_open(utc(2024, 3, 30, 0)) == utc(2024, 3, 30, 9, 0)  # 10:00 CET
    assert w.next_open(utc(2024, 3, 31, 0)) == utc(2024, 3, 31, 8, 0)  # 10:00 CEST
    assert w.next_close(utc(2024, 10, 27, 12)) == utc(2024, 10, 27, 21, 0)  # 22:00 CET


def test_berlin_fall_back_close_in_repeated_hour_reopens_for_the_repeat() -> None:
    w = CallingWindow(BERLIN, open=time(20), close=time(2, 30))
    closed = w.next_close(utc(2024, 10, 26, 19))
    assert closed == utc(2024, 10, 27, 0, 30)  # 02:30 CEST, first occurrence
    reopened = w.next_open(closed)
    assert reopened == utc(2024, 10, 27, 1, 0)  # clock falls back to 02:00 CET
    assert w.next_close(reopened) == utc(2024, 10, 27, 1, 30)  # 02:30 CET


def test_new_york_spring_forward_moves_the_morning_opening_an_hour_earlier_in_utc() -> None:
    w = CallingWindow(NEW_YORK)
    assert clock_start(utc(2024, 3, 9, 5), w) == utc(2024, 3, 9, 15)  # 10:00 EST
    assert clock_start(utc(2024, 3, 10, 5), w) == utc(2024, 3, 10, 14)  # 10:00 EDT
    night = CallingWindow(NEW_YORK, open=time(22), close=time(2, 30))
    assert night.next_close(utc(2024, 3, 10, 4)) == utc(2024, 3, 10, 7)  # 02:30 skipped


def test_new_york_fall_back_open_in_repeated_hour_closes_while_clock_reads_earlier() -> None:
    w = CallingWindow(NEW_YORK, open=time(1, 30), close=time(22))
    assert w.next_open(utc(2024, 11, 3, 4)) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    assert not w.is_open(utc(2024, 11, 3, 6, 15))  # 01:15 EST: before 01:30 again
    assert w.next_open(utc(2024, 11, 3, 6, 0)) == utc(2024, 11, 3, 6, 30)  # 01:30 EST
    night = CallingWindow(NEW_YORK, open=time(20), close=time(1, 30))
    assert night.next_close(utc(2024, 11, 3, 1)) == utc(2024, 11, 3, 5, 30)
    assert night.next_open(utc(2024, 11, 3, 5, 30)) == utc(2024, 11, 3, 6, 0)
    assert night.next_close(utc(2024, 11, 3, 6, 0)) == utc(2024, 11, 3, 6, 30)


# --- speed-to-lead clock (R5) --------------------------------------------------------------


def test_lead_arriving_in_the_day_starts_its_clock_on_arrival() -> None:
    w = CallingWindow(MOSCOW)
    arrived = msk(2025, 1, 15, 12, 0)
    assert clock_start(arrived, w) == arrived
    assert deadline(arrived, w, 15 * MIN) == msk(2025, 1, 15, 12, 15)


def test_lead_arriving_at_night_starts_its_clock_in_the_morning() -> None:
    w = CallingWindow(MOSCOW)
    assert clock_start(msk(2025, 1, 15, 3, 0), w) == msk(2025, 1, 15, 10, 0)
    assert deadline(msk(2025, 1, 15, 3, 0), w, 15 * MIN) == msk(2025, 1, 15, 10, 15)


def test_deadline_counts_only_open_time() -> None:
    w = CallingWindow(MOSCOW, days_off=frozenset({Weekday.SUN}))
    assert deadline(msk(2025, 1, 15, 21, 55), w, 15 * MIN) == msk(2025, 1, 16, 10, 10)
    assert deadline(msk(2025, 1, 15, 21, 45), w, 15 * MIN) == msk(2025, 1, 15, 22, 0)
    assert deadline(msk(2025, 1, 18, 21, 55), w, 15 * MIN) == msk(2025, 1, 20, 10, 10)
    assert deadline(msk(2025, 1, 15, 9, 0), w, 25 * timedelta(hours=1)) == msk(2025, 1, 17, 11, 0)


def test_deadline_across_spring_forward_keeps_wall_clock_opening() -> None:
    w = CallingWindow(BERLIN)
    due = deadline(datetime(2024, 3, 30, 21, 55, tzinfo=BERLIN), w, 15 * MIN)
    assert due == utc(2024, 3, 31, 8, 10)  # 10:10 CEST


def test_negative_target_is_rejected() -> None:
    with pytest.raises(ValueError, match="target"):
        deadline(msk(2025, 1, 15, 12), CallingWindow(MOSCOW), -MIN)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tz": "Europe/Moscow"}, "tz"),
        ({"open": time(10, tzinfo=UTC)}, "open"),
        ({"close": "22:00"}, "close"),
        ({"days_off": frozenset({"sunday"})}, "days_off"),
        ({"days_off": frozenset(Weekday)}, "days_off"),
        ({"holidays": frozenset({datetime(2025, 1, 1)})}, "holidays"),
        ({"overrides": {"sat": (time(10), time(16))}}, "overrides"),
        ({"overrides": {"funday": None}}, "overrides"),
        (
            {"days_off": frozenset({Weekday.SUN}), "overrides": {"sun": Hours(time(9), time(12))}},
            "overrides",
        ),
    ],
)
def test_invalid_configuration_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"tz": MOSCOW, **kwargs}
    with pytest.raises(ValueError, match=f"^{field}: "):
        CallingWindow(**args)  # type: ignore[arg-type]


def test_config_spellings_are_accepted() -> None:
    config: dict[str, Any] = {"days_off": frozenset({"sun"}), "overrides": {"sat": None}}
    w = CallingWindow(MOSCOW, **config)
    assert w.days_off == {Weekday.SUN}
    assert w.next_open(msk(2025, 1, 17, 22, 0)) == msk(2025, 1, 20, 10, 0)
    same = CallingWindow(MOSCOW, **config)
    assert w == same
    assert hash(w) == hash(same)


# --- per-lead local hours --------------------------------------------------------------


def test_lead_zones_from_phonenumbers() -> None:
    assert lead_zones("+74232123456") == (VLADIVOSTOK,)
    assert lead_zones("+74951234567") == (MOSCOW,)
    mobile = lead_zones("+79161234567")  # a Moscow mobile range, not geographic in the data
    assert {MOSCOW, VLADIVOSTOK, ZoneInfo("Asia/Anadyr")} <= set(mobile)
    assert len(mobile) > 10
    toll_free = lead_zones("+18002345678")
    assert {NEW_YORK, ZoneInfo("Pacific/Guam"), ZoneInfo("Pacific/Honolulu")} <= set(toll_free)
    assert lead_zones("+80012345678") == ()  # international freephone: Etc/Unknown


def test_unparsable_phone_is_rejected() -> None:
    with pytest.raises(ValueError, match="phone_e164"):
        lead_zones("89161234567")


def test_vladivostok_lead_from_moscow_centre_stops_at_their_ten_pm() -> None:
    w = CallingWindow(MOSCOW)
    zones = lead_zones("+74232123456")
    assert is_callable(msk(2025, 1, 15, 10, 0), w, None, zones)
    assert is_callable(msk(2025, 1, 15, 14, 59), w, None, zones)
    assert not is_callable(msk(2025, 1, 15, 15, 0), w, None, zones)  # 22:00 in Vladivostok
    assert w.is_open(msk(2025, 1, 15, 15, 0))
    assert next_callable(msk(2025, 1, 15, 16, 0), w, None, zones) == msk(2025, 1, 16, 10, 0)


def test_moscow_lead_follows_the_centre_window() -> None:
    w = CallingWindow(MOSCOW)
    zones = lead_zones("+74951234567")
    assert next_callable(msk(2025, 1, 15, 22, 0), w, None, zones) == msk(2025, 1, 16, 10, 0)
    assert is_callable(msk(2025, 1, 15, 21, 59), w, None, zones)


def test_mobile_spanning_russia_is_callable_only_when_every_zone_is_awake() -> None:
    w = CallingWindow(MOSCOW)
    zones = lead_zones("+79161234567")
    # Winter: Bucharest (UTC+2) wakes at 11:00 MSK, Anadyr (UTC+12) sleeps at 13:00 MSK.
    assert not is_callable(msk(2025, 1, 15, 10, 59), w, None, zones)
    assert is_callable(msk(2025, 1, 15, 11, 0), w, None, zones)
    assert not is_callable(msk(2025, 1, 15, 13, 0), w, None, zones)
    assert next_callable(msk(2025, 1, 15, 13, 0), w, None, zones) == msk(2025, 1, 16, 11, 0)


def test_us_toll_free_never_overlaps_a_moscow_centre() -> None:
    zones = lead_zones("+18002345678")
    assert next_callable(msk(2025, 1, 15, 0), CallingWindow(MOSCOW), None, zones) is None
    found = next_callable(utc(2025, 1, 15, 12), CallingWindow(NEW_YORK), None, zones)
    assert found == utc(2025, 1, 16, 0, 0)  # 10:00 in Guam, 19:00 in New York


def test_custom_local_hours_and_no_zones() -> None:
    w = CallingWindow(MOSCOW)
    nine_to_nine = Hours(time(9), time(21))
    zones = (VLADIVOSTOK,)
    assert not is_callable(msk(2025, 1, 15, 14, 0), w, nine_to_nine, zones)  # 21:00 local
    assert is_callable(msk(2025, 1, 15, 13, 59), w, nine_to_nine, zones)
    assert is_callable(msk(2025, 1, 15, 21, 0), w, None, ())
    assert next_callable(msk(2025, 1, 15, 22, 0), w) == msk(2025, 1, 16, 10, 0)


# --- properties over random zones, instants and hours --------------------------------------

ZONES = sorted(available_timezones())
DST_ZONES = [
    "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
    "America/Havana", "Antarctica/Troll", "Pacific/Apia", "Africa/Casablanca",
    "Asia/Gaza", "Australia/Sydney", "America/St_Johns", "Europe/Moscow",
]  # fmt: skip
EDGE_TIMES = [time(h, m) for h in (0, 1, 2, 3, 10, 22, 23) for m in (0, 30)]

zones = st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(ZONES)).map(ZoneInfo)
wall_times = st.one_of(st.sampled_from(EDGE_TIMES), st.times())
hours = st.builds(Hours, wall_times, wall_times)


@lru_cache(maxsize=4096)
def _transition_days(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """Midnights (UTC) of days in ``year`` during which ``zone`` changes its offset."""
    days = [utc(year, 1, 1) + timedelta(days=n) for n in range(367)]
    offsets = [d.astimezone(zone).utcoffset() for d in days]
    return tuple(days[n] for n in range(366) if offsets[n] != offsets[n + 1])


@st.composite
def instants(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    """Instants from 1995 to 2045, half of them within 36 h of one of the zone's transitions."""
    year = draw(st.integers(1995, 2045))
    near = _transition_days(zone, year)
    pick_near = draw(st.booleans())
    if near and pick_near:
        base = draw(st.sampled_from(near))
        return base + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
    offset = timedelta(seconds=draw(st.integers(0, 365 * 86400)))
    return utc(year, 1, 1) + offset + draw(st.integers(0, 999_999)) * US


@st.composite
def windows(draw: st.DrawFn, zone: ZoneInfo | None = None) -> CallingWindow:
    tz = zone or draw(zones)
    days_off = draw(st.frozensets(st.sampled_from(list(Weekday)), max_size=6))
    open_days = [day for day in Weekday if day not in days_off]
    overrides = draw(st.dictionaries(st.sampled_from(open_days), st.none() | hours, max_size=2))
    if all(day in overrides and overrides[day] is None for day in open_days):
        overrides.clear()
    holidays = draw(st.frozensets(st.dates(date(1995, 1, 1), date(2046, 1, 1)), max_size=3))
    return CallingWindow(tz, draw(wall_times), draw(wall_times), days_off, holidays, overrides)


def shift(window: CallingWindow, day: date) -> Hours | None:
    """Independent reading of the config: which hours open on ``day``."""
    weekday = list(Weekday)[day.weekday()]
    if day in window.holidays or weekday in window.days_off:
        return None
    return window.overrides.get(weekday, Hours(window.open, window.close))


def expected_open(window: CallingWindow, instant: datetime) -> bool:
    """The rule from DESIGN R6: the wall clock reads a time inside a shift of an open day."""
    local = instant.astimezone(window.tz)
    at = local.time()
    today, yesterday = shift(window, local.date()), shift(window, local.date() - timedelta(1))
    if today is not None:
        if today.open < today.close and today.open <= at < today.close:
            return True
        if today.close <= today.open and at >= today.open:
            return True
    return yesterday is not None and yesterday.close <= yesterday.open and at < yesterday.close


def samples(start: datetime, end: datetime) -> list[datetime]:
    """Evenly spread instants in [start, end) plus the one just before ``end``."""
    if end <= start:
        return []
    return [start + (end - start) * k // 64 for k in range(64)] + [end - US]


PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(st.data())
def test_is_open_iff_wall_clock_inside_a_shift(data: st.DataObject) -> None:
    window = data.draw(windows())
    instant = data.draw(instants(window.tz))
    assert window.is_open(instant) == expected_open(window, instant)


@PROPERTY
@given(st.data())
def test_next_open_is_the_first_open_instant(data: st.DataObject) -> None:
    window = data.draw(windows())
    now = data.draw(instants(window.tz))
    opened = window.next_open(now)
    assert opened >= now
    assert opened.tzinfo is UTC
    assert expected_open(window, opened)
    assert not any(expected_open(window, t) for t in samples(now, opened))


@PROPERTY
@given(st.data())
def test_next_close_is_the_first_closed_instant(data: st.DataObject) -> None:
    window = data.draw(windows())
    now = data.draw(instants(window.tz))
    closed = window.next_close(now)
    end = now + HORIZON if closed is None else closed
    assert end >= now
    assert closed is None or not expected_open(window, closed)
    assert all(expected_open(window, t) for t in samples(now, end))


@PROPERTY
@given(st.data())
def test_callable_means_centre_open_and_every_local_zone_awake(data: st.DataObject) -> None:
    window = data.draw(windows())
    local = data.draw(st.none() | hours)
    lead = data.draw(st.lists(zones, max_size=3))
    now = data.draw(instants(window.tz))
    local_hours = local or Hours(window.open, window.close)
    local_windows = [CallingWindow(z, local_hours.open, local_hours.close) for z in lead]
    every = expected_open(window, now) and all(expected_open(w, now) for w in local_windows)
    assert is_callable(now, window, local, lead) == every
    found = next_callable(now, window, local, lead)
    if found is not None:
        assert now <= found <= now + HORIZON
        assert is_callable(found, window, local, lead)
        assert found == now or not is_callable(found - US, window, local, lead)
