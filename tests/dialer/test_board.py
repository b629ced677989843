"""Operator state from Asterisk's own frames (R8): parsed, then applied to the board.

The frames are verbatim from ``asterisk/transcripts-22.10.1/queue*.txt`` (Asterisk
22.10.1) and, for QueueMemberPause / DeviceStateChange, from the same sandbox.
"""

import pytest

from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.dialer.board import AfterCall, CurrentCall, OperatorBoard, OperatorState
from dialerd.pbx import parse as queue_events
from dialerd.pbx.events import AgentConnected, DeviceState, MemberState

QUEUE_MEMBER = """Event: QueueMember
Queue: sales
Name: Operator 101
Location: Local/101@operators
StateInterface: Local/101@operators
Membership: static
Penalty: 0
CallsTaken: 1
LastCall: 1795415173
LastPause: 0
LoginTime: 1795415100
InCall: 1
Status: 2
Paused: 0
PausedReason:
Wrapuptime: 0
ActionID: queuestatus-10429e80"""

MEMBER_STATUS_FREE = """Event: QueueMemberStatus
Privilege: agent,all
Queue: sales
MemberName: Operator 101
Interface: Local/101@operators
StateInterface: Local/101@operators
Membership: static
Penalty: 0
CallsTaken: 1
LastCall: 1795415173
LastPause: 0
LoginTime: 1795415100
InCall: 0
Status: 1
Paused: 0
PausedReason:
Ringinuse: 0
Wrapuptime: 0"""

MEMBER_PAUSE = """Event: QueueMemberPause
Privilege: agent,all
Queue: sales
MemberName: Operator 101
Interface: Local/101@operators
StateInterface: Local/101@operators
Membership: static
Penalty: 0
CallsTaken: 0
LastCall: 0
LastPause: 1795433053
LoginTime: 1795433049
InCall: 0
Status: 1
Paused: 1
PausedReason: lunch
Ringinuse: 0
Wrapuptime: 0"""

AGENT_CONNECT = """Event: AgentConnect
Privilege: agent,all
Channel: Local/5002@customers-00000006;1
Uniqueid: dialer-queue-37981337
Linkedid: dialer-queue-37981337
DestChannel: Local/101@operators-00000007;1
DestUniqueid: 1795415152.14
Queue: sales
Interface: Local/101@operators
MemberName: Operator 101
HoldTime: 3
RingTime: 0"""

ORIGINATE_DIAL_END = """Event: DialEnd
Privilege: call,all
DestChannel: Local/5002@customers-00000006;1
DestUniqueid: dialer-queue-37981337
DestLinkedid: dialer-queue-37981337
DialStatus: ANSWER"""

CUSTOMER_DIAL_END = """Event: DialEnd
Privilege: call,all
Channel: Local/101@operators-00000002;1
Uniqueid: agf-79161232001
Linkedid: agf-79161232001
DestChannel: Local/79161232001@customers-00000003;1
DestUniqueid: 1795433075.6
DialStatus: BUSY"""


