"""One recorder of a floor-wide fact among several daemons on one PostgreSQL store.

Every daemon on a shared store watches the same PBXs and hears the same operators change
state; if each wrote the operators' time, the reports would count every operator's time
once per daemon. So only the daemon holding a session advisory lock named after the fact
records it. The lock lives on a connection of its own: it is released when that daemon
stops or dies (its session ends), and another daemon's next ``take`` then gets it.

A holder that hangs (a stopped process, a host frozen) keeps its session, and the lock with
it. Where that matters (the leader, ``dialerd.daemon.leader``) the lock is taken with
``silence_s``: the server ends the session of a holder that sent nothing for that long
(PostgreSQL's ``idle_session_timeout``), and a holder that is alive says something on each
``take``, which also finds out at once when its session was ended.

SQLite has one daemon per store file (the file lock), which is always the recorder.
"""

from __future__ import annotations

import asyncpg
import structlog

from dialerd.store import sql
from dialerd.store.pg import DEAD_CONNECTION, PgDatabase
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)
_FAILED: tuple[type[BaseException], ...] = (
    *STORE_ERRORS,
    *DEAD_CONNECTION,
    OSError,
    TimeoutError,
)
# application_name is at most 63 bytes; what names the holder in pg_stat_activity
_NAME_LENGTH = 63
_CLOSE_S = 5.0


def lock_key(fact: str) -> str:
    """The advisory lock's text key (``hashtext`` of it is the lock)."""
    return f"dialerd.{fact}"


class SoleRecorder:
    def __init__(
        self, db: Store, fact: str, *, silence_s: float | None = None, holder: str = ""
    ) -> None:
        """``fact``: what is recorded (the lock's name, e.g. 'operator_time').
        ``silence_s``: the server ends the session after that long without a word from
        us, releasing the lock of a holder that hung; each ``take`` while held says a word.
        ``holder``: who holds it, in the session's application_name (``dialerd status``)."""
        self._db = db if isinstance(db, PgDatabase) else None
        self.fact = fact
        self._silence_s = silence_s
        self._holder = holder
        self._conn: asyncpg.Connection | None = None
        self.held = self._db is None

    async def take(self) -> bool:
        """Whether this daemon records the fact now: it already held the lock, or got it."""
        if self._db is None:
            return True
        if self._conn is not None and self._conn.is_closed():
            self._conn = None  # the session ended, and the lock with it
            if self.held:
                log.warning("recorder_lost", fact=self.fact)
            self.held = False
        if self.held and self._silence_s is None:
            return True
        try:
            if self._conn is None:
                self._conn = await self._connect()
            if self.held:  # still ours: say so before the server takes us for hung
                await self._conn.fetchval("SELECT 1", timeout=self._silence_s)
                return True
            got = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))",
                lock_key(self.fact),
                timeout=self._silence_s,
            )
        except _FAILED as exc:
            error = str(exc) or type(exc).__name__
            if self.held:
                log.warning("recorder_lost", fact=self.fact, error=error)
            else:
                log.warning("recorder_lock_failed", fact=self.fact, error=error)
            await self.close()
            return False
        self.held = bool(got)
        if self.held:
            log.info("recorder_taken", fact=self.fact)
        return self.held

    async def _connect(self) -> asyncpg.Connection:
        assert self._db is not None
        name = f"dialerd-{self.fact}" + (f" {self._holder}" if self._holder else "")
        conn = await self._db.own_connection(name.encode()[:_NAME_LENGTH].decode(errors="ignore"))
        if self._silence_s is not None:
            try:
                await conn.execute(f"SET idle_session_timeout = {round(self._silence_s * 1000)}")
            except asyncpg.exceptions.UndefinedObjectError:
                # PostgreSQL before 14: a hung holder keeps the lock until its host's TCP
                # connection dies; a holder that stops or dies still frees it at once
                log.warning("recorder_silence_unsupported", fact=self.fact)
            except BaseException:
                conn.terminate()
                raise
        return conn

    async def close(self) -> None:
        """Give the lock up (ending the session releases it)."""
        if self._db is None:
            return
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None:
            try:
                await conn.close(timeout=_CLOSE_S)
            except _FAILED:
                conn.terminate()  # the server, or the way to it, is gone: just drop it


async def holder(db: PgDatabase, fact: str) -> str | None:
    """Who holds ``fact``'s lock now (the ``holder`` it was taken with), or None when nobody
    does. Read from the server's own lock table, so a holder that died is never named."""
    # A bigint advisory key is shown as two 32-bit halves (classid high, objid low).
    row = await sql.row(
        db.conn,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = ((hashtext(?)::bigint >> 32) & 4294967295)::oid"
        " AND l.objid = (hashtext(?)::bigint & 4294967295)::oid",
        (lock_key(fact), lock_key(fact)),
    )
    if row is None:
        return None
    name = str(row[0] or "")
    prefix = f"dialerd-{fact} "
    return name[len(prefix) :] if name.startswith(prefix) else name
