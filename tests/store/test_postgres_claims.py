"""Several daemons on one PostgreSQL store: claims that never share a lead, leases written
with the attempt and renewed by the heartbeat, intake that never hands out an id twice.

Every "daemon" here is a pool of its own on the session's real PostgreSQL, as separate
processes would be; the claims race for real (row locks, SKIP LOCKED), not in turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support.postgres import PostgresInstance

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.config.store import postgres_target
from dialerd.domain import FinishedCall, Outcome
from dialerd.intake.leads import Accepted, Duplicate, LeadInput, submit, validate_lead
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS
from dialerd.policy.retry import after_attempt
from dialerd.store import attempts, daemons, due, sql
from dialerd.store import leads as store
from dialerd.store.pg import PgDatabase, open_pg_store

pytestmark = pytest.mark.postgres

LEASE_S = 30.0


@pytest.fixture
async def database(postgres: PostgresInstance) -> AsyncIterator[str]:
    name = postgres.new_database()
    yield name
    postgres.drop_database(name)


async def open_daemon(postgres: PostgresInstance, name: str, pool: int = 4) -> PgDatabase:
    async with open_pg_store(postgres_target(postgres.url(name)), postgres.password):
        pass  # migrated once; the daemons below open their own pools on it
    return await PgDatabase.open(
        postgres_target(postgres.url(name)), postgres.password, pool_size=pool
    )


def dial(_lead):
    return Dial()


async def test_two_daemons_claiming_at_once_never_take_the_same_lead(postgres, database):
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    try:
        count = 300
        async with first.transaction() as conn:
            rows = [
                (n, store.NewLead(Phone(f"+7916{n:07d}")), store.Placement(deadline_at=float(n)))
                for n in range(1, count + 1)
            ]
            await store.insert_leads_many_in(conn, rows, 1.0)
        ids = {first: "daemon-a", second: "daemon-b"}
        for db, daemon_id in ids.items():
            await daemons.register(db, daemon_id, 1000.0)

        async def worker(db: PgDatabase) -> list[int]:
            lease = attempts.Lease(ids[db], LEASE_S)
            got = []
            while (
                claim := await attempts.claim_next(db, 1000.0, RANKS, dial, lease=lease)
            ) is not None:
                got.append(claim.lead_id)
            return got

        # four lines per daemon, all claiming at the same time
        results = await asyncio.gather(*(worker(db) for db in (first, second) for _ in range(4)))
        claimed = [lead_id for got in results for lead_id in got]
        assert sorted(claimed) == list(range(1, count + 1))  # each lead once, none left
        assert all(results), "every line got leads: the claims did not simply queue"
        by_daemon = await sql.rows(
            first.conn,
            "SELECT l.daemon_id, COUNT(*), COUNT(DISTINCT l.lead_id), MIN(l.expires_at),"
            " MAX(l.expires_at) FROM leases l JOIN attempts a ON a.id = l.attempt_id"
            " AND a.lead_id = l.lead_id AND a.status = 'dialing' GROUP BY l.daemon_id",
        )
        leased = {r[0]: (r[1], r[2], r[3], r[4]) for r in by_daemon}
        assert set(leased) == {"daemon-a", "daemon-b"}
        assert sum(n for n, *_ in leased.values()) == count
        assert all(n == distinct for n, distinct, *_ in leased.values())
        assert all(low == high == 1000.0 + LEASE_S for *_, low, high in leased.values())
        daemon_of = {1: 0, 2: 4}  # results index: the first worker of each daemon
        for db, start in zip((first, second), daemon_of.values(), strict=True):
            mine = [lead_id for got in results[start : start + 4] for lead_id in got]
            rows_ = await sql.rows(
                db.conn,
                "SELECT lead_id FROM leases WHERE daemon_id = ? ORDER BY lead_id",
                (ids[db],),
            )
            assert [r[0] for r in rows_] == sorted(mine)  # the lease names who dials it
    finally:
        await first.close()
        await second.close()


async def test_the_most_urgent_lead_goes_to_whichever_daemon_claims_first(postgres, database):
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    try:
        for n, deadline in ((1, 50.0), (2, 10.0), (3, 30.0)):
            async with first.transaction() as conn:
                await store.insert_lead_in(
                    conn,
                    store.NewLead(Phone(f"+7916000000{n}")),
                    1.0,
                    store.Placement(deadline_at=deadline),
                )
        a = await attempts.claim_next(second, 100.0, RANKS, dial)
        b = await attempts.claim_next(first, 100.0, RANKS, dial)
        c = await attempts.claim_next(second, 100.0, RANKS, dial)
        assert [a.lead_id, b.lead_id, c.lead_id] == [2, 3, 1]  # closest deadline first, across both
    finally:
        await first.close()
        await second.close()


async def test_a_claim_in_progress_is_skipped_not_waited_for(postgres, database):
    """A daemon holding a lead in an open claim does not stall the other's pick: the other
    takes the next lead at once (SKIP LOCKED), and never the held one."""
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    try:
        async with first.transaction() as conn:
            for n in (1, 2):
                await store.insert_lead_in(
                    conn,
                    store.NewLead(Phone(f"+7916000000{n}")),
                    1.0,
                    store.Placement(deadline_at=float(n)),
                )
        async with first.transaction() as held:
            (locked, *_) = await due.due_leads(held, 100.0, RANKS, 1, claim=True)
            assert locked.lead_id == 1
            other = await asyncio.wait_for(attempts.claim_next(second, 100.0, RANKS, dial), 5)
            assert other is not None and other.lead_id == 2
            assert (
                await asyncio.wait_for(attempts.claim_next(second, 100.0, RANKS, dial), 5) is None
            )
        again = await attempts.claim_next(second, 100.0, RANKS, dial)
        assert again is not None and again.lead_id == 1  # released when the holder ended
    finally:
        await first.close()
        await second.close()


async def test_the_heartbeat_renews_the_leases_and_a_stopped_daemon_s_run_out(postgres, database):
    db = await open_daemon(postgres, database)
    try:
        async with db.transaction() as conn:
            for n in (1, 2, 3):
                await store.insert_lead_in(
                    conn,
                    store.NewLead(Phone(f"+7916000000{n}")),
                    1.0,
                    store.Placement(deadline_at=float(n)),
                )
        await daemons.register(db, "alive", 100.0)
        await daemons.register(db, "stopped", 100.0)
        a = await attempts.claim_next(
            db, 100.0, RANKS, dial, lease=attempts.Lease("alive", LEASE_S)
        )
        s = await attempts.claim_next(
            db, 100.0, RANKS, dial, lease=attempts.Lease("stopped", LEASE_S)
        )
        done = await attempts.claim_next(
            db, 100.0, RANKS, dial, lease=attempts.Lease("alive", LEASE_S)
        )
        update = after_attempt(Outcome.BUSY, 1, campaign_rules(CampaignSettings()), 110.0)
        call = FinishedCall(
            done.attempt_id, done.lead_id, done.call_id, Outcome.BUSY, 5, 17, None, 110.0, 1.0, None
        )
        await attempts.finish_attempt(db, call, lambda *_: update, 110.0)  # its lease ends with it
        assert await daemons.heartbeat(db, "alive", 120.0, LEASE_S) == 1
        assert await daemons.expired_leases(db, 135.0) == [(s.attempt_id, s.lead_id, "stopped")]
        listed = {d.id: (d.heartbeat_at, d.leases) for d in await daemons.daemons(db)}
        assert listed == {"alive": (120.0, 1), "stopped": (100.0, 1)}
        assert a.lead_id != s.lead_id
        await attempts.take_back(db, a.attempt_id, a.lead_id, 140.0)  # and the lease with it
        assert {d.id: d.leases for d in await daemons.daemons(db)} == {"alive": 0, "stopped": 1}
        with pytest.raises(LookupError):
            await daemons.heartbeat(db, "never-registered", 150.0, LEASE_S)
    finally:
        await db.close()


async def test_intake_on_two_daemons_at_once_keeps_ids_unique_and_finds_duplicates(
    postgres, database, make_config
):
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    settings = make_config().settings
    try:
        leads = [
            validate_lead(
                LeadInput(phone=f"+7 916 {n:03d}-00-00", order_id=f"O-{n % 20}"), settings, 1.0
            )
            for n in range(40)
        ]
        # every order submitted through both daemons at the same time
        results = await asyncio.gather(
            *(submit(db, lead, settings, 1.0) for lead in leads for db in (first, second))
        )
        accepted = [r.lead_id for r in results if isinstance(r, Accepted)]
        duplicates = [r for r in results if isinstance(r, Duplicate)]
        assert sorted(accepted) == list(range(1, 41))  # one lead per phone, ids dense and unique
        assert len(duplicates) == 40
        stored = await sql.rows(first.conn, "SELECT COUNT(*), COUNT(DISTINCT phone) FROM leads")
        assert tuple(stored[0]) == (40, 40)
    finally:
        await first.close()
        await second.close()


async def test_the_pick_is_one_statement_on_the_indexes(postgres, database):
    """The claim's statement reads leads by the partial indexes, whatever the store's size:
    no sequential scan of leads even when the planner is told scans are cheap, each rank's
    first due leads read in order (no batch sorted per rank), in the plan of the first pick
    and in the generic plan a connection keeps after; and each candidate's phone history by
    the index on (phone, created_at)."""
    db = await open_daemon(postgres, database)
    try:
        async with db.transaction() as conn:
            rows = [
                (n, store.NewLead(Phone(f"+7916{n:07d}")), store.Placement(deadline_at=float(n)))
                for n in range(1, 8001)
            ]
            await store.insert_leads_many_in(conn, rows, 1.0)
            await sql.run(conn, "UPDATE leads SET state = 'closed' WHERE id % 10 != 0")
        async with db.pool.acquire() as raw:
            await raw.execute("ANALYZE leads")
            query = due._due_query(RANKS, 1, None, "claim")
            from dialerd.store.dialect import to_postgresql

            text = to_postgresql(query)
            plan = await raw.fetch("EXPLAIN " + text.text, *text.args({"now": 1000.0}))
            # the plan a connection keeps after its first picks (prepared, generic: it
            # cannot see ``now``), as a daemon runs it all day
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            await raw.execute(f"PREPARE pick AS {text.text}")
            generic = await raw.fetch("EXPLAIN EXECUTE pick(1000.0)")
        for plan_text in ("\n".join(r[0] for r in plan), "\n".join(r[0] for r in generic)):
            assert "Seq Scan on leads" not in plan_text, plan_text
            for index in ("leads_new_by_deadline", "leads_new_undated", "leads_pick"):
                assert f"Index Scan using {index} on leads" in plan_text, plan_text
            # each rank's first due leads read in order from its index, not a batch sorted
            assert "Sort  " not in plan_text.split("Append", 1)[1], plan_text
            assert "LockRows" in plan_text
            # each candidate's phone history (dials, the latest abandon) by the phone's index
            assert "Seq Scan on attempts" not in plan_text, plan_text
            assert "attempts_phone_created on attempts" in plan_text, plan_text
    finally:
        await db.close()


async def test_a_stopped_daemon_s_calls_are_adopted_once_each(postgres, database):
    """Two daemons adopt at the same time what a third left when it stopped heartbeating:
    every attempt is adopted by exactly one of them; a live daemon's calls by neither."""
    dead = await open_daemon(postgres, database)
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    try:
        async with dead.transaction() as conn:
            rows = [
                (n, store.NewLead(Phone(f"+7916{n:07d}")), store.Placement(deadline_at=float(n)))
                for n in range(1, 61)
            ]
            await store.insert_leads_many_in(conn, rows, 1.0)
        for daemon_id in ("dead", "first", "second"):
            await daemons.register(dead, daemon_id, 100.0)
        dead_claims = [
            await attempts.claim_next(
                dead, 100.0, RANKS, dial, lease=attempts.Lease("dead", LEASE_S)
            )
            for _ in range(50)
        ]
        live = await attempts.claim_next(
            first, 100.0, RANKS, dial, lease=attempts.Lease("first", LEASE_S)
        )
        # "dead" stops; the others go on heartbeating past its leases' expiry
        for db, daemon_id in ((first, "first"), (second, "second")):
            await daemons.heartbeat(db, daemon_id, 140.0, LEASE_S)
        assert await daemons.adopt_expired(first, "first", 120.0, LEASE_S) == []  # not yet
        adopted = await asyncio.gather(
            *(daemons.adopt_expired(db, name, 140.0, LEASE_S, limit=7) for db, name in
              [(first, "first"), (second, "second")] * 5)
        )  # fmt: skip
        taken = [a.attempt_id for batch in adopted for a in batch]
        assert sorted(taken) == sorted(c.attempt_id for c in dead_claims)  # each once, all
        assert {a.previous_daemon for batch in adopted for a in batch} == {"dead"}
        by_call = {a.attempt_id: a.call_id for batch in adopted for a in batch}
        assert all(by_call[c.attempt_id] == c.call_id for c in dead_claims)
        leased = {d.id: d.leases for d in await daemons.daemons(first)}
        assert leased["dead"] == 0 and leased["first"] + leased["second"] == 51
        owner = await sql.row(
            first.conn, "SELECT daemon_id FROM leases WHERE attempt_id = ?", (live.attempt_id,)
        )
        assert owner[0] == "first"
        assert await daemons.expired_leases(first, 140.0 + LEASE_S - 1) == []  # renewed on adoption
    finally:
        for db in (dead, first, second):
            await db.close()


