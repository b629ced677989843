"""The wallboard's colours (issue 13): when a number turns amber or red, pure.

- The oldest new lead: amber from the speed-to-lead warning (``alerts.speed_to_lead_warn_min``
  before its deadline, the same moment the warning alert goes out), red once the deadline
  has passed (the breach the "missed" alert reports).
- A share against its target (speed to lead within target): amber below the target, red
  below the target by more than ``RED_GAP``.
- A rate against a cap (the abandon rate over the campaign's rolling window): amber from
  ``AMBER_OF_CAP`` of the cap, red at the cap, where predictive dialing stops over-dialing.
- An operator's time in a state: overrun past that state's limit (``console.wallboard``),
  e.g. a wrap-up or a pause that lasts too long.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

AMBER_OF_CAP = 0.8
RED_GAP = 0.10


class Level(StrEnum):
    OK = "ok"
    AMBER = "amber"
    RED = "red"


def deadline_level(now: float, deadline_at: float | None, warn_s: float | None) -> Level:
    """A waiting new lead against its speed-to-lead deadline."""
    if deadline_at is None:
        return Level.OK
    if now >= deadline_at:
        return Level.RED
    if warn_s is not None and now >= deadline_at - warn_s:
        return Level.AMBER
    return Level.OK


def share_level(share: float | None, target: float) -> Level:
    """A share that should reach ``target`` (None: nothing measured yet)."""
    if share is None or share >= target:
        return Level.OK
    return Level.RED if share < target - RED_GAP else Level.AMBER


def cap_level(rate: float | None, cap: float) -> Level:
    """A rate that must stay under ``cap``."""
    if rate is None or rate < AMBER_OF_CAP * cap:
        return Level.OK
    return Level.RED if rate >= cap else Level.AMBER


@dataclass(frozen=True)
class Limits:
    """How long an operator may stay in a state before the wallboard marks an overrun."""

    ringing_s: float = 30.0
    talking_s: float = 1200.0
    wrapup_s: float = 120.0
    paused_s: float = 900.0


def overrun(presence: str, in_state_s: float, limits: Limits, wrapup_s: float = 0.0) -> bool:
    """Past the limit of ``presence`` (``wrapup_s``: the group's own wrap-up, when longer)."""
    limit = {
        "ringing": limits.ringing_s,
        "talking": limits.talking_s,
        "wrapup": max(limits.wrapup_s, wrapup_s),
        "paused": limits.paused_s,
    }.get(presence)
    return limit is not None and in_state_s > limit
