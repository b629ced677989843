"""Survey calls (``survey_calls``, migration 0018): the SQL.

Written inside the operator's result transaction (``store/dispositions.py``): the survey lead
and its row are there exactly when the confirmation is, and a second confirmation of the
same lead adds nothing. Read by the dial path to tell the survey IVR which conversation the
answers are about.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store.db import Database


@dataclass(frozen=True)
class SurveyedSale:
    """The conversation a survey call asks about: its lead and attempt."""

    lead_id: int
    attempt_id: int


async def schedule_in(
    conn: aiosqlite.Connection,
    sale: SurveyedSale,
    campaign: str,
    due_at: float,
    now: float,
) -> int | None:
    """Add the survey lead (``campaign``, due at ``due_at``) for ``sale``; None when the lead
    already has one, or when that conversation was already surveyed (the card's button)."""
    async with conn.execute(
        "SELECT 1 FROM survey_calls WHERE of_lead = ?"
        " UNION ALL SELECT 1 FROM survey_answers WHERE attempt_id = ?",
        (sale.lead_id, sale.attempt_id),
    ) as cursor:
        if await cursor.fetchone() is not None:
            return None
    cursor = await conn.execute(
        "INSERT INTO leads (campaign, phone, order_id, name, amount_minor, source, received_at,"
        " state, rank, due_at, updated_at, timezone, region)"
        " SELECT ?, phone, order_id, name, amount_minor, 'survey', ?, 'waiting', ?, ?, ?,"
        " timezone, region FROM leads WHERE id = ?",
        (campaign, now, NEW_LEAD_RANK, due_at, now, sale.lead_id),
    )
    if cursor.rowcount != 1 or cursor.lastrowid is None:
        return None
    lead_id = cursor.lastrowid
    await conn.execute(
        "INSERT INTO survey_calls (of_lead, of_attempt, lead_id, created_at) VALUES (?, ?, ?, ?)",
        (sale.lead_id, sale.attempt_id, lead_id, now),
    )
    return lead_id


async def sale_of(db: Database, survey_lead_id: int) -> SurveyedSale | None:
    """The conversation the survey lead asks about (None: a lead put in the campaign by hand)."""
    async with db.conn.execute(
        "SELECT of_lead, of_attempt FROM survey_calls WHERE lead_id = ?", (survey_lead_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else SurveyedSale(int(row[0]), int(row[1]))


async def of_sale(db: Database, lead_id: int) -> dict[str, object] | None:
    """The survey call row of a confirmed lead (None: none was scheduled)."""
    async with db.conn.execute(
        "SELECT * FROM survey_calls WHERE of_lead = ?", (lead_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else dict(row)
