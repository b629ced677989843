"""Leads and their attempts: the queries the engine, the CLI and the API run.

The store only executes what the policy decided; it decides nothing itself.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialerd.domain import CloseReason, FinishedCall, LeadState
from dialerd.policy.dedup import KnownLead
from dialerd.policy.dnc import prefixes
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Defer, Dial, LeadView, Verdict
from dialerd.policy.priority import NEW_LEAD_RANK, Scheme, rank_sql
from dialerd.policy.retry import LeadUpdate
from dialerd.store.db import Database
from dialerd.store.outbox import enqueue_result


class JsonText(str):
    """A JSON value already encoded where it was checked (the API measures its size): stored as is."""


@dataclass(frozen=True)
class NewLead:
    phone: Phone
    campaign: str = "default"
    order_id: str | None = None
    name: str | None = None
    amount_minor: int | None = None
    items: list[Any] | JsonText | None = None
    comment: str | None = None
    metadata: dict[str, Any] | JsonText | None = None
    source: str = "api"
    callback_at: float | None = None


@dataclass(frozen=True)
class Placement:
    """Where intake's policy puts a new lead: its rank, deadline, and whether it is closed at once."""

    rank: int = NEW_LEAD_RANK
    deadline_at: float | None = None
    closed_as: CloseReason | None = None


@dataclass(frozen=True)
class Claim:
    """A lead taken for dialing, with its attempt row already committed."""

    lead_id: int
    attempt_id: int
    attempt_number: int
    call_id: str
    action_id: str
    phone: Phone
    campaign: str


@dataclass(frozen=True)
class CampaignFilter:
    """Which campaigns a pick may take leads from (those with a free operator, issue 4)."""

    names: tuple[str, ...]
    include: bool  # True: only these campaigns; False: every campaign but these


@dataclass(frozen=True)
class InFlight:
    attempt_id: int
    lead_id: int
    call_id: str
    originated_at: float | None


async def insert_lead(
    db: Database, lead: NewLead, now: float, placement: Placement | None = None
) -> int:
    async with db.transaction() as conn:
        return await insert_lead_in(conn, lead, now, placement or Placement(deadline_at=now))


_LEAD_COLUMNS = (
    "campaign, phone, order_id, name, amount_minor, items, comment, metadata, source,"
    " received_at, state, rank, due_at, callback_at, deadline_at, closed_at, close_reason,"
    " updated_at"
)


def _lead_row(lead: NewLead, placement: Placement, now: float) -> tuple[Any, ...]:
    """The values of ``_LEAD_COLUMNS`` for a new lead, as intake placed it."""
    closed = placement.closed_as is not None
    return (
        lead.campaign,
        lead.phone.e164,
        lead.order_id,
        lead.name,
        lead.amount_minor,
        _json(lead.items),
        lead.comment,
        _json(lead.metadata),
        lead.source,
        now,
        "closed" if closed else "waiting",
        placement.rank,
        lead.callback_at if lead.callback_at is not None else now,
        lead.callback_at,
        placement.deadline_at,
        now if closed else None,
        placement.closed_as.value if placement.closed_as is not None else None,
        now,
    )


def _json(value: list[Any] | dict[str, Any] | JsonText | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, JsonText):
        return str(value)
    return json.dumps(value)


