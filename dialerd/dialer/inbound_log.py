"""Calls offered to inbound queues (issue 6: service level), recorded from the queue events.

A PBX listener of each engine (``listener``): it only queues the events that matter
(QueueCallerJoin, AgentConnect, QueueCallerAbandon, QueueCallerLeave); one batch writer
stores each as the word it is (``store/inbound_calls.py`` holds the SQL, and leaves out the
dialer's own calls by their ``call_id``). The answering member is named as the board of the
PBX the event came from names the operator: with several PBXs, one queue and member
interface may be a different operator on each PBX. Each call is stored with the name of its
PBX, as its Uniqueid is unique on that PBX only.
"""

from __future__ import annotations

from collections.abc import Callable

from dialerd.dialer.board import OperatorBoard
from dialerd.pbx.events import (
    AgentConnected,
    MissedInbound,
    PbxEvent,
    QueueCallerJoined,
    QueueCallerLeft,
)
from dialerd.store import inbound_calls
from dialerd.store.batching import Batcher
from dialerd.store.sql import Conn, Store

InboundEvent = QueueCallerJoined | AgentConnected | MissedInbound | QueueCallerLeft
# the PBX's name, the event, the answering operator's name
_Item = tuple[str, InboundEvent, str | None]


class InboundLog:
    def __init__(self, db: Store, *, batch_s: float = 1.0) -> None:
        self._batcher: Batcher[_Item] = Batcher(
            db, self._write, name="inbound-log", batch_s=batch_s
        )

    def listener(
        self, pbx: str, board_of: Callable[[], OperatorBoard]
    ) -> Callable[[PbxEvent], None]:
        """What one PBX's engine tells the log: ``pbx`` is that PBX's name (its ``ami``
        entry's), ``board_of`` its own board (as a reload leaves it), never the merged
        floor, where one member of one queue on two PBXs would be a single operator."""

        def on_pbx_event(event: PbxEvent) -> None:
            match event:
                case QueueCallerJoined() | QueueCallerLeft():
                    self._batcher.put((pbx, event, None))
                case AgentConnected():
                    name = board_of().name_of(event.queue, event.interface)
                    self._batcher.put((pbx, event, name))
                case MissedInbound(reason="abandoned") if event.queue is not None:
                    self._batcher.put((pbx, event, None))

        return on_pbx_event

    async def __aenter__(self) -> InboundLog:
        await self._batcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._batcher.__aexit__(*exc)

    @staticmethod
    async def _write(conn: Conn, items: list[_Item]) -> None:
        for pbx, event, operator in items:
            call = event.uniqueid
            match event:
                case QueueCallerJoined():
                    await inbound_calls.joined(
                        conn, pbx, call, event.linkedid, event.queue, event.caller, event.at
                    )
                case AgentConnected():
                    name = operator or event.member_name or event.interface
                    await inbound_calls.answered(conn, pbx, call, event.at, event.hold_s, name)
                case MissedInbound():
                    await inbound_calls.abandoned(conn, pbx, call, event.at, event.hold_s)
                case QueueCallerLeft():
                    await inbound_calls.left(conn, pbx, call, event.at)