async def test_new_leads_wake_every_listening_daemon_when_they_commit(
    postgres, database, make_config
):
    from dialerd.store.pg import LEADS_CHANNEL

    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    settings = make_config().settings
    woken = {"first": asyncio.Event(), "second": asyncio.Event()}

    async def both_woken() -> None:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in woken.values())), 10)

    try:
        async with (
            first.listen(LEADS_CHANNEL, woken["first"].set),
            second.listen(LEADS_CHANNEL, woken["second"].set),
        ):
            async with first.transaction() as conn:
                await store.insert_lead_in(
                    conn,
                    store.NewLead(Phone("+79160000001")),
                    1.0,
                    store.Placement(deadline_at=1.0),
                )
                await asyncio.sleep(0.3)
                assert not any(e.is_set() for e in woken.values())  # not before the commit
            await both_woken()
            for event in woken.values():
                event.clear()
            with pytest.raises(RuntimeError):
                async with first.transaction() as conn:
                    await store.insert_lead_in(
                        conn, store.NewLead(Phone("+79160000002")), 1.0, store.Placement()
                    )
                    raise RuntimeError("the request failed after the insert")
            await asyncio.sleep(0.5)
            assert not any(e.is_set() for e in woken.values())  # rolled back: nothing to dial
            lead = validate_lead(LeadInput(phone="+7 916 000-00-03"), settings, 1.0)
            assert isinstance(await submit(second, lead, settings, 1.0), Accepted)
            await both_woken()  # intake through the other daemon wakes this one too
    finally:
        await first.close()
        await second.close()


