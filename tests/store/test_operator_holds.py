"""Operators held by daemons sharing a PBX on PostgreSQL: two daemons taking the same free
operator at once never both get them, a dead daemon's holds stop counting, and what a daemon
publishes replaces its holds there.

Each "daemon" is a pool of its own on the session's real PostgreSQL, as separate processes
would be; their takes race for real (each on its own connection), not in turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialerd.store import daemons, operator_holds
from dialerd.store.pg import PgDatabase

pytestmark = pytest.mark.postgres

LEASE_S = 30.0
NOW = 1000.0


@pytest.fixture
async def pools(daemon_pools) -> AsyncIterator[list[PgDatabase]]:
    """Two daemons' pools on one migrated store, each daemon registered (alive at NOW)."""
    async with daemon_pools(2, NOW) as opened:
        yield opened


async def test_two_daemons_taking_one_operator_at_once_never_both_get_them(pools):
    first, second = pools
    for round_ in range(20):
        operator = f"op-{round_}"
        taken = await asyncio.gather(
            *(
                operator_holds.take(db, f"daemon-{n}", "east", operator, NOW, NOW - LEASE_S)
                for n, db in enumerate(pools)
            )
        )
        assert sorted(taken) == [False, True], (operator, taken)
    # each sees the other's, not its own: 20 operators between them
    mine = await operator_holds.others_of(second, "daemon-1", "east", NOW - LEASE_S)
    theirs = await operator_holds.others_of(first, "daemon-0", "east", NOW - LEASE_S)
    assert len(mine) + len(theirs) == 20 and not mine & theirs
    assert await operator_holds.others_of(first, "daemon-0", "west", NOW - LEASE_S) == frozenset()


async def test_a_dead_daemon_s_holds_stop_counting_and_can_be_taken(pools):
    first, second = pools
    assert await operator_holds.take(first, "daemon-0", "east", "anna", NOW, NOW - LEASE_S)
    later = NOW + LEASE_S + 1  # daemon-0 has not beaten since NOW: dead by now
    await daemons.heartbeat(second, "daemon-1", later, LEASE_S)
    assert await operator_holds.others_of(second, "daemon-1", "east", later - LEASE_S) == set()
    assert await operator_holds.take(second, "daemon-1", "east", "anna", later, later - LEASE_S)
    # and while daemon-1 lives, daemon-0 (back) cannot take anna from it
    await daemons.heartbeat(first, "daemon-0", later, LEASE_S)
    assert not await operator_holds.take(first, "daemon-0", "east", "anna", later, later - LEASE_S)


async def test_what_a_daemon_publishes_replaces_its_holds_and_leaves_the_others(pools):
    first, second = pools
    assert await operator_holds.take(second, "daemon-1", "east", "boris", NOW, NOW - LEASE_S)
    await operator_holds.put(first, "daemon-0", "east", frozenset({"anna", "boris"}), NOW)
    seen = await operator_holds.others_of(second, "daemon-1", "east", NOW - LEASE_S)
    assert seen == {"anna"}  # boris stays daemon-1's
    await operator_holds.put(first, "daemon-0", "east", frozenset(), NOW)  # anna let go
    assert await operator_holds.others_of(second, "daemon-1", "east", NOW - LEASE_S) == set()
    assert await operator_holds.others_of(first, "daemon-0", "east", NOW - LEASE_S) == {"boris"}
