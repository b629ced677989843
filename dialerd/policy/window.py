"""Calling window: when dialerd may dial (R6) and when a lead's speed-to-lead clock runs (R5).

Pure: every function takes ``now``; nothing here reads a clock or does I/O.

Rules, in the call centre's wall-clock time (its IANA zone):

* The window is open at an instant iff the wall clock there reads a time in ``[open, close)``
  of a shift. A shift belongs to the date it opens on: with ``close <= open`` it runs past
  midnight and ends at ``close`` on the next date (``open == close`` is a 24-hour shift), so
  a day off or holiday cancels the shift that *starts* that day, not the tail of the
  previous night's shift.
* Spring forward: a wall time that does not exist opens/closes at the first instant after
  it (the transition itself), e.g. open 02:30 on a 02:00 -> 03:00 day opens at 03:00.
* Fall back: the repeated hour is judged by the wall clock each time it passes. The window
  opens (closes) at the first occurrence (fold=0) of its open (close) time; if the clock
  then falls back to before that time, it is closed (open) again until the second
  occurrence. So it is never open at a wall time outside ``[open, close)`` and never
  closed inside it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import chain
from types import MappingProxyType
from zoneinfo import ZoneInfo

from dialerd.policy.lead_zone import number_zones

#: How far ahead ``next_close`` and ``next_callable`` look before answering None.
HORIZON = timedelta(days=14)

_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Weekday(StrEnum):
    """Config spelling of weekdays (``days_off: [sun]``); order matches ``date.weekday()``."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEK = tuple(Weekday)


def _check_time(value: object, name: str) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValueError(f"{name}: expected a naive wall-clock datetime.time, got {value!r}")


@dataclass(frozen=True)
class Hours:
    """Opening hours of one shift; ``close <= open`` runs past midnight, equal is 24 h."""

    open: time
    close: time

    def __post_init__(self) -> None:
        _check_time(self.open, "open")
        _check_time(self.close, "close")

    @property
    def crosses_midnight(self) -> bool:
        """True when the shift ends on the date after the one it opens on."""
        return self.close <= self.open

    def covers_opening_day(self, at: time) -> bool:
        """Whether wall time ``at`` on the shift's own date is inside it."""
        if self.crosses_midnight:
            return at >= self.open
        return self.open <= at < self.close

    def covers_next_day(self, at: time) -> bool:
        """Whether wall time ``at`` on the following date is still inside the shift."""
        return self.crosses_midnight and at < self.close


def _weekday(value: object, name: str) -> Weekday:
    try:
        return Weekday(str(value))
    except ValueError:
        choices = ", ".join(_WEEK)
        raise ValueError(f"{name}: {value!r} is not a weekday ({choices})") from None


def _holiday(value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"holidays: expected datetime.date values, got {value!r}")
    return value


def _override(day: Weekday, value: object) -> Hours | None:
    if value is not None and not isinstance(value, Hours):
        raise ValueError(f"overrides: {day} must be Hours or None (closed), got {value!r}")
    return value


