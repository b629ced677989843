"""The lead desk in the store (issue 13): finding leads, and a supervisor's changes to one.

Every change is one write transaction that reads the lead, lets the policy
(``policy/desk.py``) decide, writes what it decided and the audit row together: an
action exists in the store exactly when its audit row does, and a lead being claimed by
the engine at the same moment is seen as 'dialing' and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialerd.domain import LeadState
from dialerd.policy import desk as rules
from dialerd.policy.desk import LeadFacts
from dialerd.policy.pick import Policy
from dialerd.store import audit, dnc, sql
from dialerd.store.dialect import Statement, text_for
from dialerd.store.leads import ON_DNC
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Conn, Sql, Store

SEARCH_LIMIT = 50


class LeadNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Found:
    """One line of the desk's search results."""

    lead_id: int
    phone: str
    name: str | None
    order_id: str | None
    campaign: str
    state: str
    close_reason: str | None
    attempts: int
    received_at: float


_SEARCH = (
    "SELECT id, phone, name, order_id, campaign, state, close_reason, attempts,"
    " received_at FROM leads WHERE {where} ORDER BY id DESC LIMIT ?"
)
_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# SQLite's LIKE folds ASCII letters only; PostgreSQL's folds none (ILIKE: every letter):
# the same folding, spelled out, so a search finds the same leads on both engines
_NAME_LIKE = Sql(
    sqlite="name LIKE ? ESCAPE '\\'",
    postgresql=f"translate(name, '{_ASCII}', '{_ASCII.lower()}')"
    f" LIKE translate(?, '{_ASCII}', '{_ASCII.lower()}') ESCAPE '\\'",
)


async def search(
    db: Store, *, phone: str | None, text: str, limit: int = SEARCH_LIMIT
) -> list[Found]:
    """Leads whose phone is ``phone`` (E.164, normalised as intake does) or whose order id is
    ``text``, or whose name contains ``text``; newest first.

    Phone and order id are index lookups; the name is a scan from the newest lead backwards
    that stops at ``limit`` matches (SQLite's LIKE folds ASCII letters only).
    """
    found: dict[int, Found] = {}
    queries: list[tuple[Statement, tuple[Any, ...]]] = []
    if phone is not None:
        queries.append(("phone = ?", (phone,)))
    if text:
        queries.append(("order_id = ?", (text,)))
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        queries.append((_NAME_LIKE, (pattern,)))
    for where, args in queries:
        rows = await sql.rows(
            db.conn,
            Sql(
                sqlite=_SEARCH.format(where=text_for(where, "sqlite")),
                postgresql=_SEARCH.format(where=text_for(where, "postgresql")),
            ),
            (*args, limit),
        )
        for row in rows:
            found.setdefault(row[0], Found(*tuple(row)))
    return sorted(found.values(), key=lambda f: f.lead_id, reverse=True)[:limit]


async def _facts(conn: Conn, lead_id: int) -> tuple[LeadFacts, str, str]:
    """The lead's facts, campaign and phone, read inside the caller's transaction."""
    rows = list(
        await sql.rows(
            conn,
            "SELECT state, close_reason, attempts, extra_attempts, campaign, phone,"
            f" {ON_DNC} FROM leads WHERE id = ?",
            (lead_id,),
        )
    )
    if not rows:
        raise LeadNotFound(lead_id)
    row = rows[0]
    facts = LeadFacts(
        state=LeadState(row["state"]),
        close_reason=row["close_reason"],
        attempts=row["attempts"],
        extra_attempts=row["extra_attempts"],
        on_dnc=bool(row["on_dnc"]),
    )
    return facts, str(row["campaign"]), str(row["phone"])


async def reschedule(
    db: Store, lead_id: int, at: float, policy: Policy, *, user: str, now: float
) -> None:
    """Call the lead back at ``at`` (checked by ``policy.desk.callback_time``); DeskRefused."""
    async with db.transaction() as conn:
        facts, campaign, _ = await _facts(conn, lead_id)
        change = rules.reschedule(facts, policy.campaign(campaign), at)
        await sql.run(
            conn,
            "UPDATE leads SET state = 'waiting', rank = ?, due_at = ?, callback_at = ?,"
            " closed_at = NULL, close_reason = NULL, updated_at = ? WHERE id = ?",
            (change.rank, change.at, change.at, now, lead_id),
        )
        await audit.record_in(
            conn,
            user=user,
            action="reschedule",
            at=now,
            lead_id=lead_id,
            details={
                "at": datetime.fromtimestamp(at, policy.tz).isoformat(timespec="minutes"),
                "was": facts.state.value,
                "close_reason": facts.close_reason,
            },
        )


async def close(db: Store, lead_id: int, note: str | None, *, user: str, now: float) -> None:
    """Close a waiting lead as cancelled; the CRM hears it. DeskRefused."""
    async with db.transaction() as conn:
        facts, _, _ = await _facts(conn, lead_id)
        reason = rules.close(facts)
        await sql.run(
            conn,
            "UPDATE leads SET state = 'closed', close_reason = ?, closed_at = ?, updated_at = ?"
            " WHERE id = ?",
            (reason.value, now, now, lead_id),
        )
        await enqueue_result(conn, lead_id, now)
        await audit.record_in(
            conn, user=user, action="close", at=now, lead_id=lead_id, details={"note": note}
        )


async def add_dnc(db: Store, lead_id: int, note: str, *, user: str, now: float) -> int:
    """Put the lead's phone on the do-not-call list (as ``dialerd dnc add``); how many waiting
    leads it closed. A lead being dialed now is closed by the engine's own check next time."""
    async with db.transaction() as conn:
        _, _, phone = await _facts(conn, lead_id)
        closed = await dnc.add_in(conn, phone, note, now)
        await audit.record_in(
            conn,
            user=user,
            action="dnc_add",
            at=now,
            lead_id=lead_id,
            target=phone,
            details={"note": note, "closed_leads": closed},
        )
    return closed


async def requeue(
    db: Store, lead_id: int, extra: int, policy: Policy, *, user: str, now: float
) -> int:
    """Give an exhausted lead ``extra`` more attempts, due now; its new cap. DeskRefused."""
    async with db.transaction() as conn:
        facts, campaign, _ = await _facts(conn, lead_id)
        rules_ = policy.campaign(campaign)
        change = rules.requeue(facts, rules_, extra)
        await sql.run(
            conn,
            "UPDATE leads SET state = 'waiting', rank = ?, due_at = ?, callback_at = NULL,"
            " extra_attempts = ?, closed_at = NULL, close_reason = NULL, updated_at = ?"
            " WHERE id = ?",
            (change.rank, now, change.extra_attempts, now, lead_id),
        )
        cap = rules_.max_attempts + change.extra_attempts
        await audit.record_in(
            conn,
            user=user,
            action="requeue",
            at=now,
            lead_id=lead_id,
            details={"extra": extra, "cap": cap, "attempts": facts.attempts},
        )
    return cap
