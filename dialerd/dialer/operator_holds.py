"""Operators of a PBX that several daemons drive: which ones another daemon holds.

Each daemon follows the PBX's operators through its own AMI session, and both see the
same Asterisk states; what neither sees is the other's dialer-side state: the operator it
is ringing first for an agent_first call (Asterisk may report nothing of it before the
operator's phone rings, or ever, for an operator outside any queue), talking on its call,
or keeping in wrap-up after one. So on a PBX another live daemon drives too (the heartbeat
says which, ``daemon/heartbeat.py``), each engine:

- reads the operators the others hold before deciding, and leaves them out of its free
  ones (``OperatorBoard.elsewhere``);
- takes the operator it is about to ring first (agent_first) with one statement that fails
  if another live daemon took it meanwhile: then it decides again, on the holds found;
- publishes the operators it holds whenever they change (``settle``): those its calls are
  ringing or talking to, and those in the wrap-up it keeps.

Names, not a count: a count says how many operators the others hold, not which, and each
daemon would still ring its own longest-idle one, the same one. Holds of a daemon whose
heartbeat is older than a lease do not count. A daemon alone on its PBX reads and writes
nothing here; nor does a SQLite store.
"""

from __future__ import annotations

import asyncio

import structlog

from dialerd.dialer.board import OperatorBoard
from dialerd.store import operator_holds
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)


class SharedOperators:
    """This daemon's holds, and the others', on the PBXs it shares with other daemons."""

    def __init__(self, db: Store, daemon_id: str, lease_s: float) -> None:
        self._db = db
        self.daemon_id = daemon_id
        self._lease_s = lease_s
        self._written: dict[str, frozenset[str]] = {}  # pbx: our holds there, as written
        self._cleared: asyncio.Task[None] | None = None

    async def refresh(self, pbx: str, board: OperatorBoard, now: float) -> None:
        """The operators the other live daemons hold on ``pbx``, left out of ``board``'s free
        ones (kept as last read if the store cannot answer: careful, not short)."""
        await self._clear_once()
        try:
            board.elsewhere = await operator_holds.others_of(
                self._db, self.daemon_id, pbx, now - self._lease_s
            )
        except STORE_ERRORS as exc:
            log.warning("operator_holds_unread", pbx=pbx, error=str(exc) or type(exc).__name__)

    async def take(self, pbx: str, operator: str, now: float) -> bool:
        """Hold ``operator`` before ringing it: False if another live daemon holds it now."""
        await self._clear_once()
        try:
            taken = await operator_holds.take(
                self._db, self.daemon_id, pbx, operator, now, now - self._lease_s
            )
        except STORE_ERRORS as exc:  # not held: no call on it
            log.warning("operator_hold_untaken", pbx=pbx, error=str(exc) or type(exc).__name__)
            return False
        if taken:
            self._written[pbx] = self._written.get(pbx, frozenset()) | {operator}
        return taken

    async def settle(self, pbx: str, board: OperatorBoard, now: float) -> None:
        """Publish the operators this engine holds now, if they changed."""
        held = held_by_us(board, now)
        if self._written.get(pbx, frozenset()) == held:
            return
        await self._clear_once()
        try:
            await operator_holds.put(self._db, self.daemon_id, pbx, held, now)
        except STORE_ERRORS as exc:  # written again at the next change
            self._written.pop(pbx, None)
            log.warning("operator_holds_unwritten", pbx=pbx, error=str(exc) or type(exc).__name__)
            return
        self._written[pbx] = held

    async def _clear_once(self) -> None:
        """A restart under the same id starts with no holds (its calls are adopted afresh)."""
        if self._cleared is None:
            self._cleared = asyncio.ensure_future(self._clear())
        await asyncio.shield(self._cleared)

    async def _clear(self) -> None:
        try:
            await operator_holds.clear(self._db, self.daemon_id)
        except STORE_ERRORS as exc:
            log.warning("operator_holds_not_cleared", error=str(exc) or type(exc).__name__)


def held_by_us(board: OperatorBoard, now: float) -> frozenset[str]:
    """Operators our calls ring or talk to, and those in the wrap-up we keep."""
    return frozenset(
        op.name
        for op in board.operators.values()
        if op.reserved_by is not None or op.engaged_by is not None or op.wrapup_until > now
    )
