"""What the engine tells its listeners: the daemon's lifecycle, the demo, tests, benches.

Frozen facts, emitted in the order they happened: an attempt started, the customer
answered, an agent_first offer missed, an attempt finished (``domain.FinishedCall``),
the PBX link up or down, the store unwritable or writable again, and whether any operator
is signed in (``domain.OperatorsAway``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialerd.domain import FinishedCall, OperatorsAway
from dialerd.pbx.events import PbxConnected, PbxDisconnected
from dialerd.store.attempts import Claim
from dialerd.store.db import StoreTrouble


@dataclass(frozen=True)
class AttemptStarted:
    claim: Claim
    sent_at: float


@dataclass(frozen=True)
class CallAnswered:
    """The customer answered: the conversation starts (for live views and the demo)."""

    lead_id: int
    call_id: str
    at: float


@dataclass(frozen=True)
class OfferMissed:
    """agent_first: the operator did not answer, so the customer was never dialed.

    Not an attempt (no FinishedCall): the attempt row is taken back and the lead is due again.
    """

    lead_id: int
    call_id: str
    operator: str | None
    why: str
    at: float


EngineEvent = (
    AttemptStarted
    | CallAnswered
    | FinishedCall
    | OfferMissed
    | PbxConnected
    | PbxDisconnected
    | StoreTrouble
    | OperatorsAway
)
Emit = Callable[[EngineEvent], None]
