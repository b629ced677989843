"""The do-not-call list: a full E.164 number, or a prefix of one ("+7495" blocks Moscow)."""

from __future__ import annotations

import re

_PATTERN = re.compile(r"^\+[0-9]{1,15}$")


class InvalidPattern(ValueError):
    pass


def normalise_pattern(raw: str) -> str:
    """'+7 495' → '+7495'; anything but '+' and digits is refused."""
    text = re.sub(r"[\s\-().]", "", raw)
    if not _PATTERN.match(text):
        raise InvalidPattern(f"{raw!r}: a DNC entry is '+' and 1-15 digits (a number or a prefix)")
    return text


def prefixes(e164: str) -> list[str]:
    """Every pattern that would block ``e164``: itself and each of its prefixes."""
    return [e164[:end] for end in range(2, len(e164) + 1)]
