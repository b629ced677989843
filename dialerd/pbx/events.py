"""Typed PBX events: the only shapes the engine ever sees from the PBX adapter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OriginateResult:
    """Asterisk's final word on an Originate (the ``OriginateResponse`` event)."""

    call_id: str
    success: bool
    reason: int  # 4 answered, 5 busy, 3 no answer, 8 congestion, 0 failed
    at: float


@dataclass(frozen=True)
class ChannelHangup:
    uniqueid: str
    linkedid: str
    cause: int
    cause_txt: str
    at: float


@dataclass(frozen=True)
class OriginateLost:
    """The Originate's response can no longer arrive (connection lost, or no answer in time)."""

    call_id: str
    why: str
    at: float


@dataclass(frozen=True)
class PbxConnected:
    at: float


@dataclass(frozen=True)
class PbxDisconnected:
    why: str
    at: float


@dataclass(frozen=True)
class LiveChannel:
    uniqueid: str
    linkedid: str
    state: str  # ChannelStateDesc: Up, Ring, Ringing, Down, ...


@dataclass(frozen=True)
class MissedInbound:
    """An inbound caller nobody answered: ``QueueCallerAbandon`` (hung up waiting in a queue,
    reason ``abandoned``) or the dialplan's ``UserEvent(DialerdMissedCall)`` (``unanswered``)."""

    caller: str  # CallerIDNum as Asterisk gave it: may be '<unknown>', an extension, garbage
    queue: str | None
    reason: str  # abandoned | unanswered
    uniqueid: str
    linkedid: str
    hold_s: float | None
    at: float


PbxEvent = (
    OriginateResult | ChannelHangup | OriginateLost | PbxConnected | PbxDisconnected | MissedInbound
)
