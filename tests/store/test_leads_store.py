"""The store on a real SQLite file: picks, claims, finishes, migrations."""

import asyncio
import sqlite3
from dataclasses import replace

import pytest

from dialerd.config import CampaignSettings, RetryDelays
from dialerd.config.rules import campaign_rules
from dialerd.domain import FinishedCall, LeadAtClaim, LeadState, Outcome
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS, Scheme
from dialerd.policy.retry import after_attempt
from dialerd.store import attempts, due, outbox, sql
from dialerd.store import leads as store
from dialerd.store.db import MIGRATIONS_DIR, migrate, open_store

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def dial(_lead):
    return Dial()


def lead(n: int) -> store.NewLead:
    return store.NewLead(phone=Phone(f"+7916123{n:04d}"))


def finished(claim: attempts.Claim, outcome: Outcome, at: float) -> FinishedCall:
    return FinishedCall(
        claim.attempt_id, claim.lead_id, claim.call_id, outcome, 5, 17, None, at, 1.0, None
    )


async def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "s.sqlite3"
    async with open_store(path) as db:
        assert await migrate(db) == []
    with sqlite3.connect(path) as conn:
        names = [
            row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY version")
        ]
        assert names == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_new_leads_first_oldest_first_and_not_before_due(db):
    first = await store.insert_lead(db, lead(1), now=100.0)
    second = await store.insert_lead(db, lead(2), now=101.0)
    claim = await attempts.claim_next(db, 200.0, RANKS, dial)
    assert claim.lead_id == first
    # the first lead is retried later: it ranks behind the never-dialed second lead
    update = after_attempt(
        Outcome.BUSY,
        1,
        campaign_rules(CampaignSettings(retry_delays=RetryDelays(busy=10))),
        now=201.0,
    )
    await attempts.finish_attempt(
        db, finished(claim, Outcome.BUSY, 201.0), lambda *_: update, now=201.0
    )
    assert (await attempts.claim_next(db, 300.0, RANKS, dial)).lead_id == second
    # the first lead is due again at 211
    assert await attempts.claim_next(db, 300.0, RANKS, dial) is not None
    assert await attempts.claim_next(db, 300.0, RANKS, dial) is None


async def test_a_dialing_lead_is_never_picked_again(db):
    await store.insert_lead(db, lead(1), now=1.0)
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    assert claim.attempt_number == 1
    assert await attempts.claim_next(db, 3.0, RANKS, dial) is None
    row = await store.get_lead(db, claim.lead_id)
    assert (row["state"], row["attempts"]) == ("dialing", 1)
    (attempt,) = await store.attempts_of(db, claim.lead_id)
    assert (attempt["status"], attempt["call_id"]) == ("dialing", claim.call_id)


async def test_a_claims_work_does_not_grow_with_the_leads_waiting(tmp_path):
    """SQLite: the dial loop's claim runs the pick and reads the next due time, so neither
    may step over every waiting lead (an import of 50,000 made each claim milliseconds).
    New leads with a deadline, a callback without one and the next due time each have an
    index that gives their first entry."""

    async def claim_steps(waiting: int) -> int:
        """SQLite VM steps of one claim with ``waiting`` new leads due and a callback."""
        async with open_store(tmp_path / f"s{waiting}.sqlite3") as db:
            for n in range(waiting):
                await store.insert_lead(db, lead(n), now=100.0)
            callback = store.NewLead(phone=Phone("+79160000001"), callback_at=150.0)
            await store.insert_lead(db, callback, 100.0, store.Placement())  # no deadline
            steps = 0

            def count() -> int:
                nonlocal steps
                steps += 1
                return 0

            due_next: list[float | None] = []
            await db.conn.set_progress_handler(count, 1)
            claim = await attempts.claim_next(
                db, 200.0, RANKS, lambda view: Dial(), next_due=due_next.append
            )
            await db.conn.set_progress_handler(None, 1)
            assert claim is not None
            assert claim.lead_id == 1  # the oldest deadline first
            assert due_next == [100.0]
            return steps

    few = await claim_steps(10)
    many = await claim_steps(1000)
    assert many < few * 1.5, (few, many)


