"""The abandon budget one campaign shares across every PBX and every daemon that dials it.

What is shared: each engine's *customers at risk*, per campaign — its worst case of abandons
in flight (every customer without an operator sure to be free in time abandons:
``policy/pacing.py``'s ``uncovered``) plus its customers already abandoned but whose calls
have not ended yet (the store counts them only at the end: ``pacer.late_in_flight``). Each
engine paces against the window's budget less the others' customers at risk, counted as
answered and abandoned already (``abandon_budget`` then gives exactly the budget less
theirs), so ``policy/pacing.py`` decides as before, on counts that include the others.

Why counters, not one leader per campaign: a leader would have to pace on operators it
does not see (each PBX's customers go to its own operators, followed by that PBX's engine
only) and hand out calls over the network for every decision; a count per engine keeps each
decision where its operators are, and costs a write only when an engine's count changes.

- Within one daemon the engines share this object: a decision reads the others' counts and
  publishes its own with no ``await`` between, so in one event loop two engines never both
  spend the same unit. A decision that lets a call start publishes the count *with* that
  call (a reservation), held until the call is in flight or known not to start.
- Across daemons on PostgreSQL (``SharedRisk``): each engine's count is a row; a raise is
  written only if the other daemons' sum is still at most what the decision used (checked
  and written under a lock on the campaign, ``store/pacing_risk.py``), else the engine
  decides again on the sum found; a lowering is a plain write. Rows of a daemon whose
  heartbeat is older than a lease do not count. The other daemons' sum is read at most
  every ``RISK_REFRESH_S``; a stale, too high sum only makes pacing careful a moment
  longer, a too low one is caught by the check.
"""

from __future__ import annotations

import asyncio

import structlog

from dialerd.store import pacing_risk
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)

RISK_REFRESH_S = 1.0  # the other daemons' sum is read again after this long
UNKNOWN = -1  # our row's count after a write that failed


