"""The ``pauses`` section (issue 12): the reason codes an operator may pause with.

A reason travels to Asterisk as the ``Reason`` of a ``QueuePause`` and comes back as the
member's ``PausedReason`` in QueueStatus and in every queue event; the reports sum paused
time by it. So it is checked here, once, to be safe in an AMI header (no control
characters) and plain enough to read back unchanged from Asterisk and to use as a key in
CSV columns and JSON: letters, digits, ``_``, ``-`` and inner spaces, at most 40.

``wrap-up`` is dialerd's own: the dialer pauses a queue member with it during the wrap-up
after a call (``groups.<g>.after_call_work_s``) and takes it back at the end, so an operator
cannot pause with it, and a member Asterisk reports paused with it is in wrap-up, not on a
break.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from dialerd.config.values import AmiText, Section

WRAPUP_REASON = "wrap-up"  # the dialer's wrap-up pause in Asterisk; reserved
_REASON = re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9_ -]{0,38}[A-Za-z0-9_-])?$")


def _plain_reason(value: str) -> str:
    if not _REASON.match(value):
        raise ValueError(
            f"pause reason {value!r}: use 1-40 letters, digits, '_', '-' or inner spaces"
        )
    return value


PauseReason = Annotated[AmiText, AfterValidator(_plain_reason)]


class PauseSettings(Section):
    """The pause reasons offered to operators, in the order the console shows them."""

    reasons: Annotated[list[PauseReason], Field(min_length=1)] = ["break", "lunch", "training"]

    @field_validator("reasons")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for reason in value:
            if reason.casefold() == WRAPUP_REASON:
                raise ValueError(
                    f"pause reason {reason!r} is reserved: dialerd pauses queue members with it"
                    " during the wrap-up after a call (groups.<group>.after_call_work_s)"
                )
            if reason.casefold() in seen:  # Asterisk's word would not tell them apart in reports
                raise ValueError(f"pause reason {reason!r} is listed twice")
            seen.add(reason.casefold())
        return value
