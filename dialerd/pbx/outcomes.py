"""From Asterisk's numbers to an attempt's outcome.

OriginateResponse ``Reason`` is the first source; the Q.850 hangup cause refines
failures, because PJSIP reports a rejected call (486 Busy Here) as Reason 0 and
only the cause (17) says "busy".
"""

from __future__ import annotations

from dialerd.domain import Outcome

_BY_REASON = {4: Outcome.ANSWERED, 5: Outcome.BUSY, 3: Outcome.NO_ANSWER, 8: Outcome.CONGESTION}

BUSY_CAUSES = frozenset({17, 21})  # user busy, call rejected
NO_ANSWER_CAUSES = frozenset({18, 19})  # no user responding, alerting without answer
CONGESTION_CAUSES = frozenset({34, 38, 41, 42, 44, 47})
INVALID_NUMBER_CAUSES = frozenset({1, 3, 22, 28})


def classify(reason: int, cause: int | None) -> Outcome:
    """The outcome of a finished Originate, from its Reason and best hangup cause."""
    if reason in _BY_REASON:
        return _BY_REASON[reason]
    if cause in BUSY_CAUSES:
        return Outcome.BUSY
    if cause in NO_ANSWER_CAUSES or reason == 2:
        return Outcome.NO_ANSWER
    if cause in CONGESTION_CAUSES:
        return Outcome.CONGESTION
    return Outcome.FAILED


def cause_class(cause: int | None) -> str:
    """A coarse class of a hangup cause, for comparing PBXs and for reports."""
    if cause is None or cause == 0:
        return "none"
    if cause == 16:
        return "normal"
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES:
        return "no_answer"
    if cause in CONGESTION_CAUSES:
        return "congestion"
    if cause in INVALID_NUMBER_CAUSES:
        return "invalid_number"
    return "other"


# Q.850 causes as a person reads them (the common ones; others are named by number only)
CAUSE_MEANINGS = {
    1: "unallocated number",
    3: "no route to destination",
    16: "normal clearing",
    17: "busy",
    18: "no user responding",
    19: "no answer",
    20: "subscriber absent",
    21: "call rejected",
    22: "number changed",
    27: "destination out of order",
    28: "invalid number format",
    31: "normal, unspecified",
    34: "no circuit available",
    38: "network out of order",
    41: "temporary failure",
    42: "switching equipment congestion",
    44: "requested channel not available",
    47: "resource unavailable",
    58: "bearer capability not available",
    102: "recovery on timer expiry",
    127: "interworking, unspecified",
}


def cause_meaning(cause: int | None) -> str | None:
    """ "no answer" for 19: the meaning of a hangup cause, None when there is none."""
    if cause is None:
        return None
    return CAUSE_MEANINGS.get(cause, "other")
