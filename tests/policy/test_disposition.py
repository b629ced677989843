"""What an operator's result does to a lead: pure rules, every result and every refusal."""

import pytest

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import CloseReason, LeadState, Result
from dialerd.policy.disposition import (
    CallFacts,
    CloseLead,
    Disposition,
    DispositionConflict,
    DispositionInvalid,
    KeepLead,
    Reopen,
    check,
    decide,
)
from dialerd.policy.priority import Scheme, Tier

NOW = 1_800_000_000.0
ENDED = CallFacts("done", "answered", NOW - 42.0, LeadState.CLOSED, "reached", 2)
TIERS = campaign_rules(CampaignSettings())


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (Result.REFUSED, CloseReason.REFUSED),
        (Result.FAKE, CloseReason.FAKE),
        (Result.DUPLICATE, CloseReason.DUPLICATE),
        (Result.WRONG_NUMBER, CloseReason.WRONG_NUMBER),
        (Result.COMPLAINT, CloseReason.COMPLAINT),
    ],
)
def test_final_results_close_the_lead_with_their_reason(result, reason):
    decision = decide(Disposition(result), ENDED, TIERS, NOW)
    assert decision.change == CloseLead(reason)
    assert decision.wrapup_s == 42.0


def test_confirmed_closes_as_confirmed():
    decision = decide(Disposition(Result.CONFIRMED, amount_minor=129990), ENDED, TIERS, NOW)
    assert decision.change == CloseLead(CloseReason.CONFIRMED)


@pytest.mark.parametrize(
    ("scheme", "rank"), [(Scheme.TIERS, Tier.CALLBACK), (Scheme.FEWEST_ATTEMPTS, 3)]
)
def test_callback_reopens_in_the_schemes_callback_rank(scheme, rank):
    campaign = campaign_rules(CampaignSettings(scheme=scheme))
    decision = decide(Disposition(Result.CALLBACK, callback_at=NOW + 3600), ENDED, campaign, NOW)
    assert decision.change == Reopen(NOW + 3600, rank)


def test_no_decision_and_dnc_leave_the_lead_alone():
    assert isinstance(decide(Disposition(Result.NO_DECISION), ENDED, TIERS, NOW).change, KeepLead)
    on_dnc = CallFacts("done", "answered", NOW - 1, LeadState.CLOSED, "dnc", 1)
    for result in (Result.CONFIRMED, Result.CALLBACK):
        disposition = Disposition(
            result,
            amount_minor=100 if result is Result.CONFIRMED else None,
            callback_at=NOW + 60 if result is Result.CALLBACK else None,
        )
        assert isinstance(decide(disposition, on_dnc, TIERS, NOW).change, KeepLead)


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (CallFacts("dialing", None, None, LeadState.DIALING, None, 1), "call_in_progress"),
        (CallFacts("done", "busy", NOW - 5, LeadState.WAITING, None, 1), "not_answered"),
        (CallFacts("done", "unknown", NOW - 5, LeadState.WAITING, None, 1), "not_answered"),
        (CallFacts("done", "answered", NOW - 5, LeadState.DIALING, None, 2), "lead_dialing"),
    ],
)
def test_calls_that_cannot_take_a_result(facts, code):
    with pytest.raises(DispositionConflict) as err:
        decide(Disposition(Result.REFUSED), facts, TIERS, NOW)
    assert err.value.code == code


def test_a_callback_at_the_attempt_cap_is_refused_not_silently_exhausted():
    at_cap = CallFacts("done", "answered", NOW - 5, LeadState.CLOSED, "reached", 7)
    with pytest.raises(DispositionConflict) as err:
        decide(Disposition(Result.CALLBACK, callback_at=NOW + 60), at_cap, TIERS, NOW)
    assert err.value.code == "attempt_cap_reached"
    assert decide(Disposition(Result.REFUSED), at_cap, TIERS, NOW).change == CloseLead(
        CloseReason.REFUSED
    )


@pytest.mark.parametrize(
    ("disposition", "field", "reason"),
    [
        (Disposition(Result.CONFIRMED), "amount", "is required for a confirmed order"),
        (
            Disposition(Result.REFUSED, amount_minor=1),
            "amount",
            "only a confirmed result carries an amount",
        ),
        (Disposition(Result.CALLBACK), "at", "is required for a callback"),
        (Disposition(Result.CALLBACK, callback_at=NOW), "at", "is in the past"),
        (
            Disposition(Result.CALLBACK, callback_at=NOW + 400 * 86400),
            "at",
            "is more than a year ahead",
        ),
        (Disposition(Result.FAKE, callback_at=NOW + 60), "at", "only a callback carries a time"),
        (Disposition(Result.FAKE, flags=("a",) * 11), "flags", "at most 10 flags"),
        (Disposition(Result.FAKE, flags=("upsell", "upsell")), "flags", "a flag is repeated"),
        (
            Disposition(Result.FAKE, flags=("Up Sell",)),
            "flags",
            "'Up Sell': use 1-32 lowercase letters, digits, '_' or '-'",
        ),
    ],
)
def test_fields_each_result_needs(disposition, field, reason):
    with pytest.raises(DispositionInvalid) as err:
        check(disposition, NOW)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_valid_results_pass_the_field_check():
    check(Disposition(Result.CONFIRMED, amount_minor=0, flags=("upsell", "vip_2")), NOW)
    check(Disposition(Result.CALLBACK, callback_at=NOW + 1), NOW)
    check(Disposition(Result.NO_DECISION, note="thinking", operator="101"), NOW)
