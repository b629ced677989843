"""Leads and their attempts: the queries the engine, the CLI and the API run.

The store only executes what the policy decided; it decides nothing itself.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialerd.domain import LeadState
from dialerd.pbx.tracking import FinishedCall
from dialerd.policy.phones import Phone
from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.policy.retry import LeadUpdate
from dialerd.store.db import Database


@dataclass(frozen=True)
class NewLead:
    phone: Phone
    campaign: str = "default"
    order_id: str | None = None
    name: str | None = None
    amount_minor: int | None = None
    items: list[Any] | None = None
    comment: str | None = None
    metadata: dict[str, Any] | None = None
    source: str = "api"
    callback_at: float | None = None


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
class InFlight:
    attempt_id: int
    lead_id: int
    call_id: str
    originated_at: float | None


async def insert_lead(db: Database, lead: NewLead, now: float) -> int:
    async with db.transaction() as conn:
        return await insert_lead_in(conn, lead, now)


async def insert_lead_in(conn: aiosqlite.Connection, lead: NewLead, now: float) -> int:
    """Insert inside the caller's transaction (intake runs its duplicate check in the same one)."""
    due_at = lead.callback_at if lead.callback_at is not None else now
    cursor = await conn.execute(
        "INSERT INTO leads (campaign, phone, order_id, name, amount_minor, items, comment, metadata,"
        " source, received_at, state, rank, due_at, callback_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?)",
        (
            lead.campaign,
            lead.phone.e164,
            lead.order_id,
            lead.name,
            lead.amount_minor,
            json.dumps(lead.items) if lead.items is not None else None,
            lead.comment,
            json.dumps(lead.metadata) if lead.metadata is not None else None,
            lead.source,
            now,
            NEW_LEAD_RANK,
            due_at,
            lead.callback_at,
            now,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def new_call_ids(lead_id: int, attempt_number: int) -> tuple[str, str]:
    """ChannelId and ActionID: unique, and readable in Asterisk's logs."""
    token = secrets.token_hex(4)
    return f"dialerd-{lead_id}-{attempt_number}-{token}", f"orig-{lead_id}-{attempt_number}-{token}"


async def claim_next(
    db: Database, now: float, ranks: tuple[int, ...], *, mode: str = "customer_first"
) -> Claim | None:
    """Pick the next lead and commit its attempt in one write transaction.

    The lead becomes 'dialing', so no other pick (in this process or after a
    restart) can take it until the attempt is finished.
    """
    async with db.transaction() as conn:
        row = None
        for rank in ranks:
            async with conn.execute(
                "SELECT id, phone, campaign, attempts FROM leads"
                " WHERE state = 'waiting' AND rank = ? AND due_at <= ?"
                " ORDER BY due_at, id LIMIT 1",
                (rank, now),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                break
        if row is None:
            return None
        lead_id, number = row["id"], row["attempts"] + 1
        call_id, action_id = new_call_ids(lead_id, number)
        cursor = await conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'dialing', ?)",
            (lead_id, number, call_id, action_id, row["campaign"], row["phone"], mode, now),
        )
        attempt_id = cursor.lastrowid
        assert attempt_id is not None
        await conn.execute(
            "UPDATE leads SET state = 'dialing', attempts = ?, last_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ? WHERE id = ?",
            (number, now, now, now, lead_id),
        )
    return Claim(
        lead_id=lead_id,
        attempt_id=attempt_id,
        attempt_number=number,
        call_id=call_id,
        action_id=action_id,
        phone=Phone(row["phone"]),
        campaign=row["campaign"],
    )


async def unclaim(db: Database, claim: Claim, now: float) -> None:
    """Undo a claim whose Originate was provably never written (PBX not connected)."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM attempts WHERE id = ? AND status = 'dialing'", (claim.attempt_id,)
        )
        await conn.execute(
            "UPDATE leads SET state = 'waiting', attempts = attempts - 1,"
            " first_attempt_at = (SELECT MIN(created_at) FROM attempts WHERE lead_id = leads.id),"
            " last_attempt_at = (SELECT MAX(created_at) FROM attempts WHERE lead_id = leads.id),"
            " updated_at = ? WHERE id = ? AND state = 'dialing'",
            (now, claim.lead_id),
        )


async def mark_originated(db: Database, attempt_id: int, at: float) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE attempts SET originated_at = ? WHERE id = ?", (at, attempt_id))


async def lead_attempts(db: Database, lead_id: int) -> int:
    async with db.conn.execute("SELECT attempts FROM leads WHERE id = ?", (lead_id,)) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def finish_attempt(db: Database, call: FinishedCall, update: LeadUpdate, now: float) -> None:
    """Record an attempt's outcome and the lead's next state in one transaction."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE attempts SET status = 'done', outcome = ?, reason_code = ?, hangup_cause = ?,"
            " answered_at = ?, ended_at = ?, ring_s = ?, talk_s = ?, note = ?"
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
                call.attempt_id,
            ),
        )
        closed = update.state is LeadState.CLOSED
        await conn.execute(
            "UPDATE leads SET state = ?, rank = ?, due_at = ?, last_outcome = ?,"
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


async def in_flight(db: Database) -> list[InFlight]:
    """Attempts that were dialing when the previous run ended (or are dialing now)."""
    async with db.conn.execute(
        "SELECT id, lead_id, call_id, originated_at FROM attempts WHERE status = 'dialing' ORDER BY id"
    ) as cursor:
        rows = await cursor.fetchall()
    return [InFlight(r["id"], r["lead_id"], r["call_id"], r["originated_at"]) for r in rows]


async def next_due_at(db: Database, ranks: tuple[int, ...]) -> float | None:
    """The earliest due time of any waiting lead (one index lookup per rank)."""
    found: list[float] = []
    for rank in ranks:
        async with db.conn.execute(
            "SELECT MIN(due_at) FROM leads WHERE state = 'waiting' AND rank = ?", (rank,)
        ) as cursor:
            row = await cursor.fetchone()
        if row and row[0] is not None:
            found.append(row[0])
    return min(found) if found else None


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
