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
- Across daemons on PostgreSQL (``SharedRisk``): each engine's count is a row, with its
  customers still without an operator (``waiting``): daemons driving the same PBX see the
  same free operators there, so each counts the others' waiting customers on that PBX as
  its own (they compete for those operators) — and still takes the others' customers at
  risk off the budget, which counts a shared PBX's risk twice: careful, never short. A
  raise is written only if the others' counts are still at most what the decision used
  (checked and written under a lock on the campaign, ``store/pacing_risk.py``), else the
  engine decides again on the counts found; a lowering is a plain write. Rows of a daemon
  whose heartbeat is older than a lease do not count. The others' counts are read at most
  every ``RISK_REFRESH_S``; a stale, too high count only makes pacing careful a moment
  longer, a too low one is caught by the check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from dialerd.dialer.operator_holds import SharedOperators
from dialerd.store import pacing_risk
from dialerd.store.pacing_risk import Counts, Others
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)

RISK_REFRESH_S = 1.0  # the other daemons' counts are read again after this long


Held = Counts  # one engine's counts of one campaign: at risk, waiting, late
UNKNOWN = Held(-1, -1, -1)  # our row after a write that failed: written again whatever comes
_NONE = Others({})


class SharedRisk:
    """The other daemons' counts, and this daemon's rows, on a PostgreSQL store."""

    def __init__(
        self,
        db: Store,
        daemon_id: str,
        lease_s: float,
        *,
        refresh_s: float = RISK_REFRESH_S,
        shared_pbxs: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        """``shared_pbxs``: which of this daemon's PBXs another live daemon drives too, as
        the heartbeat last read it (a lookup, no round trip)."""
        self._db = db
        self.shared_pbxs = shared_pbxs or frozenset
        self.daemon_id = daemon_id
        self._lease_s = lease_s
        self._refresh_s = refresh_s
        self._others: dict[str, tuple[float, Others]] = {}  # campaign: (read at, counts)
        # (pbx, campaign): our row; none yet after the start's clearing is Held(0, 0)
        self._written: dict[tuple[str, str], Held] = {}
        self._writing: dict[str, asyncio.Lock] = {}  # one engine's writes, in order
        self._cleared: asyncio.Task[None] | None = None

    def others(self, campaign: str) -> Others:
        """The other live daemons' counts, as last read (none before the first read)."""
        return self._others[campaign][1] if campaign in self._others else _NONE

    async def refresh(self, campaign: str, now: float) -> None:
        """Read the other daemons' counts again if the last read is ``refresh_s`` old."""
        read_at = self._others[campaign][0] if campaign in self._others else None
        if read_at is not None and 0.0 <= now - read_at < self._refresh_s:
            return
        await self._clear_once()
        try:
            found = await pacing_risk.others_of(
                self._db, self.daemon_id, campaign, now - self._lease_s
            )
        except STORE_ERRORS as exc:  # keep the last counts: a raise is checked anyway
            log.warning("shared_risk_unread", campaign=campaign, error=str(exc))
            return
        self._others[campaign] = (now, found)

    async def take(self, pbx: str, campaign: str, held: Held, now: float) -> bool:
        """This engine's counts become ``held``: a raise only if the other daemons' are still
        at most ``others(campaign)`` (else False, and their counts are read again at the next
        ``refresh``); anything else is written as it is."""
        key = (pbx, campaign)
        written = self._written.get(key, Held(0))
        if all(new <= max(0, old) for new, old in zip(held, written, strict=True)):
            await self.put(pbx, campaign, held, now)
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
                    held,
                    seen=seen.against(pbx),
                    seen_waiting=seen.waiting_on(pbx),
                    now=now,
                    alive_since=now - self._lease_s,
                )
            except STORE_ERRORS as exc:  # not written: no call on it
                self._written[key] = UNKNOWN
                log.warning("shared_risk_unwritten", campaign=campaign, error=str(exc))
                return False
            if not found.taken:  # they took more meanwhile: read their counts again
                self._others.pop(campaign, None)
                return False
            self._written[key] = held
            return True

    async def put(self, pbx: str, campaign: str, held: Held, now: float) -> None:
        """This engine's counts as they are, unchecked (a lowering, or a change no decision
        made)."""
        key = (pbx, campaign)
        if self._written.get(key, Held(0)) == held:
            return
        await self._clear_once()
        async with self._lock(pbx):
            try:
                await pacing_risk.put(self._db, self.daemon_id, pbx, campaign, held, now)
            except STORE_ERRORS as exc:  # written again at the next change
                self._written[key] = UNKNOWN
                log.warning("shared_risk_unwritten", campaign=campaign, error=str(exc))
                return
            self._written[key] = held

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
    (``shared``) what the other daemons on the store hold. An engine is named by its PBX."""

    def __init__(
        self, shared: SharedRisk | None = None, operators: SharedOperators | None = None
    ) -> None:
        """``operators``: the operators other daemons hold on PBXs this daemon shares with
        them (PostgreSQL only, ``operator_holds.py``)."""
        self.shared = shared
        self.operators = operators
        self._at_risk: dict[str, dict[str, int]] = {}  # campaign: {engine: count}

    def others(self, engine: str, campaign: str) -> int:
        """Customers at risk of the campaign on every engine but ``engine``: here, and on the
        other daemons those on other PBXs and those abandoned already on this one."""
        here = sum(
            count for name, count in self._at_risk.get(campaign, {}).items() if name != engine
        )
        elsewhere = self.shared.others(campaign).against(engine) if self.shared else 0
        return here + elsewhere

    def pbx_shared(self, engine: str) -> bool:
        """Whether another live daemon drives this engine's PBX: then even a campaign that
        takes no risk publishes its customers waiting there, and counts the others' (both
        daemons see the same free operators). Never on SQLite: one daemon."""
        return self.shared is not None and engine in self.shared.shared_pbxs()

    def waiting_elsewhere(self, engine: str, campaign: str) -> int:
        """The other daemons' customers of the campaign waiting for an operator on this
        engine's PBX (none without a shared store: one daemon, one engine per PBX)."""
        if self.shared is None:
            return 0
        return self.shared.others(campaign).waiting_on(engine)

    def publish(self, engine: str, campaign: str, at_risk: int) -> None:
        self._at_risk.setdefault(campaign, {})[engine] = max(0, at_risk)

    def at_risk(self, campaign: str) -> int:
        """This daemon's customers at risk of the campaign, every engine's together."""
        return sum(self._at_risk.get(campaign, {}).values())

    async def refresh(self, campaign: str, now: float) -> None:
        if self.shared is not None:
            await self.shared.refresh(campaign, now)

    async def confirm(self, engine: str, campaign: str, held: Held, now: float) -> bool:
        """The counts just published, made known to the other daemons: False if a raise found
        that they took more meanwhile (decide again on their new counts)."""
        if self.shared is None:
            return True
        return await self.shared.take(engine, campaign, held, now)

    async def settle(self, engine: str, campaign: str, held: Held, now: float) -> None:
        """The counts as they are now, with no decision on them (a reservation released, a
        call answered by an operator or ended)."""
        self.publish(engine, campaign, held.at_risk)
        if self.shared is not None:
            await self.shared.put(engine, campaign, held, now)
