"""Report periods: whole local days in the centre's time zone (pure; ``now`` is an argument)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dialerd.config.reports import SchedulePeriod
from dialerd.reports.model import Period


def days(first: dt.date, last: dt.date, timezone: str) -> Period:
    """``first`` .. ``last`` inclusive; midnights are local, so a DST day is 23 or 25 h long."""
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(first, dt.time(), zone).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).timestamp()
    return Period(first.isoformat(), last.isoformat(), timezone, start, end)


class PeriodError(ValueError):
    """A period asked for with a bad date; ``option`` names it ("from" or "to")."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option, self.message = option, message


def asked(first: str | None, last: str | None, timezone: str, now: float) -> Period:
    """The period of ``--from``/``--to`` (``from``/``to`` in the API): ISO dates, inclusive;
    ``from`` defaults to today, ``to`` to ``from``."""
    start = _date("from", first) if first else local_today(now, timezone)
    end = _date("to", last) if last else start
    if end < start:
        raise PeriodError("to", f"the period ends ({end}) before it starts ({start})")
    return days(start, end, timezone)


def _date(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(option, f"{text!r} is not a date such as 2026-11-23") from None


def local_today(now: float, timezone: str) -> dt.date:
    return dt.datetime.fromtimestamp(now, ZoneInfo(timezone)).date()


def relative(name: SchedulePeriod, now: float, timezone: str) -> Period:
    """The period a scheduled report fired at ``now`` covers."""
    today = local_today(now, timezone)
    one = dt.timedelta(days=1)
    if name == "today":
        return days(today, today, timezone)
    if name == "yesterday":
        return days(today - one, today - one, timezone)
    if name == "last_7_days":
        return days(today - 7 * one, today - one, timezone)
    if name == "last_week":  # Monday to Sunday before this week
        monday = today - dt.timedelta(days=today.weekday()) - 7 * one
        return days(monday, monday + 6 * one, timezone)
    if name == "month_to_date":
        return days(today.replace(day=1), today, timezone)
    if name == "last_month":
        last = today.replace(day=1) - one
        return days(last.replace(day=1), last, timezone)
    raise ValueError(f"unknown period {name!r}")
