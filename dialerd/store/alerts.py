"""Alerts in the store: their causes (each alerted once) and one message per channel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialerd.policy.alerting import Alert, WaitingNewLead
from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store import sql
from dialerd.store.outbox import CLAIM_S, claim_due
from dialerd.store.sql import Conn, Store


async def raise_alert(conn: Conn, alert: Alert, channels: Sequence[str], now: float) -> bool:
    """Record the alert's causes; if any is new, queue one message per channel. In the
    caller's transaction. False when every cause was already alerted (nothing queued)."""
    new = 0
    for key in alert.causes:
        changed = await sql.run(
            conn,
            "INSERT INTO alert_causes (key, raised_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, now),
        )
        new += changed
    if not new:
        return False
    body = json.dumps(
        {"kind": alert.kind.value, "text": alert.text, "details": dict(alert.details)},
        ensure_ascii=False,
    )
    for channel in channels:
        await sql.run(
            conn,
            "INSERT INTO alerts (kind, channel, subject, body, created_at, next_try_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alert.kind.value, channel, alert.subject, body, now, now),
        )
    return True


async def raised_causes(conn: Conn, keys: Sequence[str], prefix: str) -> dict[str, float]:
    """The causes raised among ``keys`` and those starting with ``prefix``, by key: one read
    that tells a look which of its checks has anything to write (most looks: none)."""
    marks = ", ".join("?" * len(keys))
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first key past the prefix's range
    rows = await sql.rows(
        conn,
        f"SELECT key, raised_at FROM alert_causes WHERE key IN ({marks}) OR (key >= ? AND key < ?)",
        (*keys, prefix, after),
    )
    return {str(r[0]): float(r[1]) for r in rows}


async def cause_raised_at(conn: Conn, key: str) -> float | None:
    row = await sql.row(conn, "SELECT raised_at FROM alert_causes WHERE key = ?", (key,))
    return None if row is None else float(row[0])


async def clear_cause(conn: Conn, key: str) -> None:
    """The cause has ended (AMI back, backlog drained): the next occurrence alerts again."""
    await sql.run(conn, "DELETE FROM alert_causes WHERE key = ?", (key,))


async def get_state(conn: Conn, name: str, default: float) -> float:
    row = await sql.row(conn, "SELECT value FROM alert_state WHERE name = ?", (name,))
    return default if row is None else float(row[0])


async def set_state(conn: Conn, name: str, value: float) -> None:
    await sql.run(
        conn,
        "INSERT INTO alert_state (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


_NEW_WAITING = (
    f"FROM leads INDEXED BY leads_new_by_deadline WHERE state = 'waiting'"
    f" AND rank = {NEW_LEAD_RANK:d} AND attempts = 0 AND deadline_at IS NOT NULL"
)


async def near_deadline(conn: Conn, horizon: float) -> list[WaitingNewLead]:
    """Never-dialed waiting leads with a deadline up to ``horizon`` not yet alerted as missed."""
    rows = await sql.rows(
        conn,
        "SELECT id, phone, source, deadline_at,"
        " EXISTS (SELECT 1 FROM alert_causes WHERE key = 'stl_warn:' || leads.id) AS warned"
        f" {_NEW_WAITING} AND deadline_at <= ?"
        " AND NOT EXISTS (SELECT 1 FROM alert_causes WHERE key = 'stl_missed:' || leads.id)"
        " ORDER BY deadline_at, id",
        (horizon,),
    )
    return [WaitingNewLead(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


async def past_deadline(conn: Conn, now: float, limit: int) -> tuple[list[WaitingNewLead], int]:
    """Never-dialed waiting leads whose deadline has passed: the first ``limit``, and how
    many there are."""
    rows = await sql.rows(
        conn,
        f"SELECT id, phone, source, deadline_at {_NEW_WAITING} AND deadline_at <= ?"
        " ORDER BY deadline_at, id LIMIT ?",
        (now, limit),
    )
    row = await sql.row(conn, f"SELECT COUNT(*) {_NEW_WAITING} AND deadline_at <= ?", (now,))
    count = int(row[0]) if row is not None else 0
    return [WaitingNewLead(r[0], r[1], r[2], r[3], True) for r in rows], count


async def answer_waits(conn: Conn, since: float) -> list[float]:
    """Seconds from the customer's answer to the operator, answered customer-first calls
    started since ``since`` (index attempts_created)."""
    rows = await sql.rows(
        conn,
        "SELECT MAX(0.0, operator_at - answered_at) FROM attempts WHERE created_at >= ?"
        " AND mode != 'agent_first' AND answered_at IS NOT NULL AND operator_at IS NOT NULL",
        (since,),
    )
    return [float(row[0]) for row in rows]


_FIRST_DEADLINE_AFTER = f"SELECT MIN(deadline_at) {_NEW_WAITING} AND deadline_at > ?"


async def first_deadline_after(conn: Conn, after: float) -> float | None:
    row = await sql.row(conn, _FIRST_DEADLINE_AFTER, (after,))
    return _instant(row[0]) if row is not None else None


async def first_deadlines_after(
    conn: Conn, now: float, horizon: float
) -> tuple[float | None, float | None]:
    """``first_deadline_after`` for ``now`` and for ``horizon``, in one read."""
    row = await sql.row(
        conn, f"SELECT ({_FIRST_DEADLINE_AFTER}), ({_FIRST_DEADLINE_AFTER})", (now, horizon)
    )
    return (_instant(row[0]), _instant(row[1])) if row is not None else (None, None)


def _instant(value: Any) -> float | None:
    return None if value is None else float(value)


async def results_after(conn: Conn, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    rows = await sql.rows(
        conn, "SELECT id, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )
    return [(int(r[0]), json.loads(r[1])) for r in rows]


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    id: int
    kind: str
    channel: str
    subject: str
    body: dict[str, Any]
    created_at: float
    attempts: int


_CLAIM = claim_due("alerts", "id, kind, channel, subject, body, created_at, attempts")


async def next_due(db: Store, now: float, claim_until: float | None = None) -> Outgoing | None:
    """The oldest due pending alert, claimed for the caller until ``claim_until`` (default:
    ``now`` + ``outbox.CLAIM_S``), so no other worker sends it meanwhile."""
    until = now + CLAIM_S if claim_until is None else claim_until
    async with db.transaction() as conn:
        row = await sql.row(conn, _CLAIM, (until, now, now))
    if row is None:
        return None
    return Outgoing(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6])


async def next_try_at(db: Store) -> float | None:
    """The next retry time, or the end of another worker's claim (``outbox.next_try_at``)."""
    async with db.transaction() as conn:
        row = await sql.row(
            conn,
            "SELECT MIN(MAX(next_try_at, COALESCE(claimed_until, 0))) FROM alerts"
            " WHERE state = 'pending'",
        )
    return None if row is None or row[0] is None else float(row[0])


async def record_try(
    db: Store, alert_id: int, state: str, next_try: float | None, error: str | None, now: float
) -> None:
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "UPDATE alerts SET attempts = attempts + 1, state = ?,"
            " next_try_at = COALESCE(?, next_try_at), last_error = COALESCE(?, last_error),"
            " sent_at = ?, claimed_until = NULL WHERE id = ? AND state = 'pending'",
            (state, next_try, error, now if state == "sent" else None, alert_id),
        )


async def all_alerts(db: Store) -> list[dict[str, Any]]:
    rows = await sql.rows(db.conn, "SELECT * FROM alerts ORDER BY id")
    return [dict(row) for row in rows]
