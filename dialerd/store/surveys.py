"""The post-call survey's answers (``survey_answers``, migration 0014): the SQL.

One row per surveyed conversation, tied to its attempt: the campaign and the operator come
from the attempt as stored, never from what the dialplan said. A survey for an attempt the
store does not know (or whose lead is another) is refused, and a second one for the same
attempt keeps the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from dialerd.policy.alerting import SurveyedCall
from dialerd.store.db import Database


@dataclass(frozen=True)
class SurveyAnswer:
    attempt_id: int
    lead_id: int
    nps: int | None  # 0-10, checked by policy.score
    csat: int | None  # 1-5
    at: float

    @property
    def answered(self) -> bool:
        return self.nps is not None or self.csat is not None


async def record(conn: aiosqlite.Connection, answer: SurveyAnswer) -> bool:
    """Store ``answer``; False: no such attempt of that lead, or already surveyed."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO survey_answers"
        " (attempt_id, lead_id, campaign, operator, nps, csat, answered, at)"
        " SELECT id, lead_id, campaign, operator, ?, ?, ?, ? FROM attempts"
        " WHERE id = ? AND lead_id = ?",
        (
            answer.nps,
            answer.csat,
            1 if answer.answered else 0,
            answer.at,
            answer.attempt_id,
            answer.lead_id,
        ),
    )
    return cursor.rowcount == 1


async def campaign_of_call(conn: aiosqlite.Connection, call_id: str) -> tuple[str, str] | None:
    """(campaign, mode) of the attempt with this call id (None: no such attempt)."""
    async with conn.execute(
        "SELECT campaign, mode FROM attempts WHERE call_id = ?", (call_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


async def surveyed_after(
    conn: aiosqlite.Connection, after_id: int, limit: int
) -> list[tuple[int, SurveyedCall]]:
    """Answered surveys stored after row ``after_id``, oldest first: (row id, the answer)."""
    rows = await conn.execute_fetchall(
        "SELECT s.id, s.attempt_id, s.lead_id, l.phone, s.campaign, s.operator, s.nps, s.csat"
        " FROM survey_answers s JOIN leads l ON l.id = s.lead_id"
        " WHERE s.id > ? AND s.answered = 1 ORDER BY s.id LIMIT ?",
        (after_id, limit),
    )
    return [(int(r[0]), SurveyedCall(*r[1:])) for r in rows]


async def of_attempt(db: Database, attempt_id: int) -> dict[str, object] | None:
    async with db.conn.execute(
        "SELECT * FROM survey_answers WHERE attempt_id = ?", (attempt_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else dict(row)
