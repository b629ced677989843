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
class OriginateRefused:
    """Asterisk refused the Originate action itself (``Response: Error``): nothing was dialed.

    Seen while Asterisk shuts down ("Asterisk is shutting down"), for a missing
    destination ("Extension does not exist."), a malformed channel or a missing
    permission. Not an attempt: the lead goes back as it was.
    """

    call_id: str
    message: str
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
class PbxRefusing:
    """Asterisk is up but refuses new calls (it announced a shutdown): stop originating.

    The session stays logged in while Asterisk waits to stop; dialing resumes on the
    next ``PbxConnected`` (after a restart, or when the shutdown was called off).
    """

    why: str
    at: float


@dataclass(frozen=True)
class CallEvidence:
    """What Asterisk wrote about one of our calls as it ended (the ``dialer-hangup`` handler).

    Kept in AstDB under the call id, so a call that ended while no daemon listened
    (a crash, an AMI drop) is settled from Asterisk's own facts, not guessed.
    ``answered``: the originated channel was up (customer_first: the customer answered;
    agent_first: the operator did — ``dial_status`` tells the customer's fate there).
    """

    call_id: str
    answered: bool
    answered_at: float | None  # epoch s, when the CDR engine is on
    billsec: float | None  # seconds from answer to hangup, when the CDR engine is on
    ended_at: float | None  # epoch s
    cause: int
    dial_status: str  # agent_first: DIALSTATUS of the Dial() to the customer ("" if none)
    dial_answered_s: float | None  # agent_first: ANSWEREDTIME, the customer's talk time

    def ended_by(self, now: float) -> float:
        """When the call ended: Asterisk's time, never later than ``now`` (clocks drift)."""
        return self.ended_at if self.ended_at and self.ended_at <= now else now


@dataclass(frozen=True)
class LiveChannel:
    uniqueid: str
    linkedid: str
    state: str  # ChannelStateDesc: Up, Ring, Ringing, Down, ...
    bridged: bool = False  # in a bridge (BridgeId set): talking to someone
    channel: str = ""  # its name (Local/79161231001@customers-0000002a;1): what Redirect takes


@dataclass(frozen=True)
class MemberState:
    """A queue member's state (QueueStatus's QueueMember, QueueMemberStatus/Pause/Added).

    ``status`` is Asterisk's device state number: 1 not in use, 2 in use, 3 busy,
    4 invalid, 5 unavailable, 6 ringing, 7 ringing and in use, 8 on hold, 0 unknown.
    """

    queue: str
    interface: str
    name: str
    status: int
    paused: bool
    in_call: bool
    paused_reason: str
    at: float
    removed: bool = False  # QueueMemberRemoved: the member logged out of the queue
    last_call: float = 0.0  # LastCall: when the member's last queue call ended (epoch s)
    wrapup_s: float = 0.0  # the member's own Wrapuptime (a queue-wide one is not reported)


@dataclass(frozen=True)
class DeviceState:
    """A device's state (DeviceStateChange, or DEVICE_STATE() read at a resync)."""

    device: str
    state: str  # NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD, UNKNOWN
    at: float


@dataclass(frozen=True)
class AgentConnected:
    """A queue caller got an operator (AgentConnect): ``uniqueid`` is the caller's channel."""

    uniqueid: str
    linkedid: str
    queue: str
    interface: str
    member_name: str
    hold_s: float
    at: float


@dataclass(frozen=True)
class QueueCallerJoined:
    """A caller entered a queue (QueueCallerJoin): inbound, or one of our answered customers."""

    uniqueid: str
    linkedid: str
    queue: str
    caller: str  # CallerIDNum as Asterisk gave it
    position: int
    at: float


@dataclass(frozen=True)
class QueueCallerLeft:
    """A caller left a queue (QueueCallerLeave): connected, abandoned, or timed out.

    Asterisk sends it *before* AgentConnect for a connected caller (transcripts-22.10.1/
    queue.txt), so on its own it does not mean the caller went unanswered.
    """

    uniqueid: str
    linkedid: str
    queue: str
    at: float


@dataclass(frozen=True)
class DialEnded:
    """A Dial() from a channel ended (DialEnd with a calling channel): the second leg's fate."""

    uniqueid: str  # the calling channel
    linkedid: str
    dest_uniqueid: str
    status: str  # ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL, ...
    at: float


@dataclass(frozen=True)
class RecordingStarted:
    """MixMonitor started on a channel of a call (MixMonitorStart)."""

    uniqueid: str
    linkedid: str
    at: float


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


@dataclass(frozen=True)
class MachineVerdict:
    """Asterisk's ``AMD()`` verdict on an answered customer (``UserEvent(DialerdAmd)`` from
    ``[dialer-amd]``): ``uniqueid`` is the originated channel, our call id."""

    uniqueid: str
    linkedid: str
    status: str  # AMDSTATUS: MACHINE, HUMAN, NOTSURE, HANGUP
    cause: str  # AMDCAUSE, e.g. LONGGREETING-1600-1500
    at: float


@dataclass(frozen=True)
class SurveyEnded:
    """The post-call survey ended (``UserEvent(DialerdSurvey)`` from ``[dialer-survey]``'s
    hangup): what the customer keyed in, as Asterisk passed it; checked by the receiver."""

    lead: str  # the surveyed conversation's lead id, as the dialplan had it
    attempt: str  # the surveyed conversation's attempt id
    nps: str  # the digits keyed for "recommend us, 0-10"; "" none
    csat: str  # the digits keyed for "how satisfied, 1-5"; "" none
    at: float


PbxEvent = (
    OriginateResult
    | OriginateRefused
    | ChannelHangup
    | OriginateLost
    | PbxConnected
    | PbxDisconnected
    | PbxRefusing
    | MissedInbound
    | MemberState
    | DeviceState
    | AgentConnected
    | QueueCallerJoined
    | QueueCallerLeft
    | DialEnded
    | RecordingStarted
    | MachineVerdict
    | SurveyEnded
)
