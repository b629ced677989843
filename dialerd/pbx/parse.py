"""AMI frames become typed events here, and only here (pure, no socket; STYLE.md lesson 4).

The adapter (``dialerd.pbx.ami``) hands over each event frame it registered for
(``LISTENED``), an Originate's answer, the lists of CoreShowChannels and QueueStatus,
and what ``[dialer-hangup]`` wrote into AstDB; the engine only ever sees the results.

Field names as Asterisk 22 sends them (``asterisk/transcripts-22.10.1/queue*.txt``):
QueueStatus lists members as ``QueueMember`` with ``Location``/``Name``; the live
events (``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded``,
``QueueMemberRemoved``) say ``Interface``/``MemberName``. A ``QueuePause`` action
produces ``QueueMemberPause``, not ``QueueMemberStatus``. Callers: ``QueueCallerJoin``
and ``QueueCallerLeave`` carry the caller's channel (``Uniqueid``), as ``AgentConnect`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dialerd.pbx.events import (
    AgentConnected,
    CallEvidence,
    ChannelHangup,
    DeviceState,
    DialEnded,
    LiveChannel,
    MachineVerdict,
    MemberState,
    MissedInbound,
    OriginateRefused,
    OriginateResult,
    PbxEvent,
    QueueCallerJoined,
    QueueCallerLeft,
    RecordingStarted,
    SurveyEnded,
)

Frame = Mapping[str, Any]  # one AMI message (panoramisk's Message is one)

MEMBER_EVENTS = frozenset(
    {"QueueMember", "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded"}
)
# What the adapter registers (QueueMember only arrives inside a QueueStatus answer).
EVENT_NAMES: tuple[str, ...] = (
    "QueueMemberStatus",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "DeviceStateChange",
    "AgentConnect",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "DialEnd",
    "MixMonitorStart",
)
MISSED_CALL_USER_EVENT = "DialerdMissedCall"
AMD_USER_EVENT = "DialerdAmd"
SURVEY_USER_EVENT = "DialerdSurvey"
# Every event the adapter registers a callback for, in the order it registers them.
LISTENED: tuple[str, ...] = ("Hangup", *EVENT_NAMES, "QueueCallerAbandon", "UserEvent")


def parse(message: Frame, at: float) -> PbxEvent | None:
    """The typed event for one AMI event frame, or None for frames the engine has no use for."""
    name = _s(message, "Event")
    if name in MEMBER_EVENTS or name == "QueueMemberRemoved":
        return _member(message, name, at)
    read = _READERS.get(name)
    return None if read is None else read(message, at)


def _hangup(message: Frame, at: float) -> ChannelHangup:
    return ChannelHangup(
        uniqueid=str(message.get("Uniqueid", "")),
        linkedid=str(message.get("Linkedid", "")),
        cause=_int(message.get("Cause"), 0),
        cause_txt=str(message.get("Cause-txt", "")),
        at=at,
    )


def _abandoned(message: Frame, at: float) -> MissedInbound:
    return _missed(message, "abandoned", at)


def _user_event(message: Frame, at: float) -> PbxEvent | None:
    """``UserEvent(DialerdMissedCall[,Caller: N][,Queue: Q])``, ``UserEvent(DialerdAmd,
    Status: S,Cause: C)`` and ``UserEvent(DialerdSurvey,Lead: L,Attempt: A,NPS: N,CSAT: C)``
    from the dialplan (config/asterisk/extensions.conf)."""
    name = str(message.get("UserEvent", ""))
    if name == MISSED_CALL_USER_EVENT:
        return _missed(message, "unanswered", at)
    if name == AMD_USER_EVENT:
        return MachineVerdict(
            uniqueid=_s(message, "Uniqueid"),
            linkedid=_s(message, "Linkedid"),
            status=_s(message, "Status"),
            cause=_s(message, "Cause")[:64],
            at=at,
        )
    if name == SURVEY_USER_EVENT:
        return SurveyEnded(
            lead=_s(message, "Lead")[:20],
            attempt=_s(message, "Attempt")[:20],
            nps=_s(message, "NPS")[:8],
            csat=_s(message, "CSAT")[:8],
            at=at,
        )
    return None


def _member(message: Frame, name: str, at: float) -> MemberState | None:
    interface = _s(message, "Interface") or _s(message, "Location")
    if not interface:
        return None
    return MemberState(
        queue=_s(message, "Queue"),
        interface=interface,
        name=_s(message, "MemberName") or _s(message, "Name"),
        status=_i(message, "Status"),
        paused=_s(message, "Paused") == "1",
        in_call=_s(message, "InCall") == "1",
        paused_reason=_s(message, "PausedReason"),
        at=at,
        removed=name == "QueueMemberRemoved",
        last_call=float(_i(message, "LastCall")),
        wrapup_s=float(_i(message, "Wrapuptime")),
    )


def _device(message: Frame, at: float) -> DeviceState | None:
    device = _s(message, "Device")
    return DeviceState(device, _s(message, "State"), at) if device else None


def _agent_connect(message: Frame, at: float) -> AgentConnected:
    return AgentConnected(
        uniqueid=_s(message, "Uniqueid"),
        linkedid=_s(message, "Linkedid"),
        queue=_s(message, "Queue"),
        interface=_s(message, "Interface"),
        member_name=_s(message, "MemberName"),
        hold_s=float(_i(message, "HoldTime")),
        at=at,
    )


def _caller_join(message: Frame, at: float) -> QueueCallerJoined:
    return QueueCallerJoined(
        uniqueid=_s(message, "Uniqueid"),
        linkedid=_s(message, "Linkedid"),
        queue=_s(message, "Queue"),
        caller=_s(message, "CallerIDNum"),
        position=_i(message, "Position"),
        at=at,
    )


def _caller_leave(message: Frame, at: float) -> QueueCallerLeft:
    return QueueCallerLeft(
        uniqueid=_s(message, "Uniqueid"),
        linkedid=_s(message, "Linkedid"),
        queue=_s(message, "Queue"),
        at=at,
    )


def _dial_end(message: Frame, at: float) -> DialEnded | None:
    caller = _s(message, "Uniqueid")
    if not caller:  # an Originate's own dial of its first channel: no calling channel
        return None
    return DialEnded(
        uniqueid=caller,
        linkedid=_s(message, "Linkedid"),
        dest_uniqueid=_s(message, "DestUniqueid"),
        status=_s(message, "DialStatus"),
        at=at,
    )


def _recording(message: Frame, at: float) -> RecordingStarted:
    return RecordingStarted(_s(message, "Uniqueid"), _s(message, "Linkedid"), at)


_READERS: dict[str, Callable[[Frame, float], PbxEvent | None]] = {
    "Hangup": _hangup,
    "QueueCallerAbandon": _abandoned,
    "UserEvent": _user_event,
    "DeviceStateChange": _device,
    "AgentConnect": _agent_connect,
    "QueueCallerJoin": _caller_join,
    "QueueCallerLeave": _caller_leave,
    "DialEnd": _dial_end,
    "MixMonitorStart": _recording,
}


def _missed(message: Frame, reason: str, at: float) -> MissedInbound:
    hold = message.get("HoldTime")
    return MissedInbound(
        caller=str(message.get("Caller") or message.get("CallerIDNum") or ""),
        queue=str(message.get("Queue")) if message.get("Queue") else None,
        reason=reason,
        uniqueid=str(message.get("Uniqueid", "")),
        linkedid=str(message.get("Linkedid", "")),
        hold_s=float(_int(hold, 0)) if hold is not None else None,
        at=at,
    )


def originate_answer(
    call_id: str, reply: Frame | list[Frame], at: float
) -> OriginateResult | OriginateRefused:
    """What the Originate's action future resolved to: Asterisk's ``OriginateResponse``, or
    the action itself refused (``Response: Error``, nothing dialed)."""
    messages = reply if isinstance(reply, list) else [reply]
    final = messages[-1]
    if final.get("Event") != "OriginateResponse":
        return OriginateRefused(call_id, str(final.get("Message") or "no message"), at)
    success = final.get("Response") == "Success"
    return OriginateResult(call_id, success, _int(final.get("Reason"), 0), at)


def live_channels(replies: Sequence[Frame]) -> list[LiveChannel]:
    """CoreShowChannels' list: one ``CoreShowChannel`` per channel."""
    return [
        LiveChannel(
            uniqueid=str(msg.get("Uniqueid", "")),
            linkedid=str(msg.get("Linkedid", "")),
            state=str(msg.get("ChannelStateDesc", "")),
            bridged=bool(str(msg.get("BridgeId", "") or "").strip()),
            channel=str(msg.get("Channel", "")),
        )
        for msg in replies
        if msg.get("Event") == "CoreShowChannel"
    ]


