"""The operator's result of a call: recorded with the lead's new state in one transaction (R8).

The policy (``dialerd.policy.disposition``) decides; this module finds the call,
checks it inside the write transaction (so two results for one call cannot both
pass) and writes what was decided, with the survey call a confirmation asks for
(``policy/survey_call.py``) in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dialerd.domain import LeadState, Result
from dialerd.policy.disposition import (
    CallFacts,
    CloseLead,
    Decision,
    Disposition,
    DispositionConflict,
    Reopen,
    check,
    decide,
)
from dialerd.policy.pick import Policy
from dialerd.policy.survey_call import asks_survey, survey_due
from dialerd.store import sql, survey_calls
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Conn, Row, Store
from dialerd.store.survey_calls import SurveyedSale


class CallNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Recorded:
    """A disposition as stored; ``replayed`` when an identical one was already there."""

    disposition_id: int
    lead_id: int
    call_id: str
    disposition: Disposition
    wrapup_s: float | None
    created_at: float
    lead_state: str
    close_reason: str | None
    replayed: bool = False


async def record(
    db: Store, call_id: str, disposition: Disposition, policy: Policy, now: float
) -> Recorded:
    """Record ``disposition`` for the call and apply it to the lead, or raise.

    DispositionInvalid (422), DispositionConflict (409), CallNotFound (404). Sending
    the same disposition again returns the stored one (``replayed``), so a CRM may retry.
    """
    check(disposition, now)
    async with db.transaction() as conn:
        rows = await sql.rows(
            conn,
            "SELECT a.id AS attempt_id, a.lead_id, a.status, a.outcome, a.ended_at,"
            " l.state, l.close_reason, l.attempts, l.extra_attempts, l.campaign"
            " FROM attempts a JOIN leads l ON l.id = a.lead_id WHERE a.call_id = ?",
            (call_id,),
        )
        if not rows:
            raise CallNotFound(call_id)
        (row,) = rows
        earlier = await _existing(conn, row["attempt_id"])
        if earlier is not None:
            if earlier.disposition == disposition:
                return await _replay(conn, earlier)
            raise DispositionConflict(
                "disposition_exists",
                f"this call already has a result ({earlier.disposition.result}) and it differs",
            )
        facts = CallFacts(
            status=row["status"],
            outcome=row["outcome"],
            ended_at=row["ended_at"],
            lead_state=LeadState(row["state"]),
            close_reason=row["close_reason"],
            attempts=row["attempts"],
            extra_attempts=row["extra_attempts"],
        )
        decision = decide(disposition, facts, policy.campaign(row["campaign"]), now)
        new_id = await sql.insert(
            conn,
            "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor, callback_at,"
            " note, flags, operator, created_at, wrapup_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["attempt_id"],
                row["lead_id"],
                disposition.result.value,
                disposition.amount_minor,
                disposition.callback_at,
                disposition.note,
                json.dumps(list(disposition.flags)),
                disposition.operator,
                now,
                decision.wrapup_s,
            ),
        )
        await _apply(conn, row["lead_id"], decision, now)
        survey_call = policy.campaign(row["campaign"]).survey_call
        if survey_call is not None and asks_survey(disposition.result, survey_call):
            sale = SurveyedSale(row["lead_id"], row["attempt_id"])
            due_at = survey_due(now, survey_call, policy.window)
            await survey_calls.schedule_in(conn, sale, survey_call.campaign, due_at, now)
        if disposition.operator is not None:
            await sql.run(
                conn,
                "UPDATE attempts SET operator = COALESCE(operator, ?) WHERE id = ?",
                (disposition.operator, row["attempt_id"]),
            )
        await enqueue_result(conn, row["lead_id"], now)  # the CRM hears it with the result
        state, reason = await _lead_state(conn, row["lead_id"])
    return Recorded(
        disposition_id=new_id,
        lead_id=row["lead_id"],
        call_id=call_id,
        disposition=disposition,
        wrapup_s=decision.wrapup_s,
        created_at=now,
        lead_state=state,
        close_reason=reason,
    )


async def _apply(conn: Conn, lead_id: int, decision: Decision, now: float) -> None:
    match decision.change:
        case Reopen(callback_at=at, rank=rank):
            await sql.run(
                conn,
                "UPDATE leads SET state = 'waiting', rank = ?, due_at = ?, callback_at = ?,"
                " closed_at = NULL, close_reason = NULL, updated_at = ? WHERE id = ?",
                (rank, at, at, now, lead_id),
            )
        case CloseLead(reason=reason):
            await sql.run(
                conn,
                "UPDATE leads SET state = 'closed', close_reason = ?, callback_at = NULL,"
                " closed_at = ?, updated_at = ? WHERE id = ?",
                (reason.value, now, now, lead_id),
            )
        case _:
            pass


@dataclass(frozen=True)
class _Stored:
    disposition_id: int
    lead_id: int
    call_id: str
    disposition: Disposition
    wrapup_s: float | None
    created_at: float


async def _existing(conn: Conn, attempt_id: int) -> _Stored | None:
    rows = list(
        await sql.rows(
            conn,
            "SELECT d.*, a.call_id FROM dispositions d JOIN attempts a ON a.id = d.attempt_id"
            " WHERE d.attempt_id = ?",
            (attempt_id,),
        )
    )
    return _stored(rows[0]) if rows else None


def _stored(row: Row) -> _Stored:
    return _Stored(
        disposition_id=row["id"],
        lead_id=row["lead_id"],
        call_id=row["call_id"],
        disposition=Disposition(
            result=Result(row["result"]),
            amount_minor=row["amount_minor"],
            callback_at=row["callback_at"],
            note=row["note"],
            flags=tuple(json.loads(row["flags"] or "[]")),
            operator=row["operator"],
        ),
        wrapup_s=row["wrapup_s"],
        created_at=row["created_at"],
    )


async def _replay(conn: Conn, earlier: _Stored) -> Recorded:
    state, reason = await _lead_state(conn, earlier.lead_id)
    return Recorded(
        disposition_id=earlier.disposition_id,
        lead_id=earlier.lead_id,
        call_id=earlier.call_id,
        disposition=earlier.disposition,
        wrapup_s=earlier.wrapup_s,
        created_at=earlier.created_at,
        lead_state=state,
        close_reason=reason,
        replayed=True,
    )


async def _lead_state(conn: Conn, lead_id: int) -> tuple[str, str | None]:
    rows = list(
        await sql.rows(conn, "SELECT state, close_reason FROM leads WHERE id = ?", (lead_id,))
    )
    return rows[0]["state"], rows[0]["close_reason"]


async def of_lead(db: Store | Conn, lead_id: int) -> list[dict[str, Any]]:
    """Every disposition of the lead, oldest first, with its call id."""
    conn = sql.conn_of(db)
    rows = await sql.rows(
        conn,
        "SELECT d.*, a.call_id FROM dispositions d JOIN attempts a ON a.id = d.attempt_id"
        " WHERE d.lead_id = ? ORDER BY d.id",
        (lead_id,),
    )
    return [dict(row) for row in rows]
