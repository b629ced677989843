"""PostgreSQL access: a pool of connections shared by the daemon's tasks, transactions
that are PostgreSQL's own, and the migrations of ``migrations/postgresql/``.

Unlike SQLite's single writer, every transaction takes a connection of its own: the
engine serialises what must be serialised (row locks, ``FOR UPDATE SKIP LOCKED`` for the
claim, an advisory lock for intake's duplicate check), so several daemons can share one
pool of leads. Statements come in SQLite's dialect and are translated (``dialect``).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from dialerd.config.store import PostgresTarget
from dialerd.store.db import MIGRATIONS_DIR, MigrationError, StoreMissing, migration_files
from dialerd.store.dialect import to_postgresql

log = structlog.get_logger(__name__)

PG_MIGRATIONS_DIR = MIGRATIONS_DIR / "postgresql"
# NOTIFY channel: leads became due (intake's commit); every daemon LISTENs (``listen``)
LEADS_CHANNEL = "dialerd_leads"
# Migrations below this number mirror SQLite's migration of the same number; from it on,
# they are PostgreSQL's own (what only a shared store needs: daemons, leases).
PG_ONLY_FROM = 1000
_ROWS = re.compile(r"(\d+)$")

Params = Sequence[Any] | Mapping[str, Any]
# A pooled connection the server dropped while it sat idle (a restart, a failover, an
# operator's pg_terminate_backend) fails on its next use with one of these, before its
# statement ran; the pool has no liveness check, so after a failover every idle connection
# fails once. A read, or a transaction's BEGIN, is then tried on another connection.
DEAD_CONNECTION: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.exceptions.AdminShutdownError,  # 57P01: terminated by the server
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # the protocol saw the server's goodbye mid-query
    ConnectionError,
)


class StoreUnreachable(Exception):
    """The PostgreSQL store cannot be reached or refuses us (down, wrong address, wrong
    password): said with its address, never its password."""

    def __init__(self, target: PostgresTarget, reason: str) -> None:
        super().__init__(f"cannot reach the PostgreSQL store at {target}: {reason}")


class SchemaMissing(StoreMissing):
    """A command that only reads was pointed at a PostgreSQL database without our tables:
    making them there would hide a mistaken ``store.url`` behind an empty store, as a
    mistyped SQLite path would be (``StoreMissing``)."""

    def __init__(self, target: PostgresTarget) -> None:
        Exception.__init__(
            self,
            f"no dialerd tables in the PostgreSQL store at {target}"
            " (check store.url; 'dialerd migrate' makes them)",
        )
        self.target = target


class PgConn:
    """One connection inside a transaction (or the pool, for a read outside one)."""

    engine = "postgresql"

    def __init__(
        self,
        database: PgDatabase,
        conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record] | asyncpg.Pool,
    ) -> None:
        self.database = database
        self._conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        statement = to_postgresql(sql)
        args = statement.args(params)
        if isinstance(self._conn, asyncpg.Pool):  # a read outside any transaction
            try:
                return list(await self._conn.fetch(statement.text, *args))
            except DEAD_CONNECTION as exc:
                log.info("store_connection_replaced", error=str(exc) or type(exc).__name__)
        return list(await self._conn.fetch(statement.text, *args))

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Rows the statement changed (the count in PostgreSQL's command tag)."""
        statement = to_postgresql(sql)
        tag = await self._conn.execute(statement.text, *statement.args(params))
        found = _ROWS.search(tag or "")
        return int(found.group(1)) if found else 0

    async def insert(self, sql: str, params: Params = ()) -> int:
        """The id of the row an ``INSERT`` made (SQLite's ``lastrowid``)."""
        statement = to_postgresql(sql + " RETURNING id")
        return int(await self._conn.fetchval(statement.text, *statement.args(params)))

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        statement = to_postgresql(sql)
        await self._conn.executemany(statement.text, [statement.args(row) for row in rows])

    async def script(self, sql: str) -> None:
        """Several statements, no parameters (a migration)."""
        await self._conn.execute(sql)


