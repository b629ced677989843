"""The pacer's live counts: an abandon still in flight is spent budget already."""

from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.pacer import late_in_flight
from dialerd.dialer.tracking import CallTrack

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
    assert late_in_flight([late, in_time], "sales", 200.0, AFTER_S) == 1


def test_a_customer_waiting_past_the_limit_counts_while_still_waiting():
    waiting = answered("waiting", 100.0)
    assert late_in_flight([waiting], "sales", 101.5, AFTER_S) == 0
    assert late_in_flight([waiting], "sales", 102.5, AFTER_S) == 1


def test_only_answered_queue_calls_of_the_group_count():
    ringing = CallTrack(1, 1, "ringing", 0.0, queue_tracked=True, group="sales")
    other_group = answered("other", 100.0, group="support")
    agent_first = AgentCallTrack(1, 1, "agent", 0.0, "anna", group="sales")
    assert late_in_flight([ringing, other_group, agent_first], "sales", 200.0, AFTER_S) == 0
