"""The words of the domain, as typed values shared by every layer.

The bottom of the import rule: this module imports nothing from dialerd, and every
package may import it. A type lives here when more than one layer reads or writes it
(an attempt's ``FinishedCall``: made by call tracking, written by the store, shown by
the daemon and the demo); a type only one package and those above it use stays there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """What one dial attempt came to."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    ABANDONED = "abandoned"
    MACHINE = "machine"  # answering machine detection said so; dropped (or a message left)
    UNKNOWN = "unknown"  # the daemon lost sight of the call (crash, AMI drop); reconciled


class LeadState(StrEnum):
    WAITING = "waiting"  # callable once its due time has come
    DIALING = "dialing"  # an attempt is in flight: never picked again until it ends
    CLOSED = "closed"


class CloseReason(StrEnum):
    REACHED = "reached"  # a conversation happened (the operator's result comes later)
    EXHAUSTED = "exhausted"  # the attempt cap was reached without a conversation
    DNC = "dnc"
    CANCELLED = "cancelled"  # closed by a supervisor from the lead desk (issue 13)
    # the operator's final result of a conversation
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    FAKE = "fake"
    DUPLICATE = "duplicate"
    WRONG_NUMBER = "wrong_number"
    COMPLAINT = "complaint"


class Result(StrEnum):
    """The operator's result of a conversation, recorded as a disposition."""

    CONFIRMED = "confirmed"  # with the amount confirmed
    CALLBACK = "callback"  # call again at the agreed time
    REFUSED = "refused"
    FAKE = "fake"
    DUPLICATE = "duplicate"
    WRONG_NUMBER = "wrong_number"
    COMPLAINT = "complaint"
    NO_DECISION = "no_decision"


@dataclass(frozen=True)
class LeadAtClaim:
    """What the retry decision at an attempt's end reads of its lead, as the claim left it:
    its attempts (this one included), its campaign, and the attempts a supervisor granted it
    beyond the campaign's cap. Carried with the call so the end need not read the lead again;
    the end's write checks the lead still says so, and reads it afresh if not."""

    attempts: int
    campaign: str
    extra_attempts: int


@dataclass(frozen=True)
class FinishedCall:
    """One attempt as it ended: what the store records and the engine's listeners hear."""

    attempt_id: int
    lead_id: int
    call_id: str
    outcome: Outcome
    reason_code: int | None
    hangup_cause: int | None
    answered_at: float | None
    ended_at: float
    ring_s: float | None
    talk_s: float | None
    note: str | None = None
    operator: str | None = None  # who the customer talked to (or was offered to, agent_first)
    operator_at: float | None = None  # when an operator came on the line with the customer
    recording_path: str | None = None  # set only if Asterisk started the recording
    customer_dialed: bool = True  # False: the operator leg failed, the customer was never called
    refused: bool = False  # Asterisk placed no call at all (refused, or no channel): no attempt
    amd_status: str | None = None  # Asterisk's AMDSTATUS (MACHINE, HUMAN, NOTSURE, HANGUP)
    amd_cause: str | None = None  # Asterisk's AMDCAUSE (e.g. LONGGREETING-1600-1500)
    # when this process wrote the Originate (None: not sent, or by a previous run): stored
    # with the end, not on its own while the call is live (one statement less per attempt)
    originated_at: float | None = None
    lead_at_claim: LeadAtClaim | None = None  # None: adopted after a restart (the end reads it)


@dataclass(frozen=True)
class OperatorsAway:
    """Dialing is held (``away``) because no operator is signed in (logged in and not
    paused), or no longer is (``away`` False: someone signed in, or the calling window
    closed or the PBX link dropped, which hold dialing for reasons of their own). The alert
    monitor tells the owner when leads miss their speed-to-lead target meanwhile."""

    away: bool
    at: float


class InUse(Exception):
    """Something this process needs is held by another one (the store, the API port).

    A temporary failure, unlike a config error: it ends when the other process does, so the
    CLI exits ``EX_TEMPFAIL`` (75), which systemd's ``Restart=on-failure`` retries.
    """