class SharedRisk:
    """The other daemons' customers at risk, and this daemon's rows, on a PostgreSQL store."""

    def __init__(
        self, db: Store, daemon_id: str, lease_s: float, *, refresh_s: float = RISK_REFRESH_S
    ) -> None:
        self._db = db
        self.daemon_id = daemon_id
        self._lease_s = lease_s
        self._refresh_s = refresh_s
        self._others: dict[str, tuple[float, int]] = {}  # campaign: (read at, sum)
        # (pbx, campaign): our row's count; none yet after the start's clearing is 0, and
        # UNKNOWN after a failed write (written again whatever the next count)
        self._written: dict[tuple[str, str], int] = {}
        self._writing: dict[str, asyncio.Lock] = {}  # one engine's writes, in order
        self._cleared: asyncio.Task[None] | None = None

    def others(self, campaign: str) -> int:
        """The other live daemons' sum, as last read (0 before the first read)."""
        return self._others.get(campaign, (0.0, 0))[1]

    async def refresh(self, campaign: str, now: float) -> None:
        """Read the other daemons' sum again if the last read is ``refresh_s`` old."""
        read_at = self._others[campaign][0] if campaign in self._others else None
        if read_at is not None and 0.0 <= now - read_at < self._refresh_s:
            return
        await self._clear_once()
        try:
            found = await pacing_risk.others_at_risk(
                self._db, self.daemon_id, campaign, now - self._lease_s
            )
        except STORE_ERRORS as exc:  # keep the last sum: a raise is checked anyway
            log.warning(
                "shared_risk_unread", campaign=campaign, error=str(exc) or type(exc).__name__
            )
            return
        self._others[campaign] = (now, found)

    async def take(self, pbx: str, campaign: str, at_risk: int, now: float) -> bool:
        """This engine's count becomes ``at_risk``: a raise only if the other daemons' sum is
        still at most ``others(campaign)`` (else False, and ``others`` is the sum found);
        anything else is written as it is."""
        key = (pbx, campaign)
        if at_risk <= max(0, self._written.get(key, 0)):
            await self.put(pbx, campaign, at_risk, now)
            return True
        await self._clear_once()
        async with self._lock(pbx):
            seen = self.others(campaign)
            try:
                found = await pacing_risk.take(
                    self._db,
                    self.daemon_id,
                    pbx,
                    campaign,
                    at_risk,
                    seen=seen,
                    now=now,
                    alive_since=now - self._lease_s,
                )
            except STORE_ERRORS as exc:  # not written: no call on it
                self._written[key] = UNKNOWN
                log.warning("shared_risk_unwritten", campaign=campaign, error=str(exc))
                return False
            self._others[campaign] = (now, found.others)
            if found.taken:
                self._written[key] = at_risk
            return found.taken

    async def put(self, pbx: str, campaign: str, at_risk: int, now: float) -> None:
        """This engine's count as it is, unchecked (a lowering, or a change no decision made)."""
        key = (pbx, campaign)
        if self._written.get(key, 0) == at_risk:
            return
        await self._clear_once()
        async with self._lock(pbx):
            try:
                await pacing_risk.put(self._db, self.daemon_id, pbx, campaign, at_risk, now)
            except STORE_ERRORS as exc:  # written again at the next change
                self._written[key] = UNKNOWN
                log.warning("shared_risk_unwritten", campaign=campaign, error=str(exc))
                return
            self._written[key] = at_risk

    def _lock(self, pbx: str) -> asyncio.Lock:
        return self._writing.setdefault(pbx, asyncio.Lock())

    async def _clear_once(self) -> None:
        """A restart under the same id starts with no rows: the last run's counts (its calls
        are adopted and counted afresh, or gone) must not hold the others back."""
        if self._cleared is None:
            self._cleared = asyncio.ensure_future(self._clear())
        await asyncio.shield(self._cleared)

    async def _clear(self) -> None:
        try:
            await pacing_risk.clear(self._db, self.daemon_id)
        except STORE_ERRORS as exc:  # the old rows then hold the others back until rewritten
            log.warning("shared_risk_not_cleared", error=str(exc) or type(exc).__name__)


class RiskLedger:
    """Each engine's customers at risk per campaign, for every engine of this daemon, and
    (``shared``) what the other daemons on the store hold."""

    def __init__(self, shared: SharedRisk | None = None) -> None:
        self.shared = shared
        self._at_risk: dict[str, dict[str, int]] = {}  # campaign: {engine: count}

    def others(self, engine: str, campaign: str) -> int:
        """Customers at risk of the campaign on every engine but ``engine``, here and on the
        other daemons."""
        here = sum(
            count for name, count in self._at_risk.get(campaign, {}).items() if name != engine
        )
        return here + (self.shared.others(campaign) if self.shared is not None else 0)

    def publish(self, engine: str, campaign: str, at_risk: int) -> None:
        self._at_risk.setdefault(campaign, {})[engine] = max(0, at_risk)

    def at_risk(self, campaign: str) -> int:
        """This daemon's customers at risk of the campaign, every engine's together."""
        return sum(self._at_risk.get(campaign, {}).values())

    async def refresh(self, campaign: str, now: float) -> None:
        if self.shared is not None:
            await self.shared.refresh(campaign, now)

    async def confirm(self, engine: str, campaign: str, at_risk: int, now: float) -> bool:
        """The count just published, made known to the other daemons: False if a raise found
        that they took more meanwhile (decide again: ``others`` has their new sum)."""
        if self.shared is None:
            return True
        return await self.shared.take(engine, campaign, at_risk, now)

    async def settle(self, engine: str, campaign: str, at_risk: int, now: float) -> None:
        """The count as it is now, with no decision on it (a reservation released, a call
        answered by an operator or ended)."""
        self.publish(engine, campaign, at_risk)
        if self.shared is not None:
            await self.shared.put(engine, campaign, at_risk, now)
