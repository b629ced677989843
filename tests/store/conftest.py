"""Fixtures of the store's tests: several daemons' pools on one PostgreSQL store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from support.postgres import PostgresInstance

from dialerd.config.store import postgres_target
from dialerd.store import daemons
from dialerd.store.pg import PgDatabase, open_pg_store

DaemonPools = Callable[[int, float], AbstractAsyncContextManager[list[PgDatabase]]]


@pytest.fixture
def daemon_pools(postgres: PostgresInstance) -> DaemonPools:
    """``async with daemon_pools(n, now) as pools``: n daemons' pools on one migrated store,
    daemon ``daemon-i`` registered (alive at ``now``) on pool i. Each pool is its own, as
    separate processes' would be, so what they do at once races for real."""

    @asynccontextmanager
    async def opened(count: int, now: float) -> AsyncIterator[list[PgDatabase]]:
        name = postgres.new_database()
        target = postgres_target(postgres.url(name))
        async with open_pg_store(target, postgres.password):
            pass  # migrated once
        pools = [
            await PgDatabase.open(target, postgres.password, pool_size=4) for _ in range(count)
        ]
        try:
            for n, db in enumerate(pools):
                await daemons.register(db, f"daemon-{n}", now)
            yield pools
        finally:
            for db in pools:
                await db.close()
            postgres.drop_database(name)

    return opened
