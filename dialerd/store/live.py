"""Read-only counts of what waits right now, for ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.store import outbox, sql
from dialerd.store.sql import Store


@dataclass(frozen=True)
class Waiting:
    by_rank: list[tuple[str, int, int]]  # (campaign, rank, leads waiting)
    oldest_new_received_at: float | None  # the earliest arrival among never-dialed waiting leads
    outbox_backlog: int  # CRM results not yet delivered (pending)
    outbox_parked: int  # given up after max tries, waiting for `dialerd outbox retry`


async def waiting(db: Store) -> Waiting:
    conn = db.conn
    by_rank = await sql.rows(
        conn,
        "SELECT campaign, rank, COUNT(*) FROM leads WHERE state = 'waiting' GROUP BY campaign, rank",
    )
    (oldest,) = list(
        await sql.rows(
            conn, "SELECT MIN(received_at) FROM leads WHERE state = 'waiting' AND attempts = 0"
        )
    )[0]
    return Waiting(
        [(str(c), int(r), int(n)) for c, r, n in by_rank],
        None if oldest is None else float(oldest),
        await outbox.pending_count(db),
        await outbox.parked_count(db),
    )
