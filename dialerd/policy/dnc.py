"""The do-not-call list: a full E.164 number, or a prefix of one ("+7495" blocks Moscow)."""

from __future__ import annotations

import re

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

_PATTERN = re.compile(r"^\+[0-9]{1,15}$")


class InvalidPattern(ValueError):
    pass


def normalise_pattern(raw: str) -> str:
    """'+7 495' → '+7495'; anything but '+' and digits is refused."""
    text = re.sub(r"[\s\-().]", "", raw)
    if not _PATTERN.match(text):
        raise InvalidPattern(f"{raw!r}: a DNC entry is '+' and 1-15 digits (a number or a prefix)")
    return text


def whole_countries(pattern: str) -> list[str]:
    """The regions a pattern blocks entirely: '+7' is all of Russia and Kazakhstan, '+3'
    every +3x country. Empty for anything narrower than a country calling code."""
    digits = pattern.removeprefix("+")
    return sorted(
        region
        for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()
        if str(code).startswith(digits)
        for region in regions
        if region != "001"
    )


def prefixes(e164: str) -> list[str]:
    """Every pattern that would block ``e164``: itself and each of its prefixes."""
    return [e164[:end] for end in range(2, len(e164) + 1)]
