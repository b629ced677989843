"""The abandon budget several daemons share on PostgreSQL: two daemons raising at once never
both take the last of it, and a dead daemon's customers at risk stop holding the others back.

Each "daemon" is a pool of its own on the session's real PostgreSQL, as separate processes
would be; their raises race for real (each on its own connection), not in turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialerd.dialer.risk_ledger import Held, RiskLedger, SharedRisk
from dialerd.store import daemons, pacing_risk, sql
from dialerd.store.pg import PgDatabase

pytestmark = pytest.mark.postgres

LEASE_S = 30.0
NOW = 1000.0


@pytest.fixture
async def pools(daemon_pools) -> AsyncIterator[list[PgDatabase]]:
    """Three daemons' pools on one migrated store, each daemon registered (alive at NOW)."""
    async with daemon_pools(3, NOW) as opened:
        yield opened


async def total_at_risk(db: PgDatabase, campaign: str) -> int:
    found = await sql.row(
        db.conn, "SELECT COALESCE(SUM(at_risk), 0) FROM pacing_risk WHERE campaign = ?", (campaign,)
    )
    return int(found[0])


async def test_two_daemons_raising_at_once_cannot_both_take_the_last_unit(pools):
    first, second, _ = pools

    async def raise_by_one(db: PgDatabase, daemon_id: str, campaign: str) -> pacing_risk.Taken:
        # each decided on "nobody else holds any": one unit of budget left, taken (each
        # daemon on a PBX of its own: the other's customers at risk come off its budget)
        return await pacing_risk.take(
            db,
            daemon_id,
            f"pbx-{daemon_id}",
            campaign,
            pacing_risk.Counts(1, 1),
            seen=0,
            seen_waiting=0,
            now=NOW,
            alive_since=NOW - LEASE_S,
        )

    for round_ in range(20):  # a race each round: either may win, never both
        campaign = f"sale-{round_}"
        results = await asyncio.gather(
            raise_by_one(first, "daemon-0", campaign), raise_by_one(second, "daemon-1", campaign)
        )
        assert sorted(r.taken for r in results) == [False, True]
        loser = next(r for r in results if not r.taken)
        assert loser.others == 1  # the loser is told what the winner holds, to decide again on
        assert await total_at_risk(first, campaign) == 1


async def test_daemons_filling_a_budget_together_stop_exactly_at_it(pools):
    """Three daemons of two engines each, every engine raising by one while the whole stays
    within the budget, all at once: the budget is filled, and never passed."""
    budget = 9

    async def engine(ledger: RiskLedger, name: str) -> int:
        mine = 0
        while True:
            await ledger.refresh("sale", NOW)
            if ledger.others(name, "sale") + mine + 1 > budget:
                return mine
            ledger.publish(name, "sale", mine + 1)
            if await ledger.confirm(name, "sale", Held(mine + 1), NOW):
                mine += 1
            else:
                ledger.publish(name, "sale", mine)
            await asyncio.sleep(0)

    ledgers = [
        RiskLedger(SharedRisk(db, f"daemon-{n}", LEASE_S, refresh_s=0.0))
        for n, db in enumerate(pools)
    ]
    held = await asyncio.gather(
        *(
            engine(ledger, f"{ledger.shared.daemon_id}-{pbx}")  # a PBX of each its own
            for ledger in ledgers
            if ledger.shared is not None
            for pbx in ("east", "west")
        )
    )
    assert sum(held) == budget
    assert await total_at_risk(pools[0], "sale") == budget
    assert sum(1 for n in held if n) >= 2, "the raises raced: more than one engine got some"


async def test_a_dead_daemon_s_customers_at_risk_stop_counting_after_a_lease(pools):
    first, second, _ = pools
    await pacing_risk.put(first, "daemon-0", "east", "sale", pacing_risk.Counts(3, 5), NOW)

    async def others(now: float) -> int:
        found = await pacing_risk.others_of(second, "daemon-1", "sale", now - LEASE_S)
        return found.against("west")

    assert await others(NOW + LEASE_S) == 3  # its heartbeat is a lease old: still alive
    assert await others(NOW + LEASE_S + 1) == 0  # no heartbeat for longer: dead
    # a raise that counted on them being gone is taken
    taken = await pacing_risk.take(
        second,
        "daemon-1",
        "east",
        "sale",
        pacing_risk.Counts(2, 2),
        seen=0,
        seen_waiting=0,
        now=NOW + 40,
        alive_since=NOW + 40 - LEASE_S,
    )
    assert taken == pacing_risk.Taken(True, 0, 0)
    # alive again (a heartbeat): its count holds the others back again
    await daemons.heartbeat(first, "daemon-0", NOW + 41, LEASE_S)
    assert await others(NOW + 41) == 3


async def test_a_daemon_started_again_under_its_id_starts_with_no_customers_at_risk(pools):
    first, second, _ = pools
    await pacing_risk.put(first, "daemon-0", "east", "sale", pacing_risk.Counts(4, 4), NOW)
    again = RiskLedger(SharedRisk(first, "daemon-0", LEASE_S))
    await again.settle("east", "sale", Held(0), NOW + 1)  # nothing at risk: nothing written
    await again.refresh("sale", NOW + 1)
    found = await pacing_risk.others_of(second, "daemon-1", "sale", NOW - LEASE_S)
    assert found == pacing_risk.Others({})


async def test_daemons_on_one_pbx_count_each_other_s_waiting_customers_there(pools):
    """Two daemons driving the same PBX see its free operators alike: an engine there counts
    the other's waiting customers in its own worst case (so not their customers at risk
    again, only those abandoned already); customers on another PBX come off its budget."""
    first, second, third = pools
    await pacing_risk.put(first, "daemon-0", "east", "sale", pacing_risk.Counts(2, 3, 1), NOW)
    await pacing_risk.put(third, "daemon-2", "west", "sale", pacing_risk.Counts(1, 2), NOW)
    found = await pacing_risk.others_of(second, "daemon-1", "sale", NOW - LEASE_S)
    assert found.waiting_on("east") == 3 and found.waiting_on("west") == 2
    assert found.against("east") == 1 + 1  # east's abandoned one, west's one at risk
    assert found.against("west") == 2 + 0
    # a raise decided on east's 3 waiting, now 4 (another call placed meanwhile): refused
    await pacing_risk.put(first, "daemon-0", "east", "sale", pacing_risk.Counts(2, 4, 1), NOW)
    refused = await pacing_risk.take(
        second,
        "daemon-1",
        "east",
        "sale",
        pacing_risk.Counts(0, 1),
        seen=2,
        seen_waiting=3,
        now=NOW,
        alive_since=NOW - LEASE_S,
    )
    assert refused == pacing_risk.Taken(False, 2, 4)
    taken = await pacing_risk.take(
        second,
        "daemon-1",
        "east",
        "sale",
        pacing_risk.Counts(0, 1),
        seen=2,
        seen_waiting=4,
        now=NOW,
        alive_since=NOW - LEASE_S,
    )
    assert taken.taken
