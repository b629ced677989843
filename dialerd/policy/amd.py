"""Answering-machine detection: what Asterisk's ``AMD()`` is asked, and what its verdict does.

Human first: AMD guesses from the rhythm of speech and silence, and a guess that drops a
person who said "Hello? ... Hello?" costs an abandoned customer, while a machine put through
to an operator only costs that operator a few seconds. So only ``MACHINE`` is treated as a
machine; ``NOTSURE`` (and ``HUMAN``, and ``HANGUP``) go on to an operator as any answered call.

The parameters travel to the dialplan in one channel variable (``DIALER_AMD``), colon-separated
in ``AMD()``'s own order, because AMI splits a ``Variable`` header on commas;
``[dialer-amd]`` (config/asterisk/extensions.conf) cuts them apart again.
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass

MACHINE = "MACHINE"
# what AMD() may set AMDSTATUS to (Asterisk 22, app_amd)
STATUSES = frozenset({"MACHINE", "HUMAN", "NOTSURE", "HANGUP"})
# an Asterisk sound name (``custom/leave-message``), no extension: nothing that could be
# read as a second application argument, a variable or a path outside the sounds directory
_SOUND_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class AmdParameters:
    """``AMD()``'s arguments in its own order; milliseconds except the counts and threshold."""

    initial_silence_ms: int
    greeting_ms: int
    after_greeting_silence_ms: int
    total_analysis_ms: int
    min_word_length_ms: int
    between_words_silence_ms: int
    maximum_number_of_words: int
    silence_threshold: int
    maximum_word_length_ms: int

    def channel_value(self) -> str:
        """The value of ``DIALER_AMD``: the nine arguments joined by ':'."""
        return ":".join(str(value) for value in astuple(self))


def is_machine(status: str | None) -> bool:
    """Only a sure ``MACHINE`` is a machine: a doubtful call goes to an operator."""
    return status == MACHINE


def clean_status(status: str) -> str | None:
    """AMDSTATUS as Asterisk's UserEvent carried it, or None for anything AMD never sets."""
    status = status.strip().upper()
    return status if status in STATUSES else None


def is_sound_name(name: str) -> bool:
    """A sound name ``Playback()`` may take from the config: letters, digits, '_', '-', '/'."""
    return len(name) <= 128 and _SOUND_NAME.match(name) is not None
