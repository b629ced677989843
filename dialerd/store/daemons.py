"""The daemons sharing a PostgreSQL store: who they are, their heartbeats, and the leases
their claims hold (tables of ``migrations/postgresql/1001_daemons.sql``).

A SQLite store has one daemon, held by its file lock (``lock.py``), and none of this. On
PostgreSQL a daemon registers an id at start, and its heartbeat both says it is alive and
renews the leases of the attempts it is dialing, in one transaction: a lease that runs out
is the sign that its daemon stopped (killed, cut off), and what another daemon will adopt.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from dialerd.store import sql
from dialerd.store.pg import PgDatabase


@dataclass(frozen=True)
class DaemonRow:
    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    leases: int


def new_daemon_id() -> str:
    """Unique across hosts and restarts, and readable in ``dialerd status``: host, pid, random."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def register(db: PgDatabase, daemon_id: str, now: float) -> None:
    """The daemon's row, written at start (a restart under the same id starts afresh)."""
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "INSERT INTO daemons (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
            " heartbeat_at = excluded.heartbeat_at",
            (daemon_id, socket.gethostname(), os.getpid(), now, now),
        )


async def heartbeat(db: PgDatabase, daemon_id: str, now: float, lease_s: float) -> int:
    """Alive at ``now``: the heartbeat and every lease of the daemon renewed to ``now + lease_s``.

    Returns how many leases were renewed. A daemon whose row is gone (removed by an operator
    who took it for dead) gets LookupError: it must not go on dialing as if nothing happened.
    """
    async with db.transaction() as conn:
        if not await sql.run(
            conn, "UPDATE daemons SET heartbeat_at = ? WHERE id = ?", (now, daemon_id)
        ):
            raise LookupError(f"daemon {daemon_id} is not registered in the store")
        return await sql.run(
            conn,
            "UPDATE leases SET expires_at = ? WHERE daemon_id = ?",
            (now + lease_s, daemon_id),
        )


async def daemons(db: PgDatabase) -> list[DaemonRow]:
    """Every registered daemon with its live leases, most recently alive first."""
    rows = await sql.rows(
        db.conn,
        "SELECT d.id, d.host, d.pid, d.started_at, d.heartbeat_at,"
        " (SELECT COUNT(*) FROM leases l WHERE l.daemon_id = d.id)"
        " FROM daemons d ORDER BY d.heartbeat_at DESC, d.id",
    )
    return [DaemonRow(r[0], r[1], int(r[2]), r[3], r[4], int(r[5])) for r in rows]


async def expired_leases(db: PgDatabase, now: float) -> list[tuple[int, int, str]]:
    """(attempt id, lead id, daemon id) of every lease that ran out: their daemons stopped
    renewing them. Index leases_expires."""
    rows = await sql.rows(
        db.conn,
        "SELECT attempt_id, lead_id, daemon_id FROM leases WHERE expires_at < ? ORDER BY attempt_id",
        (now,),
    )
    return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]


@dataclass(frozen=True)
class Adopted:
    """An attempt whose daemon stopped, now leased to the adopting daemon, which must
    reconcile it against the PBX that daemon dialed it on, as a restarted daemon does."""

    attempt_id: int
    lead_id: int
    call_id: str
    previous_daemon: str


async def adopt_expired(
    db: PgDatabase, daemon_id: str, now: float, lease_s: float, limit: int = 1000
) -> list[Adopted]:
    """Take over the leases that ran out, in one transaction: each lease row is locked as it
    is taken (``SKIP LOCKED``), so two daemons adopting at once never adopt the same
    attempt, and each adopted lease is this daemon's until ``now + lease_s``."""
    async with db.transaction() as conn:
        rows = await sql.rows(
            conn,
            "SELECT l.attempt_id, l.lead_id, a.call_id, l.daemon_id FROM leases l"
            " JOIN attempts a ON a.id = l.attempt_id"
            " WHERE l.expires_at < ? AND l.daemon_id <> ?"
            " ORDER BY l.expires_at, l.attempt_id LIMIT ? FOR UPDATE OF l SKIP LOCKED",
            (now, daemon_id, limit),
        )
        if rows:
            await sql.run(
                conn,
                "UPDATE leases SET daemon_id = ?, expires_at = ?"
                " WHERE attempt_id = ANY(CAST(? AS BIGINT[]))",
                (daemon_id, now + lease_s, [int(r[0]) for r in rows]),
            )
    return [Adopted(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]
