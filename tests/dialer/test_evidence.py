"""Settling calls that ended while nobody listened: from Asterisk's record, never by guess.

The ``[dialer-hangup]`` handler (config/asterisk/extensions.conf) writes each call's end
into AstDB; the values below are what Asterisk 22 wrote for real calls (answered after
2.5 s of talk, busy on a Local channel's first half, rung out, unallocated).
"""

import pytest

from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.tracking import CallTrack
from dialerd.domain import Outcome
from dialerd.pbx.parse import parse_evidence

CALL = "dialerd-7-1-abcd"
ANSWERED = "v1 answer=1796548257.942760 billsec=2.503120 end=1796548260 cause=16 state=Up"
BUSY = "v1 answer=0.000000 billsec=0.000000 end=1796548257 cause=0 state=Down"
RUNG_OUT = "v1 answer=0.000000 billsec=0.000000 end=1796548261 cause=19 state=Ringing"
UNALLOCATED = "v1 answer=0.000000 billsec=0.000000 end=1796548257 cause=1 state=Down"
CANCELLED = "v1 answer=0.000000 billsec=0.000000 end=1796548257 cause=16 state=Ringing"
NOW = 1796548300.0


def adopted(answered_at=None):
    """A call in flight when the daemon restarted: nothing known but its ids."""
    track = CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=None)
    if answered_at is not None:
        track.on_answer_known(answered_at)
    track.on_lost("daemon restarted while the call was in flight")
    return track


def test_parse_keeps_what_asterisk_wrote():
    evidence = parse_evidence(CALL, ANSWERED + " dialstatus= dialanswered=")
    assert evidence is not None
    assert evidence.answered
    assert evidence.answered_at == pytest.approx(1796548257.94276)
    assert evidence.billsec == pytest.approx(2.50312)
    assert (evidence.ended_at, evidence.cause, evidence.dial_status) == (1796548260, 16, "")
    assert evidence.dial_answered_s is None
    unanswered = parse_evidence(CALL, BUSY)
    assert unanswered is not None and not unanswered.answered and unanswered.billsec is None
    assert parse_evidence(CALL, "v2 something new") is None  # a format we do not know
    assert parse_evidence(CALL, "") is None


def test_an_answered_call_that_ended_unobserved_is_answered_with_asterisks_talk_time():
    finished = adopted().on_reconcile(None, NOW, evidence=parse_evidence(CALL, ANSWERED))
    assert finished is not None
    assert finished.outcome is Outcome.ANSWERED
    assert finished.talk_s == pytest.approx(2.50312)
    assert finished.ended_at == 1796548260
    assert finished.answered_at == pytest.approx(1796548260 - 2.50312)
    assert "settled from Asterisk's record" in (finished.note or "")


def test_without_evidence_an_answer_written_while_live_still_counts():
    finished = adopted(answered_at=NOW - 30).on_reconcile(None, NOW)
    assert finished is not None and finished.outcome is Outcome.ANSWERED
    assert finished.answered_at == NOW - 30


def test_without_any_record_the_outcome_stays_unknown():
    finished = adopted().on_reconcile(None, NOW)
    assert finished is not None and finished.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (BUSY, Outcome.NO_ANSWER),  # a Local channel's first half says 0: not answered
        (RUNG_OUT, Outcome.NO_ANSWER),
        (CANCELLED, Outcome.NO_ANSWER),  # normal clearing before an answer
        (UNALLOCATED, Outcome.FAILED),
    ],
)
def test_an_unanswered_call_is_settled_as_not_reached(value, outcome):
    finished = adopted().on_reconcile(None, NOW, evidence=parse_evidence(CALL, value))
    assert finished is not None
    assert finished.outcome is outcome
    assert finished.answered_at is None and finished.talk_s is None


def test_a_live_channel_is_followed_whatever_the_store_says():
    track = adopted(answered_at=NOW - 5)
    assert track.on_reconcile("Up", NOW) is None
    track.on_hangup(CALL, 16, NOW + 10)
    finished = track.check(NOW + 10)
    assert finished is not None and finished.outcome is Outcome.ANSWERED
    assert finished.talk_s == pytest.approx(15.0)


def test_a_failed_originate_with_a_channel_is_an_attempt():
    track = CallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=100.0)
    track.on_result(False, 0, 100.1)
    track.on_hangup(CALL + ";2", 1, 100.1)
    track.on_hangup(CALL, 1, 100.1)
    finished = track.check(100.2)
    assert finished is not None
    assert finished.outcome is Outcome.FAILED and finished.customer_dialed


def agent_adopted():
    track = AgentCallTrack(attempt_id=1, lead_id=7, call_id=CALL, sent_at=None, operator="anna")
    track.on_lost("daemon restarted while the call was in flight")
    return track


def test_agent_first_customer_answer_comes_from_the_operators_dial():
    value = ANSWERED + " dialstatus=ANSWER dialanswered=12"
    finished = agent_adopted().on_reconcile(None, NOW, evidence=parse_evidence(CALL, value))
    assert finished is not None
    assert finished.outcome is Outcome.ANSWERED and finished.customer_dialed
    assert finished.talk_s == 12


def test_agent_first_customer_busy_is_an_attempt_not_answered():
    value = ANSWERED + " dialstatus=BUSY dialanswered="
    finished = agent_adopted().on_reconcile(None, NOW, evidence=parse_evidence(CALL, value))
    assert finished is not None
    assert finished.outcome is Outcome.BUSY and finished.customer_dialed


def test_agent_first_operator_who_never_answered_means_the_customer_was_not_dialed():
    value = RUNG_OUT + " dialstatus= dialanswered="
    finished = agent_adopted().on_reconcile(None, NOW, evidence=parse_evidence(CALL, value))
    assert finished is not None
    assert not finished.customer_dialed and not finished.refused


def followed(answered_at=None):
    """Adopted while still ringing: the reconcile found it live, so it is followed."""
    track = adopted(answered_at)
    assert track.on_reconcile("Ringing", NOW) is None
    return track


def test_a_call_adopted_ringing_and_answered_meanwhile_is_answered_with_its_talk_time():
    """The customer answers while the call is followed: the OriginateResponse went to the
    dead daemon, and only the Hangup is seen; Asterisk's record tells the rest."""
    track = followed()
    track.on_hangup(CALL, 16, NOW + 20)
    assert track.wants_evidence() and track.check(NOW + 20) is None
    track.take_evidence(parse_evidence(CALL, ANSWERED))
    finished = track.check(NOW + 20)
    assert finished is not None and finished.outcome is Outcome.ANSWERED
    assert finished.talk_s == pytest.approx(2.50312)
    assert finished.ended_at == NOW + 20


def test_a_call_adopted_ringing_that_rang_out_is_no_answer_even_without_a_record():
    track = followed()
    track.on_hangup(CALL, 19, NOW + 20)
    track.take_evidence(None)
    finished = track.check(NOW + 20)
    assert finished is not None and finished.outcome is Outcome.NO_ANSWER
