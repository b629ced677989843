"""One recorder of a floor-wide fact among several daemons on one PostgreSQL store.

Every daemon on a shared store watches the same PBXs and hears the same operators change
state; if each wrote the operators' time, the reports would count every operator's time
once per daemon. So only the daemon holding a session advisory lock named after the fact
records it. The lock lives on a connection of its own: it is released when that daemon
stops or dies (its session ends), and another daemon's next ``take`` then gets it.

SQLite has one daemon per store file (the file lock), which is always the recorder.
"""

from __future__ import annotations

import contextlib

import asyncpg
import structlog

from dialerd.store.pg import DEAD_CONNECTION, PgDatabase
from dialerd.store.sql import STORE_ERRORS, Store

log = structlog.get_logger(__name__)
_FAILED: tuple[type[BaseException], ...] = (*STORE_ERRORS, *DEAD_CONNECTION, OSError)


class SoleRecorder:
    def __init__(self, db: Store, fact: str) -> None:
        """``fact``: what is recorded (the lock's name, e.g. 'operator_time')."""
        self._db = db if isinstance(db, PgDatabase) else None
        self.fact = fact
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
        if self.held:
            return True
        try:
            if self._conn is None:
                self._conn = await self._db.own_connection(f"dialerd-{self.fact}")
            got = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"dialerd.{self.fact}"
            )
        except _FAILED as exc:
            error = str(exc) or type(exc).__name__
            log.warning("recorder_lock_failed", fact=self.fact, error=error)
            await self.close()
            return False
        self.held = bool(got)
        if self.held:
            log.info("recorder_taken", fact=self.fact)
        return self.held

    async def close(self) -> None:
        """Give the lock up (ending the session releases it)."""
        if self._db is None:
            return
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None:
            with contextlib.suppress(*_FAILED):
                await conn.close()
