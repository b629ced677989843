"""The abandon rules, one definition for pacing, the lockout, reports and the wallboard.

An *abandoned* call: in ``customer_first`` or ``predictive`` the customer answered and no
operator came on the line within ``after_s`` (2 s by default) — the silent or "please
hold" call that regulators count (FTC safe harbor, Ofcom). The rate is abandoned /
answered over the campaign's regulatory window, and must stay at or under its cap:

- ``rolling_30_days``: the last ``window_days`` (30 by default) up to now, as the FTC
  measures it;
- ``per_day``: today, midnight to midnight in the centre's zone, as Ofcom measures it.

Pacing steers toward ``target`` (below the cap) and never spends more than the budget the
window has left; an abandoned number is locked out for ``lockout_h`` (72 h) unless the
redial reserves an operator first (``agent_first``), since then nobody can be abandoned.

Pure: times come in as arguments, nothing here reads a clock or the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

_EPS = 1e-9


class AbandonRule(StrEnum):
    """Which window the abandon rate is measured over."""

    ROLLING_30_DAYS = "rolling_30_days"
    PER_DAY = "per_day"


@dataclass(frozen=True)
class AbandonStats:
    """The campaign's customer-first calls in its abandon window."""

    answered: int  # the customer answered (abandoned ones included)
    abandoned: int  # the customer answered and had no operator within ``after_s``

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def abandon_budget(stats: AbandonStats, cap: float) -> int:
    """How many more abandons the window takes with its rate still at or under ``cap``.

    The largest k with (abandoned + k) / (answered + k) <= cap, i.e.
    k <= (cap · answered − abandoned) / (1 − cap); 0 once the cap is reached.
    """
    room = (cap * stats.answered - stats.abandoned) / (1.0 - cap)
    return max(0, math.floor(room + _EPS))


def default_target(cap: float) -> float:
    """Where pacing aims when the config names no target: 5/6 of the cap (2.5 % for 3 %),
    far enough below it that one unlucky minute does not cross it."""
    return cap * 5.0 / 6.0


def window_start(rule: AbandonRule, now_local: datetime, window_days: float) -> datetime:
    """Where the abandon window begins for a decision at ``now_local`` (zone-aware, the
    centre's zone): local midnight today for ``per_day``, ``window_days`` ago otherwise."""
    if now_local.tzinfo is None:
        raise ValueError("now_local must carry the centre's time zone")
    if rule is AbandonRule.PER_DAY:
        return now_local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return now_local - timedelta(days=window_days)


def window_since(rule: AbandonRule, now: float, tz: tzinfo, window_days: float) -> float:
    """``window_start`` for epoch seconds: the first instant (epoch) the window counts."""
    return window_start(rule, datetime.fromtimestamp(now, tz), window_days).timestamp()


def lockout_until(last_abandoned_at: float | None, lockout_h: float) -> float | None:
    """When a number abandoned at ``last_abandoned_at`` may be dialed again (epoch), or
    None if it was never abandoned."""
    if last_abandoned_at is None:
        return None
    return last_abandoned_at + lockout_h * 3600.0


def locked_out(
    last_abandoned_at: float | None, now: float, lockout_h: float, *, operator_reserved: bool
) -> bool:
    """Whether a redial at ``now`` is held back by an earlier abandon on the same number.

    A redial that reserves an operator before the customer is dialed (``agent_first``)
    cannot abandon the customer again, so the lockout does not apply to it.
    """
    if operator_reserved:
        return False
    until = lockout_until(last_abandoned_at, lockout_h)
    return until is not None and now < until
