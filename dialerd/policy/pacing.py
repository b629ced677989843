"""How many calls may start now: pure arithmetic over counts, no clock, no I/O.

- ``agent_first``: one call per free operator; the operator is rung first.
- ``customer_first`` (progressive): customers ringing or waiting for an operator never
  exceed free operators × ``dial_ratio``; any ratio above 1 is paid for from the abandon
  budget (below).
- ``predictive``: *dials ahead*. A customer dialed now answers (if at all) a ring time
  later, so what counts is how many operators will be free *then*: the free ones, plus
  those in talk or wrap-up whose call will likely be over by the time the customer
  answers (or within half the abandon rule's ``after_s`` after), minus the customers already
  in flight that will answer. The campaign's own history says how likely each of those is
  (``CallProfile``: answer probability, ring times, talk times, learned per hour of day).
  Calls are added one by one while the expected share of answered customers who would
  find no operator stays under the *abandon rate in force* (``steered_rate``).

Abandon control, over the regulatory window rather than per call (``policy/abandon.py``):

- *Steering* (the soft limit): the rate in force is the one that brings the window back
  to ``target`` (below the cap) over as many answered calls again as the window holds,
  ``(target·(N + M) − B) / M`` with N answered and B abandoned so far, M = max(N,
  ``min_samples``), kept between 0 and the cap. A window under target lets pacing take a
  little more risk, one over it makes pacing more careful; a new campaign starts at the
  target itself, not at ratio 1.0.
- *The hard stop* (by construction): the worst case is that every customer in flight
  answers as early as they can (a queued one already has; a ringing one no sooner than the
  fastest answer seen after it was dialed) and that each one finding no operator *sure* to
  be free within half of ``after_s`` abandons (``uncovered``). Sure: free now, or in a
  wrap-up that ends by then (a wrap-up's end is known exactly; a call's is not), each to
  one customer in order of answer. New calls never take that worst case past the
  abandons the window can still take with its rate at or under the cap
  (``abandon_budget``); a call an operator is sure to be free for adds nothing to it. A
  window with fewer answered calls than one abandon needs to stay under the cap (34 for
  3 %) may hold ``START_RISK_CALLS`` such customers, so a new campaign (or a ``per_day``
  window each morning) dials ahead cautiously from its first call. Worst case, whatever
  the estimates: abandoned ≤ max(``START_RISK_CALLS``, cap × answered) at every moment —
  except for what pacing cannot see: an operator taken between the decision and the answer
  (an inbound call, a pause), a customer answering faster than any seen before, or a
  hand-over slower than half of ``after_s``.

Why steering plus the hard stop, and how far it can go (docs/metrics.md,
``bench/pacing_frontier.py``): measured against fixed dial levels over operators about to be
free, a fixed share of expected abandons, and a binomial-tail stop. A fixed rule suits one
team size (the share safe for 16 operators breaks the cap in some hour for 4); steering
adapts to what the window has spent, and the hard stop holds whatever the estimates; the
tail stop spent the budget early and then sat at the cap, where pacing can only be
progressive. The limit is the call profile's, not the arithmetic's: on the bench's profile
(30 % answered after 4-25 s of ring, 30 s of wrap-up) an operator in a call is never free
before a customer dialed now answers, so dialing ahead only aims at the last seconds of
wrap-ups, and every other customer beyond the free operators is a possible abandon under
the 2 s rule. There 4 operators reach about 0.85 occupancy at 3 % abandoned on an idealized
model, and 0.88 takes about 5 %; pooling raises it with more operators (0.89 at 16).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dialerd.policy.abandon import AbandonStats, abandon_budget
from dialerd.policy.modes import DialMode

__all__ = [
    "NO_HISTORY",
    "START_RISK_CALLS",
    "AbandonStats",
    "AnswerStats",
    "BusyOperator",
    "CallProfile",
    "GroupLoad",
    "Pace",
    "PacingRules",
    "abandon_budget",
    "answer_probability",
    "earliest_answers",
    "hard_budget",
    "pace",
    "ready_probability",
    "steered_rate",
    "uncovered",
]

_EPS = 1e-9
START_RISK_CALLS = 1  # customers beyond the free operators a window too small for one abandon takes
# Priors, while the campaign has too little history (see docs/metrics.md):
PRIOR_ANSWER = 0.5  # answer probability a campaign starts from, blended with what it measures
PRIOR_WEIGHT = 10.0  # … weighted as this many attempts
PRIOR_RING_S = 15.0  # ring-to-answer time until MIN_RING_SAMPLES answered calls are known
MIN_RING_SAMPLES = 10
_RING_POINTS = 10  # the ring-time distribution is used at this many quantiles


@dataclass(frozen=True)
class BusyOperator:
    """An operator of the group who is not free now but will be, as the board tells it.

    ``talked_s``: in a call for that long (None: the call is over); then ``wrapup_s`` of
    wrap-up after it, or, with no call, ``wrapup_s`` left of the wrap-up under way.
    """

    talked_s: float | None
    wrapup_s: float


@dataclass(frozen=True)
class GroupLoad:
    """The operator group behind a campaign, as the dialer sees it right now."""

    free_operators: int  # free per Asterisk, and not rung/connected by one of our calls
    waiting_calls: int  # our customer-first calls of this group without an operator yet
    queued: int = 0  # … of which answered and waiting in the queue (the rest ring)
    ringing_s: tuple[float, ...] = ()  # how long each ringing one has rung (missing: 0)
    busy: tuple[BusyOperator, ...] = ()  # operators in talk or wrap-up (predictive)


@dataclass(frozen=True)
class AnswerStats:
    """The campaign's finished attempts in the recent window (default 60 min), any mode."""

    attempts: int
    answered: int


