"""The do-not-call list in the store: entries, and closing the open leads they block."""

from __future__ import annotations

from typing import Any

import aiosqlite

from dialerd.policy.dnc import prefixes
from dialerd.store.db import Database
from dialerd.store.outbox import enqueue_result


async def add(db: Database, pattern: str, note: str | None, now: float) -> int:
    """Add an entry (a normalised pattern); close waiting leads it blocks. Returns how many."""
    async with db.transaction() as conn:
        return await add_in(conn, pattern, note, now)


async def add_in(conn: aiosqlite.Connection, pattern: str, note: str | None, now: float) -> int:
    """``add`` inside the caller's transaction (the lead desk writes its audit row with it)."""
    await conn.execute(
        "INSERT INTO dnc (pattern, note, added_at) VALUES (?, ?, ?)"
        " ON CONFLICT (pattern) DO UPDATE SET note = excluded.note",
        (pattern, note, now),
    )
    rows = list(
        await conn.execute_fetchall(
            "UPDATE leads SET state = 'closed', close_reason = 'dnc', closed_at = ?, updated_at = ?"
            " WHERE state = 'waiting' AND substr(phone, 1, ?) = ? RETURNING id",
            (now, now, len(pattern), pattern),
        )
    )
    for row in rows:
        await enqueue_result(conn, row[0], now)  # the CRM hears the lead is closed
    return len(rows)


async def remove(db: Database, pattern: str) -> bool:
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM dnc WHERE pattern = ?", (pattern,))
        return cursor.rowcount > 0


async def entries(db: Database) -> list[dict[str, Any]]:
    async with db.conn.execute(
        "SELECT pattern, note, added_at FROM dnc ORDER BY pattern"
    ) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def matching(db: Database, phone: str) -> list[dict[str, Any]]:
    """The entries that block ``phone`` (the number itself or a prefix), longest first."""
    patterns = prefixes(phone)
    marks = ",".join("?" * len(patterns))
    rows = await db.conn.execute_fetchall(
        f"SELECT pattern, note, added_at FROM dnc WHERE pattern IN ({marks})"
        " ORDER BY length(pattern) DESC",
        patterns,
    )
    return [dict(row) for row in rows]
