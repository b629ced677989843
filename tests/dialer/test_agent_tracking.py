"""agent_first calls and customer_first abandons: the same facts in any order give the same record."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.tracking import CAUSE_GRACE_S, CallTrack
from dialerd.domain import FinishedCall, Outcome

CALL = "dialerd-1-1-abcd"
CUSTOMER = "1795433075.6"  # the customer's legs get Asterisk's own uniqueids, Linkedid = CALL

# (DialStatus, hangups [(uniqueid, cause)]) as seen on Asterisk 22 with a Local operator
AGENT_SCENARIOS = {
    Outcome.ANSWERED: (
        "ANSWER",
        [(CUSTOMER, 16), ("1795433075.7", 16), (CALL + ";2", 16), (CALL, 16)],
    ),
    Outcome.BUSY: ("BUSY", [(CUSTOMER, 0), ("1795433075.7", 17), (CALL + ";2", 16), (CALL, 16)]),
    Outcome.NO_ANSWER: (
        "NOANSWER",
        [(CUSTOMER, 0), ("1795433075.7", 0), (CALL, 16), (CALL + ";2", 16)],
    ),
}


def agent_track() -> AgentCallTrack:
    return AgentCallTrack(
        attempt_id=1,
        lead_id=7,
        call_id=CALL,
        sent_at=100.0,
        operator="101",
        recording_path="/r/x.wav",
    )


@pytest.mark.parametrize("outcome", list(AGENT_SCENARIOS))
@given(data=st.data())
def test_agent_first_outcome_is_the_customers_dial_status_in_any_order(outcome, data):
    status, hangups = AGENT_SCENARIOS[outcome]
    facts = [("result",), ("dial_end",), ("recording",)] + [("hangup", u, c) for u, c in hangups]
    order = data.draw(st.permutations(facts))
    # one channel's own events keep their order: MixMonitor starts before its channel hangs up
    assume(order.index(("recording",)) < order.index(("hangup", CALL, 16)))
    call = agent_track()
    finished = None
    for i, fact in enumerate(order):
        at = 101.0 + i * 0.1
        if fact[0] == "result":
            call.on_result(True, 4, at)
        elif fact[0] == "dial_end":
            call.on_dial_end(status, at)
        elif fact[0] == "recording":
            call.on_recording()
        else:
            call.on_hangup(fact[1], fact[2], at)
        finished = finished or call.check(at)
    finished = finished or call.check(200.0)
    assert finished is not None and finished.customer_dialed
    assert finished.outcome is outcome
    assert finished.operator == "101"
    if outcome is Outcome.ANSWERED:
        assert finished.answered_at == finished.operator_at is not None
        assert finished.recording_path == "/r/x.wav"
    else:
        assert finished.answered_at is None and finished.recording_path is None
    if outcome is Outcome.BUSY:
        assert finished.hangup_cause == 17  # the customer's, not the operator's 16


def test_an_operator_who_does_not_answer_means_the_customer_was_never_dialed():
    call = agent_track()
    call.on_result(False, 3, 120.0)
    finished = call.check(120.0)
    assert finished is not None and not finished.customer_dialed
    assert "did not answer" in finished.note


def test_a_dialplan_that_never_dials_the_customer_is_not_an_attempt():
    call = agent_track()
    call.on_result(True, 4, 101.0)
    call.on_hangup(CALL, 16, 102.0)
    assert call.check(102.0) is None  # a DialEnd may still come
    assert call.deadline() == pytest.approx(102.0 + CAUSE_GRACE_S)
    finished = call.check(102.0 + CAUSE_GRACE_S)
    assert finished is not None and not finished.customer_dialed


@pytest.mark.parametrize(
    ("cause", "outcome"), [(1, Outcome.FAILED), (17, Outcome.BUSY), (34, Outcome.CONGESTION)]
)
def test_chanunavail_is_told_apart_by_the_customers_cause(cause, outcome):
    call = agent_track()
    call.on_result(True, 4, 101.0)
    call.on_hangup("1795433075.9", cause, 101.1)
    call.on_dial_end("CHANUNAVAIL", 101.2)
    call.on_hangup(CALL, 16, 101.3)
    assert call.check(101.3).outcome is outcome


@pytest.mark.parametrize(("cause", "outcome"), [(1, Outcome.FAILED), (19, Outcome.NO_ANSWER)])
def test_noanswer_to_a_number_that_does_not_exist_is_failed_not_retried_as_unanswered(
    cause, outcome
):
    # real Asterisk: Dial() to an unallocated number ends DialStatus NOANSWER, cause 1
    call = agent_track()
    call.on_result(True, 4, 101.0)
    call.on_hangup("1795433075.9", cause, 101.1)
    call.on_dial_end("NOANSWER", 101.2)
    call.on_hangup(CALL, 16, 101.3)
    assert call.check(101.3).outcome is outcome


def test_an_agent_call_that_ended_while_blind_is_unknown_unless_its_dial_status_was_seen():
    seen = agent_track()
    seen.on_result(True, 4, 101.0)
    seen.on_dial_end("ANSWER", 102.0)
    seen.on_lost("AMI connection lost")
    assert seen.on_reconcile(None, 130.0).outcome is Outcome.ANSWERED
    unseen = agent_track()
    unseen.on_result(True, 4, 101.0)
    unseen.on_lost("AMI connection lost")
    assert unseen.on_reconcile(None, 130.0).outcome is Outcome.UNKNOWN


def test_an_adopted_agent_call_found_bridged_was_answered():
    call = agent_track()
    call.on_lost("daemon restarted")
    assert call.on_reconcile("Up", 130.0, bridged=True) is None
    call.on_hangup(CALL, 16, 140.0)
    assert call.wants_evidence() and call.check(140.0) is None  # Asterisk's record first
    call.take_evidence(None)  # none kept (no hangup handler): the bridge seen decides
    assert call.check(140.0).outcome is Outcome.ANSWERED


def queue_track() -> CallTrack:
    return CallTrack(
        attempt_id=1,
        lead_id=7,
        call_id=CALL,
        sent_at=100.0,
        queue_tracked=True,
        recording_path="/r/y.wav",
    )


def test_an_answered_customer_who_never_got_an_operator_was_abandoned():
    call = queue_track()
    call.on_result(True, 4, 101.0)
    call.on_recording()
    call.on_hangup(CALL + ";2", 16, 103.0)
    call.on_hangup(CALL, 16, 103.0)
    finished = call.check(103.0)
    assert finished.outcome is Outcome.ABANDONED
    assert finished.answered_at == 101.0 and finished.operator is None
    assert finished.recording_path == "/r/y.wav"


def test_a_customer_connected_to_an_operator_was_answered_and_the_operator_is_kept():
    call = queue_track()
    call.on_result(True, 4, 101.0)
    call.on_operator("102", 101.4)
    call.on_hangup(CALL, 16, 110.0)
    finished = call.check(110.0)
    assert (finished.outcome, finished.operator, finished.operator_at) == (
        Outcome.ANSWERED,
        "102",
        101.4,
    )
    assert finished.recording_path is None  # Asterisk never said it recorded


def test_after_a_blind_spot_a_queued_customer_is_not_called_abandoned():
    call = queue_track()
    call.on_result(True, 4, 101.0)
    call.on_lost("AMI connection lost")
    assert call.on_reconcile("Up", 105.0) is None
    call.on_hangup(CALL, 16, 110.0)
    assert call.check(110.0).outcome is Outcome.ANSWERED


def test_an_originate_never_sent_is_a_failed_attempt_with_nothing_else_known():
    """The UnsafeAmiValue path: the same record for both modes, offered to no operator."""
    expected = FinishedCall(1, 7, CALL, Outcome.FAILED, None, None, None, 5.0, None, None, "why")
    customer_first = CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=None)
    assert customer_first.not_sent("why", 5.0) == expected
    agent_first = AgentCallTrack(
        attempt_id=1, lead_id=7, call_id=CALL, sent_at=None, operator="101", recording_path="/r"
    )
    assert agent_first.not_sent("why", 5.0) == expected
