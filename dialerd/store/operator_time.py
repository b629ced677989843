"""Operators' state over time (``operator_states``, migration 0006; the pause reason,
0010): the SQL, nothing else.

A row per state an operator was in: opened at the change, closed (``ended_at``) by the next
one. ``seen_until`` is the last moment the state was known to hold, advanced on every write
and by a heartbeat, so a row a killed process left open is closed at a bound, not at the
restart (the gap between is "not known", not time in that state).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dialerd.store import sql
from dialerd.store.sql import Conn


@dataclass(frozen=True)
class StateChange:
    operator: str
    state: str | None  # OperatorState value; None: the operator left the board (a reload)
    at: float
    reason: str | None = None  # a 'paused' state's reason (issue 12); None: none, or not paused


async def close_abandoned(conn: Conn) -> int:
    """Rows left open by a process that did not stop cleanly end where it last saw them."""
    changed = await sql.run(
        conn, "UPDATE operator_states SET ended_at = seen_until WHERE ended_at IS NULL"
    )
    return changed


async def record(conn: Conn, changes: Iterable[StateChange], now: float) -> None:
    """Close each operator's open row at its change and open the new one, in order; then
    every open row is known to hold until ``now``."""
    for change in changes:
        await sql.run(
            conn,
            "UPDATE operator_states SET ended_at = MAX(started_at, ?),"
            " seen_until = MAX(seen_until, ?) WHERE operator = ? AND ended_at IS NULL",
            (change.at, change.at, change.operator),
        )
        if change.state is None:
            continue
        await sql.run(
            conn,
            "INSERT INTO operator_states (operator, state, reason, started_at, seen_until)"
            " VALUES (?, ?, ?, ?, ?)",
            (change.operator, change.state, change.reason, change.at, change.at),
        )
    await sql.run(
        conn,
        "UPDATE operator_states SET seen_until = MAX(seen_until, ?) WHERE ended_at IS NULL",
        (now,),
    )


async def close_open(conn: Conn, at: float) -> int:
    """A clean stop: every open row ends now (nothing is known after the daemon is gone)."""
    changed = await sql.run(
        conn,
        "UPDATE operator_states SET ended_at = MAX(started_at, ?), seen_until = MAX(seen_until, ?)"
        " WHERE ended_at IS NULL",
        (at, at),
    )
    return changed