@dataclass(frozen=True)
class CallProfile:
    """What the campaign's finished calls (this hour of day, or all hours) say of the next."""

    attempts: int
    answered: int
    ring_s: tuple[float, ...] = ()  # answered calls: dialed → answered, sorted
    talk_s: tuple[float, ...] = ()  # calls that reached an operator: talk time, sorted
    scope: str = "no history"  # what it was learned from, for the reason shown

    @classmethod
    def of(
        cls,
        attempts: int,
        answered: int,
        ring_s: Sequence[float],
        talk_s: Sequence[float],
        scope: str,
    ) -> CallProfile:
        return cls(attempts, answered, tuple(sorted(ring_s)), tuple(sorted(talk_s)), scope)


NO_HISTORY = CallProfile(0, 0)


@dataclass(frozen=True)
class PacingRules:
    mode: DialMode
    gated: bool  # the campaign has an operator group; False: only the line limit applies
    dial_ratio: float = 1.0  # customer_first
    abandon_cap: float = 0.03
    max_ratio: float = 3.0  # predictive
    min_samples: int = 30  # predictive
    abandon_target: float = 0.025  # predictive: where steering aims (below the cap)
    abandon_after_s: float = 2.0  # an operator later than this after the answer: abandoned


@dataclass(frozen=True)
class Pace:
    calls: int  # new calls that may start now
    ratio: float  # the ratio in force: calls in flight per operator expected free
    reason: str
    expected_free: float = field(default=0.0, compare=False)  # predictive: at answer time


