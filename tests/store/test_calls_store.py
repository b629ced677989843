"""The pacing windows and the campaign filter on a real SQLite file."""

from dialerd.policy.abandon import AbandonStats
from dialerd.policy.pacing import AnswerStats
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS
from dialerd.store import attempts, calls, due
from dialerd.store import leads as store

NOW = 1_800_000_000.0
DAY = 86400.0


async def add_attempt(
    db, n, *, campaign="c", mode="predictive", created, outcome, answered=None, operator_at=None
):
    await db.conn.execute(
        "INSERT OR IGNORE INTO leads (id, phone, received_at, due_at, updated_at, state)"
        " VALUES (1, '+79161231001', 0, 0, 0, 'closed')"
    )
    await db.conn.execute(
        "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode, status,"
        " created_at, outcome, answered_at, operator_at)"
        " VALUES (1, ?, ?, ?, ?, '+79161231001', ?, 'done', ?, ?, ?, ?)",
        (n, f"c{n}", f"a{n}", campaign, mode, created, outcome, answered, operator_at),
    )


async def test_the_abandon_window_counts_late_operators_and_only_customer_first_calls(db):
    rows = [
        # (mode, created, outcome, answered_at offset, operator_at offset)
        ("predictive", NOW - DAY, "answered", 0.0, 0.5),  # an operator within 2 s
        ("predictive", NOW - DAY, "answered", 0.0, 3.0),  # too late: counts as abandoned
        ("customer_first", NOW - DAY, "abandoned", 0.0, None),  # never got one
        ("agent_first", NOW - DAY, "answered", 0.0, 0.0),  # operator first: never abandoned
        ("predictive", NOW - 31 * DAY, "abandoned", 0.0, None),  # outside the 30-day window
        ("predictive", NOW - DAY, "no_answer", None, None),
    ]
    for n, (mode, created, outcome, answered, op) in enumerate(rows, start=1):
        await add_attempt(
            db,
            n,
            mode=mode,
            created=created,
            outcome=outcome,
            answered=None if answered is None else created + answered,
            operator_at=None if op is None else created + op,
        )
    await add_attempt(
        db, 99, campaign="other", created=NOW - DAY, outcome="abandoned", answered=NOW - DAY
    )
    abandons, answers = await calls.campaign_stats(
        db, "c", NOW, window_since=NOW - 30 * DAY, recent_s=3600, abandon_after_s=2.0
    )
    assert abandons == AbandonStats(answered=3, abandoned=2)
    assert answers == AnswerStats(0, 0)  # nothing in the last hour


async def test_the_answer_rate_is_the_recent_finished_attempts_of_any_mode(db):
    outcomes = ["answered", "no_answer", "busy", "abandoned", "unknown", "answered"]
    for n, outcome in enumerate(outcomes, start=1):
        answered = NOW - 60 if outcome in ("answered", "abandoned") else None
        mode = "agent_first" if n == 1 else "predictive"
        await add_attempt(db, n, mode=mode, created=NOW - 600, outcome=outcome, answered=answered)
    _, answers = await calls.campaign_stats(
        db, "c", NOW, window_since=NOW - 30 * DAY, recent_s=3600, abandon_after_s=2.0
    )
    assert answers == AnswerStats(attempts=5, answered=3)  # 'unknown' tells nothing


async def test_a_pick_takes_only_campaigns_with_a_free_operator(db):
    for n, campaign in enumerate(["held", "held", "free", "other"]):
        lead = store.NewLead(phone=Phone(f"+7916123{n:04d}"), campaign=campaign)
        await store.insert_lead(db, lead, NOW - 100 + n)
    only = due.CampaignFilter(("free",), include=True)
    claim = await attempts.claim_next(
        db, NOW, RANKS, lambda _: Dial(), only=only, mode_of=lambda c: "predictive"
    )
    assert claim is not None and claim.campaign == "free"
    (attempt,) = await store.attempts_of(db, claim.lead_id)
    assert attempt["mode"] == "predictive"
    others = due.CampaignFilter(("held",), include=False)
    claim = await attempts.claim_next(db, NOW, RANKS, lambda _: Dial(), only=others)
    assert claim is not None and claim.campaign == "other"
    assert await attempts.claim_next(db, NOW, RANKS, lambda _: Dial(), only=others) is None
    held = [r for r in await store.list_leads(db) if r["campaign"] == "held"]
    assert [r["state"] for r in held] == ["waiting", "waiting"]  # untouched, not deferred


async def test_a_missed_offer_is_taken_back_and_the_operator_kept_before_the_originate(db):
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone("+79161231001")), NOW - 10)
    claim = await attempts.claim_next(
        db, NOW, RANKS, lambda _: Dial(), mode_of=lambda c: "agent_first"
    )
    await attempts.set_operator(db, claim.attempt_id, "anna")
    (flying,) = await calls.in_flight_calls(db)
    assert (flying.mode, flying.operator, flying.lead_id) == ("agent_first", "anna", lead_id)
    await attempts.take_back(db, claim.attempt_id, claim.lead_id, NOW + 5)
    lead = await store.get_lead(db, lead_id)
    assert (lead["state"], lead["attempts"], lead["first_attempt_at"]) == ("waiting", 0, None)
    assert await calls.in_flight_calls(db) == []


async def test_a_per_day_window_counts_only_todays_abandons(db):
    # yesterday's abandon is in the rolling window but not in today's (per_day) one
    await add_attempt(db, 1, created=NOW - DAY, outcome="abandoned", answered=NOW - DAY)
    await add_attempt(
        db, 2, created=NOW - 60, outcome="answered", answered=NOW - 60, operator_at=NOW - 59
    )
    rolling, _ = await calls.campaign_stats(
        db, "c", NOW, window_since=NOW - 30 * DAY, recent_s=3600, abandon_after_s=2.0
    )
    today, _ = await calls.campaign_stats(
        db, "c", NOW, window_since=NOW - 3600, recent_s=3600, abandon_after_s=2.0
    )
    assert rolling == AbandonStats(answered=2, abandoned=1)
    assert today == AbandonStats(answered=1, abandoned=0)


async def test_a_machine_we_dropped_counts_as_an_abandoned_call(db):
    """Ofcom's count: an answering machine detected and hung up on is an abandoned call."""
    await add_attempt(db, 1, created=NOW - DAY, outcome="machine", answered=NOW - DAY)
    await add_attempt(db, 2, created=NOW - DAY, outcome="answered", answered=NOW - DAY)
    abandons, _ = await calls.campaign_stats(
        db, "c", NOW, window_since=NOW - 30 * DAY, recent_s=3600, abandon_after_s=2.0
    )
    assert abandons == AbandonStats(answered=2, abandoned=1)
