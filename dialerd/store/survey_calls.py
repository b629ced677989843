"""Survey calls (``survey_calls``, migration 0018): the SQL.

Written inside the operator's result transaction (``store/dispositions.py``): the survey lead
and its row are there exactly when the confirmation is, and a second confirmation of the
same lead adds nothing. Read by the dial path to tell the survey IVR which conversation the
answers are about.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store import sql
from dialerd.store.leads import next_lead_id, notify_new_leads
from dialerd.store.sql import Conn, Store


@dataclass(frozen=True)
class SurveyedSale:
    """The conversation a survey call asks about: its lead and attempt."""

    lead_id: int
    attempt_id: int


_COPY = (
    "campaign, phone, order_id, name, amount_minor, source, received_at, state, rank, due_at,"
    " updated_at, timezone, region"
)
_SURVEY_LEAD = (
    f"INSERT INTO leads ({_COPY})"
    " SELECT ?, phone, order_id, name, amount_minor, 'survey', ?, 'waiting', ?, ?, ?,"
    " timezone, region FROM leads WHERE id = ?"
)
# PostgreSQL: the id is intake's (``next_lead_id``), and a parameter in a SELECT list is typed
# text unless told
_SURVEY_LEAD_PG = (
    f"INSERT INTO leads (id, {_COPY})"
    " SELECT ?::bigint, ?::text, phone, order_id, name, amount_minor, 'survey',"
    " ?::double precision, 'waiting', ?::bigint, ?::double precision, ?::double precision,"
    " timezone, region FROM leads WHERE id = ?"
)


async def schedule_in(
    conn: Conn,
    sale: SurveyedSale,
    campaign: str,
    due_at: float,
    now: float,
) -> int | None:
    """Add the survey lead (``campaign``, due at ``due_at``) for ``sale``; None when the lead
    already has one, or when that conversation was already surveyed (the card's button)."""
    found = await sql.row(
        conn,
        "SELECT 1 FROM survey_calls WHERE of_lead = ?"
        " UNION ALL SELECT 1 FROM survey_answers WHERE attempt_id = ?",
        (sale.lead_id, sale.attempt_id),
    )
    if found is not None:
        return None
    copied = (campaign, now, NEW_LEAD_RANK, due_at, now, sale.lead_id)
    # the sale's lead was read in this transaction, so the copy is one row
    if sql.engine_of(conn) == "postgresql":
        lead_id = await next_lead_id(conn)
        await sql.run(conn, _SURVEY_LEAD_PG, (lead_id, *copied))
        await notify_new_leads(conn)  # other daemons sharing the store learn of its due time
    else:
        lead_id = await sql.insert(conn, _SURVEY_LEAD, copied)
    await sql.run(
        conn,
        "INSERT INTO survey_calls (of_lead, of_attempt, lead_id, created_at) VALUES (?, ?, ?, ?)",
        (sale.lead_id, sale.attempt_id, lead_id, now),
    )
    return lead_id


async def sale_of(db: Store, survey_lead_id: int) -> SurveyedSale | None:
    """The conversation the survey lead asks about (None: a lead put in the campaign by hand)."""
    row = await sql.row(
        db.conn, "SELECT of_lead, of_attempt FROM survey_calls WHERE lead_id = ?", (survey_lead_id,)
    )
    return None if row is None else SurveyedSale(int(row[0]), int(row[1]))


async def of_sale(db: Store, lead_id: int) -> dict[str, object] | None:
    """The survey call row of a confirmed lead (None: none was scheduled)."""
    row = await sql.row(db.conn, "SELECT * FROM survey_calls WHERE of_lead = ?", (lead_id,))
    return None if row is None else dict(row)
