"""The durable outbox of results for the CRM (R9): written in the transaction of the result.

``enqueue_result`` runs inside the caller's open write transaction (a disposition, or a
lead closed as exhausted or dnc), so a result exists in the store exactly when its
message does. The delivery worker (``dialerd.crm.delivery``) sends it afterwards and
marks it delivered only after the CRM's 2xx; a crash in between sends it again with the
same ``Idempotency-Key``, which is what the key is for.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite
import structlog

from dialerd.formats import crm_time, decimal_amount
from dialerd.store import sql
from dialerd.store.dialect import Statement
from dialerd.store.pg import LEADS_CHANNEL
from dialerd.store.sql import Conn, Row, Sql, Store

log = structlog.get_logger(__name__)

MESSAGE_TYPE = "lead.result"
# How long a worker's claim on a message lasts when it names none: longer than any try
# (``dialerd.delivery.worker`` bounds each), so a claim runs out only if its worker died.
CLAIM_S = 300.0
# Close reasons that happen without an operator's result: their message says so.
CLOSED_WITHOUT_DISPOSITION = frozenset({"exhausted", "dnc", "reached", "cancelled"})

_listeners: weakref.WeakKeyDictionary[object, list[Callable[[], None]]] = (
    weakref.WeakKeyDictionary()
)


def _store_of(conn: Conn) -> object:
    """What identifies the store behind ``conn``: SQLite's one connection, or the
    PostgreSQL store whose pool the connection came from."""
    return conn if isinstance(conn, aiosqlite.Connection) else conn.database


def on_enqueue(conn: Conn, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` (soon, from the loop) after each message enqueued on ``conn``'s store.

    The worker reads the outbox under the store's write lock, so a wake-up that comes
    before the enqueuing transaction commits simply waits for it. Returns an unsubscribe.
    """
    callbacks = _listeners.setdefault(_store_of(conn), [])
    callbacks.append(callback)
    return lambda: callbacks.remove(callback) if callback in callbacks else None


class NothingToReport(ValueError):
    """The lead has neither an operator's result nor a close reason."""


