"""SQLite access: one connection per process role, WAL mode, explicit transactions.

The daemon writes through a single connection (one writer, short transactions);
``BEGIN IMMEDIATE`` takes the write lock up front so a pick and its attempt row
are one atomic step even when the CLI adds leads from another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BEGIN_DEADLINE_S = 10.0  # longer than busy_timeout: a write waits out another process's
BEGIN_RETRY_S = 0.01
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
T = TypeVar("T")


class MigrationError(Exception):
    """A migration file that is malformed or failed to apply."""


class StoreMissing(Exception):
    """A command that only reads was pointed at a store that does not exist.

    Creating it would hide the mistake (a mistyped ``store.path``, no config at all) behind
    an empty table, and leave an empty store and its directory behind.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(f"no store at {path} (check store.path; 'dialerd migrate' creates it)")
        self.path = path


class Database:
    """An open SQLite file with the project's pragmas; close it on every path."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, create: bool = True) -> Database:
        """``create=False``: StoreMissing instead of a new file (and nothing created)."""
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
        else:
            # mode=rw: read and write an existing file, never create one; the check first
            # only for the message (the file could still vanish before the connect)
            uri = await asyncio.to_thread(_existing_uri, path)
            try:
                conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
            except sqlite3.OperationalError:
                await asyncio.to_thread(_existing_uri, path)
                raise
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=FULL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error.

        The lock keeps the tasks of one process from interleaving statements on
        the shared connection; SQLite's own lock keeps other processes out.
        """
        async with self._write_lock:
            await self._begin()
            try:
                yield self.conn
                await _on_thread(self.conn, _statement, self.conn, "COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) may leave the transaction open, or SQLite may
                # have rolled it back already: either way nothing of it is kept.
                if self.conn.in_transaction:
                    await _on_thread(self.conn, _statement, self.conn, "ROLLBACK")
                raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads between this process's transactions, without one of their own: the lock
        keeps them from landing inside another task's open transaction on the shared
        connection (and seeing its writes before they are committed, or never are). No
        ``BEGIN``, no commit: each statement reads what was committed when it ran."""
        async with self._write_lock:
            yield self.conn

    async def write_at_once(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``BEGIN IMMEDIATE``, ``work``, ``COMMIT`` in one trip to the connection's thread.

        What ``transaction`` does, for a transaction that needs nothing from the event loop
        between its statements: each statement through aiosqlite is a round trip between
        the loop and the store's thread (two wake-ups, a future, a task step), and the
        per-call writes of the dial path were most of the daemon's CPU per call. ``work``
        runs on the store's thread with the plain ``sqlite3`` connection and must be quick
        and pure apart from its statements; anything it raises rolls the transaction back
        and reaches the caller. A busy store is waited out as ``transaction`` does, between
        trips, so a read still open on this connection can finish meanwhile.
        """
        async with self._write_lock:
            deadline = time.monotonic() + BEGIN_DEADLINE_S
            while True:
                began, result = await _on_thread(self.conn, _transact, self.conn, work)
                if began:
                    return result  # type: ignore[no-any-return]
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked")
                await asyncio.sleep(BEGIN_RETRY_S)

    @asynccontextmanager
    async def rolled_back(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``ROLLBACK``, always: changes that reads inside the block
        see and nobody else ever does (what the store would look like, if ...)."""
        async with self._write_lock:
            await self._begin()
            try:
                yield self.conn
            finally:
                if self.conn.in_transaction:
                    await _on_thread(self.conn, _statement, self.conn, "ROLLBACK")

    async def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting out a busy store, and never left half-done.

        Two ways it could fail without being wrong: a read on this connection that is
        still open (its snapshot predates another process's commit, e.g. ``dialerd leads
        add``) makes SQLite answer "database is locked" at once, without its busy
        timeout, so it is tried again until ``BEGIN_DEADLINE_S``; and a task cancelled
        while its BEGIN waits on aiosqlite's thread would leave the transaction open for
        good, so the BEGIN is awaited to its end and rolled back before the cancel goes on.
        """
        deadline = time.monotonic() + BEGIN_DEADLINE_S
        while True:
            try:
                await _on_thread(self.conn, _statement, self.conn, "BEGIN IMMEDIATE")
                return
            except asyncio.CancelledError:
                if self.conn.in_transaction:
                    await _on_thread(self.conn, _statement, self.conn, "ROLLBACK")
                raise
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(BEGIN_RETRY_S)


async def _on_thread(aio: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the connection's thread, awaited to its end even through a cancel:
    aiosqlite runs it anyway, so the caller must know it is over before deciding anything
    about the transaction (a ROLLBACK, the write lock given up).

    The one trip every statement of ``transaction`` and ``write_at_once`` takes: a future
    and a place in the thread's queue, nothing more (a task and a shield around each trip,
    as before, were a third of its CPU on the dial path). Cancelled, the future is gone,
    so a second, empty trip is awaited behind the first: the thread takes its queue in
    order, so when that one is back the first is over.
    """
    try:
        return await aio._execute(fn, *args)  # type: ignore[no-untyped-call,no-any-return]
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await aio._execute(_nothing)  # type: ignore[no-untyped-call]
        raise


def _statement(aio: aiosqlite.Connection, text: str) -> None:
    """On the store's thread: one statement without a result (BEGIN, COMMIT, ROLLBACK)."""
    aio._conn.execute(text)  # noqa: SLF001 -- the thread's own sqlite3 connection


def _nothing() -> None:
    """An empty trip: back once everything queued before it is done."""


def _transact(aio: aiosqlite.Connection, work: Callable[[sqlite3.Connection], Any]) -> Any:
    """On the store's thread: (True, what ``work`` returned), committed; or (False, None)
    when the write lock is taken ("locked"), to be tried again after a pause."""
    conn = aio._conn  # noqa: SLF001 -- the thread's own sqlite3 connection
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False, None
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        # a failed COMMIT (disk full) may leave the transaction open, or SQLite may have
        # rolled it back already: either way nothing of it is kept
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return True, result


@dataclass(frozen=True)
class StoreTrouble:
    """The store cannot be written (disk full, I/O error): the engine holds dialing.

    ``writable`` True: it can again (the first write that succeeded after trouble).
    """

    writable: bool
    error: str
    at: float


def is_unwritable(exc: BaseException) -> bool:
    """The store cannot take writes for now (disk full, I/O error), as opposed to a bug.

    SQLITE_FULL and SQLITE_IOERR: dialing waits for space instead of crashing the daemon.
    """
    text = str(exc).lower()
    return isinstance(exc, sqlite3.Error) and (
        "full" in text or "disk i/o error" in text or "unable to open" in text
    )


def _existing_uri(path: Path) -> str:
    """``path`` as a ``mode=rw`` URI, or StoreMissing."""
    if not path.exists():
        raise StoreMissing(path)
    return f"{path.absolute().as_uri()}?mode=rw"


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        found.append((int(match.group(1)), path))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a number")
    return found


async def migrate(db: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction."""
    await db.conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with db.conn.execute("SELECT version FROM schema_migrations") as cursor:
        applied = {row[0] for row in await cursor.fetchall()}
    done = []
    for version, path in migration_files(directory):
        if version in applied:
            continue
        statements = [s for s in _split_sql(path.read_text(encoding="utf-8")) if s.strip()]
        try:
            async with db.transaction() as conn:
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, path.name, time.time()),
                )
        except aiosqlite.Error as exc:
            raise MigrationError(f"{path.name}: {exc}") from exc
        log.info("migration_applied", migration=path.name)
        done.append(path.name)
    return done


def _split_sql(script: str) -> list[str]:
    """Split a migration into complete statements (SQLite's own notion of "complete")."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer)
            buffer = ""
    if buffer.strip() and not all(
        part.lstrip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise MigrationError(f"incomplete statement at the end: {buffer.strip()[:60]!r}")
    return statements


@asynccontextmanager
async def open_store(path: Path, *, create: bool = True) -> AsyncIterator[Database]:
    """Open and migrate: what every entry point does first.

    ``create=False`` for commands that only read (or only change rows that must already
    exist): a missing store is StoreMissing, not a new empty one. An existing store is still
    migrated, as for every other entry point.
    """
    db = await Database.open(path, create=create)
    try:
        await migrate(db)
        yield db
    finally:
        await db.close()
