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
