"""The abandon budget several daemons share on one PostgreSQL store (``pacing_risk``, of
``migrations/postgresql/1010_pacing_risk.sql``).

Each engine of each daemon writes, per campaign, how many of its customers in flight would
abandon in the worst case (``dialer/risk_ledger.py`` says what that count is); every engine
takes the other daemons' sum off the budget it paces against. A raise goes through
``take_pacing_risk`` (one campaign's raises one at a time, each checked against the others'
sum after the last one committed), so two daemons cannot both spend the last of the
budget; a lowering is a plain write, since it can only leave the others more room. Rows of a
daemon whose heartbeat is older than a lease do not count: it is dead, and its calls are
being taken over. A SQLite store (one daemon) has no such table and never calls this.
"""

from __future__ import annotations

from typing import NamedTuple

from dialerd.store import sql
from dialerd.store.sql import Store


class Taken(NamedTuple):
    """What a raise found: whether it was written, and the other daemons' sum it saw."""

    taken: bool
    others: int


async def others_at_risk(db: Store, daemon_id: str, campaign: str, alive_since: float) -> int:
    """The campaign's customers at risk on every other live daemon (heartbeat at or after
    ``alive_since``)."""
    found = await sql.row(
        db.conn,
        "SELECT COALESCE(SUM(r.at_risk), 0) FROM pacing_risk r JOIN daemons d"
        " ON d.id = r.daemon_id WHERE r.campaign = ? AND r.daemon_id <> ?"
        " AND d.heartbeat_at >= ?",
        (campaign, daemon_id, alive_since),
    )
    return int(found[0]) if found is not None else 0


async def take(
    db: Store,
    daemon_id: str,
    pbx: str,
    campaign: str,
    at_risk: int,
    *,
    seen: int,
    now: float,
    alive_since: float,
) -> Taken:
    """Raise this engine's count to ``at_risk`` if the other live daemons' sum is still at
    most ``seen`` (the sum its pacing decided on); else nothing is written and the sum found
    comes back, to decide again on."""
    found = await sql.row(
        db.conn,
        "SELECT taken, others FROM take_pacing_risk(?, ?, ?, ?, ?, ?, ?)",
        (daemon_id, pbx, campaign, at_risk, seen, now, alive_since),
    )
    assert found is not None  # a function's row always comes back
    return Taken(bool(found[0]), int(found[1]))


async def put(db: Store, daemon_id: str, pbx: str, campaign: str, at_risk: int, now: float) -> None:
    """This engine's count as it is now, unchecked: for a lowering (it only leaves the others
    more room), or a count that grew without a decision of this engine's (an operator taken
    by an inbound call), which no check could undo."""
    await sql.run(
        db.conn,
        "INSERT INTO pacing_risk (daemon_id, pbx, campaign, at_risk, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (campaign, daemon_id, pbx)"
        " DO UPDATE SET at_risk = excluded.at_risk, updated_at = excluded.updated_at",
        (daemon_id, pbx, campaign, at_risk, now),
    )


async def clear(db: Store, daemon_id: str) -> None:
    """The daemon's rows gone: at its start, under an id a previous run may have left rows
    of (that run's calls are adopted and counted again, or are over)."""
    await sql.run(db.conn, "DELETE FROM pacing_risk WHERE daemon_id = ?", (daemon_id,))
