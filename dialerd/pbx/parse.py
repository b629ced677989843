"""AMI frames about operators and call legs, turned into typed events (pure, no socket).

Field names as Asterisk 22 sends them (``asterisk/transcripts-22.10.1/queue*.txt``):
QueueStatus lists members as ``QueueMember`` with ``Location``/``Name``; the live
events (``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded``,
``QueueMemberRemoved``) say ``Interface``/``MemberName``. A ``QueuePause`` action
produces ``QueueMemberPause``, not ``QueueMemberStatus``. Callers: ``QueueCallerJoin``
and ``QueueCallerLeave`` carry the caller's channel (``Uniqueid``), as ``AgentConnect`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialerd.pbx.events import (
    AgentConnected,
    DeviceState,
    DialEnded,
    MemberState,
    PbxEvent,
    QueueCallerJoined,
    QueueCallerLeft,
    RecordingStarted,
)

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


def parse(message: Mapping[str, Any], at: float) -> PbxEvent | None:
    """The typed event for one AMI event frame, or None for frames the engine has no use for."""
    name = _s(message, "Event")
    if name in MEMBER_EVENTS or name == "QueueMemberRemoved":
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
    if name == "DeviceStateChange":
        device = _s(message, "Device")
        return DeviceState(device, _s(message, "State"), at) if device else None
    if name == "AgentConnect":
        return AgentConnected(
            uniqueid=_s(message, "Uniqueid"),
            linkedid=_s(message, "Linkedid"),
            queue=_s(message, "Queue"),
            interface=_s(message, "Interface"),
            member_name=_s(message, "MemberName"),
            hold_s=float(_i(message, "HoldTime")),
            at=at,
        )
    if name == "QueueCallerJoin":
        return QueueCallerJoined(
            uniqueid=_s(message, "Uniqueid"),
            linkedid=_s(message, "Linkedid"),
            queue=_s(message, "Queue"),
            caller=_s(message, "CallerIDNum"),
            position=_i(message, "Position"),
            at=at,
        )
    if name == "QueueCallerLeave":
        return QueueCallerLeft(
            uniqueid=_s(message, "Uniqueid"),
            linkedid=_s(message, "Linkedid"),
            queue=_s(message, "Queue"),
            at=at,
        )
    if name == "DialEnd":
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
    if name == "MixMonitorStart":
        return RecordingStarted(_s(message, "Uniqueid"), _s(message, "Linkedid"), at)
    return None


def _s(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    if isinstance(value, list):  # a repeated header: the first one, as Asterisk reads it
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def _i(message: Mapping[str, Any], key: str) -> int:
    try:
        return int(_s(message, key))
    except ValueError:
        return 0
