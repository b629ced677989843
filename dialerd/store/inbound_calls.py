"""Calls offered to inbound queues (``inbound_calls``, migrations 0006 and 0019): the SQL.

A row is opened when a caller joins a queue, unless the caller's channel is one of the
dialer's own (its Uniqueid, or the part before ``;2``, or its Linkedid is an attempt's
``call_id``): our answered customer_first customers wait in the same queues. The row's
fate is the strongest word Asterisk gave, whatever the order the frames came in:
answered over abandoned over left (a timeout, no agents). A word for a caller without a
row (ours, or joined before the daemon started) changes nothing.

A call is its PBX's name and its Uniqueid (``pbx``, the name of its ``ami`` entry): a
Uniqueid is unique on one Asterisk only, and two PBXs may number two callers alike.
"""

from __future__ import annotations

from dialerd.store import sql
from dialerd.store.sql import Conn


async def joined(
    conn: Conn, pbx: str, uniqueid: str, linkedid: str, queue: str, caller: str, at: float
) -> None:
    """A caller entered ``queue`` on ``pbx`` (QueueCallerJoin); ``caller`` may be empty.

    The dialer's own calls are told apart by ``call_id`` alone: dialerd makes those ids
    (``dialerd-<lead>-<attempt>-<random>``), so they are unique across every PBX."""
    await sql.run(
        conn,
        "INSERT OR IGNORE INTO inbound_calls (pbx, uniqueid, queue, caller, joined_at)"
        " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM attempts WHERE call_id IN (?, ?, ?))",
        (pbx, uniqueid, queue, caller or None, at, uniqueid, uniqueid.split(";")[0], linkedid),
    )


async def answered(
    conn: Conn, pbx: str, uniqueid: str, at: float, wait_s: float, operator: str
) -> None:
    """An operator took the caller (AgentConnect), after ``wait_s`` in the queue."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'answered', answered_at = ?, wait_s = ?,"
        " operator = ? WHERE pbx = ? AND uniqueid = ? AND COALESCE(outcome, '') <> 'answered'",
        (at, wait_s, operator, pbx, uniqueid),
    )


async def abandoned(conn: Conn, pbx: str, uniqueid: str, at: float, wait_s: float | None) -> None:
    """The caller hung up waiting (QueueCallerAbandon); no ``wait_s``: counted from joining."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'abandoned', answered_at = NULL,"
        " wait_s = COALESCE(?, MAX(0, ? - joined_at)), operator = NULL"
        " WHERE pbx = ? AND uniqueid = ? AND (outcome IS NULL OR outcome = 'left')",
        (wait_s, at, pbx, uniqueid),
    )


async def left(conn: Conn, pbx: str, uniqueid: str, at: float) -> None:
    """The caller left the queue (QueueCallerLeave): final only if nothing stronger comes."""
    await sql.run(
        conn,
        "UPDATE inbound_calls SET outcome = 'left', wait_s = MAX(0, ? - joined_at)"
        " WHERE pbx = ? AND uniqueid = ? AND outcome IS NULL",
        (at, pbx, uniqueid),
    )
