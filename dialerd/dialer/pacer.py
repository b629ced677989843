"""Feeds the pure pacing rules (``policy/pacing.py``) with live counts and windowed stats.

Free operators, and for predictive those in talk or wrap-up with since/until when, come
from the operator board; calls ringing or queued from the engine's own tracks; the abandon
window from the store — read again at most every ``REFRESH_S`` per campaign, and at once
after one of its calls ends; the campaign's learned call profile (answer probability,
ring and talk times for this hour of day, ``store/pacing_stats.py``) every ``PROFILE_REFRESH_S``.

A campaign whose pace takes risk (predictive, or customer_first over ratio 1) shares its
abandon budget with every other engine dialing it, on this daemon and on the others
(``risk_ledger.py``): their customers at risk count as abandoned already, and this engine's
are published after each decision and whenever they change (``settle``). So are a
customer_first campaign's at ratio 1 while another live daemon drives the same PBX: both see
its free operators, and each must count the customers the other has waiting for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import tzinfo

import structlog

from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.floor import CallPhase, phase_of
from dialerd.dialer.operator_holds import SharedOperators
from dialerd.dialer.originate import Track
from dialerd.dialer.risk_ledger import Held, RiskLedger
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
    uncovered,
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
# a decision whose raise another daemon beat is made again on the sum it found, this often
SHARED_TRIES = 3


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


@dataclass(frozen=True)
class RiskyCampaign:
    """What a campaign's customers at risk are counted from between decisions."""

    group: str
    predictive: bool
    profile: CallProfile
    after_s: float


def at_risk(
    risky: RiskyCampaign,
    board: OperatorBoard,
    tracks: Iterable[Track],
    now: float,
    calls: int = 0,
    elsewhere: int = 0,
) -> Held:
    """The campaign's customers at risk on this engine, with ``calls`` more dialed now: those
    who would abandon in the worst case (``uncovered``; ``elsewhere``: other daemons'
    customers waiting on this PBX, for the same operators), and those abandoned already whose
    calls go on (``late_in_flight``); and this engine's customers without an operator yet."""
    tracks = list(tracks)
    load = _risky_load(risky, board, tracks, now)
    waiting = load.waiting_calls
    load = replace(load, waiting_calls=waiting + elsewhere)
    worst = uncovered(load, risky.profile, calls, risky.after_s / 2.0)
    late = late_in_flight(tracks, risky.group, now, risky.after_s)
    return Held(worst + late, waiting + calls, late)


def _risky_load(
    risky: RiskyCampaign, board: OperatorBoard, tracks: list[Track], now: float
) -> GroupLoad:
    if risky.predictive:
        return predictive_load(board, tracks, risky.group, now)
    # customer_first: every customer rung may answer at once
    return GroupLoad(len(board.free(risky.group, now)), waiting_calls(tracks, risky.group))