def frame(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_queue_frames_become_typed_events():
    listed = queue_events.parse(frame(QUEUE_MEMBER), 1.0)
    assert listed == MemberState(
        "sales",
        "Local/101@operators",
        "Operator 101",
        2,
        False,
        True,
        "",
        1.0,
        last_call=1795415173.0,
    )
    paused = queue_events.parse(frame(MEMBER_PAUSE), 2.0)
    assert isinstance(paused, MemberState) and paused.paused and paused.paused_reason == "lunch"
    connect = queue_events.parse(frame(AGENT_CONNECT), 3.0)
    assert connect == AgentConnected(
        "dialer-queue-37981337",
        "dialer-queue-37981337",
        "sales",
        "Local/101@operators",
        "Operator 101",
        3.0,
        3.0,
    )
    assert queue_events.parse(frame(ORIGINATE_DIAL_END), 4.0) is None  # the Originate's own dial
    customer = queue_events.parse(frame(CUSTOMER_DIAL_END), 5.0)
    assert (customer.uniqueid, customer.status) == ("agf-79161232001", "BUSY")
    device = queue_events.parse(
        {"Event": "DeviceStateChange", "Device": "PJSIP/201", "State": "RINGING"}, 6.0
    )
    assert device == DeviceState("PJSIP/201", "RINGING", 6.0)
    assert queue_events.parse({"Event": "Newexten"}, 7.0) is None


GROUPS = {"sales": GroupSettings(queue="sales"), "desk": GroupSettings()}


def board(*extra: OperatorSettings) -> OperatorBoard:
    operators = [
        OperatorSettings(name=n, group="sales", interface=f"Local/{n}@operators")
        for n in ("101", "102", "103")
    ]
    return OperatorBoard([*operators, *extra], GROUPS)


def member(
    name: str, status: int = 1, *, paused: bool = False, at: float = 10.0, **kw
) -> MemberState:
    return MemberState(
        "sales", f"Local/{name}@operators", f"Operator {name}", status, paused, False, "", at, **kw
    )


def synced(b: OperatorBoard, at: float = 10.0) -> OperatorBoard:
    b.apply_snapshot([member(n, at=at) for n in ("101", "102", "103")], [], at)
    return b


def free_names(b: OperatorBoard, group: str = "sales", now: float = 100.0) -> list[str]:
    return [op.name for op in b.free(group, now)]


def test_nobody_is_free_before_asterisk_has_spoken():
    b = board()
    assert free_names(b) == []
    assert {op.state for op in b.operators.values()} == {OperatorState.UNKNOWN}


def test_the_queue_status_snapshot_decides_and_a_missing_member_is_logged_out():
    b = board()
    b.apply_snapshot([member("101"), member("102", status=2)], [], 10.0)
    assert free_names(b) == ["101"]
    assert b.operators["102"].state is OperatorState.BUSY
    assert b.operators["103"].state is OperatorState.UNAVAILABLE
    assert "logged out" in b.operators["103"].detail


@pytest.mark.parametrize(
    ("status", "paused", "state"),
    [
        (2, False, OperatorState.BUSY),  # in use: a call of any kind, inbound included
        (3, False, OperatorState.BUSY),
        (6, False, OperatorState.RINGING),
        (5, False, OperatorState.UNAVAILABLE),
        (0, False, OperatorState.UNKNOWN),
        (1, True, OperatorState.PAUSED),
    ],
)
def test_paused_ringing_busy_or_unavailable_operators_are_not_free(status, paused, state):
    b = synced(board())
    b.apply_member(member("102", status, paused=paused, at=20.0))
    assert b.operators["102"].state is state
    assert free_names(b) == ["101", "103"]


def test_an_operator_coming_free_wakes_the_dialer_and_queues_last():
    b = synced(board())
    assert b.apply_member(member("101", 2, at=20.0)) is False
    assert b.apply_member(member("101", 1, at=30.0)) is True  # became free: dial now
    assert b.apply_member(member("101", 1, at=31.0)) is False  # nothing new
    assert free_names(b) == ["102", "103", "101"]  # the longest idle first


def test_a_lost_connection_makes_everyone_unknown_until_the_next_snapshot():
    b = synced(board())
    b.invalidate("AMI connection lost", 50.0)
    assert free_names(b) == [] and not b.synced
    synced(b, 60.0)
    assert free_names(b) == ["101", "102", "103"]


def test_the_dialers_own_calls_hold_operators_until_they_end():
    b = synced(board())
    b.reserve("101", CurrentCall(7, "call-7", "agent_first", 11.0))
    assert (
        b.engage("sales", "Local/102@operators", CurrentCall(8, "call-8", "customer_first", 12.0))
        == "102"
    )
    assert free_names(b) == ["103"]
    snap = {op["name"]: op for op in b.snapshot(13.0, connected={"default": True})["operators"]}
    assert snap["101"]["state"] == "ringing" and snap["101"]["current_call"]["lead_id"] == 7
    assert snap["102"]["state"] == "busy" and snap["102"]["current_call"]["call_id"] == "call-8"
    assert b.release("call-7") and b.release("call-8")
    assert free_names(b) == ["101", "102", "103"]


def test_an_operator_who_missed_a_call_rests_before_the_next_one():
    b = synced(board())
    b.missed("101", until=100.0)
    assert free_names(b, now=99.0) == ["102", "103"]
    assert free_names(b, now=100.0) == ["101", "102", "103"]


def test_an_operator_outside_any_queue_follows_the_device_state():
    desk = OperatorSettings(name="anna", group="desk", device="PJSIP/201")
    b = board(desk)
    assert b.devices == ["PJSIP/201"]
    b.apply_snapshot([], [DeviceState("PJSIP/201", "NOT_INUSE", 10.0)], 10.0)
    assert free_names(b, "desk") == ["anna"]
    b.apply_device(DeviceState("PJSIP/201", "INUSE", 11.0))
    assert free_names(b, "desk") == []
    assert b.apply_device(DeviceState("PJSIP/201", "NOT_INUSE", 12.0)) is True
    b.apply_device(DeviceState("PJSIP/201", "UNAVAILABLE", 13.0))
    assert b.operators["anna"].state is OperatorState.UNAVAILABLE


def test_members_of_other_queues_and_unknown_devices_are_ignored():
    b = synced(board())
    assert (
        b.apply_member(
            MemberState("support", "Local/101@operators", "x", 2, False, False, "", 20.0)
        )
        is False
    )
    assert b.apply_device(DeviceState("PJSIP/999", "INUSE", 20.0)) is False
    assert free_names(b) == ["101", "102", "103"]


def test_an_operator_in_wrap_up_after_a_queue_call_is_not_free_until_it_ends():
    """Asterisk says "not in use" at once; the queue's wrapuptime (not in any event) holds them."""
    groups = {"sales": GroupSettings(queue="sales", wrapup_s=30)}
    b = OperatorBoard(
        [OperatorSettings(name="101", group="sales", interface="Local/101@operators")], groups
    )
    b.apply_snapshot([member("101", at=10.0)], [], 10.0)
    assert free_names(b, now=11.0) == ["101"]  # LastCall 0: never had a call
    ended = MemberState(
        "sales", "Local/101@operators", "101", 1, False, False, "", 100.0, last_call=100.0
    )
    b.apply_member(ended)
    assert free_names(b, now=129.0) == [] and b.next_release(129.0) == 130.0
    assert b.snapshot(120.0, connected={"default": True})["operators"][0]["state"] == "wrap-up"
    assert free_names(b, now=130.0) == ["101"]
    own = MemberState(
        "sales",
        "Local/101@operators",
        "101",
        1,
        False,
        False,
        "",
        200.0,
        last_call=200.0,
        wrapup_s=60,
    )
    b.apply_member(own)  # the member's own Wrapuptime, when longer, wins
    assert b.next_release(201.0) == 260.0


def test_the_board_tells_pacing_who_talks_since_when_and_who_wraps_up_until_when():
    """Predictive pacing dials ahead for operators about to be free: the board says how long
    each has talked (then the group's wrap-up) or how much wrap-up is left; paused, rung and
    free operators are not in the outlook."""
    b = board()
    b.operators["102"].after_call_work_s = 30.0
    synced(b)
    b.engage("sales", "Local/102@operators", CurrentCall(8, "call-8", "customer_first", 40.0))
    b.apply_member(member("103", status=2, at=50.0))  # a call not ours (inbound)
    outlook = b.outlook("sales", 100.0)
    assert sorted((o.talked_s, o.wrapup_s) for o in outlook) == [(50.0, 0.0), (60.0, 30.0)]
    b.begin_after_call("102", AfterCall("call-8", 100.0, 130.0), 100.0)
    b.release("call-8")
    b.reserve("101", CurrentCall(9, "call-9", "agent_first", 100.0))  # rung: not coming back
    assert [(o.talked_s, o.wrapup_s) for o in b.outlook("sales", 110.0)] == [
        (None, 20.0),  # 102: 20 s of wrap-up left
        (60.0, 0.0),  # 103: on the inbound call for 60 s
    ]
    b.hold_pause("102", "lunch", 111.0)
    assert [o.talked_s for o in b.outlook("sales", 112.0)] == [62.0]
