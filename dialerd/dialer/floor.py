"""What the supervisor's floor (issue 13) needs from the engine: each call's phase, and the
campaigns a supervisor paused.

A call in flight is *ringing* (sent, nobody answered yet: the customer in customer_first,
the operator or then the customer in agent_first), *queued* (the customer answered and
waits in the operators' queue: Asterisk's QueueStatus counts it as a caller) or *talking*
(an operator is on the line). A call whose channel has hung up is no longer counted, even
while its record is being written.

A paused campaign is dialed no more from the moment ``pause`` is called (the engine's next
pick leaves it out, and a claim already made for it is given back before its Originate),
until ``resume``. One window remains: an agent_first call whose operator is being written
to the store when the pause lands still rings that operator (a few ms). The set lives in
the store (``campaign_pauses``), so a restart keeps it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from enum import StrEnum

import structlog

from dialerd.dialer.originate import Track
from dialerd.dialer.tracking import CallTrack
from dialerd.store import campaign_pauses
from dialerd.store.campaign_pauses import CampaignPause
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)


class CallPhase(StrEnum):
    RINGING = "ringing"
    QUEUED = "queued"
    TALKING = "talking"


def phase_of(track: Track) -> CallPhase | None:
    """The call's phase now; None once its channel has hung up."""
    if track.main_hangup_at is not None:
        return None
    if isinstance(track, CallTrack):
        if not track.success:
            return CallPhase.RINGING
        if track.operator is None and track.queue_tracked:
            return CallPhase.QUEUED
        return CallPhase.TALKING
    if track.dial_status == "ANSWER":
        return CallPhase.TALKING
    return CallPhase.RINGING


def phases(tracks: Iterable[Track]) -> dict[CallPhase, int]:
    """Calls in flight by phase, every phase present."""
    counted = Counter(p for p in map(phase_of, tracks) if p is not None)
    return {phase: counted.get(phase, 0) for phase in CallPhase}


class CampaignHold:
    """The campaigns paused by a supervisor: in memory for the engine, in the store for a restart."""

    def __init__(self, db: Store, clock: Callable[[], float], wake: Callable[[], None]) -> None:
        self._db = db
        self._clock = clock
        self._wake = wake
        self._paused: dict[str, CampaignPause] = {}

    async def load(self) -> None:
        self._paused = await campaign_pauses.paused(self._db)
        if self._paused:
            log.info("campaigns_paused", campaigns=sorted(self._paused))

    @property
    def paused(self) -> dict[str, CampaignPause]:
        return dict(self._paused)

    def is_paused(self, campaign: str) -> bool:
        return campaign in self._paused

    async def pause(self, campaign: str, user: str, note: str | None = None) -> bool:
        """Stop dialing ``campaign`` now; False when it was paused already."""
        if campaign in self._paused:
            return False
        now = self._clock()
        self._paused[campaign] = CampaignPause(campaign, now, user, note)  # before any await
        try:
            await campaign_pauses.set_paused(self._db, campaign, True, user=user, note=note, at=now)
        except BaseException:
            self._paused.pop(campaign, None)
            raise
        log.info("campaign_paused", campaign=campaign, user=user)
        return True

    async def resume(self, campaign: str, user: str) -> bool:
        """Dial ``campaign`` again; False when it was not paused."""
        if campaign not in self._paused:
            return False
        now = self._clock()
        await campaign_pauses.set_paused(self._db, campaign, False, user=user, note=None, at=now)
        self._paused.pop(campaign, None)
        log.info("campaign_resumed", campaign=campaign, user=user)
        self._wake()
        return True
