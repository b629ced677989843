"""The audit of supervisors' actions (issue 13): who did what, when, to which lead.

``record_in`` runs inside the action's own write transaction, so an action exists in the
store exactly when its audit row does. Rows are only ever added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dialerd.store import sql
from dialerd.store.sql import Conn, Store


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    user: str
    action: str
    lead_id: int | None
    target: str | None
    details: dict[str, Any]


async def record_in(
    conn: Conn,
    *,
    user: str,
    action: str,
    at: float,
    lead_id: int | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one audit row inside the caller's write transaction; its id."""
    new_id = await sql.insert(
        conn,
        "INSERT INTO audit (at, user, action, lead_id, target, details) VALUES (?, ?, ?, ?, ?, ?)",
        (at, user, action, lead_id, target, json.dumps(details or {}, ensure_ascii=False)),
    )
    return new_id


async def record(db: Store, **fields: Any) -> int:
    """An action with nothing else to write (listening to a call): its own transaction."""
    async with db.transaction() as conn:
        return await record_in(conn, **fields)


async def recent(db: Store, limit: int = 100, lead_id: int | None = None) -> list[Entry]:
    """The latest entries, newest first (of one lead, or of all)."""
    where, args = ("", ()) if lead_id is None else (" WHERE lead_id = ?", (lead_id,))
    rows = await sql.rows(
        db.conn,
        f"SELECT id, at, user, action, lead_id, target, details FROM audit{where}"
        " ORDER BY at DESC, id DESC LIMIT ?",
        (*args, limit),
    )
    return [Entry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}")) for r in rows]
