"""The number (and name) a customer sees when dialerd calls: one per campaign, or a pool the
campaign's calls take in turn, so no one number carries every call a carrier counts.

Pure: the turn comes in as an argument (the dialer keeps it per campaign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CallerId:
    """A caller ID as the config checked it: ``number`` (digits, optional leading '+') and
    an optional ``name`` (no quotes, angle brackets or commas)."""

    number: str
    name: str | None = None

    @property
    def header(self) -> str:
        """As Originate's ``CallerID`` and ``CALLERID(all)`` take it: ``"Name" <number>``."""
        return f'"{self.name}" <{self.number}>' if self.name else f"<{self.number}>"

    @property
    def variable(self) -> str:
        """As a channel variable carries it to ``CALLERID(all)`` (AMI may strip quotes in a
        Variable header): ``Name <number>``."""
        return f"{self.name} <{self.number}>" if self.name else f"<{self.number}>"


def in_turn(pool: Sequence[CallerId], turn: int) -> CallerId | None:
    """The caller ID for a campaign's ``turn``-th call (0, 1, 2, ...): the pool in order,
    round and round; None for an empty pool (the dialing-wide default applies)."""
    if not pool:
        return None
    return pool[turn % len(pool)]


@dataclass(frozen=True)
class NumberStats:
    """A campaign's finished attempts over a window that showed one caller ID number."""

    campaign: str
    caller_id: str
    attempts: int
    answered: int


@dataclass(frozen=True)
class Suspect:
    """A number answered far less often than its campaign's other numbers."""

    number: NumberStats
    others_rate: float  # the campaign's other numbers together

    @property
    def rate(self) -> float:
        return self.number.answered / self.number.attempts


def spam_suspects(
    stats: Sequence[NumberStats], *, share: float, min_attempts: int
) -> list[Suspect]:
    """Numbers whose answer rate is below ``share`` × that of the campaign's other numbers
    together: carriers label a number spam and its calls go unanswered, while the same
    campaign's other numbers reach the same kind of customers. Both sides need at least
    ``min_attempts`` attempts; a campaign with one number has nothing to compare it with."""
    suspects = []
    for number in stats:
        others = [o for o in stats if o.campaign == number.campaign and o is not number]
        attempts = sum(o.attempts for o in others)
        if number.attempts < min_attempts or attempts < min_attempts:
            continue
        others_rate = sum(o.answered for o in others) / attempts
        if number.answered / number.attempts < share * others_rate:
            suspects.append(Suspect(number, others_rate))
    return suspects
