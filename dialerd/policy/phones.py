"""Phone numbers: parse anything a shop's web form sends, keep only valid E.164.

``8 (916) 123-45-67`` and ``+7 916 1234567`` are the same customer (R1). Once a
value is a ``Phone``, it is digits behind a '+', so it is safe in a dial string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

# Characters people type around numbers; anything else (letters, CR/LF, dialplan
# syntax such as '&', '@', '/', ',') makes the input invalid rather than "cleaned".
_ALLOWED = re.compile(r"^[0-9+()\-. \u00a0]+$")
_MAX_INPUT = 40
_SEPARATORS = re.compile(r"[ ()\-.\u00a0]")
_PLUS_DIGITS = re.compile(r"^\+([1-9][0-9]{5,16})$")

# phonenumbers compiles its metadata patterns through ``re``'s bounded cache on every
# check (a third of a validation's cost); this keeps them compiled, once, process-wide.
# Releases without the switch only validate slower.
if (_keep_patterns := getattr(phonenumbers, "enable_pattern_cache", None)) is not None:
    _keep_patterns()


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
    found = _normalised(text, default_region)
    if isinstance(found, str):
        raise InvalidPhone(found)
    return found


@functools.lru_cache(maxsize=4096)
def _normalised(text: str, default_region: str) -> Phone | str:
    """The Phone, or the reason it is refused; remembered per (text, region).

    Validity is the costly half of intake (phonenumbers' regular expressions), and the
    same phone comes back often: double submits, a batch with a customer's two orders,
    a CSV with repeats. The result depends only on the text and the default region (the
    number metadata is fixed for the process), so both are the key; the text is at most
    ``_MAX_INPUT`` characters of ``_ALLOWED`` by now, which bounds the cache's size.
    """
    number = _international(text)
    try:
        if number is None or not phonenumbers.is_valid_number(number):
            number = _parse(text, default_region)  # the general path decides
            if not phonenumbers.is_valid_number(number):
                return "is not a valid number for its country"
    except InvalidPhone as exc:
        return str(exc)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _parse(text: str, default_region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"is not a phone number ({exc._msg})") from None


def _international(text: str) -> phonenumbers.PhoneNumber | None:
    """The number ``phonenumbers.parse`` would return for a "+<country code><number>" input.

    About twice as fast (the API's batch intake parses thousands a second); None
    wherever parse could differ, so the caller falls back to it: no known country
    code, a leading zero (Italian numbers keep it), or digits that start like the
    country's national prefix (parse may strip it). tests/policy/test_phones.py
    checks the two paths agree.
    """
    match = _PLUS_DIGITS.match(_SEPARATORS.sub("", text))
    if match is None:
        return None
    digits = match.group(1)
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2 or national[0] == "0":
        return None
    known, prefix = _country(country_code)
    if not known or (prefix is not None and prefix.match(national)):
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))


@functools.cache
def _country(country_code: int) -> tuple[bool, re.Pattern[str] | None]:
    """Whether phonenumbers has metadata for the country code, and its national prefix
    pattern, compiled: looked up once per country (the metadata is fixed for the process)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return False, None
    prefix = metadata.national_prefix_for_parsing
    return True, re.compile(prefix) if prefix else None
