"""A supervisor's actions on a lead follow the CLI's and the API's rules (issue 13), and a
requeued lead is dialed again exactly as many times as it was granted."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import CloseReason, LeadState, Outcome
from dialerd.policy import desk
from dialerd.policy.desk import DeskRefused, LeadFacts
from dialerd.policy.pick import Close, Dial, LeadView, Policy, explain, judge
from dialerd.policy.priority import Scheme, Tier, rank_sql, ranks_in_use
from dialerd.policy.retry import after_attempt
from dialerd.policy.window import CallingWindow

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=MSK).timestamp()  # a Monday, noon
WINDOW = CallingWindow(MSK, time(10), time(22))


def rules(scheme=Scheme.TIERS, cap=5):
    return campaign_rules(CampaignSettings(scheme=scheme, max_attempts=cap))


def facts(state=LeadState.WAITING, reason=None, attempts=1, extra=0, dnc=False):
    return LeadFacts(state, reason, attempts, extra, dnc)


def refused(code):
    return pytest.raises(DeskRefused, match=f"^{code}$")


def test_a_callback_time_is_the_pickers_time_in_the_future_and_in_the_window():
    at = desk.callback_time("2026-11-23T15:30", NOW, WINDOW, MSK)
    assert at == datetime(2026, 11, 23, 15, 30, tzinfo=MSK).timestamp()
    for raw, code in [
        (None, "at_required"),
        ("tomorrow", "at_required"),
        ("2026-11-23T11:00", "at_past"),
        ("2026-11-23T23:00", "at_outside"),
        ("2026-11-24T03:00", "at_outside"),
    ]:
        with refused(code):
            desk.callback_time(raw, NOW, WINDOW, MSK)


def test_reschedule_reopens_a_closed_lead_as_a_callback_but_never_a_dnc_or_capped_one():
    change = desk.reschedule(facts(LeadState.CLOSED, "refused", attempts=2), rules(), NOW + 60)
    assert (change.at, change.rank) == (NOW + 60, Tier.CALLBACK)
    with refused("lead_dialing"):
        desk.reschedule(facts(LeadState.DIALING), rules(), NOW + 60)
    with refused("on_dnc"):
        desk.reschedule(facts(LeadState.CLOSED, "dnc"), rules(), NOW + 60)
    with refused("on_dnc"):
        desk.reschedule(facts(dnc=True), rules(), NOW + 60)
    with refused("attempt_cap_reached"):
        desk.reschedule(facts(LeadState.CLOSED, "exhausted", attempts=5), rules(), NOW + 60)
    # granted attempts count: 5 made, cap 5 + 2
    assert desk.reschedule(facts(attempts=5, extra=2), rules(), NOW + 60).rank == Tier.CALLBACK


def test_close_takes_a_waiting_lead_only():
    assert desk.close(facts()) is CloseReason.CANCELLED
    with refused("already_closed"):
        desk.close(facts(LeadState.CLOSED, "confirmed"))
    with refused("lead_dialing"):
        desk.close(facts(LeadState.DIALING))


def test_requeue_grants_attempts_beyond_the_cap_up_to_the_configs_bound():
    exhausted = facts(LeadState.CLOSED, "exhausted", attempts=5)
    change = desk.requeue(exhausted, rules(), 2)
    assert change.extra_attempts == 2
    again = desk.requeue(facts(LeadState.CLOSED, "exhausted", attempts=7, extra=2), rules(), 3)
    assert again.extra_attempts == 5  # 7 made, 3 more: cap 10
    lowered = desk.requeue(facts(LeadState.CLOSED, "exhausted", attempts=7), rules(cap=3), 1)
    assert lowered.extra_attempts == 5  # the cap was lowered to 3 after 7 attempts: 1 more is 8
    for lead, extra, code in [
        (exhausted, 0, "extra_range"),
        (exhausted, 11, "extra_range"),
        (facts(), 2, "not_exhausted"),
        (facts(LeadState.CLOSED, "refused"), 2, "not_exhausted"),
        (facts(LeadState.CLOSED, "exhausted", attempts=5, dnc=True), 2, "on_dnc"),
        (facts(LeadState.CLOSED, "exhausted", attempts=19), 2, "cap_limit"),
    ]:
        with refused(code):
            desk.requeue(lead, rules(), extra)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_a_requeued_lead_is_dialed_its_extra_attempts_then_closed(scheme):
    campaign = rules(scheme, cap=3)
    policy = Policy(WINDOW, {"default": campaign}, "default")
    change = desk.requeue(facts(LeadState.CLOSED, "exhausted", attempts=3), campaign, 2)
    lead = LeadView(
        1,
        "+79161234567",
        "default",
        "waiting",
        change.rank,
        3,
        NOW - 9e3,
        NOW,
        None,
        None,
        "busy",
        None,
        extra_attempts=change.extra_attempts,
    )
    assert change.rank in ranks_in_use([(scheme, 3)])  # the engine's picks probe its rank
    assert isinstance(judge(lead, NOW, policy), Dial)
    assert explain(lead, NOW, policy).callable
    after_fourth = after_attempt(Outcome.BUSY, 4, campaign, NOW, extra=2)
    assert after_fourth.state is LeadState.WAITING
    assert after_fourth.rank in ranks_in_use([(scheme, 3)])
    after_fifth = after_attempt(Outcome.BUSY, 5, campaign, NOW, extra=2)
    assert (after_fifth.state, after_fifth.close_reason) == (
        LeadState.CLOSED,
        CloseReason.EXHAUSTED,
    )
    spent = LeadView(**{**lead.__dict__, "attempts": 5})
    assert judge(spent, NOW, policy) == Close(CloseReason.EXHAUSTED)
    assert "attempt cap 5 reached" in explain(spent, NOW, policy).reason


def test_a_rerank_keeps_a_requeued_fewest_attempts_lead_on_a_probed_rank():
    assert rank_sql(Scheme.FEWEST_ATTEMPTS) == "1 + attempts"
    assert rank_sql(Scheme.FEWEST_ATTEMPTS, 3) == "1 + MIN(attempts, 2)"
