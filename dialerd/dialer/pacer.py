"""Feeds the pure pacing rules (``policy/pacing.py``) with live counts and windowed stats.

Free operators come from the operator board, waiting calls from the engine's own
tracks, and the abandon/answer windows from the store — read again at most every
``REFRESH_S`` per campaign, and at once after one of its calls ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo

import structlog

from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.originate import Track
from dialerd.policy.abandon import window_since
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.modes import DialMode
from dialerd.policy.pacing import AbandonStats, AnswerStats, GroupLoad, Pace, PacingRules, pace
from dialerd.store import calls
from dialerd.store.db import Database

log = structlog.get_logger(__name__)

REFRESH_S = 10.0
_NO_ABANDONS, _NO_ANSWERS = AbandonStats(0, 0), AnswerStats(0, 0)


@dataclass
class _Cached:
    at: float
    abandons: AbandonStats
    answers: AnswerStats
    stale: bool = False


def rules_for(campaign: CampaignRules) -> PacingRules:
    return PacingRules(
        mode=campaign.mode,
        gated=campaign.group is not None,
        dial_ratio=campaign.dial_ratio,
        abandon_cap=campaign.abandon.cap,
        max_ratio=campaign.predictive.max_ratio,
        min_samples=campaign.predictive.min_samples,
    )


def abandon_window_since(campaign: CampaignRules, now: float, tz: tzinfo) -> float:
    """Where the campaign's abandon window begins (epoch) for a decision at ``now``."""
    abandon = campaign.abandon
    return window_since(abandon.rule, now, tz, abandon.window_days)


def waiting_calls(tracks: Iterable[Track], group: str) -> int:
    """Our customer-first calls of the group that have no operator yet (ringing or queued)."""
    return sum(
        1
        for track in tracks
        if track.group == group and track.queue_tracked and track.operator is None
    )


class Pacer:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._stats: dict[str, _Cached] = {}
        self._last: dict[str, tuple[float, str]] = {}
        self.paces: dict[str, Pace] = {}

    def call_ended(self, campaign: str) -> None:
        """The campaign's windows changed: read them again before the next decision."""
        if (cached := self._stats.get(campaign)) is not None:
            cached.stale = True

    async def compute(
        self,
        campaigns: dict[str, CampaignRules],
        board: OperatorBoard,
        tracks: Iterable[Track],
        lines_free: int,
        now: float,
        tz: tzinfo,
    ) -> dict[str, Pace]:
        """Each configured campaign's pace right now (``tz``: the centre's zone, where a
        ``per_day`` abandon window starts at midnight)."""
        tracks = list(tracks)
        paces = {}
        for name, campaign in campaigns.items():
            rules = rules_for(campaign)
            load = GroupLoad(0, 0)
            if campaign.group is not None:
                load = GroupLoad(
                    len(board.free(campaign.group, now)), waiting_calls(tracks, campaign.group)
                )
            abandons, answers = _NO_ABANDONS, _NO_ANSWERS
            if rules.gated and (rules.mode is DialMode.PREDICTIVE or rules.dial_ratio > 1):
                abandons, answers = await self._windows(name, campaign, now, tz)
            paces[name] = result = pace(rules, load, lines_free, abandons, answers)
            self._log_change(name, result, abandons)
        self.paces = paces
        return paces

    async def _windows(
        self, name: str, campaign: CampaignRules, now: float, tz: tzinfo
    ) -> tuple[AbandonStats, AnswerStats]:
        cached = self._stats.get(name)
        if cached is None or cached.stale or now - cached.at >= REFRESH_S:
            abandons, answers = await calls.campaign_stats(
                self._db,
                name,
                now,
                window_since=abandon_window_since(campaign, now, tz),
                recent_s=campaign.predictive.answer_rate_window_min * 60.0,
                abandon_after_s=campaign.abandon.after_s,
            )
            cached = self._stats[name] = _Cached(now, abandons, answers)
        return cached.abandons, cached.answers

    def _log_change(self, name: str, result: Pace, abandons: AbandonStats) -> None:
        key = (round(result.ratio, 2), result.reason.split(" (")[0])  # not every count change
        if self._last.get(name) != key:
            self._last[name] = key
            log.info(
                "pace_changed",
                campaign=name,
                ratio=round(result.ratio, 2),
                reason=result.reason,
                abandon_rate=round(abandons.rate, 4),
            )