async def test_concurrent_claims_from_two_connections_never_share_a_lead(tmp_path):
    path = tmp_path / "s.sqlite3"
    async with open_store(path) as a, open_store(path) as b:
        for n in range(40):
            await store.insert_lead(a, lead(n), now=float(n))

        async def drain(db):
            got = []
            while (claim := await attempts.claim_next(db, 1000.0, RANKS, dial)) is not None:
                got.append(claim.lead_id)
            return got

        got_a, got_b = await asyncio.gather(drain(a), drain(b))
    assert sorted(got_a + got_b) == list(range(1, 41))


async def test_unclaim_restores_the_lead_exactly(db):
    lead_id = await store.insert_lead(db, lead(1), now=1.0)
    before = await store.get_lead(db, lead_id)
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    await attempts.unclaim(db, claim, now=before["updated_at"])
    after = await store.get_lead(db, lead_id)
    assert after == before
    assert await store.attempts_of(db, lead_id) == []


async def test_cap_closes_the_lead_as_exhausted(db):
    lead_id = await store.insert_lead(db, lead(1), now=1.0)
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    update = after_attempt(
        Outcome.NO_ANSWER, 1, campaign_rules(CampaignSettings(max_attempts=1)), now=3.0
    )
    assert update.state is LeadState.CLOSED
    await attempts.finish_attempt(
        db, finished(claim, Outcome.NO_ANSWER, 3.0), lambda *_: update, now=3.0
    )
    row = await store.get_lead(db, lead_id)
    assert (row["state"], row["close_reason"], row["last_outcome"]) == (
        "closed",
        "exhausted",
        "no_answer",
    )


async def test_a_lowered_cap_closes_waiting_leads_already_at_it(db):
    at_cap = await store.insert_lead(db, lead(1), now=1.0)
    below = await store.insert_lead(db, lead(2), now=1.0)
    other_campaign = await store.insert_lead(
        db, store.NewLead(phone=Phone("+79161230003"), campaign="old"), now=1.0
    )
    await db.conn.execute("UPDATE leads SET attempts = 3")
    await db.conn.execute("UPDATE leads SET attempts = 1 WHERE id = ?", (below,))
    closed = await due.close_over_cap(db, {"default": 3}, default_cap=5, now=2.0)
    assert closed == 1
    states = {
        i: (await store.get_lead(db, i))["close_reason"] for i in (at_cap, below, other_campaign)
    }
    assert states == {at_cap: "exhausted", below: None, other_campaign: None}


async def test_rerank_applies_a_changed_scheme_to_waiting_leads(db):
    lead_id = await store.insert_lead(db, lead(1), now=1.0)
    await db.conn.execute("UPDATE leads SET attempts = 2, rank = 4 WHERE id = ?", (lead_id,))
    assert await due.rerank(db, {"default": Scheme.FEWEST_ATTEMPTS}, Scheme.TIERS) == 1
    assert (await store.get_lead(db, lead_id))["rank"] == 3  # 1 + 2 attempts
    await db.conn.execute("UPDATE leads SET attempts = 1 WHERE id = ?", (lead_id,))
    assert await due.rerank(db, {"default": Scheme.TIERS}, Scheme.TIERS) == 1
    assert (await store.get_lead(db, lead_id))["rank"] == 2  # tiers: exactly one attempt


async def test_the_retry_decision_reads_the_attempts_inside_the_write(db):
    lead_id = await store.insert_lead(
        db, store.NewLead(phone=Phone("+79161230001"), campaign="c"), 1.0
    )
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    rules, asked = campaign_rules(CampaignSettings()), []

    def decide(count: int, campaign: str, extra: int = 0):
        asked.append((count, campaign))
        return after_attempt(Outcome.BUSY, count, rules, now=3.0)

    settled = await attempts.finish_attempt(db, finished(claim, Outcome.BUSY, 3.0), decide, 3.0)
    assert asked == [(1, "c")]
    assert settled == ("c", after_attempt(Outcome.BUSY, 1, rules, now=3.0))
    assert (await store.get_lead(db, lead_id))["state"] == "waiting"


