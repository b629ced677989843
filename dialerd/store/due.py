"""Waiting leads in pick order: which are due now, when the next one is, and their ranks
and attempt caps kept current when a reload changes a campaign's scheme or cap.

One query per pick (``due_leads``): an index range scan per rank, joined with UNION ALL.
On PostgreSQL each scan also locks the rows it returns, skipping those another daemon's
claim holds (``FOR UPDATE SKIP LOCKED``): the pick is still one statement, and no two
daemons can both take a lead.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from dialerd.policy.pick import LeadView
from dialerd.policy.priority import NEW_LEAD_RANK, Scheme, rank_sql
from dialerd.store import sql
from dialerd.store.leads import ON_DNC, PHONE_HISTORY, VIEW_COLUMNS, lead_view
from dialerd.store.outbox import enqueue_result
from dialerd.store.pg import PgConn, PgDatabase
from dialerd.store.sql import Conn, Store


@dataclass(frozen=True)
class CampaignFilter:
    """Which campaigns a pick may take leads from (those with a free operator, issue 4)."""

    names: tuple[str, ...]
    include: bool  # True: only these campaigns; False: every campaign but these


Form = Literal["sqlite", "postgresql", "claim"]

_FILTER_SQL = {
    None: "",
    True: " AND campaign IN (SELECT value FROM json_each(:campaigns))",
    False: " AND campaign NOT IN (SELECT value FROM json_each(:campaigns))",
}


def _due_arm(rank: int, per_rank: int, include: bool | None = None, form: Form = "sqlite") -> str:
    """One index range scan: new leads by deadline, every other rank by due time.

    New leads without a deadline have their own partial index (``leads_new_undated``): on
    ``leads_pick`` their arm would step over every due new lead that has one to find none.

    The rank is a literal, not a parameter: SQLite only uses a partial index whose
    condition it can prove from the query text. A lead of the new-lead rank without a
    deadline (a callback asked for at intake, under fewest_attempts) comes after every
    new lead that has one, by its due time: NULL would otherwise sort first.
    """
    if rank == NEW_LEAD_RANK:
        dated = _arm(
            rank, float(rank), "leads_new_by_deadline", "deadline_at", per_rank, include, form=form
        )
        undated = _arm(
            rank,
            rank + 0.5,
            "leads_new_undated",
            "due_at",
            per_rank,
            include,
            "deadline_at IS NULL",
            form,
        )
        return dated + " UNION ALL " + undated
    return _arm(rank, float(rank), "leads_pick", "due_at", per_rank, include, form=form)


def _arm(
    rank: int,
    arm: float,
    index: str,
    key: str,
    per_rank: int,
    include: bool | None,
    extra: str | None = None,
    form: Form = "sqlite",
) -> str:
    """``form``: SQLite's text; PostgreSQL's (the alias it wants for a subquery); or
    PostgreSQL's for a claim, which also locks the rows it returns, skipping rows locked
    by another claim.

    On PostgreSQL the scan (and its locks) comes first and reads lead rows alone; each
    lead's DNC match and phone history are worked out above it, for the rows it keeps.
    Worked out in the scan, they were paid for every row it met, also those it skipped as
    another claim's; and a row another claim committed meanwhile had its whole arm run
    again (PostgreSQL rechecks such a row through the plan below its lock): with four
    claims at a time, the pick read ten times the pages.
    """
    where = (
        f" AND {extra}"
        if extra
        else (" AND deadline_at IS NOT NULL" if key == "deadline_at" else "")
    )
    scan = (
        f" WHERE state = 'waiting' AND rank = {int(rank):d} AND due_at <= :now{where}"
        f"{_FILTER_SQL[include]}"
        f" ORDER BY {key}, id LIMIT {int(per_rank):d}"
    )
    view = f"{VIEW_COLUMNS}, {ON_DNC}"
    if form == "sqlite":
        return (
            f"SELECT * FROM (SELECT {view}, {PHONE_HISTORY.sqlite}, {arm!r} AS arm, {key} AS k"
            f" FROM leads INDEXED BY {index}{scan})"
        )
    lock = " FOR UPDATE SKIP LOCKED" if form == "claim" else ""
    return (
        f"SELECT {view}, {PHONE_HISTORY.postgresql}, {arm!r} AS arm, {key} AS k"
        f" FROM (SELECT * FROM leads{scan}{lock}) AS leads"
    )


@functools.cache
def _due_query(
    ranks: tuple[int, ...], per_rank: int, include: bool | None = None, form: Form = "sqlite"
) -> str:
    """Every rank's due leads in one statement (one trip to the database thread), in pick order.

    ``per_rank`` is a literal (the few batch sizes of ``attempts._PICK_BATCHES``), not a
    parameter: PostgreSQL then keeps one generic plan per prepared statement after its
    first five runs. With ``LIMIT $n`` it planned every pick again (about 1.1 ms of the
    server's CPU at 1M leads, more than running it).
    """
    arms = " UNION ALL ".join(_due_arm(rank, per_rank, include, form) for rank in ranks)
    return arms + " ORDER BY arm, k, id"


async def due_leads(
    conn: Conn,
    now: float,
    ranks: tuple[int, ...],
    per_rank: int,
    only: CampaignFilter | None = None,
    *,
    claim: bool = False,
) -> list[LeadView]:
    """Up to ``per_rank`` due leads of each rank, in pick order.

    ``claim``: for a claim's transaction; on PostgreSQL the leads returned stay locked
    until it ends, and leads another claim has locked are passed over."""
    params: dict[str, Any] = {"now": now}
    if only is not None:
        params["campaigns"] = json.dumps(list(only.names))
    form: Form = "sqlite"
    if sql.engine_of(conn) == "postgresql":
        form = "claim" if claim else "postgresql"
    query = _due_query(ranks, per_rank, None if only is None else only.include, form)
    rows = await sql.rows(conn, query, params)
    return [lead_view(row) for row in rows]


def due_leads_at_once(
    conn: sqlite3.Connection,
    now: float,
    ranks: tuple[int, ...],
    per_rank: int,
    only: CampaignFilter | None = None,
) -> list[LeadView]:
    """``due_leads`` on the store's own thread (inside ``Database.write_at_once``)."""
    params: dict[str, Any] = {"now": now}
    if only is not None:
        params["campaigns"] = json.dumps(list(only.names))
    rows = conn.execute(_due_query(ranks, per_rank, None if only is None else only.include), params)
    return [lead_view(row) for row in rows.fetchall()]


async def due_views(db: Store, now: float, ranks: tuple[int, ...], limit: int) -> list[LeadView]:
    """The first ``limit`` due leads in pick order."""
    return (await due_leads(db.conn, now, ranks, limit))[:limit]


async def rerank(
    db: Store,
    schemes: dict[str, Scheme],
    default: Scheme,
    caps: dict[str, int] | None = None,
    default_cap: int | None = None,
) -> int:
    """Give waiting leads the rank their campaign's scheme gives them (after a scheme change).

    Leads of campaigns no longer configured follow the default campaign's scheme. ``caps``:
    each campaign's attempt cap (a lead requeued past it keeps the last rank, issue 13).
    """
    async with db.transaction() as conn:
        return await _rerank(conn, schemes, default, caps, default_cap)


async def _rerank(
    conn: Conn,
    schemes: dict[str, Scheme],
    default: Scheme,
    caps: dict[str, int] | None = None,
    default_cap: int | None = None,
) -> int:
    changed = 0
    caps = caps or {}
    for campaign, scheme in schemes.items():
        expr = rank_sql(scheme, caps.get(campaign))
        changed += await sql.run(
            conn,
            f"UPDATE leads SET rank = {expr} WHERE state = 'waiting' AND campaign = ? AND rank != {expr}",
            (campaign,),
        )
    marks = ",".join("?" * len(schemes))
    expr = rank_sql(default, default_cap)
    return changed + await sql.run(
        conn,
        f"UPDATE leads SET rank = {expr} WHERE state = 'waiting' AND campaign NOT IN ({marks})"
        f" AND rank != {expr}",
        tuple(schemes),
    )


async def close_over_cap(db: Store, caps: dict[str, int], default_cap: int, now: float) -> int:
    """Close as exhausted the waiting leads already at their campaign's (lowered) attempt cap."""
    async with db.transaction() as conn:
        return await _close_over_cap(conn, caps, default_cap, now)


async def _close_over_cap(conn: Conn, caps: dict[str, int], default_cap: int, now: float) -> int:
    closed: list[int] = []
    for campaign, cap in caps.items():
        rows = await sql.rows(
            conn,
            "UPDATE leads SET state = 'closed', close_reason = 'exhausted', closed_at = ?,"
            " updated_at = ? WHERE state = 'waiting' AND campaign = ?"
            " AND attempts >= ? + extra_attempts RETURNING id",
            (now, now, campaign, cap),
        )
        closed += [row[0] for row in rows]
    marks = ",".join("?" * len(caps))
    rows = await sql.rows(
        conn,
        "UPDATE leads SET state = 'closed', close_reason = 'exhausted', closed_at = ?,"
        f" updated_at = ? WHERE state = 'waiting' AND campaign NOT IN ({marks})"
        " AND attempts >= ? + extra_attempts RETURNING id",
        (now, now, *caps, default_cap),
    )
    closed += [row[0] for row in rows]
    for lead_id in closed:
        await enqueue_result(conn, lead_id, now)
    return len(closed)


@contextlib.asynccontextmanager
async def as_reranked(
    db: Store,
    schemes: dict[str, Scheme],
    default: Scheme,
    caps: dict[str, int],
    default_cap: int,
    now: float,
) -> AsyncIterator[Store]:
    """The store as a daemon started on this config sees it after its start-up re-rank
    (schemes and caps), for reads on the store it yields: the changes are made in a
    transaction that is always rolled back, so the store itself is left as it was.
    ``plan`` and ``explain`` read through this, to show what the daemon will do. On SQLite
    that is ``db`` itself (its one connection holds the transaction); on PostgreSQL a view
    of the pool whose reads go to the connection holding it (another connection of the
    pool would not see the uncommitted changes)."""
    async with db.rolled_back() as conn:
        await _rerank(conn, schemes, default, caps, default_cap)
        await _close_over_cap(conn, caps, default_cap, now)
        yield db.pinned(conn) if isinstance(db, PgDatabase) and isinstance(conn, PgConn) else db


# SQLite's planner otherwise takes leads_pick, which also covers the query, and reads every
# waiting lead (0.1 ms per 1,000, in each claim): on leads_waiting_due MIN is its first entry.
NEXT_DUE = "SELECT MIN(due_at) FROM leads INDEXED BY leads_waiting_due WHERE state = 'waiting'"


async def next_due_at(db: Store) -> float | None:
    """The earliest due time of any waiting lead (index leads_waiting_due)."""
    row = await sql.row(db.conn, NEXT_DUE)
    return row[0] if row else None
