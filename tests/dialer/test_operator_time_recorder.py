"""Two daemons on one PostgreSQL store hear the same operators: only one records their
time (else the reports count it twice), and when that one stops or dies the other takes
over the recording."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from support.postgres import PostgresInstance

from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.config.store import postgres_target
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.operator_log import OperatorLog
from dialerd.pbx.events import MemberState
from dialerd.store import sql
from dialerd.store.pg import PgDatabase, open_pg_store

pytestmark = pytest.mark.postgres


def one_operator_board() -> OperatorBoard:
    return OperatorBoard(
        [OperatorSettings(name="101", group="g", interface="Local/101@operators")],
        {"g": GroupSettings(queue="q", context="operators", exten="600")},
    )


def member(status: int, at: float) -> MemberState:
    return MemberState("q", "Local/101@operators", "101", status, False, False, "", at)


@contextlib.asynccontextmanager
async def two_stores(postgres: PostgresInstance) -> AsyncIterator[tuple[PgDatabase, PgDatabase]]:
    """One database, a pool for each daemon."""
    name = postgres.new_database()
    target = postgres_target(postgres.url(name))
    try:
        async with (
            open_pg_store(target, postgres.password) as first,
            open_pg_store(target, postgres.password) as second,
        ):
            yield first, second
    finally:
        postgres.drop_database(name)


async def states(db: PgDatabase) -> list[tuple[str, float, float | None]]:
    found = await sql.rows(
        db.conn, "SELECT state, started_at, ended_at FROM operator_states ORDER BY id"
    )
    return [(str(r[0]), float(r[1]), None if r[2] is None else float(r[2])) for r in found]


def watching(db: PgDatabase) -> tuple[OperatorBoard, OperatorLog]:
    board = one_operator_board()
    log = OperatorLog(db, lambda: board, batch_s=0.05, take_s=0.2)
    board.on_change = log.observe
    return board, log


async def test_only_one_daemon_records_and_the_other_takes_over_when_it_stops(postgres):
    async with two_stores(postgres) as (first_db, second_db):
        first_board, first = watching(first_db)
        second_board, second = watching(second_db)
        await first.__aenter__()  # the first to start is the recorder
        try:
            await second.__aenter__()
            try:
                now = time.time()
                for board in (first_board, second_board):  # both hear Asterisk's word
                    board.apply_member(member(1, now))
                    board.apply_member(member(2, now + 0.01))
                await asyncio.sleep(0.4)
                while_both = await states(first_db)
            finally:
                await first.__aexit__(None, None, None)  # a clean stop of the recorder
            await asyncio.sleep(0.6)  # the second finds the lock free and records from now
            after = await states(second_db)
        finally:
            await second.__aexit__(None, None, None)
        after_stop = await states(second_db)
    # counted once: 'unknown' at the start, then free and busy, each a single row
    assert [state for state, *_ in while_both] == ["unknown", "free", "busy"]
    assert [ended for *_, ended in while_both].count(None) == 1
    # the first stopped cleanly (its rows closed); the second records the operator still busy
    assert [state for state, *_ in after] == ["unknown", "free", "busy", "busy"]
    assert after[2][2] is not None and after[3][1] >= after[2][2]
    assert after[3][2] is None  # the second's row is open while it runs
    assert all(ended is not None for *_, ended in after_stop)


async def test_when_the_recorder_s_session_dies_the_other_daemon_records(postgres):
    async with two_stores(postgres) as (first_db, second_db):
        first_board, first = watching(first_db)
        second_board, second = watching(second_db)
        async with first, second:
            now = time.time()
            for board in (first_board, second_board):
                board.apply_member(member(1, now))
            await asyncio.sleep(0.3)
            # the recorder's process dies: PostgreSQL ends its session, and the lock with it
            await sql.run(
                first_db.conn,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'dialerd-operator_time' AND pid IN"
                " (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
            )
            await asyncio.sleep(0.6)
            later = time.time()
            for board in (first_board, second_board):
                board.apply_member(member(2, later))
            await asyncio.sleep(0.3)
            found = await states(second_db)
            open_rows = [state for state, _, ended in found if ended is None]
    # one open row at a time; the change after the takeover recorded once
    assert open_rows == ["busy"]
    assert [state for state, *_ in found].count("busy") == 1