def _utc(value: datetime, name: str) -> datetime:
    """Reject naive datetimes: a wall time without a zone is not an instant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {value.isoformat()}, pass an aware instant")
    return value.astimezone(UTC)


def _transition(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """First instant in (before, after] with ``after``'s UTC offset.

    zoneinfo does not expose its transitions; tzdata puts them on whole UTC seconds, so a
    bisection over seconds finds the exact instant in a few steps.
    """
    target = after.astimezone(tz).utcoffset()
    lo = math.floor((before - _EPOCH).total_seconds())
    hi = math.ceil((after - _EPOCH).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (_EPOCH + timedelta(seconds=mid)).astimezone(tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return _EPOCH + timedelta(seconds=hi)


@dataclass(frozen=True)
class CallingWindow:
    """The centre's dialing hours (R6): default 10:00-22:00 daily, minus days off and holidays.

    ``overrides`` give a weekday its own Hours, or None to close it. ``holidays`` are dates in
    the centre's zone. Invalid values raise ValueError naming the field.
    """

    tz: ZoneInfo
    open: time = time(10)
    close: time = time(22)
    days_off: frozenset[Weekday] = frozenset()
    holidays: frozenset[date] = frozenset()
    overrides: Mapping[Weekday, Hours | None] = field(default_factory=dict, hash=False)
    _week: tuple[Hours | None, ...] = field(init=False, repr=False, compare=False, hash=False)
    _times: tuple[time, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tz, ZoneInfo):
            raise ValueError(f"tz: expected a zoneinfo.ZoneInfo, got {self.tz!r}")
        default = Hours(self.open, self.close)
        days_off = frozenset(_weekday(day, "days_off") for day in self.days_off)
        holidays = frozenset(_holiday(day) for day in self.holidays)
        overrides: dict[Weekday, Hours | None] = {}
        for key, value in dict(self.overrides).items():
            day = _weekday(key, "overrides")
            overrides[day] = _override(day, value)
        clash = sorted(day for day in days_off if overrides.get(day) is not None)
        if clash:
            raise ValueError(f"overrides: {', '.join(clash)} also in days_off but given hours")
        week = tuple(None if day in days_off else overrides.get(day, default) for day in _WEEK)
        if all(hours is None for hours in week):
            raise ValueError("days_off: every weekday is closed, the window would never open")
        times = {time(0)} | {t for hours in week if hours for t in (hours.open, hours.close)}
        object.__setattr__(self, "days_off", days_off)
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "overrides", MappingProxyType(overrides))
        object.__setattr__(self, "_week", week)
        object.__setattr__(self, "_times", tuple(sorted(t.replace(fold=0) for t in times)))

    def hours_on(self, day: date) -> Hours | None:
        """The shift that opens on ``day`` (a date in the centre's zone), None if closed."""
        if day in self.holidays:
            return None
        return self._week[day.weekday()]

    def is_open(self, now: datetime) -> bool:
        """Whether dialing is allowed at ``now`` (aware, any zone)."""
        local = _utc(now, "now").astimezone(self.tz)
        day, at = local.date(), local.time()
        today, yesterday = self.hours_on(day), self.hours_on(day - _DAY)
        return bool(today and today.covers_opening_day(at)) or bool(
            yesterday and yesterday.covers_next_day(at)
        )

    def next_open(self, now: datetime) -> datetime:
        """The first instant >= ``now`` when the window is open (``now`` itself if open), UTC."""
        now = _utc(now, "now")
        return next(t for t in chain((now,), self._flips(now)) if self.is_open(t))

    def next_close(self, now: datetime, horizon: timedelta = HORIZON) -> datetime | None:
        """The first instant >= ``now`` when the window is closed, UTC.

        None when it stays open for the whole ``horizon`` (shifts chained round the clock).
        """
        now = _utc(now, "now")
        limit = now + horizon
        found = next(t for t in chain((now,), self._flips(now)) if t > limit or not self.is_open(t))
        return found if found <= limit else None

    def next_interval(
        self, now: datetime, horizon: timedelta = HORIZON
    ) -> tuple[datetime, datetime | None]:
        """The open interval containing ``now``, or the next one: (start or now, end or None)."""
        start = self.next_open(now)
        return start, self.next_close(start, horizon)

    def _resolve(self, day: date, at: time) -> tuple[datetime, ...]:
        """UTC instants where the wall clock reads ``day at``, plus any transition they straddle.

        A skipped time yields only the transition (the first instant after it); a repeated
        one yields both occurrences and the fall-back instant between them.
        """
        first = datetime.combine(day, at, self.tz).astimezone(UTC)
        second = datetime.combine(day, at.replace(fold=1), self.tz).astimezone(UTC)
        if first == second:
            return (first,)
        if first < second:
            return first, _transition(self.tz, first, second), second
        return (_transition(self.tz, second, first),)

    def _flips(self, after: datetime) -> Iterator[datetime]:
        """Instants after ``after``, ascending, at which ``is_open`` may change its answer.

        Between two of them the wall clock crosses no open/close time, so the answer holds.
        """
        day = after.astimezone(self.tz).date() - 2 * _DAY
        pending: list[datetime] = []
        last = after
        while True:
            for at in self._times:
                for instant in self._resolve(day, at):
                    if instant > after:
                        heapq.heappush(pending, instant)
            day += _DAY
            # Wall dates not yet resolved cannot map before this: UTC offsets stay under 24 h.
            settled = datetime.combine(day, time(0), UTC) - _DAY
            while pending and pending[0] < settled:
                instant = heapq.heappop(pending)
                if instant > last:
                    last = instant
                    yield instant


def clock_start(arrived_at: datetime, window: CallingWindow) -> datetime:
    """When a lead's speed-to-lead clock starts (R5): at arrival, or at the next opening."""
    return window.next_open(arrived_at)


def deadline(arrived_at: datetime, window: CallingWindow, target: timedelta) -> datetime:
    """When a lead must have been dialed (R5): ``target`` counted in open time only.

    Closed time does not count, so a lead arriving at 21:55 with a 15-minute target under a
    10:00-22:00 window is due at 10:10 on the next open day.
    """
    if target < timedelta(0):
        raise ValueError(f"target: must not be negative, got {target}")
    start, remaining = window.next_open(arrived_at), target
    while True:
        end = window.next_close(start, horizon=remaining)
        if end is None or end - start >= remaining:
            return start + remaining
        remaining -= end - start
        start = window.next_open(end)


def lead_zones(phone_e164: str) -> tuple[ZoneInfo, ...]:
    """The IANA zones ``phonenumbers`` maps a number to (corrected where its data is wrong);
    () when unknown.

    Only the number's word: the local-hours rule reads a lead's own zone first
    (``lead_zone.lead_zone``). A zone missing from the system's tz database raises
    ZoneInfoNotFoundError rather than silently dropping a lead's local-hours constraint.
    """
    return number_zones(phone_e164)


def _windows(
    window: CallingWindow, local_hours: Hours | None, zones: Iterable[ZoneInfo]
) -> tuple[CallingWindow, ...]:
    hours = Hours(window.open, window.close) if local_hours is None else local_hours
    local = (CallingWindow(zone, hours.open, hours.close) for zone in zones)
    return (window, *local)


def is_callable(
    now: datetime,
    window: CallingWindow,
    local_hours: Hours | None = None,
    zones: Sequence[ZoneInfo] = (),
) -> bool:
    """Whether a lead may be dialed at ``now``: centre open and local hours in *every* zone.

    A number spanning several zones (a Russian mobile, a US toll-free) must be inside its
    local hours in all of them. ``local_hours`` defaults to the centre's daily open/close and
    applies every day (a lead's days off are unknown); no zones means no local constraint.
    """
    return all(w.is_open(now) for w in _windows(window, local_hours, zones))


def next_callable(
    now: datetime,
    window: CallingWindow,
    local_hours: Hours | None = None,
    zones: Sequence[ZoneInfo] = (),
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The first instant >= ``now`` when ``is_callable`` holds, UTC; None if not within horizon.

    None is a real answer: the zones of a number may never share open hours with the centre.
    """
    windows = _windows(window, local_hours, zones)
    at = _utc(now, "now")
    limit = at + horizon
    while at <= limit:
        shut = next((w for w in windows if not w.is_open(at)), None)
        if shut is None:
            return at
        at = shut.next_open(at)
    return None
