"""How many calls may start now: pure arithmetic over counts, no clock, no I/O.

- ``agent_first``: one call per free operator; the operator is rung first.
- ``customer_first`` (progressive): customers ringing or waiting for an operator never
  exceed free operators × ``dial_ratio``.
- ``predictive``: the same with a ratio from the measured answer rate (1 / answer rate,
  up to ``max_ratio``), 1.0 until there are ``min_samples`` attempts to measure.

Any ratio above 1 is paid for from the *abandon budget*: a customer who answers when no
operator is free is abandoned, so calls dialed beyond the free operators may each
become one abandon, and there are never more of them in flight than the abandons the
campaign's abandon window can still absorb without its rate (abandoned / answered)
passing the cap (3 %, the usual regulatory limit; ``policy/abandon.py``). When the budget is spent the ratio is 1.0 again —
progressive dialing cannot abandon except by a race with an inbound call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialerd.policy.abandon import AbandonStats, abandon_budget
from dialerd.policy.modes import DialMode

__all__ = [
    "AbandonStats",
    "AnswerStats",
    "GroupLoad",
    "Pace",
    "PacingRules",
    "abandon_budget",
    "pace",
    "predictive_ratio",
]

_EPS = 1e-9


@dataclass(frozen=True)
class GroupLoad:
    """The operator group behind a campaign, as the dialer sees it right now."""

    free_operators: int  # free per Asterisk, and not rung/connected by one of our calls
    waiting_calls: int  # our customer-first calls of this group without an operator yet


@dataclass(frozen=True)
class AnswerStats:
    """The campaign's finished attempts in the recent window (default 60 min), any mode."""

    attempts: int
    answered: int


@dataclass(frozen=True)
class PacingRules:
    mode: DialMode
    gated: bool  # the campaign has an operator group; False: only the line limit applies
    dial_ratio: float = 1.0  # customer_first
    abandon_cap: float = 0.03
    max_ratio: float = 3.0  # predictive
    min_samples: int = 30  # predictive


@dataclass(frozen=True)
class Pace:
    calls: int  # new calls that may start now
    ratio: float  # the ratio in force
    reason: str


def predictive_ratio(answers: AnswerStats, rules: PacingRules) -> tuple[float, str]:
    """1 / answer rate, between 1 and ``max_ratio``; 1.0 while there is too little to measure."""
    if answers.attempts < rules.min_samples:
        return 1.0, f"measuring the answer rate ({answers.attempts}/{rules.min_samples} attempts)"
    if answers.answered <= 0:
        return rules.max_ratio, "nobody answered recently"
    rate = answers.answered / answers.attempts
    ratio = min(rules.max_ratio, max(1.0, 1.0 / rate))
    return ratio, f"answer rate {rate:.0%}"


def pace(
    rules: PacingRules,
    load: GroupLoad,
    lines_free: int,
    abandons: AbandonStats,
    answers: AnswerStats,
) -> Pace:
    """New calls the campaign may start now; never more than ``lines_free``."""
    lines_free = max(0, lines_free)
    if not rules.gated:
        return Pace(lines_free, 1.0, "no operator group: only max_concurrent_calls applies")
    free, waiting = max(0, load.free_operators), max(0, load.waiting_calls)
    if rules.mode is DialMode.AGENT_FIRST:
        calls = min(lines_free, free - waiting)
        return Pace(max(0, calls), 1.0, "one call per free operator")
    if rules.mode is DialMode.PREDICTIVE:
        ratio, why = predictive_ratio(answers, rules)
    else:
        ratio, why = rules.dial_ratio, "dial_ratio"
    limit = math.floor(free * ratio + _EPS)
    if limit > free:
        budget = abandon_budget(abandons, rules.abandon_cap)
        if budget == 0:
            limit, ratio = free, 1.0
            why = f"abandon budget spent ({abandons.rate:.1%} of {abandons.answered} answered)"
        elif free + budget < limit:
            limit = free + budget
            why += f"; over-dial limited by the abandon budget ({budget})"
    calls = max(0, min(lines_free, limit - waiting))
    return Pace(calls, ratio, why)
