"""How often one phone may be dialed, whatever lead or campaign it belongs to, and the rest
an abandoned number is owed: the holds the pick puts on a lead before its own retry rules.

A person is called, not a lead: the same phone behind two orders, a missed-call lead and a
campaign's lead is still one person. So the limits count every attempt on the phone:

- at most ``per_day`` dials a day (midnight to midnight in the centre's zone); once used up,
  the phone rests until the next midnight;
- never two dials less than ``min_gap_s`` apart (counted from the dial's start, so a lead
  of the same phone cannot be dialed while the first call is still ringing), except a
  callback at the time the customer agreed to;
- after an abandon (the customer answered and no operator came), ``abandon.lockout_h`` of
  the lead's campaign (``policy/abandon.py``), unless the redial reserves an operator
  before the customer is dialed (``agent_first``): that call cannot abandon them again.
  The per-day and gap limits hold for agent_first too.

Pure: the dial times, the abandon time and ``now`` come in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum

from dialerd.policy.abandon import lockout_until

RECENT_DIALS = 20  # the store passes at most this many of the phone's latest dial times


@dataclass(frozen=True)
class PhoneLimits:
    """``phone_limits`` in the policy's units; ``per_day`` None: no daily limit."""

    per_day: int | None = 3
    min_gap_s: float = 300.0


class HoldKind(StrEnum):
    LOCKOUT = "lockout"  # abandoned recently
    PER_DAY = "per_day"  # dialed per_day times today
    MIN_GAP = "min_gap"  # dialed less than min_gap ago


@dataclass(frozen=True)
class PhoneHold:
    """The phone may not be dialed before ``until``: ``kind`` says why, ``since`` is the
    abandon (lockout) or the latest dial (per_day, min_gap), ``dials_today`` the day's count."""

    until: float
    kind: HoldKind
    since: float
    dials_today: int


def local_midnight(now: float, tz: tzinfo, *, days: int = 0) -> float:
    """Midnight (epoch) starting the local day of ``now`` in ``tz``, ``days`` later."""
    day = datetime.fromtimestamp(now, tz).date() + timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def dials_today(dials: Sequence[float], now: float, tz: tzinfo) -> int:
    """Dials of the phone since local midnight (up to ``now``)."""
    start = local_midnight(now, tz)
    return sum(1 for at in dials if start <= at <= now)


def phone_hold(
    dials: Sequence[float],
    last_abandoned_at: float | None,
    now: float,
    limits: PhoneLimits,
    tz: tzinfo,
    *,
    lockout_h: float,
    operator_reserved: bool,
    agreed_time: bool = False,
) -> PhoneHold | None:
    """What holds the phone back at ``now`` (the latest ``until`` when several do), or None.

    ``dials``: the phone's latest dial times (any order, at most ``RECENT_DIALS``, enough
    for any ``per_day`` the config allows); ``operator_reserved``: the lead's campaign rings
    an operator before the customer (agent_first), which the lockout does not hold back;
    ``agreed_time``: the customer asked for this call's time (a callback), which the gap
    between dials does not hold back (the day's limit and the lockout still do).
    """
    today = dials_today(dials, now, tz)
    holds: list[PhoneHold] = []
    if not operator_reserved and last_abandoned_at is not None:
        until = lockout_until(last_abandoned_at, lockout_h)
        if until is not None and now < until:
            holds.append(PhoneHold(until, HoldKind.LOCKOUT, last_abandoned_at, today))
    past = [at for at in dials if at <= now]
    if past:
        last = max(past)
        if limits.per_day is not None and today >= limits.per_day:
            tomorrow = local_midnight(now, tz, days=1)
            holds.append(PhoneHold(tomorrow, HoldKind.PER_DAY, last, today))
        if not agreed_time and now < last + limits.min_gap_s:
            holds.append(PhoneHold(last + limits.min_gap_s, HoldKind.MIN_GAP, last, today))
    return max(holds, key=lambda hold: hold.until, default=None)