async def test_finishing_the_attempt_of_a_missing_lead_fails_and_writes_nothing(db):
    await store.insert_lead(db, lead(1), now=1.0)
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    ghost = replace(finished(claim, Outcome.BUSY, 3.0), lead_id=999)
    with pytest.raises(LookupError, match="lead 999"):
        await attempts.finish_attempt(db, ghost, lambda *_: pytest.fail("decided"), 3.0)
    (attempt,) = await store.attempts_of(db, claim.lead_id)
    assert attempt["status"] == "dialing"


@pytest.mark.parametrize("with_claim", [True, False], ids=["as-claimed", "adopted"])
async def test_an_attempt_already_recorded_leaves_its_lead_alone(db, with_claim):
    """A second end for one attempt (another daemon took the call over and recorded it
    while this one could not renew its lease) writes nothing: deciding again would
    reopen the closed lead."""
    lead_id = await store.insert_lead(db, lead(1), now=1.0)
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    call = finished(claim, Outcome.ANSWERED, 3.0)
    if with_claim:
        call = replace(call, lead_at_claim=claim.lead)
    rules = campaign_rules(CampaignSettings())
    closed = after_attempt(Outcome.ANSWERED, 1, rules, now=3.0)
    await attempts.finish_attempt(db, call, lambda *_: closed, 3.0)
    before = await store.get_lead(db, lead_id)
    (attempt_before,) = await store.attempts_of(db, lead_id)
    late = replace(call, outcome=Outcome.UNKNOWN, note="reconciled late")
    again = after_attempt(Outcome.UNKNOWN, 1, rules, now=9.0)
    with pytest.raises(attempts.AlreadyFinished):
        await attempts.finish_attempt(db, late, lambda *_: again, 9.0)
    with pytest.raises(attempts.AlreadyFinished):
        await attempts.take_back(db, claim.attempt_id, lead_id, 9.0)
    assert await store.get_lead(db, lead_id) == before
    assert await store.attempts_of(db, lead_id) == [attempt_before]


async def test_the_end_decides_on_the_lead_as_its_claim_left_it(db):
    """The claim's view of the lead (attempts, campaign, extra attempts) comes with the call,
    so its end decides on it and writes the lead in the same transaction."""
    lead_id = await store.insert_lead(
        db, store.NewLead(phone=Phone("+79161230001"), campaign="c"), 1.0
    )
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    assert claim.lead == LeadAtClaim(attempts=1, campaign="c", extra_attempts=0)
    rules, asked = campaign_rules(CampaignSettings(retry_delays=RetryDelays(busy=60))), []

    def decide(count: int, campaign: str, extra: int):
        asked.append((count, campaign, extra))
        return after_attempt(Outcome.BUSY, count, rules, 3.0, extra)

    call = replace(finished(claim, Outcome.BUSY, 3.0), lead_at_claim=claim.lead)
    settled = await attempts.finish_attempt(db, call, decide, 3.0)
    assert asked == [(1, "c", 0)]
    assert settled.campaign == "c"
    row = await store.get_lead(db, lead_id)
    assert (row["state"], row["due_at"], row["attempts"]) == ("waiting", 63.0, 1)


async def test_a_lead_changed_while_its_call_was_live_is_decided_on_as_it_is_now(db):
    """An attempt granted while the call was live is not lost: the end's write sees the lead
    no longer says what the claim saw, reads it and decides again (the cap was 1: the
    claim's view alone would close the lead as exhausted)."""
    lead_id = await store.insert_lead(
        db, store.NewLead(phone=Phone("+79161230001"), campaign="c"), 1.0
    )
    claim = await attempts.claim_next(db, 2.0, RANKS, dial)
    async with db.transaction() as conn:  # granted while the call rings
        await sql.run(conn, "UPDATE leads SET extra_attempts = 1 WHERE id = ?", (lead_id,))
    rules = campaign_rules(CampaignSettings(max_attempts=1, retry_delays=RetryDelays(busy=60)))
    asked = []

    def decide(count: int, campaign: str, extra: int):
        asked.append((count, campaign, extra))
        return after_attempt(Outcome.BUSY, count, rules, 3.0, extra)

    call = replace(finished(claim, Outcome.BUSY, 3.0), lead_at_claim=claim.lead)
    await attempts.finish_attempt(db, call, decide, 3.0)
    assert asked[-1] == (1, "c", 1)
    row = await store.get_lead(db, lead_id)
    assert (row["state"], row["close_reason"], row["due_at"]) == ("waiting", None, 63.0)
    assert await outbox.pending_count(db) == 0  # no "exhausted" result went to the CRM


