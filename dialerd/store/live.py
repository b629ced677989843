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


@dataclass(frozen=True)
class DemoCounts:
    """The demo's live panel: what waits per rank, what is due, and speed-to-lead so far."""

    waiting_by_rank: dict[int, int]
    due_now: int
    first_dials: int  # leads dialed at least once
    within_target: int  # ... whose first dial came before their speed-to-lead deadline


async def demo_counts(db: Store, now: float) -> DemoCounts:
    conn = db.conn
    # CASE, not a comparison summed: a comparison is a boolean in PostgreSQL, not 0/1
    ranks = await sql.rows(
        conn,
        "SELECT rank, COUNT(*), SUM(CASE WHEN due_at <= ? THEN 1 ELSE 0 END) FROM leads"
        " WHERE state = 'waiting' GROUP BY rank",
        (now,),
    )
    found = await sql.row(
        conn,
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN first_attempt_at <= deadline_at THEN 1 ELSE 0"
        " END), 0) FROM leads WHERE first_attempt_at IS NOT NULL AND deadline_at IS NOT NULL",
    )
    assert found is not None  # an aggregate without GROUP BY answers one row
    return DemoCounts(
        {int(rank): int(count) for rank, count, _ in ranks},
        sum(int(due or 0) for _rank, _count, due in ranks),
        int(found[0]),
        int(found[1]),
    )
