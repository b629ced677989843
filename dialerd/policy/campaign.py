"""A campaign's rules as the decisions see them: attempt cap, priority scheme, retry delays,
local hours, dialing mode and pacing limits.

Frozen and free of the config's types: ``dialerd.config.rules`` builds one per campaign
at each (re)load, so a decision never re-reads or re-validates the YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialerd.domain import Outcome
from dialerd.policy.abandon import AbandonRule
from dialerd.policy.caller_id import CallerId
from dialerd.policy.modes import DialMode
from dialerd.policy.priority import Scheme
from dialerd.policy.window import Hours


@dataclass(frozen=True)
class LocalHours:
    """Also respect each lead's own local hours (R6); ``hours`` None: the centre's open/close."""

    enabled: bool
    hours: Hours | None = None


@dataclass(frozen=True)
class AbandonCap:
    """At most ``cap`` of answered calls in the ``rule``'s window may wait over ``after_s``
    for an operator; pacing aims at ``target``; an abandoned number rests ``lockout_h``
    (``policy/abandon.py``); ``message`` is the safe-harbor recording, if any."""

    cap: float
    window_days: float
    after_s: float
    target: float = 0.025
    rule: AbandonRule = AbandonRule.ROLLING_30_DAYS
    lockout_h: float = 72.0
    message: str | None = None


@dataclass(frozen=True)
class PredictiveLimits:
    """How far the predictive ratio may go, and on how much evidence."""

    max_ratio: float
    min_samples: int
    answer_rate_window_min: float


@dataclass(frozen=True)
class CampaignRules:
    scheme: Scheme
    max_attempts: int
    # seconds before the next attempt by the last outcome (R4); None for ANSWERED: it closes
    retry_delays: Mapping[Outcome, float | None]
    local_hours: LocalHours
    mode: DialMode
    group: str | None
    dial_ratio: float
    abandon: AbandonCap
    predictive: PredictiveLimits
    caller_ids: tuple[CallerId, ...] = ()  # used in turn; (): dialing.caller_id
