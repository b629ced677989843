"""The abandon budget several daemons share on one PostgreSQL store (``pacing_risk``, of
``migrations/postgresql/1010_pacing_risk.sql``).

Each engine of each daemon writes, per campaign, how many of its customers in flight would
abandon in the worst case, how many have no operator yet, and how many are abandoned already
(``dialer/risk_ledger.py`` says what those counts are); every engine counts the other
daemons' waiting customers on its own PBX against that PBX's free operators, and takes their
customers at risk on other PBXs (and their abandoned ones on its own) off its budget. A raise goes through ``take_pacing_risk`` (one campaign's raises one at
a time, each checked against the others' counts after the last one committed), so two
daemons cannot both spend the last of the budget; a lowering is a plain write, since it can
only leave the others more room. Rows of a daemon whose heartbeat is older than a lease do
not count: it is dead, and its calls are being taken over. A SQLite store (one daemon) has
no such table and never calls this.
"""

from __future__ import annotations

from typing import NamedTuple

from dialerd.store import sql
from dialerd.store.sql import Store


class Counts(NamedTuple):
    """One engine's counts of one campaign (or several engines' added up)."""

    at_risk: int  # customers who would abandon in the worst case, ``late`` among them
    waiting: int = 0  # customers in flight without an operator yet
    late: int = 0  # customers answered and abandoned already, their calls going on


class Others(NamedTuple):
    """The other live daemons' counts of one campaign, by PBX."""

    by_pbx: dict[str, Counts]

    def against(self, pbx: str) -> int:
        """What they take off the budget of an engine on ``pbx``: their customers at risk on
        every other PBX, and their late ones on this one (the engine's own worst case there
        counts their waiting customers already)."""
        return sum(c.late if name == pbx else c.at_risk for name, c in self.by_pbx.items())

    def waiting_on(self, pbx: str) -> int:
        return self.by_pbx[pbx].waiting if pbx in self.by_pbx else 0


class Taken(NamedTuple):
    """What a raise found: whether it was written, and the other daemons' counts it saw."""

    taken: bool
    others: int  # their customers at risk elsewhere and late on this PBX (``against``)
    others_waiting: int  # their customers waiting on this PBX


async def others_of(db: Store, daemon_id: str, campaign: str, alive_since: float) -> Others:
    """The campaign's counts on every other live daemon (heartbeat at or after
    ``alive_since``)."""
    found = await sql.rows(
        db.conn,
        "SELECT r.pbx, SUM(r.at_risk), SUM(r.waiting), SUM(r.late) FROM pacing_risk r"
        " JOIN daemons d ON d.id = r.daemon_id WHERE r.campaign = ? AND r.daemon_id <> ?"
        " AND d.heartbeat_at >= ? GROUP BY r.pbx",
        (campaign, daemon_id, alive_since),
    )
    return Others({str(r[0]): Counts(int(r[1]), int(r[2]), int(r[3])) for r in found})


async def take(
    db: Store,
    daemon_id: str,
    pbx: str,
    campaign: str,
    counts: Counts,
    *,
    seen: int,
    seen_waiting: int,
    now: float,
    alive_since: float,
) -> Taken:
    """Raise this engine's counts to ``counts`` if the other live daemons' are still at most
    ``seen`` (``Others.against`` this PBX) and ``seen_waiting`` (waiting on this PBX), the
    counts its pacing decided on; else nothing is written and the counts found come back,
    to decide again on."""
    found = await sql.row(
        db.conn,
        "SELECT taken, others, others_waiting FROM take_pacing_risk(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (daemon_id, pbx, campaign, *counts, seen, seen_waiting, now, alive_since),
    )
    assert found is not None  # a function's row always comes back
    return Taken(bool(found[0]), int(found[1]), int(found[2]))


async def put(
    db: Store, daemon_id: str, pbx: str, campaign: str, counts: Counts, now: float
) -> None:
    """This engine's counts as they are now, unchecked: for a lowering (it only leaves the
    others more room), or counts that grew without a decision of this engine's (an operator
    taken by an inbound call), which no check could undo."""
    await sql.run(
        db.conn,
        "INSERT INTO pacing_risk (daemon_id, pbx, campaign, at_risk, waiting, late, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign, daemon_id, pbx)"
        " DO UPDATE SET at_risk = excluded.at_risk, waiting = excluded.waiting,"
        " late = excluded.late, updated_at = excluded.updated_at",
        (daemon_id, pbx, campaign, *counts, now),
    )


async def clear(db: Store, daemon_id: str) -> None:
    """The daemon's rows gone: at its start, under an id a previous run may have left rows
    of (that run's calls are adopted and counted again, or are over)."""
    await sql.run(db.conn, "DELETE FROM pacing_risk WHERE daemon_id = ?", (daemon_id,))
