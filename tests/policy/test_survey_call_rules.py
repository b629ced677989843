"""When a confirmed customer is called back for the survey: only after a confirmed sale,
``call_after_h`` later, and never outside the calling window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.domain import Result
from dialerd.policy.survey_call import SurveyCall, asks_survey, survey_due
from dialerd.policy.window import CallingWindow

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3 all year
WINDOW = CallingWindow(MOSCOW, time(10), time(22), holidays=frozenset({date(2027, 1, 18)}))
HOUR = 3600.0


def msk(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2027, 1, day, hour, minute, tzinfo=MOSCOW).timestamp()


@pytest.mark.parametrize("result", list(Result))
def test_only_a_confirmed_sale_asks_for_a_survey_call(result):
    assert asks_survey(result, SurveyCall("nps", 2 * HOUR)) is (result is Result.CONFIRMED)


def test_a_campaign_without_a_survey_campaign_calls_nobody_back():
    assert not asks_survey(Result.CONFIRMED, None)


def test_the_call_is_due_after_the_delay_inside_the_window():
    # confirmed Friday 11:00, 3 hours later is 14:00 the same day
    assert survey_due(msk(15, 11), SurveyCall("nps", 3 * HOUR), WINDOW) == msk(15, 14)


def test_a_delay_ending_at_night_waits_for_the_morning():
    # confirmed 20:30, 2 hours later is 22:30: the window has closed, so 10:00 next day
    assert survey_due(msk(15, 20, 30), SurveyCall("nps", 2 * HOUR), WINDOW) == msk(16, 10)


def test_a_holiday_is_skipped():
    # confirmed Sunday 17th 15:00, 24 hours later is the holiday Monday 18th: Tuesday 10:00
    assert survey_due(msk(17, 15), SurveyCall("nps", 24 * HOUR), WINDOW) == msk(19, 10)


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="after_s"):
        SurveyCall("nps", -1.0)


@given(
    confirmed_at=st.floats(min_value=msk(1, 0), max_value=msk(28, 0)),
    after_h=st.floats(min_value=0, max_value=24 * 30),
)
def test_never_before_the_delay_and_always_inside_the_window(confirmed_at, after_h):
    due = survey_due(confirmed_at, SurveyCall("nps", after_h * HOUR), WINDOW)
    assert due >= confirmed_at + after_h * HOUR - 1e-3
    assert WINDOW.is_open(datetime.fromtimestamp(due, UTC))
    # and it is the first such instant: the window was closed all the time in between
    earliest = confirmed_at + after_h * HOUR
    if due > earliest + 1:
        assert not WINDOW.is_open(datetime.fromtimestamp(earliest, UTC))
