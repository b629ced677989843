"""Runs missed while the daemon was down: which fire time was missed, and what to do (pure).

The store remembers the last fire time of each schedule; the first fire time after it, if it
is not later than ``now``, was missed. Only the most recent missed fire time matters: a
report covers the period relative to its fire time, so "run once" sends one report (the
freshest period), not one per missed occurrence. A schedule never run has nothing to catch
up: its first run is its first fire time after the start.

Cron arithmetic is passed in (``next_fire``: the first fire time strictly after a moment),
like APScheduler's triggers take ``now``: no clock and no scheduler inside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

NextFire = Callable[[dt.datetime], dt.datetime | None]

# A long downtime with a dense cron ("every minute") is searched backwards from ``now`` in
# growing windows, so finding the latest missed fire time costs little.
_LOOKBACK = (
    dt.timedelta(hours=1),
    dt.timedelta(days=1),
    dt.timedelta(days=32),
    dt.timedelta(days=367),
)


class MissedAction(StrEnum):
    SKIP = "skip"  # record it as skipped, send nothing
    RUN_ONCE = "run_once"  # send one report now, for the missed fire time's period


@dataclass(frozen=True)
class MissedRun:
    fire_time: dt.datetime  # the most recent fire time in (last run, now]
    action: MissedAction


def latest_fire(after: dt.datetime, now: dt.datetime, next_fire: NextFire) -> dt.datetime | None:
    """The last fire time in (``after``, ``now``], in UTC; None when there is none.

    Compared in UTC: aware datetimes of one zone compare by wall time, which is ambiguous
    in the hour a DST change repeats. A ``next_fire`` that does not advance ends the search.
    """
    after, now = after.astimezone(dt.UTC), now.astimezone(dt.UTC)
    first = _next(next_fire, after)
    if first is None or first > now:
        return None
    for window in (*_LOOKBACK, None):
        start = after if window is None else max(after, now - window)
        found = None
        fire = first if start == after else _next(next_fire, start)
        while fire is not None and fire <= now:
            found, fire = fire, _next(next_fire, fire)
        if found is not None:
            return found
    raise AssertionError("unreachable: the unbounded window holds the first fire time")


def _next(next_fire: NextFire, moment: dt.datetime) -> dt.datetime | None:
    fire = next_fire(moment)
    if fire is None or fire.astimezone(dt.UTC) <= moment:
        return None
    return fire.astimezone(dt.UTC)


def missed_run(
    policy: str, last_fire: dt.datetime | None, now: dt.datetime, next_fire: NextFire
) -> MissedRun | None:
    """What to do at start for one schedule (``policy``: its ``missed`` setting)."""
    if last_fire is None:
        return None
    fire = latest_fire(last_fire, now, next_fire)
    return None if fire is None else MissedRun(fire, MissedAction(policy))
