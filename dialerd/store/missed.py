"""Store side of missed calls: the dialer's own calls, a phone's open lead, raising it."""

from __future__ import annotations

from collections.abc import Sequence

from dialerd.store import sql
from dialerd.store.sql import Conn


async def is_attempt_call(conn: Conn, call_ids: Sequence[str]) -> bool:
    """One of ``call_ids`` is an attempt's ``call_id``: a call this daemon placed
    (index on attempts.call_id)."""
    marks = ", ".join("?" * len(call_ids))
    return (
        await sql.row(
            conn, f"SELECT 1 FROM attempts WHERE call_id IN ({marks}) LIMIT 1", tuple(call_ids)
        )
    ) is not None


async def open_lead(conn: Conn, phone: str) -> tuple[int, str] | None:
    """The phone's most recent open lead (any campaign) and its state (index leads_phone)."""
    row = await sql.row(
        conn,
        "SELECT id, state FROM leads WHERE phone = ? AND state IN ('waiting', 'dialing')"
        " ORDER BY received_at DESC, id DESC LIMIT 1",
        (phone,),
    )
    return None if row is None else (int(row[0]), str(row[1]))


async def raise_lead(conn: Conn, lead_id: int, rank: int, deadline_at: float, now: float) -> bool:
    """Due now, in the new-lead tier, deadline no later than ``deadline_at``; callback dropped."""
    changed = await sql.run(
        conn,
        "UPDATE leads SET rank = ?, due_at = MIN(due_at, ?), callback_at = NULL,"
        " deadline_at = MIN(COALESCE(deadline_at, ?), ?), updated_at = ?"
        " WHERE id = ? AND state = 'waiting'",
        (rank, now, deadline_at, deadline_at, now, lead_id),
    )
    return changed > 0
