"""What predictive pacing learns from a campaign's finished calls, on either store engine."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dialerd.store import sql
from dialerd.store.pacing_stats import call_profile

pytestmark = pytest.mark.engines("sqlite", "postgresql")

ZONE = ZoneInfo("Europe/Moscow")
NOW = datetime(2027, 3, 2, 14, 30, tzinfo=ZONE).timestamp()
HOUR, DAY = 3600.0, 86400.0


async def add(db, n, created, *, answered_after=None, talk=None, campaign="c", outcome=None):
    """One finished attempt: answered ``answered_after`` s after it was sent, then ``talk`` s
    with an operator (who came 0.5 s after the answer)."""
    await sql.run(
        db.conn,
        "INSERT OR IGNORE INTO leads (id, phone, received_at, due_at, updated_at, state)"
        " VALUES (1, '+79161231001', 0, 0, 0, 'closed')",
    )
    answered = None if answered_after is None else created + answered_after
    operator_at = None if answered is None or talk is None else answered + 0.5
    ended = created + 30 if operator_at is None else operator_at + talk
    await sql.run(
        db.conn,
        "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode, status,"
        " created_at, originated_at, outcome, answered_at, operator_at, ended_at)"
        " VALUES (1, ?, ?, ?, ?, '+79161231001', 'predictive', 'done', ?, ?, ?, ?, ?, ?)",
        (
            n,
            f"c{n}",
            f"a{n}",
            campaign,
            created,
            created,
            outcome or ("answered" if answered else "no_answer"),
            answered,
            operator_at,
            ended,
        ),
    )


async def test_the_same_hour_of_day_is_learned_once_it_has_enough_calls(db):
    n = 0
    for day in range(1, 4):  # 14:00-14:59 on three days: 1 in 4 answers, rings 10 s, talks 200 s
        for k in range(12):
            n += 1
            at = NOW - day * DAY + k
            await add(db, n, at, answered_after=10.0 if k % 4 == 0 else None, talk=200.0)
    for k in range(40):  # 09:00-09:59 yesterday: everyone answers after 3 s, talks 60 s
        n += 1
        await add(db, n, NOW - DAY - 5.5 * HOUR + k, answered_after=3.0, talk=60.0)
    await add(db, 999, NOW - DAY, answered_after=1.0, talk=5.0, campaign="other")

    profile = await call_profile(db, "c", NOW, ZONE, min_samples=30)
    assert (profile.attempts, profile.answered) == (36, 9)
    assert profile.ring_s == (10.0,) * 9
    assert profile.talk_s == (200.0,) * 9
    assert profile.scope == "14:00-14:59 calls"

    # with too few calls of the hour, all hours of the last 14 days
    everything = await call_profile(db, "c", NOW, ZONE, min_samples=50)
    assert (everything.attempts, everything.answered) == (76, 49)
    assert everything.scope == "last 14 days"


async def test_without_history_the_policy_falls_back_to_its_priors(db):
    await add(db, 1, NOW - 20 * DAY, answered_after=5.0, talk=100.0)  # older than 14 days
    await add(db, 2, NOW - HOUR, outcome="unknown")  # tells nothing
    profile = await call_profile(db, "c", NOW, ZONE, min_samples=30)
    assert (profile.attempts, profile.answered, profile.ring_s, profile.talk_s) == (0, 0, (), ())