async def insert_lead_in(
    conn: aiosqlite.Connection, lead: NewLead, now: float, placement: Placement
) -> int:
    """Insert inside the caller's transaction (intake runs its duplicate check in the same one)."""
    cursor = await conn.execute(
        f"INSERT INTO leads ({_LEAD_COLUMNS}) VALUES ({', '.join('?' * 18)})",
        _lead_row(lead, placement, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def known_leads(conn: aiosqlite.Connection, phone: Phone, campaign: str) -> list[KnownLead]:
    """Earlier leads of the same phone and campaign, for the duplicate rules (index leads_phone)."""
    async with conn.execute(
        "SELECT id, order_id, received_at FROM leads WHERE phone = ? AND campaign = ?",
        (phone.e164, campaign),
    ) as cursor:
        return [KnownLead(r[0], r[1], r[2]) for r in await cursor.fetchall()]


async def insert_duplicate_in(
    conn: aiosqlite.Connection, lead: NewLead, duplicate_of: int, rule: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO duplicates (campaign, phone, order_id, duplicate_of, rule, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (lead.campaign, lead.phone.e164, lead.order_id, duplicate_of, rule, now),
    )


async def on_dnc(conn: aiosqlite.Connection, phone: str) -> bool:
    options = prefixes(phone)
    marks = ",".join("?" * len(options))
    async with conn.execute(
        f"SELECT 1 FROM dnc WHERE pattern IN ({marks}) LIMIT 1", options
    ) as cursor:
        return await cursor.fetchone() is not None


async def known_leads_many(
    conn: aiosqlite.Connection, phones: list[str]
) -> dict[tuple[str, str], list[KnownLead]]:
    """Earlier leads of each phone, by (phone, campaign): the duplicate rules for a whole batch."""
    rows = await conn.execute_fetchall(
        "SELECT id, phone, campaign, order_id, received_at FROM leads"
        " WHERE phone IN (SELECT value FROM json_each(?))",
        (json.dumps(phones),),
    )
    known: dict[tuple[str, str], list[KnownLead]] = {}
    for row in rows:
        known.setdefault((row[1], row[2]), []).append(KnownLead(row[0], row[3], row[4]))
    return known


async def on_dnc_many(conn: aiosqlite.Connection, phones: list[str]) -> set[str]:
    """The phones of ``phones`` that the do-not-call list blocks (by number or prefix)."""
    if not await conn.execute_fetchall("SELECT 1 FROM dnc LIMIT 1"):
        return set()  # the usual case: no list, no probes
    options = sorted({prefix for phone in phones for prefix in prefixes(phone)})
    rows = await conn.execute_fetchall(
        "SELECT pattern FROM dnc WHERE pattern IN (SELECT value FROM json_each(?))",
        (json.dumps(options),),
    )
    patterns = {row[0] for row in rows}
    if not patterns:
        return set()
    return {phone for phone in phones if any(p in patterns for p in prefixes(phone))}


async def next_lead_id(conn: aiosqlite.Connection) -> int:
    """The id the next lead gets; stable while the caller holds the write transaction."""
    rows = await conn.execute_fetchall("SELECT COALESCE(MAX(id), 0) + 1 FROM leads")
    return int(rows[0][0])


async def insert_leads_many_in(
    conn: aiosqlite.Connection, rows: list[tuple[int, NewLead, Placement]], now: float
) -> None:
    """Insert leads with the ids intake gave them (``next_lead_id`` onwards)."""
    await _insert_many(
        conn,
        f"leads (id, {_LEAD_COLUMNS})",
        19,
        [(lead_id, *_lead_row(lead, placement, now)) for lead_id, lead, placement in rows],
    )


async def insert_duplicates_many_in(
    conn: aiosqlite.Connection, rows: list[tuple[NewLead, int, str]], now: float
) -> None:
    """Record rejected duplicates (lead, the lead it duplicates, rule): they feed the duplicate rate."""
    await _insert_many(
        conn,
        "duplicates (campaign, phone, order_id, duplicate_of, rule, received_at)",
        6,
        [
            (lead.campaign, lead.phone.e164, lead.order_id, duplicate_of, rule, now)
            for lead, duplicate_of, rule in rows
        ],
    )


# Rows per INSERT statement: 1,000 x 19 values (an API batch in one) stays under
# SQLite's default limit of 32,766 variables (3.32+).
_ROWS_PER_INSERT = 1000


async def _insert_many(
    conn: aiosqlite.Connection, target: str, width: int, values: list[tuple[Any, ...]]
) -> None:
    """Multi-row ``INSERT ... VALUES (...), (...)``: a few statements instead of one per row.

    ``executemany`` steps once per row, and each step releases and re-takes the GIL: while
    the event loop is busy (parsing the next batch), every row then waits for the loop's
    switch interval (5 ms), and a batch of 1,000 crawls. One statement binds all its values
    at once and runs all its rows in a single step, off the GIL.
    """
    for start in range(0, len(values), _ROWS_PER_INSERT):
        chunk = values[start : start + _ROWS_PER_INSERT]
        await conn.execute(
            f"INSERT INTO {target} VALUES {_placeholders(width, len(chunk))}",
            [value for row in chunk for value in row],
        )


@functools.lru_cache(maxsize=32)
def _placeholders(width: int, count: int) -> str:
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * count)


def new_call_ids(lead_id: int, attempt_number: int) -> tuple[str, str]:
    """ChannelId and ActionID: unique, and readable in Asterisk's logs."""
    token = secrets.token_hex(4)
    return f"dialerd-{lead_id}-{attempt_number}-{token}", f"orig-{lead_id}-{attempt_number}-{token}"


_VIEW_COLUMNS = (
    "id, phone, campaign, state, rank, attempts, received_at, due_at, deadline_at, callback_at,"
    " last_outcome, close_reason"
)
# A lead is on the do-not-call list when any prefix of its phone is: 15 primary-key probes.
_ON_DNC = (
    "EXISTS (SELECT 1 FROM dnc WHERE pattern IN ("
    + ", ".join(f"substr(phone, 1, {n})" for n in range(2, 17))
    + ")) AS on_dnc"
)
# Due leads judged per rank in one query: one for the usual pick, more once the policy
# has deferred or closed some on the way (every row costs its DNC probes).
_PICK_BATCHES = (1, 8, 8, 32, 32, 128)


_FILTER_SQL = {
    None: "",
    True: " AND campaign IN (SELECT value FROM json_each(:campaigns))",
    False: " AND campaign NOT IN (SELECT value FROM json_each(:campaigns))",
}


def _due_arm(rank: int, include: bool | None = None) -> str:
    """One index range scan: new leads by deadline, every other rank by due time.

    The rank is a literal, not a parameter: SQLite only uses a partial index whose
    condition it can prove from the query text.
    """
    if rank == NEW_LEAD_RANK:
        index, key = "leads_new_by_deadline", "deadline_at"
    else:
        index, key = "leads_pick", "due_at"
    return (
        f"SELECT * FROM (SELECT {_VIEW_COLUMNS}, {_ON_DNC}, {int(rank):d} AS arm, {key} AS k"
        f" FROM leads INDEXED BY {index}"
        f" WHERE state = 'waiting' AND rank = {int(rank):d} AND due_at <= :now"
        f"{_FILTER_SQL[include]}"
        f" ORDER BY {key}, id LIMIT :per_rank)"
    )


@functools.cache
def _due_query(ranks: tuple[int, ...], include: bool | None = None) -> str:
    """Every rank's due leads in one statement (one trip to the database thread), in pick order."""
    return " UNION ALL ".join(_due_arm(rank, include) for rank in ranks) + " ORDER BY arm, k, id"


def _view(row: aiosqlite.Row) -> LeadView:
    return LeadView(
        lead_id=row["id"],
        phone=row["phone"],
        campaign=row["campaign"],
        state=row["state"],
        rank=row["rank"],
        attempts=row["attempts"],
        received_at=row["received_at"],
        due_at=row["due_at"],
        deadline_at=row["deadline_at"],
        callback_at=row["callback_at"],
        last_outcome=row["last_outcome"],
        close_reason=row["close_reason"],
        on_dnc=bool(row["on_dnc"]),
    )


async def due_leads(
    conn: aiosqlite.Connection,
    now: float,
    ranks: tuple[int, ...],
    per_rank: int,
    only: CampaignFilter | None = None,
) -> list[LeadView]:
    """Up to ``per_rank`` due leads of each rank, in pick order."""
    params: dict[str, Any] = {"now": now, "per_rank": per_rank}
    if only is not None:
        params["campaigns"] = json.dumps(list(only.names))
    query = _due_query(ranks, None if only is None else only.include)
    rows = await conn.execute_fetchall(query, params)
    return [_view(row) for row in rows]


async def claim_next(
    db: Database,
    now: float,
    ranks: tuple[int, ...],
    judge: Callable[[LeadView], Verdict],
    *,
    mode: str = "customer_first",
    only: CampaignFilter | None = None,
    mode_of: Callable[[str], str] | None = None,
) -> Claim | None:
    """Pick the next lead the policy accepts and commit its attempt, in one write transaction.

    Leads the policy defers get their new due time, leads it closes are closed, on
    the way. The picked lead becomes 'dialing', so no other pick (in this process
    or after a restart) can take it until its attempt is finished.
    """
    async with db.transaction() as conn:
        picked = None
        for per_rank in _PICK_BATCHES:
            batch = await due_leads(conn, now, ranks, per_rank, only)
            for lead in batch:
                verdict = judge(lead)
                if isinstance(verdict, Dial):
                    picked = lead
                    break
                if isinstance(verdict, Defer):
                    await conn.execute(
                        "UPDATE leads SET due_at = ?, updated_at = ? WHERE id = ?",
                        (verdict.until, now, lead.lead_id),
                    )
                else:
                    await _close_in(conn, lead.lead_id, verdict.reason, now)
            if picked is not None or not batch:
                break
        if picked is None:
            return None
        number = picked.attempts + 1
        call_id, action_id = new_call_ids(picked.lead_id, number)
        if mode_of is not None:
            mode = mode_of(picked.campaign)
        cursor = await conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'dialing', ?)",
            (picked.lead_id, number, call_id, action_id, picked.campaign, picked.phone, mode, now),
        )
        attempt_id = cursor.lastrowid
        assert attempt_id is not None
        await conn.execute(
            "UPDATE leads SET state = 'dialing', attempts = ?, last_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ? WHERE id = ?",
            (number, now, now, now, picked.lead_id),
        )
    return Claim(
        lead_id=picked.lead_id,
        attempt_id=attempt_id,
        attempt_number=number,
        call_id=call_id,
        action_id=action_id,
        phone=Phone(picked.phone),
        campaign=picked.campaign,
    )


