"""What an operator is doing, as the operator and the supervisor see it.

The board keeps Asterisk's word plus the dialer's own holds (``dialer.board``); people
think in five states instead: free, ringing, talking, wrap-up, paused (and offline when
Asterisk says the phone is gone or has not spoken yet). Pure: the board's operator and
``now`` in, a frozen view out.

A queue member in the dialer's wrap-up after a call is paused in Asterisk with the reason
``wrap-up``: that is shown as wrap-up (with its countdown), not as a pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialerd.dialer.board import Operator, OperatorState


class Presence(StrEnum):
    FREE = "free"
    RINGING = "ringing"
    TALKING = "talking"
    WRAPUP = "wrapup"
    PAUSED = "paused"
    OFFLINE = "offline"


@dataclass(frozen=True)
class OperatorView:
    name: str
    presence: Presence
    detail: str
    pause_reason: str | None
    wrapup_until: float | None  # wrap-up: when the dialer offers calls again
    call_id: str | None  # the dialer call the operator is offered or on


def view_of(operator: Operator, now: float) -> OperatorView:
    """The operator's state in people's words (the board's ``effective`` state, refined)."""
    call = operator.current
    state = operator.state
    reason = operator.pause_reason
    wrapup_until: float | None = None
    in_wrapup = operator.wrapup_until > now
    if operator.held_pause is not None or (
        state is OperatorState.PAUSED and not operator.wrapup_paused
    ):
        presence = Presence.PAUSED
    elif state in (OperatorState.UNAVAILABLE, OperatorState.UNKNOWN):
        presence = Presence.OFFLINE
    elif state is OperatorState.RINGING:
        presence = Presence.RINGING
    elif state is OperatorState.BUSY:
        presence = Presence.TALKING
    elif call is not None:  # our call holds them; Asterisk's word is a few ms behind
        presence = Presence.RINGING if call.mode == "agent_first" else Presence.TALKING
    elif in_wrapup or operator.wrapup_paused:  # no countdown once the dialer's has ended
        presence = Presence.WRAPUP
        wrapup_until = operator.wrapup_until if in_wrapup else None
    elif operator.missed_until > now:
        presence = Presence.PAUSED
        reason = "missed_call"
    else:
        presence = Presence.FREE
    return OperatorView(
        name=operator.name,
        presence=presence,
        detail=operator.detail,
        pause_reason=reason,
        wrapup_until=wrapup_until,
        call_id=call.call_id if call is not None else None,
    )