async def enqueue_result(conn: Conn, lead_id: int, now: float) -> None:
    """Record the lead's current result for the CRM, inside the caller's write transaction.

    The result is the lead's latest disposition, unless the lead was closed without one
    after it (exhausted, dnc); then it is the close reason. Enqueuing the same result twice
    (same disposition, same close) is a no-op: the idempotency key is derived from it.
    """
    lead = await _one(conn, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    if lead is None:
        raise NothingToReport(f"no lead {lead_id}")
    disposition = await _one(
        conn,
        "SELECT * FROM dispositions WHERE lead_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
        (lead_id,),
    )
    closed_after = (
        lead["state"] == "closed"
        and lead["close_reason"] in CLOSED_WITHOUT_DISPOSITION
        and (disposition is None or lead["closed_at"] > disposition["created_at"])
    )
    if disposition is not None and not closed_after:
        cause = f"d{disposition['id']}"
        attempt = await _one(
            conn, "SELECT * FROM attempts WHERE id = ?", (disposition["attempt_id"],)
        )
    elif lead["state"] == "closed" and lead["close_reason"]:
        disposition = None
        cause = f"l{lead_id}-{lead['close_reason']}-{round(lead['closed_at'] * 1000)}"
        attempt = await _one(
            conn,
            "SELECT * FROM attempts WHERE lead_id = ? ORDER BY number DESC LIMIT 1",
            (lead_id,),
        )
    else:
        raise NothingToReport(f"lead {lead_id} has no result yet (state {lead['state']})")
    key = f"dialerd-{await _store_token(conn)}-{cause}"
    body = result_message(key, dict(lead), _dict(disposition), _dict(attempt), now)
    added = await sql.run(
        conn,
        "INSERT INTO outbox (idempotency_key, lead_id, payload, created_at, next_try_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        (key, lead_id, body, now, now),
    )
    if added:
        if sql.engine_of(conn) == "postgresql":
            # the daemon that pushes results may be another one: its LISTEN wakes it at commit
            await sql.run(conn, f"NOTIFY {LEADS_CHANNEL}")
        log.info("crm_result_enqueued", lead_id=lead_id, key=key, result=json.loads(body)["result"])
        loop = asyncio.get_running_loop()
        for callback in _listeners.get(_store_of(conn), ()):
            loop.call_soon(callback)


def result_message(
    key: str,
    lead: dict[str, Any],
    disposition: dict[str, Any] | None,
    attempt: dict[str, Any] | None,
    now: float,
) -> str:
    """The webhook body (README "CRM webhook"): the exact bytes that are signed and stored."""
    if disposition is not None:
        result, at = disposition["result"], disposition["created_at"]
        amount_minor = disposition["amount_minor"]
        if amount_minor is None and result == "confirmed":
            amount_minor = lead["amount_minor"]
        operator = disposition["operator"] or (attempt or {}).get("operator")
    else:
        result, at = lead["close_reason"], lead["closed_at"] or now
        amount_minor, operator = lead["amount_minor"], (attempt or {}).get("operator")
    call_id = (attempt or {}).get("call_id")
    recording_path = (attempt or {}).get("recording_path")
    message = {
        "type": MESSAGE_TYPE,
        "idempotency_key": key,
        "lead": {
            "id": lead["id"],
            "phone": lead["phone"],
            "name": lead["name"],
            "campaign": lead["campaign"],
            "source": lead["source"],
            "order_id": lead["order_id"],
            "order_amount": decimal_amount(lead["amount_minor"]),
            "received_at": crm_time(lead["received_at"]),
        },
        "order_id": lead["order_id"],
        "result": result,
        "result_at": crm_time(at),
        "closed": lead["state"] == "closed",
        "amount": decimal_amount(amount_minor),
        "amount_minor": amount_minor,
        "attempts": lead["attempts"],
        "operator": operator,
        "call_id": call_id,
        "recording_url": f"/api/v1/calls/{call_id}/recording" if recording_path else None,
        "recording_path": recording_path,
        "note": disposition["note"] if disposition else None,
        "flags": json.loads(disposition["flags"]) if disposition and disposition["flags"] else [],
        "callback_at": crm_time(disposition["callback_at"]) if disposition else None,
        "wrapup_s": disposition["wrapup_s"] if disposition else None,
        "first_attempt_at": crm_time(lead["first_attempt_at"]),
        "last_attempt_at": crm_time(lead["last_attempt_at"]),
    }
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


# --- the worker's and the CLI's queries -------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: int
    key: str
    lead_id: int
    payload: str
    attempts: int


def claim_due(table: str, returning: str) -> Sql:
    """The claim of a delivery queue (this outbox, the alerts): the oldest due pending row
    nobody else is sending, claimed until the first parameter in the same statement. On
    PostgreSQL several daemons' workers may look at once: the row is locked as it is picked
    (``SKIP LOCKED``, so a second worker takes the next row instead of waiting); on SQLite
    the single writer serialises the workers. Parameters: claim until, now, now."""
    pick = (
        "WHERE state = 'pending' AND next_try_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_try_at, id LIMIT 1"
    )
    claim = f"UPDATE {table} SET claimed_until = ? WHERE id = ("
    return Sql(
        sqlite=f"{claim}SELECT id FROM {table} INDEXED BY {table}_due {pick})"
        f" RETURNING {returning}",
        postgresql=f"{claim}SELECT id FROM {table} {pick} FOR UPDATE SKIP LOCKED)"
        f" RETURNING {returning}",
    )


_CLAIM = claim_due("outbox", "id, idempotency_key, lead_id, payload, attempts")


async def next_due(db: Store, now: float, claim_until: float | None = None) -> Message | None:
    """The oldest due pending message, claimed for the caller until ``claim_until`` (default:
    ``now`` + ``CLAIM_S``): no other worker takes it before its try is recorded or the claim
    runs out, so two daemons never push the same result at once. Committed ones only."""
    until = now + CLAIM_S if claim_until is None else claim_until
    async with db.transaction() as conn:
        row = await _one(conn, _CLAIM, (until, now, now))
    if row is None:
        return None
    return Message(row[0], row[1], row[2], row[3], row[4])


async def next_try_at(db: Store) -> float | None:
    """When a pending message may next be taken: its retry time, or the end of another
    worker's claim on it (a message being sent is not due again until then)."""
    async with db.transaction() as conn:
        row = await _one(
            conn,
            "SELECT MIN(MAX(next_try_at, COALESCE(claimed_until, 0))) FROM outbox"
            " WHERE state = 'pending'",
            (),
        )
    return None if row is None else row[0]


async def record_try(
    db: Store,
    message_id: int,
    state: str,
    next_try: float | None,
    error: str | None,
    now: float,
) -> None:
    """One try's result. A delivery also brings forward the other messages' retries:
    the CRM is evidently up again, so nothing waits out a long backoff for nothing."""
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "UPDATE outbox SET attempts = attempts + 1, state = ?, next_try_at = COALESCE(?, next_try_at),"
            " last_error = COALESCE(?, last_error), delivered_at = ?, claimed_until = NULL"
            " WHERE id = ? AND state = 'pending'",
            (state, next_try, error, now if state == "delivered" else None, message_id),
        )
        if state == "delivered":
            await sql.run(
                conn,
                "UPDATE outbox SET next_try_at = ? WHERE state = 'pending' AND next_try_at > ?"
                " AND attempts > 0",
                (now, now),
            )