async def _close_in(
    conn: aiosqlite.Connection, lead_id: int, reason: CloseReason, now: float
) -> None:
    cursor = await conn.execute(
        "UPDATE leads SET state = 'closed', close_reason = ?, closed_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'waiting'",
        (reason.value, now, now, lead_id),
    )
    if cursor.rowcount:
        await enqueue_result(conn, lead_id, now)  # the CRM hears of it (exhausted, dnc)


async def unclaim(db: Database, claim: Claim, now: float) -> None:
    """Undo a claim whose Originate was provably never written (PBX not connected)."""
    await take_back(db, claim.attempt_id, claim.lead_id, now)


async def take_back(db: Database, attempt_id: int, lead_id: int, now: float) -> None:
    """Undo an attempt that provably never reached the customer: the lead is due again as it was.

    Used when nothing was sent, and when an agent_first operator did not answer (the
    dialplan dials the customer only after the operator has).
    """
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM attempts WHERE id = ? AND status = 'dialing'", (attempt_id,)
        )
        await conn.execute(
            "UPDATE leads SET state = 'waiting', attempts = attempts - 1,"
            " first_attempt_at = (SELECT MIN(created_at) FROM attempts WHERE lead_id = leads.id),"
            " last_attempt_at = (SELECT MAX(created_at) FROM attempts WHERE lead_id = leads.id),"
            " updated_at = ? WHERE id = ? AND state = 'dialing'",
            (now, lead_id),
        )


