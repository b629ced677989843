"""The words of the domain, as typed values shared by every layer."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What one dial attempt came to (R7)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    ABANDONED = "abandoned"
    UNKNOWN = "unknown"  # the daemon lost sight of the call (crash, AMI drop); reconciled


class LeadState(StrEnum):
    WAITING = "waiting"  # callable once its due time has come
    DIALING = "dialing"  # an attempt is in flight: never picked again until it ends
    CLOSED = "closed"


class CloseReason(StrEnum):
    REACHED = "reached"  # a conversation happened (the operator's result comes later)
    EXHAUSTED = "exhausted"  # the attempt cap was reached without a conversation
    DNC = "dnc"
    # the operator's final result of a conversation (R8)
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    FAKE = "fake"
    DUPLICATE = "duplicate"
    WRONG_NUMBER = "wrong_number"
    COMPLAINT = "complaint"


class Result(StrEnum):
    """The operator's result of a conversation, recorded as a disposition (R8)."""

    CONFIRMED = "confirmed"  # with the amount confirmed
    CALLBACK = "callback"  # call again at the agreed time
    REFUSED = "refused"
    FAKE = "fake"
    DUPLICATE = "duplicate"
    WRONG_NUMBER = "wrong_number"
    COMPLAINT = "complaint"
    NO_DECISION = "no_decision"


class InUse(Exception):
    """Something this process needs is held by another one (the store, the API port).

    A temporary failure, unlike a config error: it ends when the other process does, so the
    CLI exits ``EX_TEMPFAIL`` (75), which systemd's ``Restart=on-failure`` retries.
    """