async def pending_count(db: Store) -> int:
    row = await sql.row(
        db.conn, "SELECT COUNT(*) FROM outbox INDEXED BY outbox_due WHERE state = 'pending'"
    )
    return int(row[0]) if row else 0


async def parked_count(db: Store) -> int:
    """Messages given up on after max tries, waiting for `dialerd outbox retry`."""
    rows = await sql.rows(
        db.conn, "SELECT COUNT(*) FROM outbox INDEXED BY outbox_state WHERE state = 'parked'"
    )
    return int(list(rows)[0][0])


async def messages(
    db: Store, state: str | None = None, limit: int = 100, after_id: int = 0
) -> list[dict[str, Any]]:
    where, args = "id > ?", list[object]([after_id])
    if state is not None:
        where += " AND state = ?"
        args.append(state)
    rows = await sql.rows(
        db.conn, f"SELECT * FROM outbox WHERE {where} ORDER BY id LIMIT ?", (*args, limit)
    )
    return [dict(row) for row in rows]


class NotParked(ValueError):
    pass


async def retry_parked(db: Store, message_id: int | None, now: float) -> int:
    """Parked → pending, due now, with a fresh set of tries. ``None``: every parked message."""
    async with db.transaction() as conn:
        if message_id is not None:
            row = await _one(conn, "SELECT state FROM outbox WHERE id = ?", (message_id,))
            if row is None:
                raise NotParked(f"no outbox message {message_id}")
            if row[0] != "parked":
                raise NotParked(f"message {message_id} is {row[0]}, not parked")
        return await sql.run(
            conn,
            Sql(
                sqlite="UPDATE outbox SET state = 'pending', attempts = 0, next_try_at = ?"
                " WHERE state = 'parked' AND (? IS NULL OR id = ?)",
                # PostgreSQL cannot tell the type of a parameter that is only tested for NULL
                postgresql="UPDATE outbox SET state = 'pending', attempts = 0, next_try_at = ?"
                " WHERE state = 'parked' AND (CAST(? AS BIGINT) IS NULL OR id = ?)",
            ),
            (now, message_id, message_id),
        )


# --- helpers --------------------------------------------------------------------------------


async def _one(conn: Conn, statement: Statement, args: tuple[Any, ...]) -> Row | None:
    """One row in one trip to the database thread (enqueue runs inside others' transactions)."""
    return await sql.row(conn, statement, args)


_tokens: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


async def _store_token(conn: Conn) -> str:
    """The store's identity token (migration 0004); it never changes, so read it once."""
    token = _tokens.get(_store_of(conn))
    if token is None:
        row = await _one(conn, "SELECT token FROM store_identity WHERE id = 1", ())
        assert row is not None, "migration 0004 creates the store identity"
        token = _tokens[_store_of(conn)] = str(row[0])
    return token


def _dict(row: Row | None) -> dict[str, Any] | None:
    return None if row is None else dict(row)
