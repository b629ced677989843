"""Phone numbers: parse anything a shop's web form sends, keep only valid E.164.

``8 (916) 123-45-67`` and ``+7 916 1234567`` are the same customer (R1). Once a
value is a ``Phone``, it is digits behind a '+', so it is safe in a dial string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

# Characters people type around numbers; anything else (letters, CR/LF, dialplan
# syntax such as '&', '@', '/', ',') makes the input invalid rather than "cleaned".
_ALLOWED = re.compile(r"^[0-9+()\-. \u00a0]+$")
_MAX_INPUT = 40


class InvalidPhone(ValueError):
    """The reason a phone was refused, ready to show to the sender."""


@dataclass(frozen=True, order=True)
class Phone:
    e164: str  # "+79161234567"

    @property
    def digits(self) -> str:
        """E.164 without '+', the form dial strings and dialplans expect."""
        return self.e164[1:]

    def __str__(self) -> str:
        return self.e164


def parse_phone(raw: str, default_region: str) -> Phone:
    """Normalise ``raw`` to E.164 or raise InvalidPhone with the reason."""
    if not isinstance(raw, str):
        raise InvalidPhone("must be a string")
    text = raw.strip()
    if not text:
        raise InvalidPhone("is empty")
    if len(text) > _MAX_INPUT:
        raise InvalidPhone(f"is longer than {_MAX_INPUT} characters")
    if not _ALLOWED.match(text):
        raise InvalidPhone("may contain only digits, spaces, '+', '-', '.', '(' and ')'")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("is not a valid number for its country")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164)
