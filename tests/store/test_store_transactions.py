"""A write transaction holds up against what a running daemon meets: another process
committing while this connection still reads (``dialerd leads add`` beside the daemon), and
a task cancelled while its BEGIN waits (a stop, a timeout). Neither may crash the engine or
leave the store locked for good. Found by ``bench/console_fanout.py``."""

from __future__ import annotations

import asyncio
import sqlite3

from dialerd.store.db import Database


async def test_a_write_waits_for_an_open_read_after_another_process_committed(tmp_path):
    path = tmp_path / "s.sqlite3"
    db = await Database.open(path)
    try:
        await db.conn.execute("CREATE TABLE t (x INTEGER)")
        await db.conn.execute("INSERT INTO t VALUES (1)")
        other = sqlite3.connect(path, isolation_level=None)
        cursor = await db.conn.execute("SELECT MIN(x) FROM t")  # a read still open ...
        other.execute("INSERT INTO t VALUES (2)")  # ... while another process commits

        async def finish_the_read() -> None:
            await asyncio.sleep(0.2)
            await cursor.close()

        closer = asyncio.create_task(finish_the_read())
        async with db.transaction() as conn:  # before: "database is locked" at once
            await conn.execute("INSERT INTO t VALUES (3)")
        await closer
        rows = await db.conn.execute_fetchall("SELECT x FROM t ORDER BY x")
        assert [r[0] for r in rows] == [1, 2, 3]
        other.close()
    finally:
        await db.close()


async def test_a_task_cancelled_during_its_begin_leaves_no_transaction_open(tmp_path):
    db = await Database.open(tmp_path / "s.sqlite3")
    try:
        await db.conn.execute("CREATE TABLE t (x INTEGER)")

        async def write() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (4)")

        task = asyncio.create_task(write())
        await asyncio.sleep(0)  # its BEGIN IMMEDIATE is queued on aiosqlite's thread
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not db.conn.in_transaction
        async with db.transaction() as conn:  # before: "cannot start a transaction within..."
            await conn.execute("INSERT INTO t VALUES (5)")
        rows = await db.conn.execute_fetchall("SELECT x FROM t")
        assert [r[0] for r in rows] == [5]
    finally:
        await db.close()
