"""Feeds the pure pacing rules (``policy/pacing.py``) with live counts and windowed stats.

Free operators, and for predictive those in talk or wrap-up with since/until when, come
from the operator board; calls ringing or queued from the engine's own tracks; the abandon
window from the store — read again at most every ``REFRESH_S`` per campaign, and at once
after one of its calls ends; the campaign's learned call profile (answer probability,
ring and talk times for this hour of day, ``store/pacing_stats.py``) every ``PROFILE_REFRESH_S``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo

import structlog

from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.floor import CallPhase, phase_of
from dialerd.dialer.originate import Track
from dialerd.dialer.tracking import CallTrack
from dialerd.policy.abandon import window_since
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.modes import DialMode
from dialerd.policy.pacing import (
    NO_HISTORY,
    AbandonStats,
    AnswerStats,
    CallProfile,
    GroupLoad,
    Pace,
    PacingRules,
    pace,
)
from dialerd.store import calls, pacing_stats
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

_FIGURES = re.compile(r"[0-9.]+")
REFRESH_S = 10.0
PROFILE_REFRESH_S = 60.0
# predictive: how soon to look again when no event comes, since the operators' chances of
# being free by the time a customer answers grow by the second (a wrap-up running out)
RECHECK_S = 2.0
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
        abandon_target=campaign.abandon.target,
        abandon_after_s=campaign.abandon.after_s,
    )


def abandon_window_since(campaign: CampaignRules, now: float, tz: tzinfo) -> float:
    """Where the campaign's abandon window begins (epoch) for a decision at ``now``."""
    abandon = campaign.abandon
    return window_since(abandon.rule, now, tz, abandon.window_days)


def predictive_load(
    board: OperatorBoard, tracks: Iterable[Track], group: str, now: float
) -> GroupLoad:
    """The group as predictive pacing sees it: free operators, operators in talk or
    wrap-up, and our calls without an operator: queued, or ringing for how long."""
    queued, ringing = 0, []
    for track in tracks:
        if track.group != group or not track.queue_tracked or track.operator is not None:
            continue
        phase = phase_of(track)
        if phase is CallPhase.QUEUED:
            queued += 1
        elif phase is CallPhase.RINGING:
            sent = track.sent_at if isinstance(track, CallTrack) else None
            ringing.append(max(0.0, now - sent) if sent is not None else 0.0)
    return GroupLoad(
        len(board.free(group, now)),
        queued + len(ringing),
        queued=queued,
        ringing_s=tuple(ringing),
        busy=board.outlook(group, now),
    )


def late_in_flight(tracks: Iterable[Track], group: str, now: float, after_s: float) -> int:
    """Our calls of the group still in flight whose customer is already abandoned: answered,
    and the operator came more than ``after_s`` later, or has not come and ``after_s`` has
    passed. The store counts them only once the call ends (minutes later, after the talk),
    and the hard stop must not spend the same budget again meanwhile; counted against every
    campaign of the group, since a call does not say which one it is."""
    late = 0
    for track in tracks:
        if not isinstance(track, CallTrack) or track.group != group or not track.queue_tracked:
            continue
        answered = track.result_at if track.success else None
        if answered is None:
            continue
        came = track.operator_at if track.operator is not None else None
        late += (now if came is None else came) - answered > after_s
    return late


def waiting_calls(tracks: Iterable[Track], group: str) -> int:
    """Our customer-first calls of the group that have no operator yet (ringing or queued)."""
    return sum(
        1
        for track in tracks
        if track.group == group and track.queue_tracked and track.operator is None
    )


class Pacer:
    def __init__(self, db: Store) -> None:
        self._db = db
        self._stats: dict[str, _Cached] = {}
        self._profiles: dict[str, tuple[float, CallProfile]] = {}
        self._last: dict[str, tuple[float, str]] = {}
        self.paces: dict[str, Pace] = {}
        self.recheck_at: float | None = None  # a predictive pace may change by then

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
        self.recheck_at = None
        for name, campaign in campaigns.items():
            rules = rules_for(campaign)
            load = GroupLoad(0, 0)
            predictive = rules.gated and rules.mode is DialMode.PREDICTIVE
            if campaign.group is not None and predictive:
                load = predictive_load(board, tracks, campaign.group, now)
            elif campaign.group is not None:
                load = GroupLoad(
                    len(board.free(campaign.group, now)), waiting_calls(tracks, campaign.group)
                )
            abandons, profile = _NO_ABANDONS, NO_HISTORY
            if rules.gated and (predictive or rules.dial_ratio > 1):
                abandons, _ = await self._windows(name, campaign, now, tz)
                if campaign.group is not None:
                    late = late_in_flight(tracks, campaign.group, now, campaign.abandon.after_s)
                    abandons = AbandonStats(abandons.answered + late, abandons.abandoned + late)
            if predictive:
                profile = await self._profile(name, campaign, now, tz)
                if load.busy:
                    self.recheck_at = now + RECHECK_S
            paces[name] = result = pace(rules, load, lines_free, abandons, profile)
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

    async def _profile(
        self, name: str, campaign: CampaignRules, now: float, tz: tzinfo
    ) -> CallProfile:
        cached = self._profiles.get(name)
        if cached is None or not 0 <= now - cached[0] < PROFILE_REFRESH_S:
            profile = await pacing_stats.call_profile(
                self._db, name, now, tz, min_samples=campaign.predictive.min_samples
            )
            cached = self._profiles[name] = (now, profile)
        return cached[1]

    def _log_change(self, name: str, result: Pace, abandons: AbandonStats) -> None:
        # not every count change: the ratio to a tenth, the reason without its figures
        key = (round(result.ratio, 1), _FIGURES.sub("#", result.reason.split(" (")[0]))
        if self._last.get(name) != key:
            self._last[name] = key
            log.info(
                "pace_changed",
                campaign=name,
                ratio=round(result.ratio, 2),
                reason=result.reason,
                abandon_rate=round(abandons.rate, 4),
            )
