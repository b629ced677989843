"""Call tracking: the same facts in any order give the same record (DESIGN.md §3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.dialer.tracking import CAUSE_GRACE_S, NO_CHANNEL_GRACE_S, CallTrack
from dialerd.domain import Outcome

CALL = "dialerd-1-1-abcd"

# (reason, success, [(uniqueid, cause)]) as seen on Asterisk 22 for a Local channel
SCENARIOS = {
    Outcome.ANSWERED: (4, True, [(CALL + ";2", 16), (CALL, 16)]),
    Outcome.BUSY: (5, False, [(CALL, 17), (CALL + ";2", 17)]),
    Outcome.NO_ANSWER: (3, False, [(CALL + ";2", 19), (CALL, 19)]),
    Outcome.CONGESTION: (8, False, [(CALL, 0), (CALL + ";2", 34)]),
    Outcome.FAILED: (0, False, [(CALL + ";2", 1), (CALL, 1)]),
}


def track(sent_at=100.0):
    return CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=sent_at)


@pytest.mark.parametrize("outcome", list(SCENARIOS))
@given(data=st.data())
def test_any_event_order_gives_the_same_outcome(outcome, data):
    reason, success, hangups = SCENARIOS[outcome]
    facts = [("result", None, None)] + [("hangup", uid, cause) for uid, cause in hangups]
    order = data.draw(st.permutations(facts))
    call = track()
    finished = None
    for i, (kind, uid, cause) in enumerate(order):
        at = 101.0 + i * 0.1
        if kind == "result":
            call.on_result(success, reason, at)
        else:
            call.on_hangup(uid, cause, at)
        finished = finished or call.check(at)
    finished = finished or call.check(call.deadline() or 200.0)
    assert finished is not None
    assert finished.outcome is outcome
    expected_cause = {
        Outcome.CONGESTION: 34,
        Outcome.BUSY: 17,
        Outcome.NO_ANSWER: 19,
        Outcome.FAILED: 1,
    }
    if outcome in expected_cause:
        assert finished.hangup_cause == expected_cause[outcome]


def test_answered_call_records_ring_and_talk_time():
    call = track(sent_at=100.0)
    call.on_result(True, 4, 103.0)
    assert call.check(104.0) is None  # still talking
    call.on_hangup(CALL, 16, 133.0)
    finished = call.check(133.0)
    assert (finished.outcome, finished.ring_s, finished.talk_s) == (Outcome.ANSWERED, 3.0, 30.0)


def test_failure_without_any_channel_is_no_attempt_after_the_grace():
    """Unknown channel technology: Asterisk dialed nobody, so the lead is not charged."""
    call = track()
    call.on_result(False, 0, 101.0)
    assert call.check(101.0) is None
    assert call.check(101.0 + CAUSE_GRACE_S) is None  # a Hangup may still come: wait longer
    finished = call.check(101.0 + NO_CHANNEL_GRACE_S)
    assert finished.refused and not finished.customer_dialed and finished.hangup_cause is None


def test_lost_response_waits_for_reconcile_then_unknown_if_gone():
    call = track()
    call.on_lost("AMI connection lost")
    assert call.deadline() is None and call.check(10_000.0) is None
    finished = call.on_reconcile(None, 150.0)
    assert finished.outcome is Outcome.UNKNOWN and "AMI connection lost" in finished.note


def test_lost_response_but_call_live_and_up_is_followed_to_its_hangup_as_answered():
    call = track()
    call.on_lost("AMI connection lost")
    assert call.on_reconcile("Up", 150.0) is None
    call.on_hangup(CALL, 16, 170.0)
    assert call.wants_evidence() and call.check(170.0) is None  # Asterisk's record first
    call.take_evidence(None)  # none kept (no hangup handler): "Up" at the reconcile decides
    finished = call.check(170.0)
    assert finished.outcome is Outcome.ANSWERED


def _answered_into_queue():
    call = CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=100.0, queue_tracked=True)
    call.on_result(True, 4, 103.0)
    return call


def test_an_operator_seen_before_the_answer_gives_no_negative_wait():
    """AgentConnect can reach us before the OriginateResponse of the same call: the
    customer's wait for an operator is then zero, never negative."""
    call = CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=100.0, queue_tracked=True)
    call.on_operator("101", 103.0)
    call.on_result(True, 4, 103.002)
    call.on_hangup(CALL, 16, 133.0)
    finished = call.check(133.0)
    assert finished.outcome is Outcome.ANSWERED
    assert finished.operator_at - finished.answered_at == 0.0
    assert finished.talk_s == 30.0


def test_a_machine_amd_recognised_is_its_own_outcome_with_asterisks_verdict():
    call = _answered_into_queue()
    call.on_amd("MACHINE", "LONGGREETING-1600-1500")
    call.on_hangup(CALL, 16, 106.0)
    finished = call.check(106.0)
    assert finished.outcome is Outcome.MACHINE
    assert (finished.amd_status, finished.amd_cause) == ("MACHINE", "LONGGREETING-1600-1500")
    assert finished.answered_at == 103.0  # a machine did answer


@pytest.mark.parametrize("status", ["NOTSURE", "HUMAN", "HANGUP", "garbage"])
def test_a_doubtful_verdict_is_a_customer_like_any_other(status):
    """Human first: only MACHINE changes the outcome; a person given an operator answered."""
    call = _answered_into_queue()
    call.on_amd(status, "TOOLONG-5000")
    call.on_operator("101", 108.0)
    call.on_hangup(CALL, 16, 130.0)
    assert call.check(130.0).outcome is Outcome.ANSWERED
    waited = _answered_into_queue()
    waited.on_amd(status, "TOOLONG-5000")
    waited.on_hangup(CALL, 16, 140.0)  # nobody came: abandoned, as without AMD
    assert waited.check(140.0).outcome is Outcome.ABANDONED
