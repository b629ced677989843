"""The pacer's live counts: a customer still in flight whose fate in the abandon window is
settled counts now, not minutes later when the call ends."""

from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.pacer import settled_in_flight
from dialerd.dialer.tracking import CallTrack
from dialerd.policy.abandon import AbandonStats

AFTER_S = 2.0


def answered(call_id: str, at: float, *, group: str = "sales") -> CallTrack:
    track = CallTrack(1, 1, call_id, at - 10.0, queue_tracked=True, group=group)
    track.on_result(True, 4, at)
    return track


def test_a_customer_connected_late_counts_before_the_call_ends():
    """Connected 4 s after answering, the customer is an abandon (the 2 s rule), though the
    store will only count it once the talk ends, minutes later: the hard stop must see it
    now, or it dials another risky customer on budget already spent."""
    late = answered("late", 100.0)
    late.on_operator("op1", 104.0)
    in_time = answered("in-time", 100.0)
    in_time.on_operator("op2", 101.0)
    # the one connected in time is answered for good: counted too
    assert settled_in_flight([late, in_time], "sales", 200.0, AFTER_S) == AbandonStats(2, 1)
    in_time.on_hangup("in-time", 16, 300.0)  # ended: the store counts it from now on
    assert settled_in_flight([late, in_time], "sales", 300.0, AFTER_S) == AbandonStats(1, 1)


def test_a_customer_waiting_past_the_limit_counts_while_still_waiting():
    waiting = answered("waiting", 100.0)
    assert settled_in_flight([waiting], "sales", 101.5, AFTER_S) == AbandonStats(0, 0)
    assert settled_in_flight([waiting], "sales", 102.5, AFTER_S) == AbandonStats(1, 1)


def test_only_answered_queue_calls_of_the_group_count():
    ringing = CallTrack(1, 1, "ringing", 0.0, queue_tracked=True, group="sales")
    other_group = answered("other", 100.0, group="support")
    agent_first = AgentCallTrack(1, 1, "agent", 0.0, "anna", group="sales")
    calls = [ringing, other_group, agent_first]
    assert settled_in_flight(calls, "sales", 200.0, AFTER_S) == AbandonStats(0, 0)