def queue_members(replies: Sequence[Frame], at: float) -> list[MemberState]:
    """QueueStatus's list: one ``QueueMember`` per member of each queue."""
    members = [parse(msg, at) for msg in replies]
    return [m for m in members if isinstance(m, MemberState)]


def evidence(call_id: str, replies: Sequence[Frame]) -> CallEvidence | None:
    """DBGet's answer: the ``DBGetResponse`` with the handler's value, or an error when the
    entry is not there (the handler never ran, or is not installed): no evidence."""
    for message in replies:
        if message.get("Event") == "DBGetResponse":
            return parse_evidence(call_id, str(message.get("Val", "") or ""))
    return None


def parse_evidence(call_id: str, value: str) -> CallEvidence | None:
    """``v1 answer=<epoch> billsec=<s> end=<epoch> cause=<n> state=<S> dialstatus=<S>
    dialanswered=<s>`` as written by ``[dialer-hangup]`` (config/asterisk/extensions.conf).

    Empty values are unknown (no CDR engine, no Dial()); an unknown version is no evidence.
    """
    words = value.split()
    if not words or words[0] != "v1":
        return None
    fields = dict(word.partition("=")[::2] for word in words[1:])
    answered_at = _positive(fields.get("answer"))
    billsec = _positive(fields.get("billsec"))
    return CallEvidence(
        call_id=call_id,
        answered=fields.get("state") == "Up" or answered_at is not None,
        answered_at=answered_at,
        billsec=billsec if answered_at is not None else None,
        ended_at=_positive(fields.get("end")),
        cause=_int(fields.get("cause"), 0),
        dial_status=fields.get("dialstatus", ""),
        dial_answered_s=_float(fields.get("dialanswered")),
    )


# --- reading values ------------------------------------------------------------------------
# ``_s``/``_i``: operator and leg frames (first of a repeated header, stripped);
# ``_int``/``_float``: as the adapter has always read hangups, answers and evidence.


def _s(message: Frame, key: str) -> str:
    value = message.get(key)
    if isinstance(value, list):  # a repeated header: the first one, as Asterisk reads it
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def _i(message: Frame, key: str) -> int:
    try:
        return int(_s(message, key))
    except ValueError:
        return 0


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _positive(value: Any) -> float | None:
    number = _float(value)
    return number if number is not None and number > 0 else None
