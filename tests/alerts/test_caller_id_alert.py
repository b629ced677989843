"""A caller ID answered far less often than its campaign's other numbers (the sign carriers
label it spam) is alerted once per number, and again only after it has recovered."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.webhook import WebhookServer

from dialerd.alerts.monitor import Alerter
from dialerd.config import load_config
from dialerd.policy.caller_id import NumberStats, spam_suspects
from dialerd.store.db import open_store

SECRET = "alert-hook-key"


def stats(*rows):
    return [NumberStats("shop", number, attempts, answered) for number, attempts, answered in rows]


def test_a_number_far_below_its_campaigns_others_is_suspect():
    found = spam_suspects(
        stats(("+1", 40, 4), ("+2", 40, 14), ("+3", 40, 12)), share=0.5, min_attempts=30
    )
    assert [(s.number.caller_id, s.others_rate) for s in found] == [("+1", 26 / 80)]


def test_too_few_calls_or_a_lone_number_prove_nothing():
    assert spam_suspects(stats(("+1", 20, 0), ("+2", 40, 20)), share=0.5, min_attempts=30) == []
    assert spam_suspects(stats(("+1", 100, 0)), share=0.5, min_attempts=30) == []
    other = [NumberStats("other", "+2", 100, 50)]  # another campaign is not a comparison
    assert spam_suspects([*stats(("+1", 100, 0)), *other], share=0.5, min_attempts=30) == []


@given(
    rows=st.lists(st.tuples(st.integers(30, 200), st.floats(0, 1)), min_size=2, max_size=6),
    share=st.floats(0.05, 0.95),
)
def test_a_suspect_is_always_below_the_share_of_the_others(rows, share):
    numbers = stats(*((f"+{n}", a, round(a * f)) for n, (a, f) in enumerate(rows)))
    for suspect in spam_suspects(numbers, share=share, min_attempts=30):
        assert suspect.rate < share * suspect.others_rate
        # and the best-answered number is never the suspect
        assert suspect.rate < max(n.answered / n.attempts for n in numbers)


@pytest.fixture
async def hook():
    async with WebhookServer(secret=SECRET) as server:
        yield server


async def add_calls(db, number, attempts, answered, first_id):
    now = time.time()
    await db.conn.execute(
        "INSERT OR IGNORE INTO leads (id, phone, received_at, due_at, updated_at, state)"
        " VALUES (1, '+79161230001', 0, 0, 0, 'waiting')"
    )
    for n in range(attempts):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
            " status, created_at, outcome, answered_at, caller_id)"
            " VALUES (1, ?, ?, ?, 'default', '+79161230001', 'done', ?, ?, ?, ?)",
            (
                first_id + n,
                f"c{first_id + n}",
                f"a{first_id + n}",
                now - 600,
                "answered" if n < answered else "no_answer",
                now - 590 if n < answered else None,
                number,
            ),
        )
    await db.conn.commit()


async def test_the_spam_sign_is_alerted_once_per_number(tmp_path, monkeypatch, hook):
    monkeypatch.setenv("DIALERD_ALERTS__WEBHOOK__SECRET", SECRET)
    overrides = {
        "store": {"path": str(tmp_path / "d.sqlite3")},
        "alerts": {
            "webhook": {"url": hook.url},
            "backoff_initial_s": 0.05,
            "speed_to_lead_warn_min": None,
            "speed_to_lead_missed": False,
        },
    }
    settings = load_config(None, overrides=overrides).settings
    async with open_store(settings.store.path) as db:
        await add_calls(db, "+74951230001", 40, 16, 0)
        await add_calls(db, "+74951230002", 40, 3, 100)  # 7.5 % against 40 %
        async with Alerter(db, settings.alerts) as alerter:
            await alerter.check()
            await asyncio.sleep(0.2)
            await alerter.check()  # still low: not again
            await asyncio.sleep(0.2)
    (post,) = hook.delivered()
    body = post.json()
    assert body["kind"] == "caller_id_spam"
    assert body["details"]["caller_id"] == "+74951230002"
    assert (body["details"]["answer_rate"], body["details"]["others_answer_rate"]) == (0.075, 0.4)