def pace(
    rules: PacingRules,
    load: GroupLoad,
    lines_free: int,
    abandons: AbandonStats,
    profile: CallProfile = NO_HISTORY,
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
        return _predictive(rules, load, lines_free, abandons, profile)
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


# --- predictive ----------------------------------------------------------------------------
def answer_probability(profile: CallProfile) -> float:
    """The chance a call dialed now is answered: measured, blended with ``PRIOR_ANSWER``
    (a new campaign starts at 1 in 2, as if ``PRIOR_WEIGHT`` attempts had said so)."""
    attempts = max(0, profile.attempts)
    answered = min(max(0, profile.answered), attempts)
    return (answered + PRIOR_ANSWER * PRIOR_WEIGHT) / (attempts + PRIOR_WEIGHT)


def steered_rate(abandons: AbandonStats, rules: PacingRules) -> float:
    """The abandon rate pacing may risk now: the one that brings the window back to
    ``abandon_target`` over as many answered calls again as it holds (at least
    ``min_samples``), between 0 and the cap."""
    answered, abandoned = max(0, abandons.answered), max(0, abandons.abandoned)
    ahead = max(answered, rules.min_samples, 1)
    rate = (rules.abandon_target * (answered + ahead) - abandoned) / ahead
    return min(rules.abandon_cap, max(0.0, rate))


def hard_budget(abandons: AbandonStats, cap: float) -> int:
    """Customers beyond the free operators that may be in flight: the abandons the window
    still takes at or under ``cap``, or ``START_RISK_CALLS`` (less those already spent)
    while the window is too small for a single abandon to stay under the cap."""
    budget = abandon_budget(abandons, cap)
    if abandons.answered * cap < 1.0 - _EPS:
        budget = max(budget, START_RISK_CALLS - max(0, abandons.abandoned))
    return budget


def _ring_points(profile: CallProfile) -> tuple[float, ...]:
    ring = profile.ring_s
    if len(ring) < MIN_RING_SAMPLES:
        return (PRIOR_RING_S,)
    n = len(ring)
    return tuple(ring[min(n - 1, int((k + 0.5) * n / _RING_POINTS))] for k in range(_RING_POINTS))


def _survival(sample: tuple[float, ...], t: float) -> float:
    """Share of ``sample`` (sorted) above ``t``."""
    return (len(sample) - bisect.bisect_right(sample, t)) / len(sample)


def ready_probability(
    operator: BusyOperator, ring_points: Sequence[float], talk: tuple[float, ...], after_s: float
) -> float:
    """The chance this operator is free when a customer dialed now answers (at a ring time
    drawn from ``ring_points``), or within ``after_s`` of it.

    A wrap-up ends when it says; a call in progress ends by the campaign's talk times,
    given it has lasted ``talked_s`` already. Without talk times (fewer than the caller
    asks for: ``talk`` empty), or past the longest one known, a call is not counted on.
    """
    if not ring_points:
        return 0.0
    hits = 0.0
    for ring in ring_points:
        horizon = ring + after_s
        if operator.talked_s is None:
            hits += 1.0 if operator.wrapup_s <= horizon else 0.0
            continue
        if not talk:
            continue
        talked = max(0.0, operator.talked_s)
        alive = _survival(talk, talked)
        if alive <= 0.0:
            continue
        deadline = talked + horizon - max(0.0, operator.wrapup_s)
        if deadline <= talked:
            continue
        hits += (alive - _survival(talk, deadline)) / alive
    return hits / len(ring_points)


def earliest_answers(load: GroupLoad, profile: CallProfile) -> list[float]:
    """When, at the earliest, each customer in flight may be on the line waiting for an
    operator (seconds from now, ascending): a queued one already is; a ringing one no
    sooner than the fastest answer seen after it was dialed (with ``MIN_RING_SAMPLES``
    answers to say; else, or with its ring time unknown, now)."""
    waiting = max(0, load.waiting_calls)
    queued = min(max(0, load.queued), waiting)
    fastest = _fastest_answer(profile)
    rung = list(load.ringing_s[: waiting - queued])
    unknown = waiting - queued - len(rung)
    ringing = [max(0.0, fastest - max(0.0, r)) for r in rung]
    return sorted([0.0] * (queued + unknown) + ringing)


def _fastest_answer(profile: CallProfile) -> float:
    """No customer dialed now answers sooner than this (the fastest answer the campaign has
    seen, once it has seen ``MIN_RING_SAMPLES``; before that, nothing is assumed)."""
    return max(0.0, profile.ring_s[0]) if len(profile.ring_s) >= MIN_RING_SAMPLES else 0.0


def uncovered(load: GroupLoad, profile: CallProfile, calls: int, grace: float) -> int:
    """The worst case of abandons in flight: customers (those in flight, and ``calls`` more
    dialed now) who, all answering as early as they can (``earliest_answers``), would find
    no operator *sure* to be free within ``grace`` of their answer.

    Sure: free now, or in a wrap-up that ends by then (a wrap-up's end is known; an
    operator in a call is never sure). Matched in order of answer, each sure operator to one
    customer; customers answering later only find more operators free, so answering as
    early as they can is the worst case.
    """
    free_at = [0.0] * max(0, load.free_operators)
    free_at += [max(0.0, op.wrapup_s) for op in load.busy if op.talked_s is None]
    free_at.sort()
    fastest = _fastest_answer(profile)
    answers = earliest_answers(load, profile) + [fastest] * max(0, calls)
    matched = 0
    for at in answers:  # ascending: each takes the operator free soonest, if in time
        if matched < len(free_at) and free_at[matched] <= at + grace + _EPS:
            matched += 1
    return len(answers) - matched


def _ringing_answer(p: float, rung_s: float, ring: tuple[float, ...]) -> float:
    """The chance a call that has rung ``rung_s`` without answer still will (Bayes on the
    ring times of answered calls, one more counted as later than all of them so that a call
    past the longest ring seen is unlikely, not impossible); ``p`` when ring times are not
    known yet."""
    if len(ring) < MIN_RING_SAMPLES or rung_s <= 0:
        return p
    later = p * (_survival(ring, rung_s) * len(ring) + 1.0) / (len(ring) + 1.0)
    return later / (later + (1.0 - p))


def _add(dist: list[float], p: float) -> list[float]:
    """The distribution of a count with one more event of probability ``p``."""
    out = [0.0] * (len(dist) + 1)
    for k, mass in enumerate(dist):
        out[k] += mass * (1.0 - p)
        out[k + 1] += mass * p
    return out


def _predictive(
    rules: PacingRules,
    load: GroupLoad,
    lines_free: int,
    abandons: AbandonStats,
    profile: CallProfile,
) -> Pace:
    free, waiting = max(0, load.free_operators), max(0, load.waiting_calls)
    queued = min(max(0, load.queued), waiting)
    ringing = waiting - queued
    p = answer_probability(profile)
    ring = _ring_points(profile)
    talk = profile.talk_s if len(profile.talk_s) >= rules.min_samples else ()
    # an operator must be free within half of after_s of the answer: the other half is left
    # for Asterisk to end the wrap-up pause and hand the customer over
    grace = rules.abandon_after_s / 2.0
    ready = [ready_probability(op, ring, talk, grace) for op in load.busy]
    expected_free = free + sum(ready)
    # operators free at answer time: F + a count with those chances; its tail E[max(0, k − O)]
    others = [1.0]
    for q in ready:
        others = _add(others, q)

    shortfalls: dict[int, float] = {}

    def short_of(k: int) -> float:  # expected customers without an operator if k answer
        if k not in shortfalls:
            shortfalls[k] = sum(mass * max(0, k - free - y) for y, mass in enumerate(others))
        return shortfalls[k]

    # customers in flight that will answer: the queued ones, and each ringing one by chance
    rung = list(load.ringing_s[:ringing]) + [0.0] * max(0, ringing - len(load.ringing_s))
    answers = [1.0]
    for rung_s in rung:
        answers = _add(answers, _ringing_answer(p, rung_s, profile.ring_s))
    expected_answers = queued + sum(k * m for k, m in enumerate(answers))

    rate = steered_rate(abandons, rules)
    hard = hard_budget(abandons, rules.abandon_cap)
    # the hard stop: new calls never take the worst case (every customer in flight without
    # an operator sure to be free in time abandons) past the budget; a call an operator is
    # sure to be free for adds nothing to it
    worst_now = uncovered(load, profile, 0, grace)
    covered = worst_now + lines_free - uncovered(load, profile, lines_free, grace)
    by_hard = covered + max(0, hard - worst_now)
    by_ratio = max(free, math.floor(rules.max_ratio * expected_free + _EPS))
    ceiling = min(lines_free, by_hard, by_ratio - waiting)
    calls, why = 0, ""
    while calls < ceiling:
        trial = _add(answers, p)
        short = sum(mass * short_of(queued + k) for k, mass in enumerate(trial))
        if short > rate * (expected_answers + p) + _EPS:
            why = f"expected abandons {short:.2f} would pass {rate:.1%} of answers"
            break
        calls, answers, expected_answers = calls + 1, trial, expected_answers + p
    if not why:
        if ceiling == lines_free:
            why = "every free line"
        elif ceiling == by_hard:
            why = f"hard stop at the cap: {hard} in flight without a sure operator at most"
        else:
            why = f"max_ratio {rules.max_ratio:g}"
    calls = max(0, calls)
    in_flight = waiting + calls
    ratio = in_flight / expected_free if expected_free > _EPS else 1.0
    reason = (
        f"{expected_free:.1f} operators expected free at answer, answer rate {p:.0%} "
        f"({profile.scope}), abandon rate in force {rate:.1%}: {why}"
    )
    return Pace(calls, max(1.0, ratio) if in_flight else 1.0, reason, expected_free)
