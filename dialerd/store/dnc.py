"""The do-not-call list in the store: entries, and closing the open leads they block."""

from __future__ import annotations

from typing import Any

from dialerd.policy.dnc import prefixes
from dialerd.store import sql
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Conn, Store


async def add(db: Store, pattern: str, note: str | None, now: float) -> int:
    """Add an entry (a normalised pattern); close waiting leads it blocks. Returns how many."""
    async with db.transaction() as conn:
        return await add_in(conn, pattern, note, now)


async def add_in(conn: Conn, pattern: str, note: str | None, now: float) -> int:
    """``add`` inside the caller's transaction (the lead desk writes its audit row with it)."""
    await sql.run(
        conn,
        "INSERT INTO dnc (pattern, note, added_at) VALUES (?, ?, ?)"
        " ON CONFLICT (pattern) DO UPDATE SET note = excluded.note",
        (pattern, note, now),
    )
    rows = await sql.rows(
        conn,
        "UPDATE leads SET state = 'closed', close_reason = 'dnc', closed_at = ?, updated_at = ?"
        " WHERE state = 'waiting' AND substr(phone, 1, ?) = ? RETURNING id",
        (now, now, len(pattern), pattern),
    )
    for row in rows:
        await enqueue_result(conn, row[0], now)  # the CRM hears the lead is closed
    return len(rows)


async def remove(db: Store, pattern: str) -> bool:
    async with db.transaction() as conn:
        return await sql.run(conn, "DELETE FROM dnc WHERE pattern = ?", (pattern,)) > 0


async def entries(db: Store) -> list[dict[str, Any]]:
    rows = await sql.rows(db.conn, "SELECT pattern, note, added_at FROM dnc ORDER BY pattern")
    return [dict(row) for row in rows]


async def matching(db: Store, phone: str) -> list[dict[str, Any]]:
    """The entries that block ``phone`` (the number itself or a prefix), longest first."""
    patterns = prefixes(phone)
    marks = ",".join("?" * len(patterns))
    rows = await sql.rows(
        db.conn,
        f"SELECT pattern, note, added_at FROM dnc WHERE pattern IN ({marks})"
        " ORDER BY length(pattern) DESC",
        patterns,
    )
    return [dict(row) for row in rows]
