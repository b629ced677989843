"""Property tests of the scheduling policy over random clocks, zones, leads and histories."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialerd.config import CampaignSettings, RetryDelays
from dialerd.config.rules import campaign_rules
from dialerd.dialer.planning import plan
from dialerd.domain import LeadState, Outcome
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Dial, LeadView, Policy, explain, judge
from dialerd.policy.priority import Scheme, rank_for, rank_sql
from dialerd.policy.retry import after_attempt
from dialerd.policy.window import CallingWindow
from dialerd.store import leads as store
from dialerd.store.db import open_store

ZONES = [
    "Europe/Moscow",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Vladivostok",
    "Australia/Lord_Howe",
    "UTC",
]
PHONES = ["+79161230001", "+74232123456", "+74951234567", "+12125550123", "+4930123456"]

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
wall_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.builds(
    CallingWindow,
    tz=st.sampled_from(ZONES).map(ZoneInfo),
    open=wall_times,
    close=wall_times,
    days_off=st.frozensets(st.sampled_from(["sat", "sun"]), max_size=1),
)
campaigns = st.builds(
    CampaignSettings,
    scheme=st.sampled_from(list(Scheme)),
    max_attempts=st.integers(1, 10),
    retry_delays=st.builds(
        RetryDelays,
        busy=st.integers(0, 7200),
        no_answer=st.integers(0, 7200),
        congestion=st.integers(0, 7200),
        failed=st.integers(0, 7200),
        unknown=st.integers(0, 7200),
        answered=st.none() | st.integers(0, 7200),
    ),
)
views = st.builds(
    LeadView,
    lead_id=st.integers(1, 10**6),
    phone=st.sampled_from(PHONES),
    campaign=st.just("default"),
    state=st.just("waiting"),
    rank=st.integers(1, 5),
    attempts=st.integers(0, 12),
    received_at=st.floats(1.5e9, 2e9),
    due_at=st.floats(1.5e9, 2.1e9),
    deadline_at=st.none() | st.floats(1.5e9, 2e9),
    callback_at=st.none() | st.floats(1.5e9, 2e9),
    last_outcome=st.none(),
    close_reason=st.none(),
    on_dnc=st.booleans(),
)


def policy_of(window: CallingWindow, campaign: CampaignSettings) -> Policy:
    return Policy(window, {"default": campaign_rules(campaign)}, "default")


@settings(max_examples=400, deadline=None)
@given(window=windows, campaign=campaigns, lead=views, now=instants, local=st.booleans())
def test_nothing_is_ever_callable_inside_the_closed_window(window, campaign, lead, now, local):
    if local:
        campaign = campaign.model_copy(
            update={"local_hours": campaign.local_hours.model_copy(update={"enabled": True})}
        )
    policy = policy_of(window, campaign)
    dial = isinstance(judge(lead, now.timestamp(), policy), Dial)
    decision = explain(lead, now.timestamp(), policy)
    if dial or decision.callable:
        assert window.is_open(now)
        assert not lead.on_dnc and lead.attempts < campaign.max_attempts


@settings(max_examples=300, deadline=None)
@given(
    campaign=campaigns,
    outcomes=st.lists(
        st.sampled_from([o for o in Outcome if o is not Outcome.ABANDONED]), min_size=1, max_size=30
    ),
    lowered_cap=st.none() | st.integers(1, 10),
)
def test_no_lead_exceeds_its_attempt_cap(campaign, outcomes, lowered_cap):
    """Dial while the policy lets it, whatever the outcomes; a reload may lower the cap midway."""
    policy = policy_of(CallingWindow(ZoneInfo("UTC"), time(0), time(0)), campaign)
    now, attempts, state = 1.7e9, 0, LeadState.WAITING
    for step, outcome in enumerate(outcomes):
        if step == len(outcomes) // 2 and lowered_cap is not None:
            campaign = campaign.model_copy(
                update={"max_attempts": min(lowered_cap, campaign.max_attempts)}
            )
            policy = policy_of(policy.window, campaign)
        if state is not LeadState.WAITING:
            break
        lead = LeadView(
            1, PHONES[0], "default", "waiting", 1, attempts, now, now, None, None, None, None
        )
        if not isinstance(judge(lead, now, policy), Dial):
            break
        assert attempts < campaign.max_attempts  # never an attempt past the cap in force
        attempts += 1
        update = after_attempt(outcome, attempts, campaign_rules(campaign), now)
        state, now = update.state, max(now, update.due_at)
    if lowered_cap is None:
        assert attempts <= campaign.max_attempts


@settings(max_examples=200, deadline=None)
@given(scheme=st.sampled_from(list(Scheme)), attempts=st.integers(0, 20), callback=st.booleans())
def test_rank_sql_is_rank_for(scheme, attempts, callback):
    with tempfile.TemporaryDirectory() as tmp, sqlite3.connect(Path(tmp) / "r.sqlite3") as conn:
        conn.execute("CREATE TABLE leads (attempts INTEGER, callback_at REAL)")
        conn.execute("INSERT INTO leads VALUES (?, ?)", (attempts, 1.0 if callback else None))
        (got,) = conn.execute(f"SELECT {rank_sql(scheme)} FROM leads").fetchone()
    assert got == rank_for(scheme, attempts, callback)


lead_specs = st.lists(
    st.tuples(
        st.sampled_from(PHONES),
        st.integers(0, 4),  # attempts so far
        st.integers(-7200, 7200),  # due offset from now (s)
        st.booleans(),  # callback pending
        st.integers(0, 3600),  # deadline offset
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(list(Scheme)),
    specs=lead_specs,
    now=st.integers(1_700_000_000, 1_800_000_000),
)
def test_the_store_dials_in_the_schemes_order_and_never_a_callback_early(scheme, specs, now):
    """The plan (the engine's own queries) equals the order the scheme defines, on a real file."""
    campaign = CampaignSettings(scheme=scheme, max_attempts=20)
    policy = policy_of(CallingWindow(ZoneInfo("UTC"), time(0), time(0)), campaign)

    async def go():
        with tempfile.TemporaryDirectory() as tmp:
            async with open_store(Path(tmp) / "p.sqlite3") as db:
                expected = []
                for phone, attempts, due_offset, callback, deadline_offset in specs:
                    due = now + due_offset
                    rank = rank_for(scheme, attempts, callback)
                    placement = store.Placement(rank=rank, deadline_at=now + deadline_offset)
                    lead = store.NewLead(phone=Phone(phone), callback_at=due if callback else None)
                    lead_id = await store.insert_lead(db, lead, now - 10_000, placement)
                    await db.conn.execute(
                        "UPDATE leads SET attempts = ?, due_at = ? WHERE id = ?",
                        (attempts, due, lead_id),
                    )
                    if due <= now:
                        key = now + deadline_offset if rank == 1 else due
                        expected.append((rank, key, lead_id))
                decisions = await plan(db, now, policy, limit=100)
                return decisions, [lead_id for *_, lead_id in sorted(expected)]

    decisions, expected_order = asyncio.run(go())
    callable_ = [d for d in decisions if d.callable]
    assert [d.lead_id for d in callable_] == expected_order
    by_id = {d.lead_id: d for d in decisions}
    for lead_id, (_phone, _a, due_offset, callback, _d) in enumerate(specs, start=1):
        if callback and due_offset > 0:  # a callback whose time has not come
            assert not by_id[lead_id].callable and "callback agreed" in by_id[lead_id].reason


def test_fall_back_day_does_not_shift_the_window():
    """Berlin 2026-10-25 (clocks go back 03:00 → 02:00): 10:00 opens at 10:00 CET, 09:00 UTC."""
    window = CallingWindow(ZoneInfo("Europe/Berlin"), time(10), time(22))
    night = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert window.next_open(night) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert not window.is_open(datetime(2026, 10, 25, 8, 59, tzinfo=UTC))
    assert window.is_open(datetime(2026, 10, 25, 9, 0, tzinfo=UTC) + timedelta(seconds=1))
