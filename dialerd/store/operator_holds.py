"""The operators each daemon holds on a PBX other daemons drive too (``operator_holds``, of
``migrations/postgresql/1012_operator_holds.sql``).

Two daemons on one PBX see its operators' Asterisk states alike, but not each other's: the
operator one rings first for an agent_first call, or keeps in wrap-up after a call, looks
free to the other. Each writes the operators it holds there, and leaves the others' out of
its free ones (``dialer/operator_holds.py``). Taking an operator is one statement that
succeeds only if no other live daemon holds it, so two daemons never ring the same one.
A daemon alone on its PBX, and a SQLite store (one daemon), never call this.
"""

from __future__ import annotations

from dialerd.store import sql
from dialerd.store.sql import Store


async def others_of(db: Store, daemon_id: str, pbx: str, alive_since: float) -> frozenset[str]:
    """The operators of ``pbx`` held by other live daemons (heartbeat at or after
    ``alive_since``)."""
    rows = await sql.rows(
        db.conn,
        "SELECT h.operator FROM operator_holds h JOIN daemons d ON d.id = h.daemon_id"
        " WHERE h.pbx = ? AND h.daemon_id <> ? AND d.heartbeat_at >= ?",
        (pbx, daemon_id, alive_since),
    )
    return frozenset(str(r[0]) for r in rows)


async def take(
    db: Store, daemon_id: str, pbx: str, operator: str, now: float, alive_since: float
) -> bool:
    """Hold ``operator``: False if another live daemon holds it (nothing written)."""
    found = await sql.row(
        db.conn,
        "INSERT INTO operator_holds AS h (pbx, operator, daemon_id, held_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (pbx, operator) DO UPDATE SET daemon_id = excluded.daemon_id,"
        " held_at = excluded.held_at WHERE h.daemon_id = excluded.daemon_id OR NOT EXISTS"
        " (SELECT 1 FROM daemons d WHERE d.id = h.daemon_id AND d.heartbeat_at >= ?)"
        " RETURNING 1",
        (pbx, operator, daemon_id, now, alive_since),
    )
    return found is not None


async def put(db: Store, daemon_id: str, pbx: str, held: frozenset[str], now: float) -> None:
    """The daemon's holds on ``pbx`` become ``held``: those let go are removed, new ones
    added unless another daemon holds them (a hold no decision took: the operator went into
    wrap-up after our call, which no check could undo)."""
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "DELETE FROM operator_holds WHERE daemon_id = ? AND pbx = ?"
            " AND NOT operator = ANY(CAST(? AS TEXT[]))",
            (daemon_id, pbx, sorted(held)),
        )
        if held:
            await sql.run_many(
                conn,
                "INSERT INTO operator_holds (pbx, operator, daemon_id, held_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (pbx, operator) DO NOTHING",
                [(pbx, name, daemon_id, now) for name in sorted(held)],
            )


async def clear(db: Store, daemon_id: str) -> None:
    """The daemon's holds gone: at its start, under an id a previous run may have left
    holds of."""
    await sql.run(db.conn, "DELETE FROM operator_holds WHERE daemon_id = ?", (daemon_id,))
