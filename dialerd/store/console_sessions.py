"""The console's sign-in sessions and its audit of sign-in attempts (issue 12).

Sessions live in the store so a daemon restart does not sign the operators out. The
cookie's token is 32 random bytes and only its sha256 is stored: a copy of the store
(a backup, a file attached to a bug report) holds nothing that signs anyone in, and a
lookup by the hash gives no timing hint about a token's characters. The CSRF token is
stored as it is: it is sent back in pages and is worth nothing without the cookie.

Roles are ``operator`` and ``supervisor`` (the table's CHECK says the same).

Sign-in attempts are kept ``LOGIN_KEEP_S`` (90 days): each new row prunes the ones that
aged out, so the table stays bounded by what 90 days of attempts add up to.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from dialerd.store import sql
from dialerd.store.sql import Conn, Store

ROLES = frozenset({"operator", "supervisor"})
TOKEN_BYTES = 32
LOGIN_KEEP_S = 90 * 24 * 3600.0
MAX_FIELD_CHARS = 100  # the audit keeps a name or address typed into a form cut to this


@dataclass(frozen=True)
class NewSession:
    """What the browser gets: ``token`` for the cookie (the store never sees it), ``csrf``."""

    token: str
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    csrf: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Pruned:
    sessions: int
    logins: int


def token_hash(token: str) -> str:
    """What the store keeps of a session token: its sha256, as hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create(db: Store, user: str, role: str, now: float, ttl_s: float) -> NewSession:
    """A new session for ``user``, valid until ``now + ttl_s``."""
    if role not in ROLES:
        raise ValueError(f"{role!r}: a console role is one of {sorted(ROLES)}")
    if ttl_s <= 0:
        raise ValueError(f"a session must last some time, not {ttl_s} s")
    token, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + ttl_s
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "INSERT INTO console_sessions (token_hash, user, role, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (token_hash(token), user, role, csrf, now, expires_at),
        )
    return NewSession(token, csrf, expires_at)


async def lookup(db: Store | Conn, token: str, now: float) -> Session | None:
    """The session the cookie's token stands for; None if unknown, ended or expired.

    Reads only: pass the API's reader connection. An expired row is left for ``prune``.
    """
    conn = sql.conn_of(db)
    rows = list(
        await sql.rows(
            conn,
            "SELECT user, role, csrf, created_at, expires_at FROM console_sessions"
            " WHERE token_hash = ? AND expires_at > ?",
            (token_hash(token), now),
        )
    )
    if not rows:
        return None
    row = rows[0]
    return Session(row[0], row[1], row[2], row[3], row[4])


async def end(db: Store, token: str) -> bool:
    """Sign out: False if there was no such session (already ended, or never was)."""
    async with db.transaction() as conn:
        changed = await sql.run(
            conn, "DELETE FROM console_sessions WHERE token_hash = ?", (token_hash(token),)
        )
        return changed > 0


async def end_all_of(db: Store, user: str) -> int:
    """Sign ``user`` out everywhere (a new password, a supervisor's order); how many ended."""
    async with db.transaction() as conn:
        changed = await sql.run(conn, "DELETE FROM console_sessions WHERE user = ?", (user,))
        return changed


async def prune(db: Store, now: float) -> Pruned:
    """Expired sessions, and sign-in attempts older than ``LOGIN_KEEP_S``, go."""
    async with db.transaction() as conn:
        sessions = await sql.run(conn, "DELETE FROM console_sessions WHERE expires_at <= ?", (now,))
        logins = await _prune_logins(conn, now)
        return Pruned(sessions, logins)


async def record_login(db: Store, user: str, address: str, ok: bool, now: float) -> None:
    """One sign-in attempt for the audit; the name as typed, known or not, cut short."""
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "INSERT INTO console_logins (at, user, address, ok) VALUES (?, ?, ?, ?)",
            (now, user[:MAX_FIELD_CHARS], address[:MAX_FIELD_CHARS], int(ok)),
        )
        await _prune_logins(conn, now)  # an indexed range that is almost always empty


async def _prune_logins(conn: Conn, now: float) -> int:
    changed = await sql.run(conn, "DELETE FROM console_logins WHERE at < ?", (now - LOGIN_KEEP_S,))
    return changed
