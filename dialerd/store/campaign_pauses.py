"""Campaigns a supervisor paused (issue 13): kept in the store so a restart keeps them.

The engine holds the same set in memory (``dialer.campaign_hold``) and dials no lead of a
paused campaign; this table is what it starts from. Pausing and resuming write the audit
row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.store import audit, sql
from dialerd.store.sql import Store


@dataclass(frozen=True)
class CampaignPause:
    campaign: str
    paused_at: float
    paused_by: str
    note: str | None


async def paused(db: Store) -> dict[str, CampaignPause]:
    rows = await sql.rows(
        db.conn, "SELECT campaign, paused_at, paused_by, note FROM campaign_pauses"
    )
    return {r[0]: CampaignPause(r[0], r[1], r[2], r[3]) for r in rows}


async def set_paused(
    db: Store, campaign: str, paused_: bool, *, user: str, note: str | None, at: float
) -> bool:
    """Pause (or resume) ``campaign``; False when it already was (nothing written)."""
    async with db.transaction() as conn:
        if paused_:
            changed = await sql.run(
                conn,
                "INSERT INTO campaign_pauses (campaign, paused_at, paused_by, note)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (campaign) DO NOTHING",
                (campaign, at, user, note),
            )
        else:
            changed = await sql.run(
                conn, "DELETE FROM campaign_pauses WHERE campaign = ?", (campaign,)
            )
        if not changed:
            return False
        await audit.record_in(
            conn,
            user=user,
            action="campaign_pause" if paused_ else "campaign_resume",
            at=at,
            target=campaign,
            details={"note": note} if note else {},
        )
    return True