class PgDatabase:
    """A pool on a PostgreSQL store; close it on every path."""

    engine = "postgresql"

    def __init__(
        self, pool: asyncpg.Pool, target: PostgresTarget, password: str | None = None
    ) -> None:
        self.pool = pool
        self.target = target
        self._password = password  # for the listening connection; never logged
        self.conn = PgConn(self, pool)  # reads outside a transaction: one pool connection each

    @classmethod
    async def open(
        cls, target: PostgresTarget, password: str | None, *, pool_size: int = 10
    ) -> PgDatabase:
        try:
            pool = await asyncpg.create_pool(
                host=target.host,
                port=target.port,
                user=target.user,
                database=target.database,
                password=password,
                ssl=target.sslmode,
                min_size=1,
                max_size=pool_size,
                server_settings={"application_name": "dialerd", "timezone": "UTC"},
                reset=_keep_session,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnreachable(target, _reason(exc)) from exc
        return cls(pool, target, password)

    def pinned(self, conn: PgConn) -> PgDatabase:
        """This store with its reads (``conn``) on one connection, for reads that must see
        that connection's open transaction (``rolled_back``). Not to be closed: the pool
        stays this store's."""
        view = copy.copy(self)
        view.conn = conn
        return view

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> PgDatabase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PgConn]:
        """Reads outside any transaction (``Database.reading``): the pool's, each seeing
        what was committed when it ran."""
        yield self.conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConn]:
        """A transaction on a connection of its own: committed at the end of the block,
        rolled back on any error. A pooled connection found dead at ``BEGIN`` (nothing of
        the transaction ran) is dropped and the transaction begun on another."""
        async with self.pool.acquire() as conn:
            transaction = conn.transaction()
            try:
                await transaction.start()
            except DEAD_CONNECTION as exc:
                log.info("store_connection_replaced", error=str(exc) or type(exc).__name__)
                conn.terminate()  # the pool makes a new one in its place
            else:
                async with _ended(transaction):
                    yield PgConn(self, conn)
                return
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgConn(self, conn)

    @asynccontextmanager
    async def listen(
        self, channel: str, wake: Callable[[], None], on_lost: Callable[[], None] | None = None
    ) -> AsyncIterator[None]:
        """Call ``wake`` (from the loop) on every NOTIFY on ``channel`` while the block runs.

        A connection of its own, outside the pool (a pooled connection forgets its LISTENs
        when it goes back). PostgreSQL delivers a NOTIFY when its transaction commits, and
        never one whose transaction rolled back: a woken daemon finds the leads committed.
        ``on_lost``: called if the connection drops (the server restarted, the network cut):
        NOTIFYs sent meanwhile are gone, so the listener must listen again and look.
        """
        conn = await self.own_connection("dialerd-listen")

        def on_notify(*_: object) -> None:
            wake()

        def on_terminated(*_: object) -> None:
            if on_lost is not None:
                on_lost()

        try:
            conn.add_termination_listener(on_terminated)
            await conn.add_listener(channel, on_notify)
            yield
        finally:
            conn.remove_termination_listener(on_terminated)
            await conn.close()

    async def own_connection(self, application_name: str) -> asyncpg.Connection:
        """A connection outside the pool, for state that lives as long as the session (a
        LISTEN, a session's advisory lock); the caller closes it."""
        return await asyncpg.connect(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            database=self.target.database,
            password=self._password,
            ssl=self.target.sslmode,
            server_settings={"application_name": application_name},
        )

    @asynccontextmanager
    async def rolled_back(self) -> AsyncIterator[PgConn]:
        """A transaction that is always rolled back (what the store would look like, if ...)."""
        async with self.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield PgConn(self, conn)
            finally:
                await transaction.rollback()


@asynccontextmanager
async def _ended(transaction: Any) -> AsyncIterator[None]:
    """A started asyncpg transaction: committed if the block ends normally, else rolled back."""
    try:
        yield
    except BaseException:
        await transaction.rollback()
        raise
    await transaction.commit()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a pooled connection runs on its way back to the pool, after asyncpg's own
    cleanup (an open transaction rolled back, its Python-side listeners dropped): nothing.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` instead: one more round trip for every transaction, a claim's included.
    The store leaves no session state on a pooled connection to undo: its advisory locks
    are the transaction's own (``pg_advisory_xact_lock``), and what must outlive a
    transaction (a LISTEN, the leader's lock) has a connection of its own
    (``own_connection``).
    """


def _reason(exc: BaseException) -> str:
    """What went wrong, in the server's or the OS's words (neither holds the password)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _only_comments(text: str) -> bool:
    """No statement in a migration's text: asyncpg fails on a query that is empty."""
    return all(not line.strip() or line.lstrip().startswith("--") for line in text.splitlines())


async def migrate_pg(db: PgDatabase, directory: Path = PG_MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; one migrator at a
    time (an advisory lock), as several daemons may start at once on one store."""
    done = []
    async with db.pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext('dialerd.migrate'))")
        try:
            # made only when missing: a daemon's role without the right to create tables
            # (README "Running on PostgreSQL") starts on a schema its owner migrated
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                try:
                    await conn.execute(
                        "CREATE TABLE schema_migrations ("
                        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at DOUBLE PRECISION NOT NULL)"
                    )
                except asyncpg.PostgresError as exc:
                    raise MigrationError(
                        f"postgresql: {exc} (run dialerd migrate as the schema's owner)"
                    ) from exc
            applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, path in migration_files(directory):
                if version in applied:
                    continue
                try:
                    async with conn.transaction():
                        text = path.read_text(encoding="utf-8")
                        if not _only_comments(text):  # a twin with nothing to do for PostgreSQL
                            await conn.execute(text)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at)"
                            " VALUES ($1, $2, $3)",
                            version,
                            path.name,
                            time.time(),
                        )
                except asyncpg.PostgresError as exc:
                    raise MigrationError(
                        f"postgresql/{path.name}: {exc} (dialerd migrate as the schema's owner)"
                    ) from exc
                log.info("migration_applied", migration=f"postgresql/{path.name}")
                done.append(path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('dialerd.migrate'))")
    return done


@asynccontextmanager
async def open_pg_store(
    target: PostgresTarget, password: str | None, *, pool_size: int = 10, create: bool = True
) -> AsyncIterator[PgDatabase]:
    """Open and migrate, as ``open_store`` does for SQLite. ``create=False``: a database
    without our tables is ``SchemaMissing`` (one that has them is brought up to date)."""
    db = await PgDatabase.open(target, password, pool_size=pool_size)
    try:
        if not create and await db.pool.fetchval("SELECT to_regclass('schema_migrations')") is None:
            raise SchemaMissing(target)
        await migrate_pg(db)
        yield db
    finally:
        await db.close()
