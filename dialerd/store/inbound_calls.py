"""Calls offered to inbound queues (``inbound_calls``, migration 0006): the SQL.

A row is opened by QueueCallerJoin, unless the caller's channel is one of the dialer's own
(its Uniqueid, or the part before ``;2``, or its Linkedid is an attempt's ``call_id``): our
answered customer_first customers wait in the same queues. The row's fate is the strongest
word Asterisk gave, whatever the order the frames came in: answered (AgentConnect) over
abandoned (QueueCallerAbandon) over left (QueueCallerLeave alone: a timeout, no agents).
Events for a caller without a row (ours, or joined before the daemon started) change nothing.
"""

from __future__ import annotations

import aiosqlite

from dialerd.pbx.events import AgentConnected, MissedInbound, QueueCallerJoined, QueueCallerLeft

InboundEvent = QueueCallerJoined | AgentConnected | MissedInbound | QueueCallerLeft


async def record(
    conn: aiosqlite.Connection, event: InboundEvent, operator: str | None = None
) -> None:
    """Apply one queue event; ``operator``: the dialerd name of the member who answered."""
    match event:
        case QueueCallerJoined():
            await conn.execute(
                "INSERT OR IGNORE INTO inbound_calls (uniqueid, queue, caller, joined_at)"
                " SELECT ?, ?, ?, ? WHERE NOT EXISTS"
                " (SELECT 1 FROM attempts WHERE call_id IN (?, ?, ?))",
                (
                    event.uniqueid,
                    event.queue,
                    event.caller or None,
                    event.at,
                    event.uniqueid,
                    event.uniqueid.split(";")[0],
                    event.linkedid,
                ),
            )
        case AgentConnected():
            await conn.execute(
                "UPDATE inbound_calls SET outcome = 'answered', answered_at = ?, wait_s = ?,"
                " operator = ? WHERE uniqueid = ? AND COALESCE(outcome, '') <> 'answered'",
                (
                    event.at,
                    event.hold_s,
                    operator or event.member_name or event.interface,
                    event.uniqueid,
                ),
            )
        case MissedInbound():
            await conn.execute(
                "UPDATE inbound_calls SET outcome = 'abandoned', answered_at = NULL,"
                " wait_s = COALESCE(?, MAX(0, ? - joined_at)), operator = NULL"
                " WHERE uniqueid = ? AND (outcome IS NULL OR outcome = 'left')",
                (event.hold_s, event.at, event.uniqueid),
            )
        case QueueCallerLeft():
            await conn.execute(
                "UPDATE inbound_calls SET outcome = 'left', wait_s = MAX(0, ? - joined_at)"
                " WHERE uniqueid = ? AND outcome IS NULL",
                (event.at, event.uniqueid),
            )
