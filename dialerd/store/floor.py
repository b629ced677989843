"""The wallboard's store reads (issue 13), cheap enough to run on every push (≤ 1/s).

- What waits: waiting leads by campaign and rank, and how many are due now (one pass over
  the partial index of waiting leads); the new lead closest to its speed-to-lead deadline
  (one probe of ``leads_new_by_deadline``).
- Each operator's day: the operator page's counts (``store.cards.operator_day``), for
  everyone in one pass over today's attempts.
- The latest alerts kept in the store, to fill the wallboard after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store import sql
from dialerd.store.sql import Store


@dataclass(frozen=True)
class Waiting:
    campaign: str
    rank: int
    leads: int
    due: int  # due now (due_at <= now): what the engine would dial first


@dataclass(frozen=True)
class OldestNew:
    lead_id: int
    received_at: float
    deadline_at: float


@dataclass(frozen=True)
class OperatorToday:
    """As the operator's own page counts (``store.cards.operator_day``)."""

    calls: int
    answered: int
    talk_s: float
    confirmed: int
    revenue_minor: int


@dataclass(frozen=True)
class StoredAlert:
    at: float
    kind: str
    subject: str


async def waiting(db: Store, now: float) -> list[Waiting]:
    rows = await sql.rows(
        db.conn,
        "SELECT campaign, rank, COUNT(*), SUM(due_at <= ?) FROM leads"
        " WHERE state = 'waiting' GROUP BY campaign, rank ORDER BY rank, campaign",
        (now,),
    )
    return [Waiting(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]


async def oldest_new(db: Store) -> OldestNew | None:
    """The never-dialed waiting lead whose speed-to-lead deadline comes first."""
    rows = list(
        await sql.rows(
            db.conn,
            "SELECT id, received_at, deadline_at FROM leads INDEXED BY leads_new_by_deadline"
            f" WHERE state = 'waiting' AND rank = {NEW_LEAD_RANK:d} AND attempts = 0"
            " AND deadline_at IS NOT NULL ORDER BY deadline_at, id LIMIT 1",
        )
    )
    if not rows:
        return None
    return OldestNew(int(rows[0][0]), float(rows[0][1]), float(rows[0][2]))


async def operators_today(db: Store, since: float) -> dict[str, OperatorToday]:
    """Per operator: calls started since ``since`` (the centre's midnight), answered, talk,
    confirmed results and their revenue — the operator page's own definitions."""
    rows = await sql.rows(
        db.conn,
        "SELECT a.operator, COUNT(*), SUM(a.outcome = 'answered'),"
        " SUM(CASE WHEN a.outcome = 'answered' THEN a.talk_s END),"
        " COUNT(d.id),"
        " SUM(CASE WHEN d.id IS NOT NULL THEN COALESCE(d.amount_minor, l.amount_minor, 0) END)"
        " FROM attempts a INDEXED BY attempts_created"
        " JOIN leads l ON l.id = a.lead_id"
        " LEFT JOIN dispositions d ON d.attempt_id = a.id AND d.result = 'confirmed'"
        " WHERE a.created_at >= ? AND a.operator IS NOT NULL GROUP BY a.operator",
        (since,),
    )
    return {
        str(r[0]): OperatorToday(
            int(r[1]), int(r[2] or 0), float(r[3] or 0.0), int(r[4]), int(r[5] or 0)
        )
        for r in rows
    }


async def latest_alerts(db: Store, limit: int) -> list[StoredAlert]:
    """The latest alerts queued for a channel, one per alert (not per channel), newest first.

    Alerts raised with no channel configured are not stored: the wallboard shows them live.
    """
    rows = await sql.rows(
        db.conn,
        "SELECT MAX(created_at), kind, subject FROM alerts GROUP BY kind, subject, created_at"
        " ORDER BY MAX(created_at) DESC LIMIT ?",
        (limit,),
    )
    return [StoredAlert(float(r[0]), str(r[1]), str(r[2])) for r in rows]
