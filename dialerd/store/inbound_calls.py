"""Calls offered to inbound queues (``inbound_calls``, migration 0006): the SQL.

A row is opened when a caller joins a queue, unless the caller's channel is one of the
dialer's own (its Uniqueid, or the part before ``;2``, or its Linkedid is an attempt's
``call_id``): our answered customer_first customers wait in the same queues. The row's
fate is the strongest word Asterisk gave, whatever the order the frames came in:
answered over abandoned over left (a timeout, no agents). A word for a caller without a
row (ours, or joined before the daemon started) changes nothing.
"""

from __future__ import annotations

from dialerd.store import sql
from dialerd.store.sql import Conn


async def joined(
    conn: Conn, uniqueid: str, linkedid: str, queue: str, caller: str, at: float
) -> None:
    """A caller entered ``queue`` (QueueCallerJoin); ``caller`` may be empty."""
    await sql.run(
        conn,
        "INSERT OR IGNORE INTO inbound_calls (uniqueid, queue, caller, joined_at)"
        " SELECT ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM attempts WHERE call_id IN (?, ?, ?))",
        (uniqueid, queue, caller or None, at, uniqueid, uniqueid.split(";")[0], linkedid),
    )


async def answered(conn: Conn, uniqueid: str, at: float, wait_s: float, operator: str) -> None:
    """An operator took the caller (AgentConnect), after ``wait_s`` in the queue."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'answered', answered_at = ?, wait_s = ?,"
        " operator = ? WHERE uniqueid = ? AND COALESCE(outcome, '') <> 'answered'",
        (at, wait_s, operator, uniqueid),
    )


async def abandoned(conn: Conn, uniqueid: str, at: float, wait_s: float | None) -> None:
    """The caller hung up waiting (QueueCallerAbandon); no ``wait_s``: counted from joining."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'abandoned', answered_at = NULL,"
        " wait_s = COALESCE(?, MAX(0, ? - joined_at)), operator = NULL"
        " WHERE uniqueid = ? AND (outcome IS NULL OR outcome = 'left')",
        (wait_s, at, uniqueid),
    )


async def left(conn: Conn, uniqueid: str, at: float) -> None:
    """The caller left the queue (QueueCallerLeave): final only if nothing stronger comes."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'left', wait_s = MAX(0, ? - joined_at)"
        " WHERE uniqueid = ? AND outcome IS NULL",
        (at, uniqueid),
    )