async def mark_originated(db: Database, attempt_id: int, at: float) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE attempts SET originated_at = ? WHERE id = ?", (at, attempt_id))


async def lead_attempts(db: Database, lead_id: int) -> tuple[int, str]:
    """How many attempts the lead has had, and its campaign."""
    async with db.conn.execute(
        "SELECT attempts, campaign FROM leads WHERE id = ?", (lead_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "default")


async def finish_attempt(db: Database, call: FinishedCall, update: LeadUpdate, now: float) -> None:
    """Record an attempt's outcome and the lead's next state in one transaction."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE attempts SET status = 'done', outcome = ?, reason_code = ?, hangup_cause = ?,"
            " answered_at = ?, ended_at = ?, ring_s = ?, talk_s = ?, note = ?,"
            " operator = COALESCE(?, operator), operator_at = ?, recording_path = ?"
            " WHERE id = ? AND status = 'dialing'",
            (
                call.outcome.value,
                call.reason_code,
                call.hangup_cause,
                call.answered_at,
                call.ended_at,
                call.ring_s,
                call.talk_s,
                call.note,
                call.operator,
                call.operator_at,
                call.recording_path,
                call.attempt_id,
            ),
        )
        closed = update.state is LeadState.CLOSED
        await conn.execute(
            "UPDATE leads SET state = ?, rank = ?, due_at = ?, last_outcome = ?, callback_at = NULL,"
            " reached = MAX(reached, ?), closed_at = ?, close_reason = ?, updated_at = ?"
            " WHERE id = ?",
            (
                update.state.value,
                update.rank,
                update.due_at,
                call.outcome.value,
                1 if call.outcome.value == "answered" else 0,
                now if closed else None,
                update.close_reason.value if update.close_reason else None,
                now,
                call.lead_id,
            ),
        )
        if update.close_reason is CloseReason.EXHAUSTED:
            await enqueue_result(conn, call.lead_id, now)  # no operator's result will come


async def in_flight(db: Database) -> list[InFlight]:
    """Attempts that were dialing when the previous run ended (or are dialing now)."""
    async with db.conn.execute(
        "SELECT id, lead_id, call_id, originated_at FROM attempts WHERE status = 'dialing' ORDER BY id"
    ) as cursor:
        rows = await cursor.fetchall()
    return [InFlight(r["id"], r["lead_id"], r["call_id"], r["originated_at"]) for r in rows]


async def rerank(db: Database, schemes: dict[str, Scheme], default: Scheme) -> int:
    """Give waiting leads the rank their campaign's scheme gives them (after a scheme change).

    Leads of campaigns no longer configured follow the default campaign's scheme.
    """
    changed = 0
    async with db.transaction() as conn:
        for campaign, scheme in schemes.items():
            expr = rank_sql(scheme)
            cursor = await conn.execute(
                f"UPDATE leads SET rank = {expr} WHERE state = 'waiting' AND campaign = ? AND rank != {expr}",
                (campaign,),
            )
            changed += cursor.rowcount
        marks = ",".join("?" * len(schemes))
        expr = rank_sql(default)
        cursor = await conn.execute(
            f"UPDATE leads SET rank = {expr} WHERE state = 'waiting' AND campaign NOT IN ({marks})"
            f" AND rank != {expr}",
            tuple(schemes),
        )
        changed += cursor.rowcount
    return changed


async def close_over_cap(db: Database, caps: dict[str, int], default_cap: int, now: float) -> int:
    """Close as exhausted the waiting leads already at their campaign's (lowered) attempt cap."""
    closed: list[int] = []
    async with db.transaction() as conn:
        for campaign, cap in caps.items():
            rows = await conn.execute_fetchall(
                "UPDATE leads SET state = 'closed', close_reason = 'exhausted', closed_at = ?,"
                " updated_at = ? WHERE state = 'waiting' AND campaign = ? AND attempts >= ?"
                " RETURNING id",
                (now, now, campaign, cap),
            )
            closed += [row[0] for row in rows]
        marks = ",".join("?" * len(caps))
        rows = await conn.execute_fetchall(
            "UPDATE leads SET state = 'closed', close_reason = 'exhausted', closed_at = ?,"
            f" updated_at = ? WHERE state = 'waiting' AND campaign NOT IN ({marks}) AND attempts >= ?"
            " RETURNING id",
            (now, now, *caps, default_cap),
        )
        closed += [row[0] for row in rows]
        for lead_id in closed:
            await enqueue_result(conn, lead_id, now)
    return len(closed)


async def next_due_at(db: Database) -> float | None:
    """The earliest due time of any waiting lead (index leads_waiting_due)."""
    async with db.conn.execute("SELECT MIN(due_at) FROM leads WHERE state = 'waiting'") as cursor:
        row = await cursor.fetchone()
    return row[0] if row else None


async def lead_views(
    db: Database, where: str, args: tuple[Any, ...], order: str, limit: int
) -> list[LeadView]:
    """Leads as the policy sees them, for `plan` and `explain` (not the dial path)."""
    rows = await db.conn.execute_fetchall(
        f"SELECT {_VIEW_COLUMNS}, {_ON_DNC} FROM leads WHERE {where} ORDER BY {order} LIMIT ?",
        (*args, limit),
    )
    return [_view(row) for row in rows]


async def due_views(db: Database, now: float, ranks: tuple[int, ...], limit: int) -> list[LeadView]:
    """The first ``limit`` due leads in pick order."""
    return (await due_leads(db.conn, now, ranks, limit))[:limit]


async def recent_duplicates(db: Database, limit: int) -> list[dict[str, Any]]:
    async with db.conn.execute(
        "SELECT * FROM duplicates ORDER BY received_at DESC LIMIT ?", (limit,)
    ) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def get_lead(db: Database, lead_id: int) -> dict[str, Any] | None:
    async with db.conn.execute("SELECT * FROM leads WHERE id = ?", (lead_id,)) as cursor:
        row = await cursor.fetchone()
    return dict(row) if row else None


async def list_leads(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    async with db.conn.execute("SELECT * FROM leads ORDER BY id DESC LIMIT ?", (limit,)) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def attempts_of(db: Database, lead_id: int | None = None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM attempts", ()
    if lead_id is not None:
        sql, args = sql + " WHERE lead_id = ?", (lead_id,)
    async with db.conn.execute(sql + " ORDER BY id", args) as cursor:
        return [dict(row) for row in await cursor.fetchall()]