async def test_a_capped_pbx_never_carries_more_calls_than_its_lines_across_daemons(
    postgres, database
):
    """Two daemons drive PBX 'a' (3 lines): claims racing from both never take a fourth
    line; a call's end frees one; another PBX is not held back by 'a' being full."""
    first = await open_daemon(postgres, database)
    second = await open_daemon(postgres, database)
    try:
        async with first.transaction() as conn:
            rows = [
                (n, store.NewLead(Phone(f"+7916{n:07d}")), store.Placement(deadline_at=float(n)))
                for n in range(1, 21)
            ]
            await store.insert_leads_many_in(conn, rows, 1.0)
        ids = {first: "daemon-a", second: "daemon-b"}
        for db, daemon_id in ids.items():
            await daemons.register(db, daemon_id, 100.0)

        async def line(db: PgDatabase, pbx: str = "a") -> attempts.Claim | None:
            try:
                return await attempts.claim_next(
                    db, 100.0, RANKS, dial, lease=attempts.Lease(ids[db], LEASE_S),
                    pbx=pbx, pbx_lines=3,
                )  # fmt: skip
            except attempts.ClaimRefused:
                return None

        got = await asyncio.gather(*(line(db) for db in (first, second) for _ in range(4)))
        taken = [claim for claim in got if claim is not None]
        assert len(taken) == 3
        assert await line(first) is None and await line(second) is None
        assert await line(second, "b") is not None  # PBX b has lines of its own

        done = taken[0]
        call = FinishedCall(
            done.attempt_id, done.lead_id, done.call_id, Outcome.BUSY, 5, 17, None, 110.0, 1.0, None
        )
        update = after_attempt(Outcome.BUSY, 1, campaign_rules(CampaignSettings()), 110.0)
        await attempts.finish_attempt(first, call, lambda *_: update, 110.0)
        assert await line(second) is not None  # the freed line, taken by the other daemon
        assert await line(first) is None
    finally:
        await first.close()
        await second.close()