class Pacer:
    def __init__(self, db: Store, risk: RiskLedger | None = None, engine: str = "") -> None:
        """``risk``: the ledger every engine of the daemon shares (None: this engine's own);
        ``engine``: this engine's name in it (its PBX's)."""
        self._db = db
        self._risk = risk if risk is not None else RiskLedger()
        self._engine = engine
        self._risky: dict[str, RiskyCampaign] = {}
        self._deciding = False  # a decision's reservation stands until ``settle(release=…)``
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
        self._deciding = True
        holds = await self._refresh_holds(board, now)
        risky: dict[str, RiskyCampaign] = {}
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
            if predictive:
                profile = await self._profile(name, campaign, now, tz)
                if load.busy:
                    self.recheck_at = now + RECHECK_S
            takes_risk = predictive or rules.dial_ratio > 1
            if campaign.group is not None and (takes_risk or self._shares_pbx(rules)):
                window = _NO_ABANDONS  # at ratio 1 the abandon budget decides nothing
                if takes_risk:
                    window, _ = await self._windows(name, campaign, now, tz)
                risky[name] = RiskyCampaign(
                    campaign.group, predictive, profile, campaign.abandon.after_s
                )
                result, abandons = await self._shared(
                    name, risky[name], rules, load, lines_free, window, tracks, board, now
                )
            elif holds is not None and campaign.group and rules.mode is DialMode.AGENT_FIRST:
                result = await self._agent_first_shared(
                    holds, campaign.group, rules, lines_free, tracks, board, now
                )
            else:
                result = pace(rules, load, lines_free, abandons, profile)
            paces[name] = result
            self._log_change(name, result, abandons)
        for name in set(self._risky) - set(risky):  # no longer risky, or gone by a reload
            await self._risk.settle(self._engine, name, Held(0), now)
        self._risky = risky
        self.paces = paces
        return paces

    async def _refresh_holds(self, board: OperatorBoard, now: float) -> SharedOperators | None:
        """While another daemon drives this PBX, the operators it holds are not free here."""
        holds = self._holds()
        if holds is not None:
            await holds.refresh(self._engine, board, now)
        else:
            board.elsewhere = frozenset()
        return holds

    def _holds(self) -> SharedOperators | None:
        """The operators other daemons hold, while one of them drives this PBX too."""
        if self._risk.operators is None or not self._risk.pbx_shared(self._engine):
            return None
        return self._risk.operators

    async def _agent_first_shared(
        self,
        holds: SharedOperators,
        group: str,
        rules: PacingRules,
        lines_free: int,
        tracks: list[Track],
        board: OperatorBoard,
        now: float,
    ) -> Pace:
        """agent_first on a PBX another daemon drives: the operator to ring first (the one
        ``Calls.start`` picks, the longest idle) is held before the call may start; if
        another daemon took it meanwhile, decide again on the holds found."""
        for _ in range(SHARED_TRIES):
            free = board.free(group, now)
            load = GroupLoad(len(free), waiting_calls(tracks, group))
            result = pace(rules, load, lines_free, _NO_ABANDONS)
            if result.calls <= 0 or await holds.take(self._engine, free[0].name, now):
                return result
            await holds.refresh(self._engine, board, now)
        self.recheck_at = now + RECHECK_S  # every recheck of one decision is this one
        return Pace(0, 1.0, "operators being taken by other daemons")

    def _shares_pbx(self, rules: PacingRules) -> bool:
        """customer_first at ratio 1 on a PBX another live daemon drives too: its customers
        waiting for the free operators there are published and the others' counted, as a
        campaign's that takes risk are, else both daemons would dial for the same ones."""
        return rules.mode is DialMode.CUSTOMER_FIRST and self._risk.pbx_shared(self._engine)

    async def _shared(
        self,
        name: str,
        risky: RiskyCampaign,
        rules: PacingRules,
        load: GroupLoad,
        lines_free: int,
        window: AbandonStats,
        tracks: list[Track],
        board: OperatorBoard,
        now: float,
    ) -> tuple[Pace, AbandonStats]:
        """The pace on the budget the other engines leave, and this engine's customers at
        risk published with it (with the call it lets start: a reservation). Reading the
        others', deciding and publishing run with no ``await`` between."""
        late = late_in_flight(tracks, risky.group, now, risky.after_s)
        abandons = window
        for _ in range(SHARED_TRIES):
            await self._risk.refresh(name, now)
            counted = late + self._risk.others(self._engine, name)
            abandons = AbandonStats(window.answered + counted, window.abandoned + counted)
            elsewhere = self._risk.waiting_elsewhere(self._engine, name)
            shared = replace(load, waiting_calls=load.waiting_calls + elsewhere)
            result = pace(rules, shared, lines_free, abandons, risky.profile)
            mine = at_risk(risky, board, tracks, now, min(1, result.calls), elsewhere)
            self._risk.publish(self._engine, name, mine.at_risk)
            if await self._risk.confirm(self._engine, name, mine, now):
                return result, abandons
        # other daemons kept taking the budget first: none now, look again soon
        await self._risk.refresh(name, now)
        elsewhere = self._risk.waiting_elsewhere(self._engine, name)
        await self._risk.settle(
            self._engine, name, at_risk(risky, board, tracks, now, 0, elsewhere), now
        )
        self.recheck_at = now + RECHECK_S  # every recheck of one decision is this one
        return Pace(0, 1.0, "abandon budget being taken by other daemons"), abandons

    async def settle(
        self, board: OperatorBoard, tracks: Iterable[Track], now: float, *, release: bool = False
    ) -> None:
        """Publish the campaigns' customers at risk as they are now (a call answered by an
        operator, ended, or let start). While a decision's reservation stands, only the
        dialing loop that made it releases it (``release``), once its call is in flight or
        known not to start."""
        if release:
            self._deciding = False
        holds = self._holds()
        if holds is not None and not self._deciding:  # the operators we hold, as they are now
            await holds.settle(self._engine, board, now)
        tracks = list(tracks)
        for name, risky in list(self._risky.items()):
            if self._deciding:  # a new decision began meanwhile: its counts stand
                return
            elsewhere = self._risk.waiting_elsewhere(self._engine, name)
            held = at_risk(risky, board, tracks, now, 0, elsewhere)
            await self._risk.settle(self._engine, name, held, now)

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