async def test_the_send_time_and_caller_id_are_stored_without_a_write_of_their_own(db):
    """The caller ID is stored with the claim; the Originate's send time with the answer
    (while the call is live) or, for a call never answered, with its end."""
    first = await store.insert_lead(db, lead(1), now=1.0)
    second = await store.insert_lead(db, lead(2), now=1.5)
    numbers = iter(["+74950000001", None])
    busy = await attempts.claim_next(db, 2.0, RANKS, dial, caller_of=lambda _c: next(numbers))
    talked = await attempts.claim_next(db, 2.0, RANKS, dial, caller_of=lambda _c: next(numbers))
    assert (busy.lead_id, talked.lead_id) == (first, second)
    await attempts.mark_answered(db, [attempts.Answer(talked.attempt_id, 9.0, 2.25)])
    (live,) = await store.attempts_of(db, second)
    assert (live["status"], live["answered_at"], live["originated_at"]) == ("dialing", 9.0, 2.25)
    assert live["caller_id"] is None  # the dialing-wide default was shown
    (ringing,) = await store.attempts_of(db, first)
    assert (ringing["caller_id"], ringing["originated_at"]) == ("+74950000001", None)
    rules = campaign_rules(CampaignSettings())
    call = replace(finished(busy, Outcome.BUSY, 12.0), originated_at=2.5)
    await attempts.finish_attempt(
        db, call, lambda n, *_: after_attempt(Outcome.BUSY, n, rules, now=12.0), 12.0
    )
    (ended,) = await store.attempts_of(db, first)
    assert (ended["status"], ended["originated_at"], ended["caller_id"]) == (
        "done",
        2.5,
        "+74950000001",
    )


async def test_ends_that_come_together_are_written_together_or_each_on_its_own(db):
    """Calls that end in one burst are recorded in one transaction (on SQLite), each lead
    decided as its claim left it. All or nothing: when one lead changed while its call was
    live, or one would be closed as exhausted (its result goes to the CRM), nothing of the
    group is written, and each end is then written on its own as usual."""
    from dialerd.store.db import Database

    ids = [await store.insert_lead(db, lead(n), now=1.0) for n in range(3)]
    claims = [await attempts.claim_next(db, 2.0, RANKS, dial) for _ in ids]
    rules = campaign_rules(CampaignSettings(max_attempts=2, retry_delays=RetryDelays(busy=60)))
    ends = [
        (
            replace(finished(claim, Outcome.BUSY, 3.0), lead_at_claim=claim.lead),
            after_attempt(Outcome.BUSY, 1, rules, 3.0),
        )
        for claim in claims
    ]
    async with db.transaction() as conn:  # granted while the third call rings
        await sql.run(conn, "UPDATE leads SET extra_attempts = 1 WHERE id = ?", (ids[2],))
    assert await attempts.finish_as_claimed(db, ends, 3.0) is False
    exhausted = after_attempt(Outcome.BUSY, 2, rules, 3.0)
    assert exhausted.close_reason is not None
    assert await attempts.finish_as_claimed(db, [ends[0], (ends[1][0], exhausted)], 3.0) is False
    assert [a["status"] for a in await store.attempts_of(db)] == ["dialing"] * 3

    grouped = await attempts.finish_as_claimed(db, ends[:2], 3.0)
    assert grouped is isinstance(db, Database)  # PostgreSQL: each end on its own
    if not grouped:
        for call, update in ends[:2]:
            await attempts.finish_attempt(db, call, lambda *_, u=update: u, 3.0)
    rows = [await store.get_lead(db, lead_id) for lead_id in ids[:2]]
    assert [(r["state"], r["due_at"], r["attempts"]) for r in rows] == [("waiting", 63.0, 1)] * 2
    done = await store.attempts_of(db)
    assert [(a["status"], a["outcome"]) for a in done] == [("done", "busy")] * 2 + [
        ("dialing", None)
    ]
    assert (await store.get_lead(db, ids[2]))["state"] == "dialing"