async def test_a_daemon_whose_heartbeat_is_older_than_a_lease_claims_nothing(postgres, database):
    """It slept through its lease (stopped, frozen): its calls may be another's now, and it
    must not start new ones before its heartbeat notices."""
    db = await open_daemon(postgres, database)
    try:
        await store.insert_lead(db, store.NewLead(Phone("+79160000001")), 1.0)
        await daemons.register(db, "sleeper", 100.0)
        lease = attempts.Lease("sleeper", LEASE_S)
        with pytest.raises(attempts.ClaimRefused, match="heartbeat"):
            await attempts.claim_next(db, 100.0 + LEASE_S + 1, RANKS, dial, lease=lease)
        assert await sql.row(db.conn, "SELECT COUNT(*) FROM attempts") == (0,)
        await daemons.heartbeat(db, "sleeper", 200.0, LEASE_S)
        assert await attempts.claim_next(db, 200.0, RANKS, dial, lease=lease) is not None
    finally:
        await db.close()


async def test_the_report_cohorts_count_claims_at_commit_and_nothing_rolled_back(
    postgres, database
):
    """A lead's attempts and first attempt reach its report cohort when the claim commits
    (PostgreSQL adds them then, in one write); a claim that is refused after its pick
    (stale heartbeat: rolled back) counts nothing; a lead moved to another cohort in a
    transaction that also dials it is counted in the new cohort only."""
    db = await open_daemon(postgres, database)

    async def cohorts() -> dict[tuple[int, str], tuple[int, int, int]]:
        rows = await sql.rows(
            db.conn, "SELECT bucket, campaign, stored, processed, attempts FROM report_leads"
        )
        return {(int(r[0]), str(r[1])): (int(r[2]), int(r[3]), int(r[4])) for r in rows if r[2]}

    try:
        for n in (1, 2, 3):
            await store.insert_lead(db, store.NewLead(Phone(f"+7916000000{n}")), 900.0 * 10)
        await daemons.register(db, "d", 9100.0)
        lease = attempts.Lease("d", LEASE_S)
        assert await attempts.claim_next(db, 9100.0, RANKS, dial, lease=lease) is not None
        assert await attempts.claim_next(db, 9100.0, RANKS, dial, lease=lease) is not None
        with pytest.raises(attempts.ClaimRefused):  # picked, then refused: rolled back
            await attempts.claim_next(db, 9100.0 + LEASE_S + 1, RANKS, dial, lease=lease)
        assert await cohorts() == {(10, "default"): (3, 2, 2)}
        async with db.transaction() as conn:  # dialed again and moved to another cohort
            await sql.run(conn, "UPDATE leads SET attempts = attempts + 1 WHERE id = 1")
            await sql.run(conn, "UPDATE leads SET campaign = 'promo' WHERE id = 1")
        assert await cohorts() == {(10, "default"): (2, 1, 1), (10, "promo"): (1, 1, 2)}
    finally:
        await db.close()
