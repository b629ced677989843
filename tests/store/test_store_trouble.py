"""Store trouble on either engine: what holds dialing (the store cannot take writes now)
and what is a bug (raised as it is)."""

import sqlite3

import asyncpg
import pytest

from dialerd.config.store import postgres_target
from dialerd.store import sql
from dialerd.store.pg import PgConn, PgDatabase, open_pg_store


def test_sqlite_s_full_disk_and_io_errors_hold_dialing_and_a_bad_statement_does_not():
    assert sql.is_unwritable(sqlite3.OperationalError("database or disk is full"))
    assert sql.is_unwritable(sqlite3.OperationalError("disk I/O error"))
    assert not sql.is_unwritable(sqlite3.OperationalError('near "SELEC": syntax error'))


@pytest.mark.postgres
async def test_a_postgresql_server_that_drops_us_holds_dialing_and_a_bad_statement_does_not(
    postgres,
):
    name = postgres.new_database()
    try:
        async with open_pg_store(postgres_target(postgres.url(name)), postgres.password) as db:
            with pytest.raises(asyncpg.PostgresSyntaxError) as bad:
                await sql.run(db.conn, "SELEC 1")
            assert isinstance(bad.value, sql.STORE_ERRORS) and not sql.is_unwritable(bad.value)
            async with db.pool.acquire() as raw:
                conn = PgConn(db, raw)
                pid = (await sql.row(conn, "SELECT pg_backend_pid()"))[0]
                postgres.psql(f"SELECT pg_terminate_backend({int(pid)})", name)  # a failover
                with pytest.raises(sql.STORE_ERRORS) as dropped:
                    await sql.run(conn, "UPDATE leads SET rank = rank WHERE id = 1")
            assert sql.is_unwritable(dropped.value), repr(dropped.value)
            assert await sql.rows(db.conn, "SELECT 1")  # the pool connects again
    finally:
        postgres.drop_database(name)


@pytest.mark.postgres
async def test_no_postgresql_server_at_all_is_store_trouble(postgres):
    target = postgres_target(postgres.url("postgres"))
    unused = postgres_target(f"postgresql://u@127.0.0.1:{_closed_port()}/x")
    assert target.port != unused.port
    with pytest.raises(sql.STORE_ERRORS) as refused:
        await PgDatabase.open(unused, None)
    assert sql.is_unwritable(refused.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends
