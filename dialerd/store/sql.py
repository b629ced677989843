"""The store's engine seam: one set of store functions over SQLite or PostgreSQL.

A store function takes whichever the transaction yields (``aiosqlite.Connection`` for the
embedded store, :class:`~dialerd.store.pg.PgConn` for PostgreSQL; ``db.conn`` outside a
transaction) and runs its statements through the five calls here. On SQLite they are the
very aiosqlite calls the store made before the seam existed, so the embedded store runs the
same statements the same way; on PostgreSQL the statement is translated (``dialect``).
Rows answer ``row[0]``, ``row["name"]`` and ``dict(row)`` on both engines.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import aiosqlite
import asyncpg

from dialerd.config.store import StoreSettings
from dialerd.store.db import Database, open_store
from dialerd.store.db import is_unwritable as db_is_unwritable
from dialerd.store.dialect import Sql, Statement, text_for
from dialerd.store.pg import PgConn, PgDatabase, StoreUnreachable, open_pg_store

__all__ = [
    "Conn",
    "Row",
    "Sql",
    "Store",
    "conn_of",
    "engine_of",
    "insert",
    "is_conflict",
    "open_configured",
    "row",
    "rows",
    "run",
    "run_many",
]

Conn: TypeAlias = aiosqlite.Connection | PgConn
Store: TypeAlias = Database | PgDatabase
# aiosqlite.Row or asyncpg.Record: both index by position and by column name
Row: TypeAlias = Any
Params: TypeAlias = Sequence[Any] | Mapping[str, Any]
# What a statement raises when the store, not the code, is at fault (locked, full, I/O, the
# server gone): callers that keep going through store trouble catch these.
STORE_ERRORS: tuple[type[BaseException], ...] = (
    aiosqlite.Error,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # asyncpg's protocol on a connection the server dropped
    ConnectionError,  # the PostgreSQL server refused or dropped the connection
    StoreUnreachable,  # ... when the pool was opened
)
# PostgreSQL's error classes that say the store cannot take writes now, not that the
# statement is wrong: insufficient resources (disk full), system error (I/O), connection
# exception, operator intervention (the server shutting down).
_UNWRITABLE_CLASSES = frozenset({"53", "58", "08", "57"})


def is_unwritable(exc: BaseException) -> bool:
    """The store cannot take writes for now, as opposed to a bug: dialing waits (SQLite:
    disk full, I/O error; PostgreSQL: the same, or the server unreachable)."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in _UNWRITABLE_CLASSES
    if isinstance(
        exc,
        asyncpg.InterfaceError | asyncpg.InternalClientError | ConnectionError | StoreUnreachable,
    ):
        return True
    return db_is_unwritable(exc)


@asynccontextmanager
async def open_configured(settings: StoreSettings, *, create: bool = True) -> AsyncIterator[Store]:
    """The store the ``store`` section names, opened and migrated: the SQLite file (``create``
    as ``open_store`` takes it) or a pool on the PostgreSQL server (the database is never
    created: it is the database administrator's; without ``create`` a database without our
    tables is refused, as a missing SQLite file is)."""
    if settings.engine == "sqlite":
        async with open_store(settings.path, create=create) as database:
            yield database
        return
    password = settings.resolved_password()
    async with open_pg_store(
        settings.postgres, password, pool_size=settings.pool_size, create=create
    ) as pg:
        yield pg


@asynccontextmanager
async def reading(db: Store) -> AsyncIterator[Store]:
    """A store for pages and API reads that never wait on the engine's writes: on SQLite a
    second connection to the file, closed at the end; on PostgreSQL the pool itself (every
    read takes a connection of its own, and the pool is the daemon's to close)."""
    if isinstance(db, Database):
        async with await Database.open(db.path) as second:
            yield second
        return
    yield db


def is_conflict(exc: BaseException) -> bool:
    """PostgreSQL rolled the transaction back to break a deadlock or a serialization
    conflict with another transaction (class 40): nothing of it was kept, and the same
    work tried again succeeds. Claims and intake's commits run at once on a shared store,
    each locking leads, so this is expected now and then; SQLite never answers it."""
    return isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate or "").startswith("40")


def conn_of(target: Store | Conn) -> Conn:
    """A store's connection for reads outside a transaction, or the connection given."""
    return target.conn if isinstance(target, Database | PgDatabase) else target


@asynccontextmanager
async def one_connection(db: Store) -> AsyncIterator[Conn]:
    """One connection for several statements that need the same session (a TEMP table),
    outside any transaction: SQLite's only connection, or one of the pool's."""
    if isinstance(db, Database):
        yield db.conn
        return
    async with db.pool.acquire() as conn:
        yield PgConn(db, conn)


def engine_of(conn: Conn) -> str:
    return "sqlite" if isinstance(conn, aiosqlite.Connection) else "postgresql"


async def rows(conn: Conn, statement: Statement, params: Params = ()) -> list[Row]:
    """Every row, in one trip (one hop to SQLite's thread)."""
    if isinstance(conn, aiosqlite.Connection):
        return list(await conn.execute_fetchall(text_for(statement, "sqlite"), params))
    return await conn.fetch(text_for(statement, "postgresql"), params)


async def row(conn: Conn, statement: Statement, params: Params = ()) -> Row | None:
    """The first row, or None."""
    found = await rows(conn, statement, params)
    return found[0] if found else None


async def run(conn: Conn, statement: Statement, params: Params = ()) -> int:
    """Execute; the number of rows changed."""
    if isinstance(conn, aiosqlite.Connection):
        cursor = await conn.execute(text_for(statement, "sqlite"), params)
        return cursor.rowcount
    return await conn.execute(text_for(statement, "postgresql"), params)


async def insert(conn: Conn, statement: Statement, params: Params = ()) -> int:
    """Execute an ``INSERT`` of one row into a table with an ``id`` key; the new row's id."""
    if isinstance(conn, aiosqlite.Connection):
        cursor = await conn.execute(text_for(statement, "sqlite"), params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    return await conn.insert(text_for(statement, "postgresql"), params)


async def run_many(conn: Conn, statement: Statement, params: Sequence[Params]) -> None:
    if isinstance(conn, aiosqlite.Connection):
        await conn.executemany(text_for(statement, "sqlite"), params)
        return
    await conn.executemany(text_for(statement, "postgresql"), params)
