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
from collections.abc import Callable
from dataclasses import dataclass

from dialerd.domain import InUse
from dialerd.store import sql
from dialerd.store.sql import Store


@dataclass(frozen=True)
class DaemonRow:
    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    leases: int
    pbx: str = ""


def new_daemon_id() -> str:
    """Unique across hosts and restarts, and readable in ``dialerd status``: host, pid, random."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class DaemonAlive(InUse):
    """Another daemon runs under this id: its heartbeat is fresh, or it is a live process
    on this host. Two daemons under one id would each take the other's calls for their own."""

    def __init__(self, other: DaemonRow, now: float) -> None:
        super().__init__(
            f"daemon id {other.id!r} is in use by pid {other.pid} on {other.host}"
            f" (heartbeat {max(0.0, now - other.heartbeat_at):.0f} s ago);"
            " give each daemon its own daemon.id"
        )
        self.other = other


async def register(
    db: Store,
    daemon_id: str,
    now: float,
    *,
    pbx: str = "",
    lease_s: float | None = None,
    alive: Callable[[str, int], bool] | None = None,
) -> None:
    """The daemon's row, written at start (a restart under the same id starts afresh).

    ``lease_s``: refuse (``DaemonAlive``) while another daemon holds the id: its heartbeat is
    younger than a lease, unless ``alive(host, pid)`` says that process is gone (a daemon
    killed a moment ago and restarted by systemd need not wait out its own lease).
    """
    async with db.transaction() as conn:
        found = await sql.row(
            conn,
            "SELECT id, host, pid, started_at, heartbeat_at, 0, pbx FROM daemons WHERE id = ?"
            " FOR UPDATE",
            (daemon_id,),
        )
        if found is not None and lease_s is not None:
            other = _daemon_row(found)
            fresh = other.heartbeat_at > now - lease_s
            if fresh and (alive is None or alive(other.host, other.pid)):
                raise DaemonAlive(other, now)
        await sql.run(
            conn,
            "INSERT INTO daemons (id, host, pid, started_at, heartbeat_at, pbx)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
            " pbx = excluded.pbx",
            (daemon_id, socket.gethostname(), os.getpid(), now, now, pbx),
        )


async def leave(db: Store, daemon_id: str) -> bool:
    """A daemon stopping cleanly removes its row, unless it leaves calls in flight (their
    leases name it: the next start under this id, or another daemon, takes them over)."""
    async with db.transaction() as conn:
        return bool(
            await sql.run(
                conn,
                "DELETE FROM daemons WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM leases WHERE daemon_id = ?)",
                (daemon_id, daemon_id),
            )
        )


def _daemon_row(r: sql.Row) -> DaemonRow:
    return DaemonRow(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), str(r[6] or ""))


async def heartbeat(db: Store, daemon_id: str, now: float, lease_s: float) -> int:
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


async def daemons(db: Store) -> list[DaemonRow]:
    """Every registered daemon with its live leases, most recently alive first."""
    rows = await sql.rows(
        db.conn,
        "SELECT d.id, d.host, d.pid, d.started_at, d.heartbeat_at,"
        " (SELECT COUNT(*) FROM leases l WHERE l.daemon_id = d.id), d.pbx"
        " FROM daemons d ORDER BY d.heartbeat_at DESC, d.id",
    )
    return [_daemon_row(r) for r in rows]


async def expired_leases(db: Store, now: float) -> list[tuple[int, int, str]]:
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
    db: Store,
    daemon_id: str,
    now: float,
    lease_s: float,
    limit: int = 1000,
    *,
    carries: Callable[[str], bool] | None = None,
) -> list[Adopted]:
    """Take over the leases that ran out, in one transaction: each lease row is locked as it
    is taken (``SKIP LOCKED``), so two daemons adopting at once never adopt the same
    attempt, and each adopted lease is this daemon's until ``now + lease_s``.

    ``carries``: whether the PBX an attempt was dialed on (its name) is the adopting
    engine's; the others are left for the engine (of this daemon or another) that drives it.
    """
    async with db.transaction() as conn:
        found = await sql.rows(
            conn,
            "SELECT l.attempt_id, l.lead_id, a.call_id, l.daemon_id, a.pbx FROM leases l"
            " JOIN attempts a ON a.id = l.attempt_id"
            " WHERE l.expires_at < ? AND l.daemon_id <> ?"
            " ORDER BY l.expires_at, l.attempt_id LIMIT ? FOR UPDATE OF l SKIP LOCKED",
            (now, daemon_id, limit),
        )
        rows = [r for r in found if carries is None or carries(str(r[4] or ""))]
        if rows:
            await sql.run(
                conn,
                "UPDATE leases SET daemon_id = ?, expires_at = ?"
                " WHERE attempt_id = ANY(CAST(? AS BIGINT[]))",
                (daemon_id, now + lease_s, [int(r[0]) for r in rows]),
            )
    return [Adopted(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def pbx_addresses(registered: str) -> dict[str, str]:
    """A daemon's PBXs as ``register`` wrote them (``name=host:port, …``, or ``host:port`` for
    a PBX given as one mapping, named ``default``): name to address. Daemons that drive the
    same Asterisk server are told by its address, which their configs cannot spell apart."""
    found = {}
    for entry in registered.split(","):
        name, _, address = entry.strip().rpartition("=")
        if address:
            found[name or "default"] = address
    return found


async def others_pbxs(db: Store, daemon_id: str, alive_since: float) -> list[str]:
    """The PBXs (as registered) of every other daemon whose heartbeat is at or after
    ``alive_since``. Read-only: a few rows, read with the heartbeat, not per call."""
    rows = await sql.rows(
        db.conn,
        "SELECT pbx FROM daemons WHERE id <> ? AND heartbeat_at >= ?",
        (daemon_id, alive_since),
    )
    return [str(r[0] or "") for r in rows]
